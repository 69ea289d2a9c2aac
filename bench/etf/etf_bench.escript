#!/usr/bin/env escript
%% SPDX-License-Identifier: MIT
%% Erlang's side of bench/etf: times binary_to_term and term_to_binary on the
%% exact bytes etf_bench wrote (DIR/<name>.etf) and prints
%% "<name> <encode ns/op> <decode ns/op>" per term (median of 5 rounds).
-mode(compile).

main([Dir, SecondsS]) ->
    Seconds = case string:to_float(SecondsS) of
                  {F, ""} -> F;
                  _ -> float(list_to_integer(SecondsS))
              end,
    Names = ["ints1000", "map100", "deep1000", "bin1MiB", "rpc", "map1000"],
    [begin
         {ok, B} = file:read_file(filename:join(Dir, N ++ ".etf")),
         T = binary_to_term(B),
         Enc = measure(fun() -> term_to_binary(T, [{minor_version, 2}]) end, Seconds),
         Dec = measure(fun() -> binary_to_term(B) end, Seconds),
         io:format("~s ~.1f ~.1f~n", [N, Enc, Dec])
     end || N <- Names],
    ok.

measure(F, Seconds) ->
    Iters = calibrate(F, 1, Seconds / 50),
    Rounds = lists:sort([round_ns(F, Iters, Seconds / 5) || _ <- lists:seq(1, 5)]),
    lists:nth(3, Rounds).

calibrate(F, N, Budget) ->
    T0 = erlang:monotonic_time(nanosecond),
    loop(F, N),
    Dt = (erlang:monotonic_time(nanosecond) - T0) / 1.0e9,
    if Dt > Budget; N > 1 bsl 30 -> N;
       true -> calibrate(F, N * 2, Budget)
    end.

round_ns(F, Iters, Budget) ->
    T0 = erlang:monotonic_time(nanosecond),
    round_ns(F, Iters, Budget, T0, 0).
round_ns(F, Iters, Budget, T0, Done) ->
    loop(F, Iters),
    Dt = erlang:monotonic_time(nanosecond) - T0,
    if Dt / 1.0e9 >= Budget -> Dt / (Done + Iters);
       true -> round_ns(F, Iters, Budget, T0, Done + Iters)
    end.

loop(_, 0) -> ok;
loop(F, N) -> F(), loop(F, N - 1).
