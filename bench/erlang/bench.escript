#!/usr/bin/env escript
%% SPDX-License-Identifier: MIT
%% bench/erlang: portkit (through `portkit wrap') against plain open_port on
%% the same programs, in one run: start+exit/s, 16-byte round trips/s,
%% 1 MiB-chunk throughput, and the VM's memory under a flooding child.
%% Usage: bench.escript PORTKIT_BIN EBIN SECONDS
-mode(compile).

main([Bin, Ebin, Secs]) ->
    true = code:add_patha(Ebin),
    application:load(portkit),
    application:set_env(portkit, binary, Bin),
    Ms = round(num(Secs) * 1000),
    io:format("~-34s ~14s ~14s ~7s~n", ["measure", "open_port", "portkit", "ratio"]),
    row("start+exit /s (true)", rate(Ms, fun plain_start/0), rate(Ms, fun pk_start/0)),
    row("16-byte round trips /s (cat)", rt(Ms, plain), rt(Ms, portkit)),
    row("throughput MB/s (1 MiB chunks)", tput(Ms, plain), tput(Ms, portkit)),
    {PlainMem, PkMem} = {flood(Ms, plain), flood(Ms, portkit)},
    io:format("~-34s ~14s ~14s~n", ["VM memory growth, flood, MB",
                                    fmt(PlainMem), fmt(PkMem)]);
main(_) ->
    io:format("usage: bench.escript PORTKIT_BIN EBIN SECONDS~n"),
    halt(100).

num(S) ->
    case string:to_float(S) of
        {F, []} -> F;
        _ -> list_to_integer(S)
    end.

row(Name, A, B) ->
    io:format("~-34s ~14s ~14s ~7.2f~n", [Name, fmt(A), fmt(B), B / max(A, 1.0e-9)]).

fmt(X) -> float_to_list(float(X), [{decimals, 1}]).

now_ms() -> erlang:monotonic_time(millisecond).

%% Calls F until Ms have passed; returns calls per second.
rate(Ms, F) ->
    T0 = now_ms(),
    N = rate_loop(F, T0 + Ms, 0),
    N * 1000 / max(now_ms() - T0, 1).
rate_loop(F, End, N) ->
    case now_ms() >= End of
        true -> N;
        false -> F(), rate_loop(F, End, N + 1)
    end.

plain_start() ->
    P = open_port({spawn_executable, "/bin/true"}, [exit_status]),
    receive {P, {exit_status, 0}} -> ok end.

pk_start() ->
    {ok, P, Ref} = portkit:run("/bin/true", [], [monitor]),
    receive {'DOWN', Ref, process, P, _} -> ok end,
    receive {portkit, P, {exit, 0}} -> ok end.

rt(Ms, Kind) ->
    Msg = <<"0123456789abcdef">>,
    {Send, Recv, Close} = case Kind of
        plain ->
            P = open_port({spawn_executable, "/bin/cat"}, [binary, stream]),
            {fun() -> port_command(P, Msg) end,
             fun() -> recv_plain(P, 16) end,
             fun() -> port_close(P) end};
        portkit ->
            {ok, P} = portkit:run("/bin/cat", [], []),
            {fun() -> portkit:send(P, Msg) end,
             fun() -> recv_pk(P, 16) end,
             fun() -> portkit:stop(P) end}
    end,
    R = rate(Ms, fun() -> Send(), Recv() end),
    Close(),
    R.

recv_plain(_, 0) -> ok;
recv_plain(P, N) -> receive {P, {data, D}} -> recv_plain(P, N - byte_size(D)) end.
recv_pk(_, 0) -> ok;
recv_pk(P, N) -> receive {portkit, P, {stdout, D}} -> recv_pk(P, N - byte_size(D)) end.

%% The child writes zeros for Ms; MB/s received.
tput(Ms, Kind) ->
    Size = integer_to_list(1 bsl 40),
    T0 = now_ms(),
    Bytes = case Kind of
        plain ->
            P = open_port({spawn_executable, "/usr/bin/head"},
                          [{args, ["-c", Size, "/dev/zero"]}, binary, stream]),
            B = drain_plain(P, T0 + Ms, 0),
            port_close(P),
            B;
        portkit ->
            {ok, P} = portkit:run("/usr/bin/head", ["-c", Size, "/dev/zero"],
                                  [{window, 4 bsl 20}]),
            B = drain_pk(P, T0 + Ms, 0),
            portkit:stop(P), portkit:stop(P),
            B
    end,
    Bytes / 1.0e6 / (max(now_ms() - T0, 1) / 1000).

drain_plain(P, End, B) ->
    receive {P, {data, D}} ->
        case now_ms() >= End of true -> B + byte_size(D);
                                 false -> drain_plain(P, End, B + byte_size(D)) end
    end.
drain_pk(P, End, B) ->
    receive {portkit, P, {stdout, D}} ->
        case now_ms() >= End of true -> B + byte_size(D);
                                 false -> drain_pk(P, End, B + byte_size(D)) end
    end.

%% A child floods an owner that never receives; growth of erlang:memory(total).
flood(Ms, Kind) ->
    Self = self(),
    Owner = spawn(fun() ->
        case Kind of
            plain -> open_port({spawn_executable, "/bin/cat"}, [{args, ["/dev/zero"]}, binary]);
            portkit -> portkit:run("/bin/cat", ["/dev/zero"], [{active, once}, {window, 65536}])
        end,
        Self ! started,
        receive stop -> ok end
    end),
    receive started -> ok end,
    erlang:garbage_collect(),
    M0 = erlang:memory(total),
    timer:sleep(Ms),
    M1 = erlang:memory(total),
    exit(Owner, kill),
    timer:sleep(200),
    erlang:garbage_collect(),
    (M1 - M0) / 1.0e6.
