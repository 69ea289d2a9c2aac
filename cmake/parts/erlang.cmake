# SPDX-License-Identifier: MIT
# erlang/ and elixir/: the OTP application's EUnit suite (rebar3) and the
# Elixir package's ExUnit suite (mix), both against the real VM and the
# portkit binary of this build.  Registered when rebar3 / mix are installed
# (scripts/deps check installs them); their build output stays in the build
# tree.
if(PK_TESTS AND NOT PK_FUZZ)
  find_program(PK_REBAR3 rebar3)
  find_program(PK_MIX mix)
  set(PK_VM_TEST_ENV
    "PORTKIT_BIN=$<TARGET_FILE:portkit_cli>"
    "ASAN_OPTIONS=detect_leaks=0"
    "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
  if(PK_REBAR3)
    add_test(NAME erlang_eunit COMMAND ${PK_REBAR3} eunit
      WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/erlang)
    set_tests_properties(erlang_eunit PROPERTIES TIMEOUT 600 RUN_SERIAL TRUE
      ENVIRONMENT "${PK_VM_TEST_ENV};REBAR_BASE_DIR=${CMAKE_BINARY_DIR}/erlang/_build")
  endif()
  if(PK_MIX)
    add_test(NAME elixir_mix_test COMMAND ${PK_MIX} test
      WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/elixir)
    set_tests_properties(elixir_mix_test PROPERTIES TIMEOUT 600 RUN_SERIAL TRUE
      ENVIRONMENT "${PK_VM_TEST_ENV};MIX_ENV=test;MIX_BUILD_ROOT=${CMAKE_BINARY_DIR}/elixir/_build")
  endif()
endif()
