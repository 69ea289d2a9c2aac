#!/usr/bin/env escript
%% SPDX-License-Identifier: MIT
%% Reference printer for tests/test_etf_text.c.
%%   etf_print.escript IN OUT: for each term of IN (file:consult/1) writes
%%     one line "W<TAB>P" to OUT: io_lib:format("~w") and ("~p") of the term,
%%     UTF-8, with backslash and newline escaped as \\ and \n.
%%   etf_print.escript floats N SEED OUT: writes N seeded random floats (random
%%     bit patterns, decimal ranges, powers of ten, integers near 2^53), one
%%     "~w." line each: Erlang's text is the reference our printer must match.
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
