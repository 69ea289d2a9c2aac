%% SPDX-License-Identifier: MIT
%% A one_for_one supervisor for the daemon test.
-module(portkit_eunit_sup).
-behaviour(supervisor).
-export([init/1]).

init(Specs) ->
    {ok, {#{strategy => one_for_one, intensity => 1, period => 5}, Specs}}.
