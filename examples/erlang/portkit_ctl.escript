#!/usr/bin/env escript
%% SPDX-License-Identifier: MIT
%%! -noinput
%% A `portkit supervise` control client in plain Erlang: gen_tcp connects to
%% the control socket's Unix path ({local, Path}, OTP 19+), {packet,4} frames
%% each request and reply, and each frame is one ETF term (term_to_binary /
%% binary_to_term).  The protocol is in docs/supervise.md ("Requests and
%% replies").
%%
%%   portkit_ctl.escript CONTROL_PATH status [UNIT...]
%%   portkit_ctl.escript CONTROL_PATH list | ping
%%   portkit_ctl.escript CONTROL_PATH start|stop|restart UNIT
%%
%% Prints the reply with ~p; exits 0 for ok/pong replies, 1 for {error, _}.
-mode(compile).

main([Path | Verb]) when Verb =/= [] ->
    Request = request(Verb),
    {ok, S} = gen_tcp:connect({local, Path}, 0,
                              [binary, {packet, 4}, {active, false}], 5000),
    ok = gen_tcp:send(S, term_to_binary(Request)),
    {ok, Bin} = gen_tcp:recv(S, 0, 30000),
    gen_tcp:close(S),
    %% Not [safe]: the reply's map keys (uptime_ms, not_enforced...) are atoms
    %% this VM may not know yet.  The peer is the supervisor behind a path only
    %% it could bind, and this escript lives for one request.
    Reply = binary_to_term(Bin),
    io:format("~p~n", [Reply]),
    halt(case Reply of {error, _} -> 1; _ -> 0 end);
main(_) ->
    io:format(standard_error,
              "usage: portkit_ctl.escript CONTROL_PATH status [UNIT...] | list | ping"
              " | start|stop|restart UNIT~n", []),
    halt(100).

request(["status"]) -> status;
request(["status" | Units]) -> {status, [list_to_binary(U) || U <- Units]};
request([Verb]) -> list_to_atom(Verb);
request([Verb, Unit]) -> {list_to_atom(Verb), list_to_binary(Unit)}.
