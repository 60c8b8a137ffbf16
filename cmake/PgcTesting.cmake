# pgc_add_unit_test(NAME SOURCES files... LIBS libs... [LABELS labels...])
# One GoogleTest executable; each TEST becomes its own ctest entry.
function(pgc_add_unit_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_include_directories(${name} PRIVATE ${PGC_SOURCE_DIR})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    PGC_SOURCE_DIR="${PGC_SOURCE_DIR}" PGC_BINARY_DIR="${PGC_BINARY_DIR}")
  set(labels unit ${ARG_LABELS})
  gtest_discover_tests(${name} PROPERTIES LABELS "${labels}" DISCOVERY_TIMEOUT 60)
endfunction()
