%% SPDX-License-Identifier: MIT
%% @doc A long-running OS process under an OTP supervisor (see
%% `portkit:child_spec/4'): its output goes to `logger' line by line (stdout
%% at info, stderr at warning), its exit ends this process (reason `normal'
%% for status 0, `{exit_status, Status}' otherwise) so the supervisor's
%% restart policy applies, and a supervisor shutdown stops the OS process
%% tree with its stop signal and grace period.
-module(portkit_daemon).
-behaviour(gen_server).

-export([start_link/4]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2]).

-record(st, {id, pk, ref, grace}).

%% @doc Starts `Cmd Args' under portkit with `Opts' (as `portkit:run/3').
start_link(Id, Cmd, Args, Opts) ->
    gen_server:start_link(?MODULE, {Id, Cmd, Args, Opts}, []).

%% @private
init({Id, Cmd, Args, Opts0}) ->
    process_flag(trap_exit, true),
    Framing = [O || O <- Opts0, O =:= stream orelse
                                (is_tuple(O) andalso lists:member(element(1, O), [line, packet]))],
    Opts = [{owner, self()}, monitor, {active, true}
            | case Framing of [] -> [{line, 4096} | Opts0]; _ -> Opts0 end],
    case portkit:run(Cmd, Args, [O || O <- Opts, not is_tuple(O) orelse element(1, O) =/= restart]) of
        {ok, Pk, Ref} ->
            {ok, #st{id = Id, pk = Pk, ref = Ref, grace = proplists:get_value(grace, Opts0, 5000)}};
        {error, Reason} ->
            {stop, Reason}
    end.

%% @private
handle_call(os_pid, _From, #st{pk = Pk} = S) ->
    {reply, portkit:os_pid(Pk), S};
handle_call(_, _From, S) ->
    {reply, {error, badarg}, S}.

%% @private
handle_cast(_, S) ->
    {noreply, S}.

%% @private
handle_info({portkit, Pk, {stdout, Data}}, #st{pk = Pk, id = Id} = S) ->
    logger:info("~p: ~ts", [Id, text(Data)], #{portkit => Id, stream => stdout}),
    {noreply, S};
handle_info({portkit, Pk, {stderr, Data}}, #st{pk = Pk, id = Id} = S) ->
    logger:warning("~p: ~ts", [Id, text(Data)], #{portkit => Id, stream => stderr}),
    {noreply, S};
handle_info({portkit, Pk, {exit, 0}}, #st{pk = Pk} = S) ->
    {stop, normal, S};
handle_info({portkit, Pk, {exit, Status}}, #st{pk = Pk, id = Id} = S) ->
    logger:warning("~p: exited with ~p", [Id, Status], #{portkit => Id}),
    {stop, {exit_status, Status}, S};
handle_info({'DOWN', Ref, process, _, Reason}, #st{ref = Ref} = S) ->
    {stop, {portkit_down, Reason}, S#st{pk = undefined}};
handle_info({'EXIT', _, Reason}, S) ->
    {stop, Reason, S};
handle_info(_, S) ->
    {noreply, S}.

%% @private
terminate(_, #st{pk = undefined}) ->
    ok;
terminate(_, #st{pk = Pk, ref = Ref, grace = Grace}) ->
    catch portkit:stop(Pk),
    receive
        {'DOWN', Ref, process, _, _} -> ok
    after Grace + 1000 ->
            exit(Pk, kill)
    end.

text({eol, L}) -> L;
text({noeol, L}) -> L;
text(B) -> B.
