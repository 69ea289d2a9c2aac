#!/usr/bin/env escript
%% SPDX-License-Identifier: MIT
%% Prints what a real Erlang VM delivers for `sh -c SCRIPT' opened with
%% {line, L}, exit_status and eof, in arrival order, one per line:
%% "E <hex>" for {eol,_}, "N <hex>" for {noeol,_}, "X <code>" for
%% {exit_status,_}; it stops at eof.
%%   escript line_exit.escript SCRIPT L
-mode(compile).

main([Script, LS]) ->
    P = open_port({spawn_executable, "/bin/sh"},
                  [{line, list_to_integer(LS)}, binary, exit_status, eof,
                   {args, ["-c", Script]}]),
    loop(P);
main(_) ->
    halt(2).

loop(P) ->
    receive
        {P, {data, {Flag, D}}} ->
            Tag = case Flag of eol -> "E"; noeol -> "N" end,
            io:put_chars([Tag, " ", binary:encode_hex(D), "\n"]),
            loop(P);
        {P, {exit_status, S}} ->
            io:put_chars(["X ", integer_to_list(S), "\n"]),
            loop(P);
        {P, eof} ->
            port_close(P),
            halt(0)
    after 30000 ->
        halt(1)
    end.
