# SPDX-License-Identifier: MIT
# tests/test_cli_tutorial.c builds docs/tutorial.md's programs against this
# build's static library, so it needs this build's compiler and sanitizer flags.
if(PK_TESTS AND TARGET test_cli_tutorial)
  if(PK_SANITIZE)
    set(pk_tutorial_flags "-fsanitize=address,undefined")
  else()
    set(pk_tutorial_flags "")
  endif()
  target_compile_definitions(test_cli_tutorial PRIVATE
    PK_TEST_CC="${CMAKE_C_COMPILER}" PK_TEST_CC_FLAGS="${pk_tutorial_flags}")
  add_dependencies(test_cli_tutorial portkit_cli portkit_static)
endif()
