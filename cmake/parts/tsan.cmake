# SPDX-License-Identifier: MIT
# ThreadSanitizer programs (make tsan): the threaded spawn, helper and
# loop-wake checks as standalone programs, since Criterion crashes under
# TSan.  tests/tsan/*.c -> build/tsan/tests/tsan/<name>, the library built
# with -fsanitize=thread.
option(PK_TSAN "Build the ThreadSanitizer programs (tests/tsan) and the library for them" OFF)
if(PK_TSAN)
  target_compile_options(portkit_obj PRIVATE -fsanitize=thread -fno-omit-frame-pointer)
  file(GLOB PK_TSAN_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/tsan/*.c)
  add_custom_target(tsan_programs)
  foreach(src ${PK_TSAN_SRC})
    get_filename_component(name ${src} NAME_WE)
    add_executable(${name} ${src})
    set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/tsan)
    target_compile_options(${name} PRIVATE -fsanitize=thread -fno-omit-frame-pointer)
    target_link_options(${name} PRIVATE -fsanitize=thread)
    target_link_libraries(${name} PRIVATE portkit_static)
    add_dependencies(tsan_programs ${name})
  endforeach()
endif()
