#!/usr/bin/env escript
%% SPDX-License-Identifier: MIT
%% The ETF cross-check with a real VM (driven by tests/test_etf_text.c).
%%
%%   etf_crosscheck.escript gen N SEED OUT
%%     Generates N seeded random terms (every type that has a text form:
%%     small, 32-bit and big integers at the tag boundaries, floats including
%%     -0.0 and the extremes, Latin-1 and Unicode atoms up to 255 characters,
%%     byte strings around STRING_EXT's 65535 limit, empty and large binaries,
%%     bitstrings, exports, tuples past 255 elements, improper lists, nested
%%     maps of up to 32 keys, deep and wide nestings) and writes for each five
%%     fields, each a 32-bit big-endian length and the bytes:
%%       io_lib:format("~w") as UTF-8, term_to_binary(T, [{minor_version,1}]),
%%       term_to_binary(T, [{minor_version,2}]), term_to_binary(T, [compressed])
%%       and io_lib:format("~p") as UTF-8.
%%
%%   etf_crosscheck.escript verify GEN OURS
%%     OURS holds three fields per term (portkit's encodings with minor
%%     version 1, 2 and compressed); checks binary_to_term of each =:= T.
%%     Prints "verified N" or the first failures, exit status 0 or 1.
main(["gen", N, Seed, Out]) ->
    rand:seed(exsss, {list_to_integer(Seed), 3, 5}),
    {ok, F} = file:open(Out, [write, raw, binary, delayed_write]),
    lists:foreach(fun(I) -> ok = file:write(F, record(term(I))) end,
                  lists:seq(1, list_to_integer(N))),
    ok = file:close(F);
main(["verify", Gen, Ours]) ->
    {ok, G} = file:read_file(Gen),
    {ok, O} = file:read_file(Ours),
    Terms = [binary_to_term(B1) || [_W, B1, _B2, _BC, _P] <- chunks(fields(G), 5)],
    Encs = chunks(fields(O), 3),
    length(Terms) =:= length(Encs) orelse fail("term count differs: ~w vs ~w",
                                               [length(Terms), length(Encs)]),
    Bad = [{I, K} || {I, T, Es} <- lists:zip3(lists:seq(1, length(Terms)), Terms, Encs),
                     {K, E} <- lists:zip([mv1, mv2, compressed], Es),
                     not same(T, E)],
    case Bad of
        [] -> io:format("verified ~w~n", [length(Terms)]);
        _ -> fail("binary_to_term differs for ~w of them, first ~p", [length(Bad),
                                                                      lists:sublist(Bad, 5)])
    end.

fail(Fmt, Args) ->
    io:format(standard_error, Fmt ++ "~n", Args),
    halt(1).

same(T, E) ->
    try binary_to_term(E) =:= T catch _:_ -> false end.

record(T) ->
    W = unicode:characters_to_binary(io_lib:format("~w", [T])),
    P = unicode:characters_to_binary(io_lib:format("~p", [T])),
    [field(X) || X <- [W, term_to_binary(T, [{minor_version, 1}]),
                       term_to_binary(T, [{minor_version, 2}]),
                       term_to_binary(T, [compressed]), P]].

field(B) -> [<<(byte_size(B)):32>>, B].

fields(<<>>) -> [];
fields(<<L:32, B:L/binary, Rest/binary>>) -> [B | fields(Rest)].

chunks([], _) -> [];
chunks(L, N) -> {H, T} = lists:split(N, L), [H | chunks(T, N)].

%% Most terms are ordinary nestings; every 50th is one of the big shapes.
term(I) when I rem 50 =:= 0 -> big_shape(I div 50 rem 8);
term(_) -> gen(rand:uniform(4)).

big_shape(0) -> deep(rand:uniform(300));
big_shape(1) -> list_to_tuple([leaf() || _ <- lists:seq(1, 250 + rand:uniform(20))]);
big_shape(2) -> [rand:uniform(256) - 1 || _ <- lists:seq(1, 65530 + rand:uniform(10))];
big_shape(3) -> crypto_free_bytes(rand:uniform(70000));
big_shape(4) -> maps:from_list([{leaf(), gen(2)} || _ <- lists:seq(1, 32)]);
big_shape(5) -> lists:duplicate(2000, {ok, <<"repetitive">>});
big_shape(6) -> (1 bsl (2040 + rand:uniform(100))) * (rand:uniform(3) - 2) + rand:uniform(1000);
big_shape(7) -> [deep(40) || _ <- lists:seq(1, 20)].

