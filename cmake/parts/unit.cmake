# SPDX-License-Identifier: MIT
# tests/test_unit.c checks the real unit files of Debian packages: a CTest
# fixture fetches them first (scripts/unit-fixtures, cached and idempotent).
if(PK_TESTS AND TARGET test_unit)
  add_test(NAME unit_debian_fixtures
    COMMAND ${CMAKE_SOURCE_DIR}/scripts/unit-fixtures ${CMAKE_SOURCE_DIR}/build/unit-fixtures)
  set_tests_properties(unit_debian_fixtures PROPERTIES FIXTURES_SETUP unit_debian)
  set_tests_properties(test_unit PROPERTIES FIXTURES_REQUIRED unit_debian)
endif()

# portkit.unit(5): the supported unit-file subset.
install(FILES ${CMAKE_SOURCE_DIR}/man/portkit.unit.5 DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
