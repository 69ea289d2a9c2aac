#!/usr/bin/env escript
%% SPDX-License-Identifier: MIT
%%! -noinput
%% An Erlang escript that is itself a port program: it opens {fd,0,1} (or
%% {fd,3,4} with nouse_stdio) and echoes every message back, so a portkit host
%% can drive a real Erlang VM as its port.  Exits 0 when its input closes.
%%
%%   echo_port.escript [packet1|packet2|packet4|line|stream] [use_stdio|nouse_stdio]
%%
%% Defaults: packet4 use_stdio.  In line mode ({line,65536}) a whole line is
%% sent back with its newline and a piece of a longer line without, as
%% examples/echo.c does.
-mode(compile).

main(Args) ->
    {Framing, Stdio} = parse(Args, {{packet, 4}, use_stdio}),
    Fds = case Stdio of use_stdio -> {fd, 0, 1}; nouse_stdio -> {fd, 3, 4} end,
    P = open_port(Fds, [Framing, binary, eof]),
    loop(P).

parse([], Acc) -> Acc;
parse(["packet1" | T], {_, S}) -> parse(T, {{packet, 1}, S});
parse(["packet2" | T], {_, S}) -> parse(T, {{packet, 2}, S});
parse(["packet4" | T], {_, S}) -> parse(T, {{packet, 4}, S});
parse(["line" | T], {_, S}) -> parse(T, {{line, 65536}, S});
parse(["stream" | T], {_, S}) -> parse(T, {stream, S});
parse(["use_stdio" | T], {F, _}) -> parse(T, {F, use_stdio});
parse(["nouse_stdio" | T], {F, _}) -> parse(T, {F, nouse_stdio});
parse([Other | _], _) ->
    io:format(standard_error, "echo_port: unknown argument ~s~n", [Other]),
    halt(2).

loop(P) ->
    receive
        {P, {data, {eol, Line}}} -> port_command(P, [Line, $\n]), loop(P);
        {P, {data, {noeol, Piece}}} -> port_command(P, Piece), loop(P);
        {P, {data, Data}} -> port_command(P, Data), loop(P);
        {P, eof} -> halt(0)
    end.