deep(0) -> leaf();
deep(D) ->
    case rand:uniform(4) of
        1 -> [deep(D - 1)];
        2 -> {deep(D - 1)};
        3 -> #{k => deep(D - 1)};
        4 -> [leaf() | deep(D - 1)]
    end.

gen(0) -> leaf();
gen(D) ->
    case rand:uniform(10) of
        N when N =< 4 -> leaf();
        5 -> list_to_tuple([gen(D - 1) || _ <- lists:seq(1, rand:uniform(7) - 1)]);
        6 -> [gen(D - 1) || _ <- lists:seq(1, rand:uniform(7) - 1)];
        7 -> [gen(D - 1) || _ <- lists:seq(1, rand:uniform(4))] ++ improper_tail();
        8 -> maps:from_list([{gen(D - 1), gen(D - 1)} || _ <- lists:seq(1, rand:uniform(9) - 1)]);
        9 -> {pick([ok, error, reply, 'EXIT']), gen(D - 1), gen(D - 1)};
        10 -> [leaf() || _ <- lists:seq(1, rand:uniform(40))]
    end.

improper_tail() ->
    case leaf() of
        L when is_list(L) -> tail;
        X -> X
    end.

leaf() ->
    case rand:uniform(16) of
        1 -> rand:uniform(256) - 1;
        2 -> pick([0, 255, 256, -1, 2147483647, 2147483648, -2147483648, -2147483649,
                   9223372036854775807, 9223372036854775808, -9223372036854775808,
                   -9223372036854775809, 18446744073709551616, 1 bsl 2040, -(1 bsl 2039)]);
        3 -> rand:uniform(1 bsl 40) - (1 bsl 39);
        4 -> (rand:uniform(1 bsl 200) - (1 bsl 199)) * rand:uniform(1 bsl 70);
        5 -> random_float();
        6 -> pick([-0.0, 0.0, 5.0e-324, -5.0e-324, 1.7976931348623157e308,
                   -1.7976931348623157e308, 2.2250738585072014e-308, 1.0e15, 0.1, 1.0]);
        7 -> pick([ok, 'Foo', '_x', 'and', 'a b', 'é', 'ñandú', 'Ä', 'it\'s', '', 'a@b',
                   'a\nb', true, undefined, nonode@nohost]);
        8 -> list_to_atom([rand:uniform(16#2FF) || _ <- lists:seq(1, rand:uniform(12))]);
        9 -> list_to_atom(lists:duplicate(255, pick([$a, 16#e9, 16#3b1, 16#1F600])));
        10 -> [32 + rand:uniform(94) || _ <- lists:seq(1, rand:uniform(20))];
        11 -> [rand:uniform(300) || _ <- lists:seq(1, rand:uniform(8))];
        12 -> list_to_binary([32 + rand:uniform(94) || _ <- lists:seq(1, rand:uniform(30))]);
        13 -> crypto_free_bytes(rand:uniform(40) - 1);
        14 -> B = crypto_free_bytes(rand:uniform(5) - 1), S = rand:uniform(7),
              <<B/binary, (rand:uniform(1 bsl S) - 1):S>>;
        15 -> pick([[], {}, #{}, <<>>, "", "a\tb\n", <<"é">>]);
        16 -> pick([fun lists:map/2, fun erlang:'+'/2, fun 'Mod':'fun name'/0, fun m:f/255])
    end.

random_float() ->
    case rand:uniform(3) of
        1 ->
            B = rand:uniform(1 bsl 64) - 1,
            case <<B:64>> of
                <<_:1, 2047:11, _:52>> -> random_float();
                <<F/float>> -> F
            end;
        2 -> (rand:uniform() - 0.5) * math:pow(10, rand:uniform(40) - 20);
        3 -> rand:uniform(100000) / math:pow(10, rand:uniform(8))
    end.

crypto_free_bytes(N) -> list_to_binary([rand:uniform(256) - 1 || _ <- lists:seq(1, N)]).

pick(L) -> lists:nth(rand:uniform(length(L)), L).
