# SPDX-License-Identifier: MIT
defmodule Portkit.MixProject do
  use Mix.Project

  # The Erlang modules of ../erlang are compiled into this project, so the
  # Elixir package needs neither rebar3 nor Hex: `mix test` works offline.
  def project do
    [
      app: :portkit,
      version: "0.1.0",
      elixir: "~> 1.14",
      erlc_paths: ["../erlang/src"],
      deps: [],
      description: "OS processes as ports without orphans, on portkit wrap",
      docs: [main: "Portkit"]
    ]
  end

  def application do
    [extra_applications: [:logger]]
  end
end
