#!/usr/bin/env escript
%% SPDX-License-Identifier: MIT
%% A real Erlang VM opens build/examples/calc with {packet,1|2|4}, use_stdio
%% and nouse_stdio, and checks COUNT random requests per configuration against
%% Erlang's own arithmetic: integers of every size (bignums to ~20,000 bits),
%% add/mul/divide (div truncates toward zero), division by zero, and random
%% non-requests that must get {error,badarg}.
%%
%%   escript calc_interop.escript CALC COUNT SEED
-mode(compile).

main([Calc, CountS, SeedS]) ->
    Count = list_to_integer(CountS),
    Seed = list_to_integer(SeedS),
    _ = rand:seed(exsss, {Seed, Seed * 3 + 1, Seed * 5 + 2}),
    %% stream: one small term per write and one request in flight, so each
    %% read is one whole term ({line,L} cannot carry ETF: its bytes hold LFs).
    Total = lists:sum([config(Calc, N, S, Count)
                       || N <- [1, 2, 4, stream], S <- [use_stdio, nouse_stdio]]),
    io:format("calc: ~b requests checked~n", [Total]),
    halt(0);
main(_) ->
    halt(2).

config(Calc, N, Stdio, Count) ->
    Extra = case Stdio of use_stdio -> []; nouse_stdio -> ["--nouse-stdio"] end,
    {Opt, Args} = case N of
                      stream -> {stream, ["--stream"]};
                      _ -> {{packet, N}, ["--packet", integer_to_list(N)]}
                  end,
    P = open_port({spawn_executable, Calc},
                  [Opt, Stdio, binary, exit_status, {args, Args ++ Extra}]),
    Max = case N of 1 -> 255; 2 -> 65535; 4 -> 1 bsl 30; stream -> 2000 end,
    Done = run(P, N, Max, Count, 0),
    true = port_close(P),
    io:format("  ~p ~p: ~b ok~n", [Opt, Stdio, Done]),
    Done.

run(_P, _N, _Max, 0, Done) -> Done;
run(P, N, Max, Left, Done) ->
    {Req, Want} = request(N),
    Bin = term_to_binary(Req),
    case byte_size(Bin) =< Max of
        false -> run(P, N, Max, Left, Done);
        true ->
            true = port_command(P, Bin),
            receive
                {P, {data, Reply}} ->
                    case binary_to_term(Reply) of
                        Want -> run(P, N, Max, Left - 1, Done + 1);
                        Got -> fail(Req, Want, Got)
                    end;
                {P, Other} -> fail(Req, Want, Other)
            after 30000 -> fail(Req, Want, timeout)
            end
    end.

request(N) ->
    case rand:uniform(10) of
        1 -> {junk(), {error, badarg}};
        2 -> A = int(N), {{divide, A, 0}, {error, badarith}};
        _ ->
            A = int(N), B = int(N),
            case rand:uniform(3) of
                1 -> {{add, A, B}, {ok, A + B}};
                2 -> {{mul, A, B}, {ok, A * B}};
                3 when B =:= 0 -> {{divide, A, B}, {error, badarith}};
                3 -> {{divide, A, B}, {ok, A div B}}
            end
    end.

%% Integers of every size class, both signs, with the int32/int64 edges.
int(N) ->
    Bits = case {N, rand:uniform(6)} of
               {1, _} -> rand:uniform(60);
               {stream, _} -> rand:uniform(120);
               {2, 6} -> rand:uniform(4000);
               {_, 6} -> rand:uniform(20000);
               {_, 5} -> rand:uniform(300);
               {_, R} when R >= 3 -> 25 + rand:uniform(45);
               _ -> rand:uniform(31)
           end,
    Edge = [0, 1, -1, 255, 256, 2147483647, -2147483648, 2147483648,
            9223372036854775807, -9223372036854775808, 9223372036854775808,
            18446744073709551616, -18446744073709551617],
    V = case rand:uniform(8) of
            1 -> lists:nth(rand:uniform(length(Edge)), Edge);
            _ -> rand:uniform(1 bsl Bits) - 1
        end,
    case rand:uniform(2) of 1 -> V; 2 -> -V end.

junk() ->
    case rand:uniform(8) of
        1 -> hello;
        2 -> {add, 1};
        3 -> {add, 1, a};
        4 -> {mul, 1.5, 2};
        5 -> {divide, 1, 2, 3};
        6 -> rand:bytes(rand:uniform(20));
        7 -> [add, 1, 2];
        8 -> #{add => {1, 2}}
    end.

fail(Req, Want, Got) ->
    io:format(standard_error, "FAIL ~P: want ~P got ~P~n", [Req, 20, Want, 20, Got, 20]),
    halt(1).
