# SPDX-License-Identifier: MIT
# tests/test_supervise.c drives the real `portkit` binary (supervise, ctl,
# unit-exec); the man pages of both commands are installed in section 8.
if(PK_TESTS AND TARGET test_supervise)
  add_dependencies(test_supervise portkit_cli)
  set_tests_properties(test_supervise PROPERTIES RUN_SERIAL TRUE)
  # Real services from their unmodified Debian units, each in its own pid, mount,
  # network and IPC namespaces and cgroup, so the cases may run in parallel.
  # A missing package fails the case (scripts/deps check installs them).
  foreach(case nginx-redis memcached ssh cron postgresql)
    add_test(NAME supervise_debian_${case}
      COMMAND bash ${CMAKE_SOURCE_DIR}/tests/supervise/debian.sh $<TARGET_FILE:portkit_cli> ${case})
    set_tests_properties(supervise_debian_${case} PROPERTIES TIMEOUT 120)
  endforeach()
endif()
install(FILES ${CMAKE_SOURCE_DIR}/man/portkit-supervise.8 ${CMAKE_SOURCE_DIR}/man/portkit-ctl.8
  DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
# tests/test_supervise_stop.c drives the real binary too.
if(PK_TESTS AND TARGET test_supervise_stop)
  add_dependencies(test_supervise_stop portkit_cli)
endif()
