#!/usr/bin/env escript
%% SPDX-License-Identifier: MIT
%% Erlang VM side of bench/port: opens PROG with {packet,4}.
%%   erl_bench.escript rtt N PROG ARGS...   N round trips of 16 bytes; prints round trips/s
%%   erl_bench.escript bw N PROG ARGS...    N one-way 1 MiB messages to a sink; prints MB/s
-mode(compile).

main([Mode, NS, Prog | Args]) ->
    N = list_to_integer(NS),
    P = open_port({spawn_executable, Prog}, [{packet, 4}, binary, {args, Args}]),
    T0 = erlang:monotonic_time(microsecond),
    case Mode of
        "rtt" ->
            Msg = <<"0123456789abcdef">>,
            rtt(P, Msg, N);
        "bw" ->
            Bin = binary:copy(<<0>>, 1 bsl 20),
            [true = port_command(P, Bin) || _ <- lists:seq(1, N)],
            true = port_command(P, <<>>),
            Want = N bsl 20,
            receive {P, {data, <<Want:64/little>>}} -> ok end
    end,
    Dt = (erlang:monotonic_time(microsecond) - T0) / 1.0e6,
    port_close(P),
    case Mode of
        "rtt" -> io:format("~b~n", [round(N / Dt)]);
        "bw" -> io:format("~.1f~n", [N * (1 bsl 20) / Dt / 1.0e6])
    end.

rtt(_P, _Msg, 0) -> ok;
rtt(P, Msg, N) ->
    true = port_command(P, Msg),
    receive {P, {data, Msg}} -> rtt(P, Msg, N - 1) end.
