# SPDX-License-Identifier: MIT
# ExUnit suite against the real `portkit wrap` (PORTKIT_BIN) and real OS
# processes.  Waits are for events, with deadlines that only turn a hang into
# a failure.
defmodule PortkitTest do
  use ExUnit.Case, async: false
  import Bitwise

  defp collect(pid, acc \\ []) do
    ref = Process.monitor(pid)
    do_collect(pid, ref, acc)
  end

  defp do_collect(pid, ref, acc) do
    receive do
      {:portkit, ^pid, ev} -> do_collect(pid, ref, [ev | acc])
      {:DOWN, ^ref, :process, ^pid, _} -> Enum.reverse(acc)
    after
      60_000 -> flunk("no end: #{inspect(Enum.reverse(acc))}")
    end
  end

  defp tag, do: "pkex#{System.unique_integer([:positive])}x#{System.pid()}"

  defp count(tag) do
    {out, _} =
      System.cmd("sh", [
        "-c",
        "grep -l 'PORTKIT_TAG=#{tag}' /proc/[0-9]*/environ 2>/dev/null || true"
      ])

    out
    |> String.split("\n", trim: true)
    |> Enum.map(fn path -> path |> String.split("/") |> Enum.at(2) end)
    |> Enum.reject(&zombie?/1)
    |> length()
  end

  defp zombie?(pid) do
    case File.read("/proc/#{pid}/stat") do
      {:ok, stat} ->
        [_, after_name] = String.split(stat, ")", parts: 2) |> then(fn [a, b] -> [a, b] end)
        String.starts_with?(String.trim_leading(after_name), "Z")

      _ ->
        true
    end
  end

  defp wait_count(tag, pred, tries \\ 600) do
    c = count(tag)

    cond do
      pred.(c) -> c
      tries == 0 -> flunk("count #{c}")
      true -> Process.sleep(100) && wait_count(tag, pred, tries - 1)
    end
  end

  @tree "i=0; while [ $i -lt 47 ]; do sleep 1000 & i=$((i+1)); done; " <>
          "setsid sh -c 'sleep 1000 & sleep 1000 & exit 0' & sleep 1000 & wait"

  test "cmd/3 has System.cmd/3's shape" do
    assert Portkit.cmd("echo", ["a", "b"]) == {"a b\n", 0}

    assert Portkit.cmd("sh", ["-c", "echo o; echo e >&2; exit 4"], stderr_to_stdout: true) ==
             {"o\ne\n", 4}

    assert Portkit.cmd("wc", ["-l"], input: "x\ny\n") == {"2\n", 0}
    assert Portkit.cmd("seq", ["3"], into: [], line: 10) == {["1\n", "2\n", "3\n"], 0}
    assert Portkit.cmd("sh", ["-c", "kill -KILL $$"]) == {"", {:signal, :kill, false}}
    assert_raise ArgumentError, fn -> Portkit.cmd("no-such-program-xyz", []) end
  end

  test "sort: send, close_input, sorted output, then the exit" do
    {:ok, pid} = Portkit.run("sort", [])
    Portkit.send(pid, "pear\napple\nfig\n")
    Portkit.close_input(pid)
    evs = collect(pid)
    assert for({:stdout, d} <- evs, into: "", do: d) == "apple\nfig\npear\n"
    assert List.last(evs) == {:exit, 0}
  end

  test "stderr arrives apart, exit status as soon as reaped" do
    {:ok, pid} = Portkit.run("sh", ["-c", "echo out; echo err >&2; exit 2"], [])
    evs = collect(pid)
    assert {:stdout, "out\n"} in evs
    assert {:stderr, "err\n"} in evs
    assert {:exit, 2} in evs
  end

  test "signals: TERM via signal/2, SEGV with a core" do
    {:ok, pid} = Portkit.run("sleep", ["1000"])
    Portkit.signal(pid, :term)
    assert {:exit, {:signal, :term, false}} in collect(pid)
    dir = Path.join(System.tmp_dir!(), tag())
    File.mkdir_p!(dir)
    {_, status} = Portkit.cmd("sh", ["-c", "kill -SEGV $$"], cd: dir, rlimit: [core: :infinity])
    File.rm_rf!(dir)
    assert status == {:signal, :segv, true}
  end

  test "10,000 lines in order with line: 80, and active: :once" do
    {:ok, pid} = Portkit.run("seq", ["1", "10000"], line: 80, active: :once)
    lines = once_lines(pid, [])
    assert lines == Enum.map(1..10_000, &Integer.to_string/1)
  end

  defp once_lines(pid, acc) do
    receive do
      {:portkit, ^pid, {:stdout, {:eol, l}}} ->
        Portkit.activate(pid)
        once_lines(pid, [l | acc])

      {:portkit, ^pid, {:exit, 0}} ->
        Enum.reverse(acc)
    after
      60_000 -> flunk("stalled after #{length(acc)} lines")
    end
  end

  test "stdin back-pressure: send blocks on a child that never reads" do
    {:ok, pid} = Portkit.run("sleep", ["1000"], stdin_window: 65536)
    chunk = :binary.copy("y", 1 <<< 20)
    me = self()

    sender =
      spawn(fn ->
        for n <- 1..20 do
          :ok = Portkit.send(pid, chunk)
          send(me, {:sent, n})
        end

        send(me, :sender_done)
      end)

    assert_receive {:sent, 1}, 30_000
    wait_blocked(pid)
    info = Portkit.stdin_info(pid)
    assert %{waiting: 1, window: 65536} = info
    assert info.in_flight <= 1 <<< 20
    refute_received {:sent, 2}
    Portkit.stop(pid)
    assert_receive :sender_done, 60_000
    refute Process.alive?(sender)
    evs = collect(pid)
    assert for({:error, _} = e <- evs, do: e) == []
  end

  test "stdin back-pressure: 32 MiB into wc -c" do
    {:ok, pid} = Portkit.run("wc", ["-c"], stdin_window: 65536)
    chunk = :binary.copy("z", 1 <<< 20)
    for _ <- 1..32, do: :ok = Portkit.send(pid, chunk)
    Portkit.close_input(pid)
    evs = collect(pid)
    assert IO.iodata_to_binary(for {:stdout, d} <- evs, do: d) == "33554432\n"
    assert {:exit, 0} in evs
  end

  defp wait_blocked(pid) do
    case Portkit.stdin_info(pid) do
      %{waiting: 1} -> :ok
      _ -> wait_blocked(pid)
    end
  end

  test "packet: 4 framing both ways" do
    {:ok, pid} = Portkit.run("cat", [], packet: 4)
    Portkit.send(pid, "one")
    Portkit.send(pid, "")
    Portkit.close_input(pid)
    assert for({:stdout, d} <- collect(pid), do: d) == ["one", ""]
  end

  test "bad options are clear errors" do
    assert Portkit.run("true", [], bogus: 1) == {:error, {:badarg, {:bogus, 1}}}
    assert Portkit.run("true", [], line: 0) == {:error, {:badarg, {:line, 0}}}
    assert Portkit.run("true", [], cd: "/no/such") == {:error, {:spawn, :chdir, :enoent}}

    assert Portkit.run("true", [], user: "no-such-user-xyz") ==
             {:error, {:option, "--user", :no_such_user}}

    case Portkit.run("true", [], memory_max: 64_000_000) do
      {:ok, pid} -> collect(pid)
      err -> assert err == {:error, {:cgroup, :"memory.max", :not_available}}
    end
  end

  test "owner death kills the tree of 50" do
    t = tag()
    me = self()

    owner =
      spawn(fn ->
        {:ok, pid} = Portkit.run("sh", ["-c", @tree], env: %{"PORTKIT_TAG" => t}, grace: 300)
        send(me, {:pk, pid})
        Process.sleep(:infinity)
      end)

    assert_receive {:pk, pid}, 30_000
    wait_count(t, &(&1 >= 50))
    ref = Process.monitor(pid)
    Process.exit(owner, :kill)
    assert_receive {:DOWN, ^ref, :process, ^pid, _}, 30_000
    assert wait_count(t, &(&1 == 0)) == 0
  end

  test "transparent: a plain port, killed with its tree on close" do
    port = Portkit.open_transparent(System.find_executable("cat"), [], [{:packet, 2}, :binary])
    Port.command(port, "hello")
    assert_receive {^port, {:data, "hello"}}, 30_000
    Port.close(port)
    t = tag()

    port =
      Portkit.open_transparent("sh", ["-c", @tree], [
        :binary,
        portkit: [env: [{"PORTKIT_TAG", t}], grace: 300]
      ])

    wait_count(t, &(&1 >= 50))
    Port.close(port)
    assert wait_count(t, &(&1 == 0)) == 0
  end

  test "Portkit.Daemon under a supervisor: logged output, shutdown kills the tree" do
    t = tag()
    :ok = :logger.add_handler(:portkit_exunit, __MODULE__.Handler, %{config: %{pid: self()}})
    %{level: level} = :logger.get_primary_config()
    :logger.set_primary_config(:level, :info)

    try do
      spec =
        {Portkit.Daemon,
         id: :echoer,
         cmd: "sh",
         args: ["-c", "echo hello; " <> @tree],
         env: [{"PORTKIT_TAG", t}],
         grace: 300}

      {:ok, sup} = Supervisor.start_link([spec], strategy: :one_for_one)
      assert_receive {:logged, :echoer, "hello"}, 30_000
      wait_count(t, &(&1 >= 50))
      :ok = Supervisor.terminate_child(sup, :echoer)
      assert count(t) == 0
      Supervisor.stop(sup)
    after
      :logger.set_primary_config(:level, level)
      :logger.remove_handler(:portkit_exunit)
    end
  end

  defmodule Handler do
    @moduledoc false
    def log(%{meta: %{portkit: id}, msg: {_, [id, text]}}, %{config: %{pid: pid}}),
      do: send(pid, {:logged, id, text})

    def log(_, _), do: :ok
  end
end
