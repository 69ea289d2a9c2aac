# SPDX-License-Identifier: MIT
defmodule Portkit do
  @moduledoc """
  Runs OS processes through `portkit wrap`: no orphans, stdin half-close,
  stderr apart, the exit status as soon as the process is reaped, flow
  control, and uid/gid, rlimits and cgroup limits.

  Each OS process is owned by one process (a server started by `run/3`). The
  owner receives

      {:portkit, pid, {:stdout, data}}
      {:portkit, pid, {:stderr, data}}
      {:portkit, pid, {:exit, status}}

  where `status` is an exit code or `{:signal, name, core_dumped}`, and
  `data` is a binary, or `{:eol, line}` / `{:noeol, piece}` with `line: l`.
  When the server stops, the owner dies or the VM dies, the OS process and
  every process it started are stopped: the stop signal, a grace period,
  then SIGKILL to the whole tree (its own cgroup when one can be made).

  The `portkit` binary is found through `Application.get_env(:portkit,
  :binary)`, then `priv/portkit`, then `PATH`; a missing binary is
  `{:error, {:portkit_binary_not_found, searched}}`.

  ## Options (`run/3` and `cmd/3`)

    * `:cd`, `:env` (a map or keyword; `nil` unsets), `clear_env: true`,
      `:user`, `:group`, `:umask`, `:nice`, `:rlimit` (`[nofile: 1024]`),
      `:arg0` - as in `portkit run`
    * `:memory_max`, `:pids_max`, `:cpu_max` - cgroup v2 limits;
      `{:error, {:cgroup, file, :not_available}}` when the controller is not
      delegated
    * `line: l`, `packet: n` or `stream: true` - output framing
    * `stderr: :separate | :stdout | :null | :inherit`
    * `active: true | :once | false`, `:window` (bytes) - flow control of the
      output
    * `:stdin_window` (bytes, default 256 KiB) - flow control of the input:
      `send/2` blocks while more than this waits for the process to read it
    * `:stop_signal`, `:grace` (ms) - the stop sequence
    * `link: true`, `monitor: true` (then `{:ok, pid, ref}`), `:owner`
  """

  @typedoc "An exit code, or the signal that killed the process."
  @type status :: non_neg_integer() | {:signal, atom() | integer(), boolean()}

  @doc """
  Starts `command` with `args`; see the module doc for messages and options.

      {:ok, pid} = Portkit.run("sort", [])
      Portkit.send(pid, "b\\na\\n")
      Portkit.close_input(pid)
      # => {:portkit, ^pid, {:stdout, "a\\nb\\n"}}, then {:portkit, ^pid, {:exit, 0}}
  """
  @spec run(String.t(), [String.t()], keyword()) ::
          {:ok, pid()} | {:ok, pid(), reference()} | {:error, term()}
  def run(command, args, opts \\ []), do: :portkit.run(command, args, to_erl(opts))

  @doc """
  Writes `data` to the process's stdin.  Returns once the data is accepted:
  while more than the `:stdin_window` waits for the process to read it, the
  caller blocks (a process that never reads holds back the sender instead of
  filling memory).
  """
  @spec send(pid(), iodata()) :: :ok
  def send(pid, data), do: :portkit.send(pid, data)

  @doc """
  Stdin flow control as it stands: `%{in_flight: bytes, window: bytes,
  waiting: sends}`.
  """
  @spec stdin_info(pid()) :: %{atom() => non_neg_integer()}
  def stdin_info(pid), do: :portkit.stdin_info(pid)

  @doc "Closes the process's stdin (half-close); output and exit still arrive."
  @spec close_input(pid()) :: :ok
  def close_input(pid), do: :portkit.close_input(pid)

  @doc "Sends a signal (`:term`, `:kill`, `:hup`, `:usr1`, ... or a number)."
  @spec signal(pid(), atom() | pos_integer()) :: :ok
  def signal(pid, sig), do: :portkit.signal(pid, sig)

  @doc "Stops the process tree (stop signal, grace period, SIGKILL); a second call kills at once."
  @spec stop(pid()) :: :ok
  def stop(pid), do: :portkit.stop(pid)

  @doc "The OS pid of the process."
  @spec os_pid(pid()) :: integer()
  def os_pid(pid), do: :portkit.os_pid(pid)

  @doc "Asks for the next message in `active: :once` mode."
  @spec activate(pid()) :: :ok
  def activate(pid), do: :portkit.activate(pid)

  @doc """
  Runs `command` to completion, like `System.cmd/3`: returns
  `{output, status}`.

  Options as `run/3`, plus `:into` (a collectable, default `""`),
  `:input` (iodata written to stdin, which is then closed) and
  `stderr_to_stdout: true`. stderr otherwise goes to the VM's stderr.
  Raises `ArgumentError` when the command cannot be started.

      {"hi\\n", 0} = Portkit.cmd("echo", ["hi"])
  """
  @spec cmd(String.t(), [String.t()], keyword()) :: {Collectable.t(), status()}
  def cmd(command, args, opts \\ []) do
    {into, opts} = Keyword.pop(opts, :into, "")
    {input, opts} = Keyword.pop(opts, :input)
    {merge, opts} = Keyword.pop(opts, :stderr_to_stdout, false)
    stderr = if merge, do: :stdout, else: Keyword.get(opts, :stderr, :inherit)
    opts = opts |> Keyword.delete(:stderr) |> Keyword.merge(stderr: stderr, monitor: true)

    case run(command, args, opts) do
      {:ok, pid, ref} ->
        if input, do: __MODULE__.send(pid, input)
        close_input(pid)
        {acc, fun} = Collectable.into(into)
        {acc, status} = collect(pid, ref, acc, fun, nil)
        {fun.(acc, :done), status}

      {:error, reason} ->
        raise ArgumentError, "portkit could not run #{inspect(command)}: #{inspect(reason)}"
    end
  end

  defp collect(pid, ref, acc, fun, status) do
    receive do
      {:portkit, ^pid, {:stdout, data}} ->
        collect(pid, ref, fun.(acc, {:cont, text(data)}), fun, status)

      {:portkit, ^pid, {:stderr, _}} ->
        collect(pid, ref, acc, fun, status)

      {:portkit, ^pid, {:exit, s}} ->
        collect(pid, ref, acc, fun, s)

      {:DOWN, ^ref, :process, ^pid, _} ->
        {acc, status}
    end
  end

  defp text({:eol, line}), do: line <> "\n"
  defp text({:noeol, piece}), do: piece
  defp text(bin), do: bin

  @doc "`open_port/2` on `portkit wrap --transparent`: a plain port with orphan protection."
  @spec open_transparent(String.t(), [String.t()], list()) :: port()
  def open_transparent(command, args, port_opts),
    do: :portkit.open_transparent(command, args, port_opts)

  @doc false
  def to_erl(opts) do
    Enum.flat_map(opts, fn
      {:link, true} ->
        [:link]

      {:monitor, true} ->
        [:monitor]

      {:clear_env, true} ->
        [:clear_env]

      {:no_cgroup, true} ->
        [:no_cgroup]

      {:stream, true} ->
        [:stream]

      {k, false} when k in [:link, :monitor, :clear_env, :no_cgroup, :stream] ->
        []

      {:env, env} ->
        [{:env, Enum.map(env, fn {k, v} -> {to_string(k), if(v == nil, do: false, else: v)} end)}]

      {:rlimit, l} ->
        [{:rlimit, l}]

      {k, v} ->
        [{k, v}]
    end)
  end
end
