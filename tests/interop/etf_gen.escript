#!/usr/bin/env escript
%% SPDX-License-Identifier: MIT
%% Generates N seeded random terms and writes, for each, the bytes of
%% term_to_binary(T) under several options, so a C test can check that
%% portkit's encoder matches erl byte for byte and its decoder reads them.
%%
%% Usage: etf_gen.escript N SEED OUTFILE
%% Output: per term, 7 records, each a u32 big-endian length then the bytes:
%%   default (minor_version 1), {minor_version,0}, {minor_version,2},
%%   [compressed] (level 6, minor 1), [{compressed,1},{minor_version,2}],
%%   [{compressed,9},{minor_version,0}], [deterministic]
%% Maps over 32 keys come out in hash order except with [deterministic].
-mode(compile).

main([NS, SeedS, Out]) ->
    N = list_to_integer(NS),
    Seed = list_to_integer(SeedS),
    rand:seed(exsss, {Seed, Seed * 7 + 1, Seed * 13 + 5}),
    Fixed = fixed_terms(),
    Terms = Fixed ++ [gen(rand:uniform(5)) || _ <- lists:seq(1, max(0, N - length(Fixed)))],
    Opts = [[], [{minor_version, 0}], [{minor_version, 2}], [compressed],
            [{compressed, 1}, {minor_version, 2}], [{compressed, 9}, {minor_version, 0}],
            [deterministic]],
    Bin = [[rec(term_to_binary(T, O)) || O <- Opts] || T <- lists:sublist(Terms, N)],
    ok = file:write_file(Out, Bin);
main(_) ->
    io:format(standard_error, "usage: etf_gen.escript N SEED OUTFILE~n", []),
    halt(2).

rec(B) -> [<<(byte_size(B)):32>>, B].

fixed_terms() ->
    Big = 1 bsl 2040,
    [0, 255, 256, -1, 2147483647, 2147483648, -2147483648, -2147483649,
     1 bsl 63, -(1 bsl 63), (1 bsl 64) - 1, Big, -Big, 1 bsl 2048 + 1,
     0.0, -0.0, 1.5, -1.5, 5.0e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
     -1.7976931348623157e308, 0.1, 1.0e22, 123456789.123456789, 3.14159,
     '', a, 'hello world', 'é', 'ÿäö', 'ā', '日本', list_to_atom([16#1F600]),
     list_to_atom(lists:duplicate(255, $x)), list_to_atom(lists:duplicate(255, 16#E9)),
     list_to_atom(lists:duplicate(255, 16#65E5)), list_to_atom(lists:duplicate(100, 16#10000)),
     [], "a", "hello", lists:seq(0, 255), lists:duplicate(65535, 7),
     lists:duplicate(65536, 7), [256], [1, 2 | 3], [a | b], [[]], [1, 2, 300], [-1],
     <<>>, <<1, 2, 3>>, binary:copy(<<"ab">>, 1000), <<1:3>>, <<255, 7:4>>, <<0:1>>,
     {}, {a}, {a, b, c}, list_to_tuple(lists:seq(1, 256)), list_to_tuple(lists:seq(1, 255)),
     #{}, #{a => 1}, #{1 => a, 1.0 => b, a => c, {x} => d, [] => e, "s" => f, <<"b">> => g},
     #{2 => a, 1.5 => b, -1 => c, (1 bsl 70) => d, 1.0e30 => e, 0.5 => f},
     maps:from_list([{K, K} || K <- lists:seq(1, 32)]),
     maps:from_list([{list_to_atom([$k | integer_to_list(K)]), K} || K <- lists:seq(1, 32)]),
     #{#{a => 1} => x, #{b => 1} => y, #{} => z}, #{{1, 2} => a, {1, 2.0} => b, {1} => c},
     self(), make_ref(), hd(erlang:ports()), fun lists:map/2, fun erlang:'+'/2,
     fun(X) -> X + 1 end, (fun(Y) -> fun(X) -> X + Y end end)(42),
     {self(), make_ref(), [fun lists:reverse/1]},
     lists:foldl(fun(_, Acc) -> [Acc] end, [], lists:seq(1, 200)),
     lists:foldl(fun(_, Acc) -> {Acc} end, x, lists:seq(1, 200)),
     binary:copy(<<"compressible ">>, 200), lists:seq(1, 1000),
     maps:from_list([{K, v} || K <- [1, 2, 1.0, 1.5, -3, a, 'é', {1}, {1.0}, [], "ab", <<"x">>,
                                       1 bsl 70, 2.5e30] ++ lists:seq(100, 140)])]
    ++ [binary:copy(<<"ab">>, K) || K <- lists:seq(1, 40)]
    ++ [lists:duplicate(K, {a}) || K <- lists:seq(1, 30)]
    ++ [list_to_binary(lists:seq(1, K)) || K <- lists:seq(1, 30)].

gen(0) -> leaf();
gen(D) ->
    case rand:uniform(10) of
        1 -> list_to_tuple([gen(D - 1) || _ <- lists:seq(1, rand:uniform(6) - 1)]);
        2 -> [gen(D - 1) || _ <- lists:seq(1, rand:uniform(6) - 1)];
        3 -> [gen(D - 1) | gen(D - 1)];
        4 -> maps:from_list([{gen(D - 1), gen(D - 1)} || _ <- lists:seq(1, rand:uniform(8) - 1)]);
        5 -> maps:from_list([{leaf(), leaf()} || _ <- lists:seq(1, rand:uniform(33) - 1)]);
        6 when D > 3 -> maps:from_list([{leaf(), gen(1)} || _ <- lists:seq(1, 30 + rand:uniform(40))]);
        _ -> leaf()
    end.

leaf() ->
    case rand:uniform(16) of
        1 -> rand:uniform(256) - 1;
        2 -> rand:uniform(1 bsl 32) - (1 bsl 31);
        3 -> (rand:uniform(1 bsl 62)) * (1 bsl rand:uniform(200)) * sign();
        4 -> rand:uniform(1 bsl 64) - (1 bsl 63);
        5 -> (rand:uniform() - 0.5) * math:pow(10, rand:uniform(600) - 300);
        6 -> float(rand:uniform(1000) - 500);
        7 -> list_to_atom([rand:uniform(26) + $a - 1 || _ <- lists:seq(1, rand:uniform(12))]);
        8 -> list_to_atom([pick([$a, 16#E9, 16#FF, 16#100, 16#3B1, 16#65E5, 16#1F600])
                           || _ <- lists:seq(1, rand:uniform(6))]);
        9 -> rand:bytes(rand:uniform(40) - 1);
        10 -> <<(rand:bytes(rand:uniform(5)))/binary, (rand:uniform(127)):(rand:uniform(7))>>;
        11 -> [rand:uniform(256) - 1 || _ <- lists:seq(1, rand:uniform(20))];
        12 -> [rand:uniform(300) - 1 || _ <- lists:seq(1, rand:uniform(5))];
        13 -> [];
        14 -> pick([true, false, ok, error, undefined, nil]);
        15 -> pick([self(), make_ref(), 0.0, -0.0]);
        _ -> {rand:uniform(10), pick([a, b, c])}
    end.

sign() -> pick([1, -1]).
pick(L) -> lists:nth(rand:uniform(length(L)), L).
