# SPDX-License-Identifier: MIT
defmodule Portkit.Daemon do
  @moduledoc """
  A long-running OS process in a supervision tree, its output logged.

      children = [
        {Portkit.Daemon, id: :redis, cmd: "redis-server", args: ["--port", "7000"], grace: 5000}
      ]
      Supervisor.start_link(children, strategy: :one_for_one)

  Each line of stdout is logged at `:info`, each line of stderr at `:warning`
  (through `Logger`, with `portkit: id` metadata). The process's exit ends
  the GenServer (`:normal` for status 0, `{:exit_status, status}` otherwise)
  so the supervisor's restart policy applies; a supervisor shutdown stops
  the whole OS process tree with the stop signal and grace period.

  Options: `:id`, `:cmd`, `:args` and any option of `Portkit.run/3`
  (default framing `line: 4096`), plus `:restart`.
  """

  @doc "Starts the daemon GenServer (see the module doc for options)."
  @spec start_link(keyword()) :: GenServer.on_start()
  def start_link(opts) do
    {id, cmd, args, rest} = split(opts)
    :portkit_daemon.start_link(id, cmd, args, Portkit.to_erl(rest))
  end

  @doc "A child spec for `Supervisor`."
  @spec child_spec(keyword()) :: Supervisor.child_spec()
  def child_spec(opts) do
    {id, cmd, args, rest} = split(opts)
    :portkit.child_spec(id, cmd, args, Portkit.to_erl(rest))
  end

  @doc "The OS pid of a running daemon."
  @spec os_pid(GenServer.server()) :: integer()
  def os_pid(server), do: GenServer.call(server, :os_pid)

  defp split(opts) do
    {cmd, opts} = Keyword.pop!(opts, :cmd)
    {args, opts} = Keyword.pop(opts, :args, [])
    {id, opts} = Keyword.pop(opts, :id, __MODULE__)
    {id, cmd, args, opts}
  end
end
