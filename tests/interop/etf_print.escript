#!/usr/bin/env escript
%% SPDX-License-Identifier: MIT
%% Reference printer for tests/test_etf_text.c.
%%   etf_print.escript IN OUT: for each term of IN (file:consult/1) writes
%%     one line "W<TAB>P" to OUT: io_lib:format("~w") and ("~p") of the term,
%%     UTF-8, with backslash and newline escaped as \\ and \n.
%%   etf_print.escript random N SEED OUT: N seeded random terms (every type
%%     that has a text form: integers small and big, floats, atoms incl.
%%     Unicode and quoted ones, strings, binaries, bitstrings, tuples, proper
%%     and improper lists, maps), one "W<TAB>P" line each as above.
%%   etf_print.escript floats N SEED OUT: writes N seeded random floats (random
%%     bit patterns, decimal ranges, powers of ten, integers near 2^53), one
%%     "~w." line each: Erlang's text is the reference our printer must match.
main(["random", N, Seed, Out]) ->
    rand:seed(exsss, {list_to_integer(Seed), 13, 17}),
    Lines = [begin
                 T = gen(4),
                 [esc(io_lib:format("~w", [T])), $\t, esc(io_lib:format("~p", [T])), $\n]
             end || _ <- lists:seq(1, list_to_integer(N))],
    ok = file:write_file(Out, unicode:characters_to_binary(Lines));
main(["floats", N, Seed, Out]) ->
    rand:seed(exsss, {list_to_integer(Seed), 7, 11}),
    Fs = [float_n(I) || I <- lists:seq(1, list_to_integer(N))],
    ok = file:write_file(Out, [[io_lib:format("~w", [F]), ".\n"] || F <- Fs]);
main([In, Out]) ->
    {ok, Terms} = file:consult(In),
    Lines = [[esc(io_lib:format("~w", [T])), $\t, esc(io_lib:format("~p", [T])), $\n]
             || T <- Terms],
    ok = file:write_file(Out, unicode:characters_to_binary(Lines)).

float_n(I) ->
    case I rem 5 of
        0 -> random_bits();
        1 -> (rand:uniform() - 0.5) * math:pow(10, rand:uniform(40) - 20);
        2 -> math:pow(10, rand:uniform(600) - 300);
        3 -> float((1 bsl 53) - 500 + rand:uniform(1000)) * (1 - 2 * (I rem 2));
        4 -> rand:uniform(100000) / math:pow(10, rand:uniform(8))
    end.

random_bits() ->
    B = rand:uniform(1 bsl 64) - 1,
    case <<B:64>> of
        <<_:1, 2047:11, _:52>> -> random_bits();
        <<F/float>> -> F
    end.

esc(Chars) ->
    lists:flatmap(fun($\\) -> "\\\\"; ($\n) -> "\\n"; (C) -> [C] end,
                  lists:flatten(Chars)).

gen(0) -> leaf();
gen(D) ->
    case rand:uniform(10) of
        N when N =< 4 -> leaf();
        5 -> list_to_tuple([gen(D - 1) || _ <- lists:seq(1, rand:uniform(7) - 1)]);
        6 -> [gen(D - 1) || _ <- lists:seq(1, rand:uniform(7) - 1)];
        7 -> [gen(D - 1) || _ <- lists:seq(1, rand:uniform(4))] ++ leaf_nonlist();
        8 -> maps:from_list([{gen(D - 1), gen(D - 1)} || _ <- lists:seq(1, rand:uniform(9) - 1)]);
        9 -> {pick([ok, error, reply, state, 'EXIT']), gen(D - 1), gen(D - 1)};
        10 -> [leaf() || _ <- lists:seq(1, rand:uniform(30))]
    end.

leaf_nonlist() ->
    case leaf() of
        L when is_list(L) -> tail;
        X -> X
    end.

leaf() ->
    case rand:uniform(12) of
        1 -> rand:uniform(256) - 1;
        2 -> rand:uniform(1 bsl 40) - (1 bsl 39);
        3 -> (rand:uniform(1 bsl 200) - (1 bsl 199)) * (rand:uniform(1 bsl 70));
        4 -> float_n(rand:uniform(5));
        5 -> pick([-0.0, 0.0, 5.0e-324, 1.7976931348623157e308, -1.0e-300, 1.0e15, 0.1]);
        6 -> pick([ok, 'Foo', '_x', 'and', 'a b', 'é', 'ñandú', 'Ä', list_to_atom([1000, $a]),
                   'a\nb', 'it\'s', '', 'a@b', 'maybe', 'cond', 'x\x{7f}']);
        7 -> [32 + rand:uniform(94) || _ <- lists:seq(1, rand:uniform(20))];
        8 -> [rand:uniform(300) || _ <- lists:seq(1, rand:uniform(8))];
        9 -> list_to_binary([32 + rand:uniform(94) || _ <- lists:seq(1, rand:uniform(30))]);
        10 -> crypto_free_bytes(rand:uniform(40) - 1);
        11 -> B = crypto_free_bytes(rand:uniform(5)), S = rand:uniform(7), <<B/binary, 3:S>>;
        12 -> pick([[], {}, #{}, <<>>, "", "a\tb\n", <<"é">>])
    end.

crypto_free_bytes(N) -> list_to_binary([rand:uniform(256) - 1 || _ <- lists:seq(1, N)]).

pick(L) -> lists:nth(rand:uniform(length(L)), L).

