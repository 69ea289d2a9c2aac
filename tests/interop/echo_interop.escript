#!/usr/bin/env escript
%% SPDX-License-Identifier: MIT
%% A real Erlang VM opens build/examples/echo with every framing ({packet,1},
%% {packet,2}, {packet,4}, {line,L}, stream), with use_stdio and nouse_stdio,
%% sends random binaries of 0 bytes to 8 MiB and checks every reply; then
%% checks exit_status for a clean exit, a non-zero exit and signal deaths
%% using the port_probe helper.
%%
%%   escript echo_interop.escript ECHO PROBE COUNT SEED
-mode(compile).

main([Echo, Probe, CountS, SeedS]) ->
    Count = list_to_integer(CountS),
    Seed = list_to_integer(SeedS),
    _ = rand:seed(exsss, {Seed, Seed * 7 + 1, Seed * 13 + 2}),
    Framings = [{packet, 1}, {packet, 2}, {packet, 4}, {line, 4096}, stream],
    Total = lists:sum([echo_config(Echo, F, S, Count)
                       || F <- Framings, S <- [use_stdio, nouse_stdio]]),
    io:format("echo: ~b messages checked~n", [Total]),
    exit_statuses(Probe),
    io:format("exit_status: ok~n"),
    halt(0);
main(_) ->
    io:format(standard_error, "usage: echo_interop.escript ECHO PROBE COUNT SEED~n", []),
    halt(2).

args({packet, N}) -> ["--packet", integer_to_list(N)];
args({line, L}) -> ["--line", integer_to_list(L)];
args(stream) -> ["--stream"].

max_size({packet, 1}) -> 255;
max_size({packet, 2}) -> 65535;
max_size(_) -> 8 bsl 20.

sizes(Max, Count) ->
    Fixed = lists:usort([0, 1, Max, min(Max, 65536), min(Max, 65537)]),
    Fixed ++ [random_size(Max) || _ <- lists:seq(1, max(0, Count - length(Fixed)))].

random_size(Max) ->
    case rand:uniform(100) of
        R when R =< 85 -> rand:uniform(min(1025, Max + 1)) - 1;
        R when R =< 98 -> rand:uniform(min(65537, Max + 1)) - 1;
        _ -> rand:uniform(Max + 1) - 1
    end.

echo_config(Echo, Framing, Stdio, Count) ->
    Extra = case Stdio of use_stdio -> []; nouse_stdio -> ["--nouse-stdio"] end,
    Opt = case Framing of stream -> stream; F -> F end,
    P = open_port({spawn_executable, Echo},
                  [Opt, Stdio, binary, exit_status, {args, args(Framing) ++ Extra}]),
    Sizes = sizes(max_size(Framing), Count),
    lists:foreach(fun(Size) -> roundtrip(P, Framing, Size) end, Sizes),
    true = port_close(P),
    io:format("  ~p ~p: ~b ok~n", [Framing, Stdio, length(Sizes)]),
    length(Sizes).

roundtrip(P, {packet, _} = F, Size) ->
    B = rand:bytes(Size),
    true = port_command(P, B),
    receive
        {P, {data, B}} -> ok;
        {P, {data, Other}} -> fail(F, Size, {got, byte_size(Other)});
        {P, Msg} -> fail(F, Size, Msg)
    after 60000 -> fail(F, Size, timeout)
    end;
roundtrip(_P, stream, 0) ->
    ok;
roundtrip(P, stream, Size) ->
    B = rand:bytes(Size),
    true = port_command(P, B),
    collect_stream(P, B, Size, []);
roundtrip(P, {line, _} = F, Size) ->
    B = line_bytes(Size),
    true = port_command(P, [B, $\n]),
    collect_line(P, F, B, []).

collect_stream(P, B, Left, Acc) when Left =< 0 ->
    case iolist_to_binary(lists:reverse(Acc)) of
        B -> ok;
        Other -> fail(stream, byte_size(B), {got, byte_size(Other)})
    end,
    P;
collect_stream(P, B, Left, Acc) ->
    receive
        {P, {data, D}} -> collect_stream(P, B, Left - byte_size(D), [D | Acc]);
        {P, Msg} -> fail(stream, byte_size(B), Msg)
    after 60000 -> fail(stream, byte_size(B), timeout)
    end.

collect_line(P, F, B, Acc) ->
    receive
        {P, {data, {noeol, D}}} -> collect_line(P, F, B, [D | Acc]);
        {P, {data, {eol, D}}} ->
            case iolist_to_binary(lists:reverse([D | Acc])) of
                B -> ok;
                Other -> fail(F, byte_size(B), {got, byte_size(Other)})
            end;
        {P, Msg} -> fail(F, byte_size(B), Msg)
    after 60000 -> fail(F, byte_size(B), timeout)
    end.

%% Random bytes without LF, not ending in CR (a CR before the LF would be
%% dropped by the line framing, on both sides, exactly as Erlang does).
line_bytes(0) -> <<>>;
line_bytes(Size) ->
    B = << <<(case X of $\n -> $a; _ -> X end)>> || <<X>> <= rand:bytes(Size) >>,
    case binary:last(B) of
        $\r -> <<(binary:part(B, 0, Size - 1))/binary, "z">>;
        _ -> B
    end.

exit_statuses(Probe) ->
    0 = status(Probe, ["exit", "0"], []),
    3 = status(Probe, ["exit", "3"], []),
    255 = status(Probe, ["exit", "255"], []),
    137 = status(Probe, ["signal", "9"], []),
    143 = status(Probe, ["signal", "15"], []),
    139 = status(Probe, ["signal", "11"], []),
    7 = status(Probe, ["--nouse-stdio", "exit", "7"], [nouse_stdio]),
    %% a port that answers, then exits non-zero
    P = open_port({spawn_executable, Probe},
                  [{packet, 4}, binary, exit_status, {args, ["echo-exit", "5"]}]),
    true = port_command(P, <<"hello">>),
    receive {P, {data, <<"hello">>}} -> ok after 10000 -> fail(echo_exit, 5, timeout) end,
    receive {P, {exit_status, 5}} -> ok after 10000 -> fail(echo_exit, 5, no_status) end,
    ok.

status(Probe, Args, Opts) ->
    P = open_port({spawn_executable, Probe},
                  [{packet, 4}, binary, exit_status, {args, Args} | Opts]),
    receive
        {P, {exit_status, S}} -> S
    after 10000 -> fail(exit_status, Args, timeout)
    end.

fail(What, Size, Why) ->
    io:format(standard_error, "FAIL ~p size ~p: ~p~n", [What, Size, Why]),
    halt(1).
