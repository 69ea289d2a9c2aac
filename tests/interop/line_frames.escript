#!/usr/bin/env escript
%% SPDX-License-Identifier: MIT
%% Prints how a real Erlang VM frames FILE with {line,L}: one line per message,
%% "E <hex>" for {eol,_} and "N <hex>" for {noeol,_}, in arrival order.
%%   escript line_frames.escript FILE L
-mode(compile).

main([File, LS]) ->
    P = open_port({spawn_executable, "/bin/cat"},
                  [{line, list_to_integer(LS)}, binary, {args, [File]}, eof]),
    loop(P);
main(_) ->
    halt(2).

loop(P) ->
    receive
        {P, {data, {Flag, D}}} ->
            Tag = case Flag of eol -> "E"; noeol -> "N" end,
            io:put_chars([Tag, " ", binary:encode_hex(D), "\n"]),
            loop(P);
        {P, eof} ->
            port_close(P),
            halt(0)
    after 30000 ->
        halt(1)
    end.
