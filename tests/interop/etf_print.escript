#!/usr/bin/env escript
%% SPDX-License-Identifier: MIT
%% Reference printer for tests/test_etf_text.c: reads the terms of IN with
%% file:consult/1 and writes, for each, one line "W<TAB>P" to OUT, where W is
%% io_lib:format("~w") and P is io_lib:format("~p") of the term, as UTF-8,
%% with backslash and newline escaped as \\ and \n.
main([In, Out]) ->
    {ok, Terms} = file:consult(In),
    Lines = [[esc(io_lib:format("~w", [T])), $\t, esc(io_lib:format("~p", [T])), $\n]
             || T <- Terms],
    ok = file:write_file(Out, unicode:characters_to_binary(Lines)).

esc(Chars) ->
    lists:flatmap(fun($\\) -> "\\\\"; ($\n) -> "\\n"; (C) -> [C] end,
                  lists:flatten(Chars)).
