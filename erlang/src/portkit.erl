%% SPDX-License-Identifier: MIT
%% @doc One OS process, owned by one Erlang process, through `portkit wrap'.
%%
%% `run/3' starts a server that opens `portkit wrap' as a port and speaks its
%% protocol (docs/erlang.md).  The owner receives
%% `{portkit, Pid, {stdout, Data}}', `{portkit, Pid, {stderr, Data}}' and,
%% last, `{portkit, Pid, {exit, Status}}', where Status is an exit code or
%% `{signal, Name, CoreDumped}'.  When the server stops, its owner dies or
%% the VM dies, the OS process and its whole tree are killed.
-module(portkit).
-behaviour(gen_server).

-export([run/3, send/2, close_input/1, signal/2, stop/1, os_pid/1, stdin_info/1,
         setopts/2, activate/1, cmd/2, cmd/3, child_spec/4,
         find_binary/0, wrap_args/3, open_transparent/3]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2]).

-type status() :: non_neg_integer() | {signal, atom() | integer(), boolean()}.
-export_type([status/0]).

-record(st, {port, owner, owner_ref, os_pid, active = true, queue = queue:new(),
             port_closed = false, exit_sent = false, exit_status,
             %% stdin flow control: bytes sent to wrap and not yet acknowledged
             %% ({stdin_ack, N}), the most allowed, the framing header wrap adds
             %% per send, and the sends (and a close_input) waiting for room.
             in_flight = 0, in_window, in_header = 0, waiting = queue:new(),
             %% whether an ack_stdin is out (wrap acknowledges small writes
             %% only in batches, or at once when asked: when a send waits)
             ack_asked = false,
             %% output flow control: payload bytes handed to the owner and not
             %% yet acknowledged to wrap, and how many are acknowledged at once
             %% (a quarter of wrap's window, so wrap never waits on them)
             out_done = 0, out_ack_every = 65536}).

-define(STDIN_WINDOW, 262144).
-define(OUT_WINDOW, 262144). % wrap's default --window

-define(START_TIMEOUT, 15000).

%% ---- API ------------------------------------------------------------------

%% @doc Starts `Cmd' (a path, or a name looked up in PATH) with `Args'.
%% Options: `link', `monitor' (then `{ok, Pid, MonitorRef}' is returned),
%% `{owner, Pid}', `{active, true | once | false}', `stream' | `{line, L}' |
%% `{packet, N}', `{stderr, separate | stdout | null | inherit}',
%% `{window, Bytes}', `{stop_signal, Sig}', `{grace, Ms}', `{cd, Dir}',
%% `{env, [{Name, Value | false}]}', `clear_env', `{user, U}', `{group, G}',
%% `{umask, Int}', `{nice, Int}', `{rlimit, [{Name, Soft} | {Name, Soft, Hard}]}',
%% `{arg0, Name}', `{memory_max, V}', `{pids_max, V}', `{cpu_max, V}',
%% `no_cgroup', `{max_message, Bytes}', `{stdin_window, Bytes}' (default 256 KiB:
%% how much of what `send/2' accepted may wait in wrap for the OS process to
%% read it; see `send/2').
-spec run(iodata(), [iodata()], list()) ->
          {ok, pid()} | {ok, pid(), reference()} | {error, term()}.
run(Cmd, Args, Opts) when is_list(Opts) ->
    Owner = proplists:get_value(owner, Opts, self()),
    case wrap_args(Cmd, Args, Opts) of
        {ok, WrapArgs} ->
            Active = proplists:get_value(active, Opts, true),
            Window = proplists:get_value(stdin_window, Opts, ?STDIN_WINDOW),
            case lists:member(Active, [true, once, false]) of
                false -> {error, {badarg, {active, Active}}};
                true when not is_integer(Window); Window < 1 ->
                    {error, {badarg, {stdin_window, Window}}};
                true -> start(Owner, Active, WrapArgs, Opts)
            end;
        {error, _} = E ->
            E
    end.

start(Owner, Active, WrapArgs, Opts) ->
    case find_binary() of
        {ok, Bin} ->
            Flow = {proplists:get_value(stdin_window, Opts, ?STDIN_WINDOW),
                    proplists:get_value(packet, Opts, 0),
                    proplists:get_value(window, Opts, ?OUT_WINDOW)},
            case gen_server:start(?MODULE, {Owner, Active, Bin, WrapArgs, Flow}, []) of
                {ok, Pid} ->
                    case {lists:member(link, Opts), lists:member(monitor, Opts)} of
                        {true, _} -> link(Pid), {ok, Pid};
                        {_, true} -> {ok, Pid, erlang:monitor(process, Pid)};
                        _ -> {ok, Pid}
                    end;
                {error, {shutdown, Reason}} ->
                    {error, Reason};
                {error, _} = E ->
                    E
            end;
        {error, _} = E ->
            E
    end.

%% @doc Writes to the OS process's stdin (with `{packet, N}', as one frame).
%% Returns once the data is accepted: while more than the stdin window
%% (`{stdin_window, Bytes}') is waiting for the OS process to read it, the
%% caller blocks, so a process that does not read its stdin holds back the
%% sender instead of filling memory.  A single send larger than the window is
%% accepted when nothing else is waiting.  With `{active, once | false}', a child that
%% writes as it reads (`cat') stalls both ways once its output window is full:
%% take the output from another process while sending a lot.
%% `send/2', `close_input/1', `signal/2', `stop/1' and `setopts/2' return ok, and do
%% nothing, once the process has exited and the server has finished.
-spec send(pid(), iodata()) -> ok.
send(Pid, Data) -> call(Pid, {send, iolist_to_binary(Data)}).

%% @doc Closes the OS process's stdin; its output and exit still arrive.
-spec close_input(pid()) -> ok.
close_input(Pid) -> call(Pid, close_input).

%% @doc Sends a signal (`term', `kill', `hup', `usr1'... or a number) to the OS process.
-spec signal(pid(), atom() | pos_integer()) -> ok.
signal(Pid, Sig) when is_atom(Sig); is_integer(Sig) -> call(Pid, {signal, Sig}).

%% @doc Stops the OS process and its tree: stop signal, grace period, SIGKILL.
%% The exit still arrives as `{portkit, Pid, {exit, Status}}'.
-spec stop(pid()) -> ok.
stop(Pid) -> call(Pid, stop).

%% A request to a server that has already finished (the process exited and
%% everything was delivered) has nothing left to act on: it returns ok.
call(Pid, Req) ->
    try gen_server:call(Pid, Req, infinity) of
        {error, closed} -> ok;
        R -> R
    catch
        exit:{Why, _} when Why =:= noproc; Why =:= normal -> ok
    end.

%% @doc The OS process id of the child.
-spec os_pid(pid()) -> integer().
os_pid(Pid) -> gen_server:call(Pid, os_pid, infinity).

%% @doc Stdin flow control as it stands: `#{in_flight => Bytes, window => Bytes,
%% waiting => Sends}' (bytes accepted and not yet read by the OS process or
%% dropped, the window, and the `send/2' calls blocked for room).
-spec stdin_info(pid()) -> #{atom() => non_neg_integer()}.
stdin_info(Pid) -> gen_server:call(Pid, stdin_info, infinity).

%% @doc Changes `{active, true | once | false}'.
-spec setopts(pid(), list()) -> ok | {error, term()}.
setopts(Pid, Opts) -> call(Pid, {setopts, Opts}).

%% @doc Shorthand for `setopts(Pid, [{active, once}])'.
-spec activate(pid()) -> ok.
activate(Pid) -> setopts(Pid, [{active, once}]).

%% @doc Runs a command to completion: `{Output, Status}'.  Like `os:cmd/1'
%% with an argv (no shell) and a status.  Options as `run/3', plus
%% `{input, iodata()}' (written, then stdin is closed).  stderr goes to the
%% VM's stderr unless `{stderr, stdout}' (merged) or `{stderr, null}'.
%% Output is a binary.  Raises `{portkit, Reason}' if the command cannot start.
-spec cmd(iodata(), [iodata()], list()) -> {binary(), status()}.
cmd(Cmd, Args) -> cmd(Cmd, Args, []).
cmd(Cmd, Args, Opts0) ->
    Input = proplists:get_value(input, Opts0),
    Opts1 = [O || O <- Opts0, not is_tuple(O) orelse element(1, O) =/= input],
    Opts = case proplists:is_defined(stderr, Opts1) of
               true -> Opts1;
               false -> [{stderr, inherit} | Opts1]
           end,
    case run(Cmd, Args, [monitor, {active, true} | Opts]) of
        {ok, Pid, Ref} ->
            Input =/= undefined andalso send(Pid, Input),
            close_input(Pid),
            collect(Pid, Ref, [], undefined);
        {error, Reason} ->
            erlang:error({portkit, Reason})
    end.

collect(Pid, Ref, Acc, Status) ->
    receive
        {portkit, Pid, {stdout, Data}} -> collect(Pid, Ref, [Acc | data(Data)], Status);
        {portkit, Pid, {stderr, _}} -> collect(Pid, Ref, Acc, Status);
        {portkit, Pid, {exit, S}} -> collect(Pid, Ref, Acc, S);
        {'DOWN', Ref, process, Pid, _} -> {iolist_to_binary(Acc), Status}
    end.

data({eol, Line}) -> [Line, $\n];
data({noeol, Piece}) -> Piece;
data(Bin) -> Bin.

%% @doc A child spec for a long-running OS process under a supervisor; its
%% output goes to `logger' (stdout at info, stderr at warning).
-spec child_spec(term(), iodata(), [iodata()], list()) -> supervisor:child_spec().
child_spec(Id, Cmd, Args, Opts) ->
    Grace = proplists:get_value(grace, Opts, 5000),
    #{id => Id,
      start => {portkit_daemon, start_link, [Id, Cmd, Args, Opts]},
      restart => proplists:get_value(restart, Opts, permanent),
      shutdown => Grace + 2000,
      type => worker,
      modules => [portkit_daemon]}.

%% @doc The portkit binary: app env `binary', then priv/portkit, then PATH.
-spec find_binary() -> {ok, file:filename()} | {error, term()}.
find_binary() ->
    Env = case application:get_env(portkit, binary) of
              {ok, B} -> [B];
              undefined -> []
          end,
    Priv = case code:priv_dir(portkit) of
               {error, _} -> [];
               Dir -> [filename:join(Dir, "portkit")]
           end,
    Found = [F || F <- Env ++ Priv, filelib:is_regular(F)],
    case Found of
        [F | _] -> {ok, F};
        [] ->
            case os:find_executable("portkit") of
                false -> {error, {portkit_binary_not_found, Env ++ Priv ++ ["$PATH"]}};
                P -> {ok, P}
            end
    end.

%% @doc The arguments of `portkit wrap' for a command and options (the options
%% `run/3' passes on).  `{error, {badarg, Option}}' for an unknown or bad one.
-spec wrap_args(iodata(), [iodata()], list()) -> {ok, [string()]} | {error, term()}.
wrap_args(Cmd, Args, Opts) ->
    try
        Flags = lists:flatmap(fun opt/1, Opts),
        {ok, ["wrap" | Flags] ++ ["--", str(Cmd) | [str(A) || A <- Args]]}
    catch
        throw:{badarg, _} = E -> {error, E};
        error:badarg -> {error, {badarg, Cmd}}
    end.

%% @doc `open_port/2' on `portkit wrap --transparent': the port behaves as a
%% plain `{spawn_executable, Cmd}' port with `PortOpts' (any framing), and the
%% OS process dies with the port, its owner or the VM.
-spec open_transparent(iodata(), [iodata()], list()) -> port().
open_transparent(Cmd, Args, PortOpts) ->
    {ok, Bin} = find_binary(),
    WrapOpts = proplists:get_value(portkit, PortOpts, []),
    {ok, ["wrap" | Rest]} = wrap_args(Cmd, Args, WrapOpts),
    PO = [O || O <- PortOpts, not is_tuple(O) orelse element(1, O) =/= portkit],
    open_port({spawn_executable, Bin}, [{args, ["wrap", "--transparent" | Rest]} | PO]).

str(X) when is_binary(X) -> binary_to_list(X);
str(X) when is_atom(X) -> atom_to_list(X);
str(X) when is_integer(X) -> integer_to_list(X);
str(X) when is_list(X) -> binary_to_list(unicode:characters_to_binary(X)).

int(_Name, V) when is_integer(V) -> integer_to_list(V);
int(Name, V) -> throw({badarg, {Name, V}}).

opt(link) -> [];
opt(monitor) -> [];
opt({owner, P}) when is_pid(P) -> [];
opt({active, _}) -> [];
opt({stdin_window, _}) -> [];
opt({restart, _}) -> [];
opt(stream) -> ["--stream"];
opt({line, L}) when is_integer(L), L > 0 -> ["--line", int(line, L)];
opt({packet, N}) when N =:= 1; N =:= 2; N =:= 4 -> ["--packet", int(packet, N)];
opt({stderr, M}) when M =:= separate; M =:= stdout; M =:= null; M =:= inherit ->
    ["--stderr", atom_to_list(M)];
opt(stderr_to_stdout) -> ["--stderr", "stdout"];
opt({window, N}) when is_integer(N), N > 0 -> ["--window", int(window, N)];
opt({max_message, N}) when is_integer(N), N > 0 -> ["--max-message", int(max_message, N)];
opt({stop_signal, S}) when is_atom(S); is_integer(S) -> ["--stop-signal", str(S)];
opt({grace, Ms}) when is_integer(Ms), Ms >= 0 -> ["--grace", integer_to_list(Ms) ++ "ms"];
opt({cd, Dir}) -> ["--cwd", str(Dir)];
opt({env, Env}) when is_list(Env) -> lists:flatmap(fun env/1, Env);
opt(clear_env) -> ["--clear-env"];
opt({user, U}) when is_list(U); is_binary(U); is_integer(U) -> ["--user", str(U)];
opt({group, G}) when is_list(G); is_binary(G); is_integer(G) -> ["--group", str(G)];
opt({umask, M}) when is_integer(M), M >= 0, M =< 8#777 ->
    ["--umask", integer_to_list(M, 8)];
opt({nice, N}) when is_integer(N), N >= -20, N =< 19 -> ["--nice", integer_to_list(N)];
opt({rlimit, L}) when is_list(L) -> lists:flatmap(fun rlimit/1, L);
opt({arg0, A}) -> ["--argv0", str(A)];
opt({memory_max, V}) -> ["--memory-max", limit(memory_max, V)];
opt({pids_max, V}) -> ["--pids-max", limit(pids_max, V)];
opt({cpu_max, {Quota, Period}}) when is_integer(Quota), is_integer(Period) ->
    ["--cpu-max", integer_to_list(Quota) ++ " " ++ integer_to_list(Period)];
opt({cpu_max, V}) -> ["--cpu-max", limit(cpu_max, V)];
opt(no_cgroup) -> ["--no-cgroup"];
opt(O) -> throw({badarg, O}).

env({K, false}) -> ["--unset", str(K)];
env({K, V}) -> ["--env", str(K) ++ "=" ++ str(V)];
env(E) -> throw({badarg, {env, E}}).

rlimit({Name, Soft}) -> rlimit({Name, Soft, Soft});
rlimit({Name, Soft, Hard} = R) when is_atom(Name) ->
    ["--rlimit", string:uppercase(atom_to_list(Name)) ++ "=" ++ lim(R, Soft) ++ ":" ++ lim(R, Hard)];
rlimit(R) -> throw({badarg, {rlimit, R}}).

lim(_, infinity) -> "unlimited";
lim(_, N) when is_integer(N), N >= 0 -> integer_to_list(N);
lim(R, _) -> throw({badarg, {rlimit, R}}).

limit(_, max) -> "max";
limit(_, V) when is_integer(V), V > 0 -> integer_to_list(V);
limit(Name, V) -> throw({badarg, {Name, V}}).

%% ---- gen_server -----------------------------------------------------------

%% @private
init({Owner, Active, Bin, WrapArgs, {Window, Header, OutWindow}}) ->
    process_flag(trap_exit, true),
    Ref = erlang:monitor(process, Owner),
    Port = open_port({spawn_executable, Bin},
                     [{packet, 4}, binary, exit_status, {args, WrapArgs}]),
    receive
        {Port, {data, D}} ->
            case binary_to_term(D) of
                {started, OsPid, _Mode} ->
                    {ok, #st{port = Port, owner = Owner, owner_ref = Ref, os_pid = OsPid,
                             active = Active, in_window = Window, in_header = Header,
                             out_ack_every = max(1, OutWindow div 4)}};
                {error, Reason} ->
                    close(Port),
                    {stop, {shutdown, Reason}}
            end;
        {Port, {exit_status, S}} ->
            {stop, {shutdown, {wrap_exit, S}}}
    after ?START_TIMEOUT ->
            close(Port),
            {stop, {shutdown, timeout}}
    end.

close(Port) ->
    catch port_close(Port),
    ok.

%% @private
handle_call({send, Bin}, From, #st{port_closed = false, waiting = W} = S) ->
    {noreply, feed(S#st{waiting = queue:in({From, {stdin, Bin}}, W)})};
handle_call(close_input, From, #st{port_closed = false, waiting = W} = S) ->
    %% After the sends still waiting, in order.
    {noreply, feed(S#st{waiting = queue:in({From, close_stdin}, W)})};
handle_call({signal, Sig}, _From, #st{port = Port, port_closed = false} = S) ->
    port_command(Port, term_to_binary({signal, Sig})),
    {reply, ok, S};
handle_call(stop, _From, #st{port = Port, port_closed = false} = S) ->
    port_command(Port, term_to_binary(stop)),
    {reply, ok, S};
handle_call(stdin_info, _From, S) ->
    {reply, #{in_flight => S#st.in_flight, window => S#st.in_window,
              waiting => queue:len(S#st.waiting)}, S};
handle_call(os_pid, _From, S) ->
    {reply, S#st.os_pid, S};
handle_call({setopts, Opts}, _From, S) ->
    case proplists:get_value(active, Opts) of
        A when A =:= true; A =:= once; A =:= false ->
            deliver(S#st{active = A}, ok);
        _ ->
            {reply, {error, {badarg, Opts}}, S}
    end;
handle_call(_, _From, #st{port_closed = true} = S) ->
    {reply, {error, closed}, S};
handle_call(Req, _From, S) ->
    {reply, {error, {badarg, Req}}, S}.

%% @private
handle_cast(_, S) ->
    {noreply, S}.

%% @private
handle_info({Port, {data, D}}, #st{port = Port, queue = Q} = S) ->
    case term(D) of
        {Tag, Data} when Tag =:= stdout; Tag =:= stderr ->
            deliver(S#st{queue = queue:in({Tag, Data}, Q)});
        {exit, Code} ->
            deliver(S#st{queue = queue:in({exit, Code}, Q), exit_sent = true});
        {signal, _Name, _Core} = Sig ->
            deliver(S#st{queue = queue:in({exit, Sig}, Q), exit_sent = true});
        {error, _} = E ->
            deliver(S#st{queue = queue:in(E, Q)});
        {stdin_ack, N} ->
            {noreply, feed(S#st{in_flight = max(0, S#st.in_flight - N), ack_asked = false})};
        done ->
            %% Nothing more will come: closing the port lets wrap exit.
            close(Port),
            closed(S, no_exit_status);
        _ ->
            {noreply, S}
    end;
handle_info({Port, {exit_status, Code}}, #st{port = Port} = S) ->
    closed(S, {wrap_exit, Code});
handle_info({'EXIT', Port, Reason}, #st{port = Port, port_closed = false} = S) ->
    closed(S, {port, Reason});
handle_info({'DOWN', Ref, process, _, _}, #st{owner_ref = Ref} = S) ->
    {stop, normal, S};
handle_info({'EXIT', Port, _}, #st{port = Port} = S) ->
    {noreply, S};
handle_info({'EXIT', _, Reason}, S) ->
    {stop, Reason, S};
handle_info(_, S) ->
    {noreply, S}.

%% A packet from wrap.  Output data, by far the most frequent, is matched in
%% place: {stdout | stderr, Binary} as term_to_binary/1 writes it (version,
%% SMALL_TUPLE_EXT of 2, SMALL_ATOM_UTF8_EXT, BINARY_EXT) ends with the
%% payload's bytes, so Data is a sub-binary of the packet and not a copy (as
%% binary_to_term/1 would make).  Everything else is decoded.
term(<<131, 104, 2, 119, 6, "stdout", 109, Len:32, Data/binary>>) when byte_size(Data) =:= Len ->
    {stdout, Data};
term(<<131, 104, 2, 119, 6, "stderr", 109, Len:32, Data/binary>>) when byte_size(Data) =:= Len ->
    {stderr, Data};
term(D) ->
    binary_to_term(D).

%% Sends what waits while the window has room (anything when nothing is in
%% flight), answering each caller as its data goes.  A send that must wait
%% asks wrap for its acknowledgement (ack_stdin), once per ack.
feed(#st{waiting = W, port = Port} = S) ->
    case queue:out(W) of
        {empty, _} ->
            S;
        {{value, {From, close_stdin}}, W1} ->
            port_command(Port, term_to_binary(close_stdin)),
            gen_server:reply(From, ok),
            feed(S#st{waiting = W1});
        {{value, {From, {stdin, Bin}}}, W1} ->
            Size = byte_size(Bin) + S#st.in_header,
            case S#st.in_flight =:= 0 orelse S#st.in_flight + Size =< S#st.in_window of
                true ->
                    port_command(Port, term_to_binary({stdin, Bin})),
                    gen_server:reply(From, ok),
                    feed(S#st{waiting = W1, in_flight = S#st.in_flight + Size});
                false when S#st.ack_asked ->
                    S;
                false ->
                    port_command(Port, term_to_binary(ack_stdin)),
                    S#st{ack_asked = true}
            end
    end.

%% The port is gone: the exit was reported, or this is the error that ends it.
%% Sends still waiting have nowhere to go: their callers get ok, as a send
%% after the end does.
closed(#st{queue = Q, waiting = W} = S, Why) ->
    [gen_server:reply(From, ok) || {From, _} <- queue:to_list(W)],
    S1 = S#st{port_closed = true, exit_status = Why, waiting = queue:new()},
    case S#st.exit_sent of
        true -> deliver(S1);
        false -> deliver(S1#st{queue = queue:in({exit, {error, Why}}, Q), exit_sent = true})
    end.

%% @private
terminate(_, #st{port = Port, port_closed = false}) ->
    %% wrap sees EOF and takes the OS process tree down.
    close(Port);
terminate(_, _) ->
    ok.

deliver(S) ->
    deliver(S, none).

%% Hands queued events to the owner as `active' allows, acknowledging data to
%% wrap as it is handed over (the window bounds what this server holds).
deliver(#st{active = false} = S, Reply) ->
    done(S, Reply);
deliver(#st{queue = Q, owner = Owner, port = Port, active = Active} = S, Reply) ->
    case queue:out(Q) of
        {empty, _} ->
            done(S, Reply);
        {{value, Ev}, Q1} ->
            Owner ! {portkit, self(), Ev},
            Done = case Ev of
                       {Tag, Data} when (Tag =:= stdout orelse Tag =:= stderr),
                                        not S#st.port_closed ->
                           Size = case Data of {_, B} -> byte_size(B); B -> byte_size(B) end,
                           ack(Port, S#st.out_done + Size, S#st.out_ack_every);
                       _ ->
                           S#st.out_done
                   end,
            NewActive = case Active of once -> false; _ -> Active end,
            deliver(S#st{queue = Q1, active = NewActive, out_done = Done}, Reply)
    end.

%% Acknowledges delivered output to wrap a quarter window at a time: wrap
%% reads while less than its window is unacknowledged, and what is held back
%% here is under a quarter of it, so it never waits on this.
ack(Port, Done, Every) when Done >= Every ->
    catch port_command(Port, term_to_binary({ack, Done})),
    0;
ack(_Port, Done, _Every) ->
    Done.

done(#st{port_closed = true, queue = Q} = S, Reply) ->
    case queue:is_empty(Q) of
        true when Reply =:= none -> {stop, normal, S};
        true -> {stop, normal, Reply, S};
        false when Reply =:= none -> {noreply, S};
        false -> {reply, Reply, S}
    end;
done(S, none) ->
    {noreply, S};
done(S, Reply) ->
    {reply, Reply, S}.
