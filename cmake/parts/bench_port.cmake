# SPDX-License-Identifier: MIT
# bench/port: the peers the port benchmark runs (bench/port/run).  Built with
# every `make` so the benchmark has nothing to compile.
foreach(name pingpong plain_port pk_sink host_bench)
  add_executable(bench_port_${name} ${CMAKE_SOURCE_DIR}/bench/port/${name}.c)
  set_target_properties(bench_port_${name} PROPERTIES OUTPUT_NAME ${name}
    RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench/port)
  if(NOT name STREQUAL "pingpong" AND NOT name STREQUAL "plain_port")
    target_link_libraries(bench_port_${name} PRIVATE portkit_static)
  endif()
endforeach()
