# SPDX-License-Identifier: MIT
# bench/sup: the measurer (proc connector), the C floor, portkit's peer on the
# sup API and the orphan maker (bench/sup/run).  Built with every `make` so the
# benchmark has nothing to compile but its libc-free service (svc.c, by hand).
foreach(name supbench floor orph pksup)
  add_executable(bench_sup_${name} ${CMAKE_SOURCE_DIR}/bench/sup/${name}.c)
  set_target_properties(bench_sup_${name} PROPERTIES OUTPUT_NAME ${name}
    RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench/sup)
  if(name STREQUAL "pksup")
    target_link_libraries(bench_sup_${name} PRIVATE portkit_static)
  endif()
endforeach()
