#!/usr/bin/env escript
%% SPDX-License-Identifier: MIT
%% bench/sup's OTP peer: one supervisor (one_for_one, restart limit out of
%% reach) over N permanent workers, each owning a port on PROG
%% (open_port spawn_executable, exit_status) and exiting when it ends, so
%% the supervisor starts a new worker and a new port.
%% Usage: otp_sup.escript N PROG
-mode(compile).
-behaviour(supervisor).
-export([init/1, start_worker/1, worker/2]).

main([NStr, Prog]) ->
    N = list_to_integer(NStr),
    logger:set_primary_config(level, none), % the kills are the point: no crash reports
    {ok, _} = supervisor:start_link({local, bench_sup}, ?MODULE, {N, Prog}),
    receive after infinity -> ok end;
main(_) ->
    io:format("usage: otp_sup.escript N PROG~n"),
    halt(100).

init({N, Prog}) ->
    Kids = [#{id => I, start => {?MODULE, start_worker, [Prog]},
              restart => permanent, shutdown => brutal_kill}
            || I <- lists:seq(1, N)],
    {ok, {#{strategy => one_for_one, intensity => 1000, period => 1}, Kids}}.

start_worker(Prog) ->
    proc_lib:start_link(?MODULE, worker, [self(), Prog]).

worker(Parent, Prog) ->
    Port = open_port({spawn_executable, Prog}, [exit_status]),
    proc_lib:init_ack(Parent, {ok, self()}),
    receive
        {Port, {exit_status, S}} -> exit({port_exit, S})
    end.
