#!/usr/bin/env escript
%% SPDX-License-Identifier: MIT
%% Maps over 32 keys against a real VM (driven by tests/test_etf_maps.c).
%%
%%   etf_bigmaps.escript gen N SEED OUT
%%     Generates N seeded random maps of 32 to 5,000 keys (most of 33..64,
%%     one in 25 of exactly 32 and one in 25 of 33, a few of thousands), each
%%     of one key kind or of kinds mixed: small integers (also at the VM's
%%     60-bit small boundary), bignums, floats (with 0.0 or -0.0, and integral
%%     floats next to the equal integers), binaries, bitstrings, atoms,
%%     tuples, lists, strings, improper lists, maps of up to 32 keys, and (in
%%     the mixed kind) maps of over 32 keys.  Values are leaves and now and
%%     then a large map, so large maps nest.  Writes for each map five
%%     fields, each a 32-bit big-endian length and the bytes:
%%     io_lib:format("~w") as UTF-8, term_to_binary(M), io_lib:format("~p")
%%     as UTF-8 (empty for maps of over 300 keys, to stay quick),
%%     term_to_binary(M, [deterministic]), and <<1>> when every large map in
%%     M has keys whose hash does not depend on the VM instance (no atom, pid,
%%     port, ref or fun inside a key), else <<0>>.
%%
%%   etf_bigmaps.escript verify GEN OURS
%%     OURS holds one field per map: portkit's encoding of the map parsed from
%%     its ~w text.  Checks binary_to_term of each =:= the map; prints
%%     "verified N" or the first failures, exit status 0 or 1.
-mode(compile).

main(["gen", N, Seed, Out]) ->
    rand:seed(exsss, {list_to_integer(Seed), 17, 4}),
    {ok, F} = file:open(Out, [write, raw, binary, delayed_write]),
    lists:foreach(fun(I) -> ok = file:write(F, record(bigmap(I))) end,
                  lists:seq(1, list_to_integer(N))),
    ok = file:close(F);
main(["verify", Gen, Ours]) ->
    {ok, G} = file:read_file(Gen),
    {ok, O} = file:read_file(Ours),
    Maps = [binary_to_term(B) || [_W, B, _P, _D, _C] <- chunks(fields(G), 5)],
    Encs = fields(O),
    length(Maps) =:= length(Encs) orelse fail("map count differs: ~w vs ~w",
                                              [length(Maps), length(Encs)]),
    Bad = [I || {I, M, E} <- lists:zip3(lists:seq(1, length(Maps)), Maps, Encs),
                not same(M, E)],
    case Bad of
        [] -> io:format("verified ~w~n", [length(Maps)]);
        _ -> fail("binary_to_term differs for ~w maps, first ~w", [length(Bad),
                                                                 lists:sublist(Bad, 5)])
    end.

fail(Fmt, Args) ->
    io:format(standard_error, Fmt ++ "~n", Args),
    halt(1).

same(M, E) ->
    try binary_to_term(E) =:= M catch _:_ -> false end.

record(M) ->
    W = unicode:characters_to_binary(io_lib:format("~w", [M])),
    P = case map_size(M) =< 300 of
            true -> unicode:characters_to_binary(io_lib:format("~p", [M]));
            false -> <<>> % the check skips ~p of the largest maps, to stay quick
        end,
    C = case computable(M) of true -> <<1>>; false -> <<0>> end,
    [field(X) || X <- [W, term_to_binary(M), P, term_to_binary(M, [deterministic]), C]].

field(B) -> [<<(byte_size(B)):32>>, B].

fields(<<>>) -> [];
fields(<<L:32, B:L/binary, Rest/binary>>) -> [B | fields(Rest)].

chunks([], _) -> [];
chunks(L, N) -> {H, T} = lists:split(N, L), [H | chunks(T, N)].

%% True when every map of over 32 keys in T has keys without VM-local parts.
computable(T) when is_map(T) ->
    (map_size(T) =< 32 orelse lists:all(fun vm_free/1, maps:keys(T)))
        andalso lists:all(fun computable/1, maps:keys(T) ++ maps:values(T));
computable(T) when is_tuple(T) -> lists:all(fun computable/1, tuple_to_list(T));
computable([H | T]) -> computable(H) andalso computable(T);
computable(_) -> true.

