# SPDX-License-Identifier: MIT
# tests/test_supervise.c drives the real `portkit` binary (supervise, ctl,
# unit-exec); the man pages of both commands are installed in section 8.
if(PK_TESTS AND TARGET test_supervise)
  add_dependencies(test_supervise portkit_cli)
  set_tests_properties(test_supervise PROPERTIES RUN_SERIAL TRUE)
endif()
install(FILES ${CMAKE_SOURCE_DIR}/man/portkit-supervise.8 ${CMAKE_SOURCE_DIR}/man/portkit-ctl.8
  DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
