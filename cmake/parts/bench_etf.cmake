# SPDX-License-Identifier: MIT
# bench/etf: portkit's ETF codec against libei (erl_interface from erlang-dev).
# Built only when ei.h and libei.a are found; bench/etf/run runs it.
file(GLOB PK_EI_INCLUDE_DIRS /usr/lib/erlang/lib/erl_interface-*/include)
file(GLOB PK_EI_LIBS /usr/lib/erlang/lib/erl_interface-*/lib/libei.a)
if(PK_EI_INCLUDE_DIRS AND PK_EI_LIBS AND NOT PK_FUZZ AND NOT PK_SANITIZE)
  list(GET PK_EI_INCLUDE_DIRS 0 PK_EI_INCLUDE)
  list(GET PK_EI_LIBS 0 PK_EI_LIB)
  add_executable(etf_bench ${CMAKE_SOURCE_DIR}/bench/etf/etf_bench.c)
  set_target_properties(etf_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
  target_include_directories(etf_bench PRIVATE ${PK_EI_INCLUDE})
  # ei.h is not written for our warning set.
  target_compile_options(etf_bench PRIVATE -Wno-strict-prototypes -Wno-conversion -O2)
  target_link_libraries(etf_bench PRIVATE portkit_static ${PK_EI_LIB} Threads::Threads)
endif()