vm_free(T) when is_atom(T); is_pid(T); is_port(T); is_reference(T); is_function(T) -> false;
vm_free(T) when is_map(T) -> lists:all(fun vm_free/1, maps:keys(T) ++ maps:values(T));
vm_free(T) when is_tuple(T) -> lists:all(fun vm_free/1, tuple_to_list(T));
vm_free([H | T]) -> vm_free(H) andalso vm_free(T);
vm_free(_) -> true.

kinds() ->
    [int, bigint, float, binary, bits, atom, tuple, list, string, improper, smallmap,
     plain, plain, mixed].

map_size_for(I) ->
    case {I rem 25, rand:uniform(100)} of
        {0, _} -> 32;
        {1, _} -> 33;
        {_, R} when R =< 75 -> 33 + rand:uniform(31);
        {_, R} when R =< 98 -> 64 + rand:uniform(436);
        _ -> 500 + rand:uniform(4500)
    end.

bigmap(I) ->
    Kinds = kinds(),
    Kind = lists:nth(rand:uniform(length(Kinds)), Kinds),
    fill(Kind, map_size_for(I), #{}, 0).

%% Random keys until the map has N; a run of repeats gives up (a kind with few
%% distinct keys, such as small strings, then stays smaller).
fill(_, N, M, _) when map_size(M) >= N -> M;
fill(_, _, M, 200) -> M;
fill(Kind, N, M, Misses) ->
    K = key(Kind),
    case maps:is_key(K, M) of
        true -> fill(Kind, N, M, Misses + 1);
        false -> fill(Kind, N, M#{K => value()}, 0)
    end.

value() ->
    case rand:uniform(1000) of
        1 -> fill(int, 33 + rand:uniform(40), #{}, 0);
        2 -> fill(plain, 33 + rand:uniform(40), #{}, 0);
        3 -> {nested, fill(atom, 33 + rand:uniform(10), #{}, 0)};
        R when R < 250 -> key(plain);
        _ -> rand:uniform(1000)
    end.

key(int) ->
    case rand:uniform(10) of
        1 -> lists:nth(rand:uniform(8), [1 bsl 59, (1 bsl 59) - 1, -(1 bsl 59), -(1 bsl 59) - 1,
                                         1 bsl 63, -(1 bsl 63), 0, 255]);
        2 -> rand:uniform(1 bsl 62) - (1 bsl 61);
        3 -> rand:uniform(256) - 1;
        _ -> rand:uniform(2000000) - 1000000
    end;
key(bigint) ->
    rand:uniform(1 bsl (64 + rand:uniform(200))) - (1 bsl (63 + rand:uniform(100)));
key(float) ->
    case rand:uniform(20) of
        1 -> 0.0;
        2 -> -0.0;
        3 -> float(rand:uniform(100));
        4 -> rand:uniform() * 1.0e300;
        _ -> (rand:uniform() - 0.5) * 1000
    end;
key(binary) -> bytes(rand:uniform(40) - 1);
key(bits) -> B = bytes(rand:uniform(20) - 1), S = rand:uniform(7), <<B/binary, 5:S>>;
key(atom) ->
    case rand:uniform(4) of
        1 -> lists:nth(rand:uniform(6), [ok, error, true, false, undefined, '']);
        _ -> list_to_atom("k" ++ integer_to_list(rand:uniform(5000)))
    end;
key(tuple) ->
    list_to_tuple([key(leafkind()) || _ <- lists:seq(1, rand:uniform(4) - 1)]);
key(list) -> [key(leafkind()) || _ <- lists:seq(1, rand:uniform(6) - 1)];
key(string) -> [rand:uniform(256) - 1 || _ <- lists:seq(1, rand:uniform(12) - 1)];
key(improper) -> [key(leafkind()) | key(lists:nth(rand:uniform(3), [int, binary, float]))];
key(smallmap) -> maps:from_list([{key(leafkind()), key(leafkind())}
                                 || _ <- lists:seq(1, rand:uniform(6) - 1)]);
key(largemap) -> fill(int, 33 + rand:uniform(8), #{}, 0);
key(mixed) ->
    case rand:uniform(60) of
        1 -> key(largemap);
        2 -> key(atom);
        _ -> key(plain)
    end;
key(plain) ->
    Ks = [int, bigint, float, binary, bits, tuple, list, string, improper, smallmap],
    key(lists:nth(rand:uniform(length(Ks)), Ks)).

leafkind() -> lists:nth(rand:uniform(6), [int, int, bigint, float, binary, string]).

bytes(N) -> list_to_binary([rand:uniform(256) - 1 || _ <- lists:seq(1, N)]).
