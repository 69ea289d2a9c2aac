# SPDX-License-Identifier: MIT
# bench/supervise: the control-socket load client (bench/supervise/run); the
# cold start reuses bench/sup's measurer, floor and pksup (bench_sup.cmake).
add_executable(bench_supervise_ctlload ${CMAKE_SOURCE_DIR}/bench/supervise/ctlload.c)
set_target_properties(bench_supervise_ctlload PROPERTIES OUTPUT_NAME ctlload
  RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench/supervise)
target_link_libraries(bench_supervise_ctlload PRIVATE portkit_static)
