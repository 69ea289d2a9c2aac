#!/usr/bin/env escript
%% SPDX-License-Identifier: MIT
%% Opens portkit's example port programs from Erlang with open_port/2 and uses
%% them.  Run from the source tree after `make`:
%%   escript examples/erlang/ports_demo.escript [BUILD_DIR]
-mode(compile).

main(Args) ->
    Build = case Args of [B] -> B; [] -> "build" end,
    Echo = filename:join([Build, "examples", "echo"]),
    Calc = filename:join([Build, "examples", "calc"]),

    %% echo with {packet,4} on fds 3/4: stdout stays free for the program's own output
    E = open_port({spawn_executable, Echo},
                  [{packet, 4}, nouse_stdio, binary, exit_status,
                   {args, ["--packet", "4", "--nouse-stdio"]}]),
    true = port_command(E, <<"hello, port">>),
    receive {E, {data, Reply}} -> io:format("echo replied ~p~n", [Reply]) end,
    port_close(E),

    %% echo in line mode: long lines arrive in pieces
    L = open_port({spawn_executable, Echo},
                  [{line, 8}, binary, {args, ["--line", "8"]}]),
    true = port_command(L, <<"short\na line longer than eight bytes\n">>),
    lines(L, 2),
    port_close(L),

    %% calc: ETF requests, bignums included
    C = open_port({spawn_executable, Calc},
                  [{packet, 4}, binary, exit_status, {args, ["--packet", "4"]}]),
    Big = 1 bsl 200,
    [begin
         true = port_command(C, term_to_binary(Req)),
         receive {C, {data, R}} -> io:format("~p -> ~p~n", [Req, binary_to_term(R)]) end
     end || Req <- [{add, 2, 3}, {mul, Big, Big}, {divide, -7, 2}, {divide, 1, 0}, hello]],
    port_close(C),
    ok.

lines(_P, 0) -> ok;
lines(P, N) ->
    receive
        {P, {data, {noeol, Piece}}} -> io:format("  piece ~p~n", [Piece]), lines(P, N);
        {P, {data, {eol, Line}}} -> io:format("  line  ~p~n", [Line]), lines(P, N - 1)
    end.
