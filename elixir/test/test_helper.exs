# SPDX-License-Identifier: MIT
bin = System.get_env("PORTKIT_BIN") || Path.expand("../build/portkit", File.cwd!())
Application.put_env(:portkit, :binary, bin)
ExUnit.start()
