# pgc_add_unit_test(NAME SOURCES files... LIBS libs... [LABELS label])
# One GoogleTest executable; each TEST becomes its own ctest entry.
function(pgc_add_unit_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_include_directories(${name} PRIVATE ${PGC_SOURCE_DIR})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    PGC_SOURCE_DIR="${PGC_SOURCE_DIR}" PGC_BINARY_DIR="${PGC_BINARY_DIR}")
  # One label per test executable: a list would be split into separate
  # properties by gtest_discover_tests.
  set(label unit)
  if(ARG_LABELS)
    list(GET ARG_LABELS 0 label)
  endif()
  gtest_discover_tests(${name} PROPERTIES LABELS ${label} DISCOVERY_TIMEOUT 60)
endfunction()

# pgc_add_fuzzer(NAME SOURCES files... LIBS libs... [CORPUS dir])
# A libFuzzer target, built only with clang. SOURCES should include the parser's
# own .cpp files so they are instrumented. ASan and UBSan reports are fatal
# (-fno-sanitize-recover=all): UBSan alone would print and go on, and a fuzz run
# that passed with undefined behaviour in it would prove nothing. A ctest entry
# (label fuzz) runs the target for PGC_FUZZ_SECONDS seconds from the corpus
# folder, if given, and from tests/fuzz/regressions/NAME, the inputs that once
# failed (kept apart so that scripts/fuzz's corpus minimisation never drops
# them); an input that takes over 10 s is a failure (libFuzzer's default,
# 1200 s, let one slow input hold CI for 20 minutes). Findings go to
# NAME-findings/ in the build folder.
set(PGC_FUZZ_SECONDS 10 CACHE STRING "Seconds each fuzzer runs under ctest")
set(PGC_FUZZ_FLAGS -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all)
function(pgc_add_fuzzer name)
  cmake_parse_arguments(ARG "" "CORPUS" "SOURCES;LIBS" ${ARGN})
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    return()
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_include_directories(${name} PRIVATE ${PGC_SOURCE_DIR})
  target_compile_options(${name} PRIVATE ${PGC_FUZZ_FLAGS})
  target_link_options(${name} PRIVATE ${PGC_FUZZ_FLAGS})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS})
  set(corpus_args)
  if(ARG_CORPUS)
    set(corpus_dir ${CMAKE_CURRENT_BINARY_DIR}/${name}-corpus)
    set(corpus_args ${corpus_dir} ${ARG_CORPUS})
    file(MAKE_DIRECTORY ${corpus_dir})
  endif()
  set(regressions ${PGC_SOURCE_DIR}/tests/fuzz/regressions/${name})
  if(IS_DIRECTORY ${regressions})
    list(APPEND corpus_args ${regressions})
  endif()
  set(findings ${CMAKE_CURRENT_BINARY_DIR}/${name}-findings)
  file(MAKE_DIRECTORY ${findings})
  add_test(NAME ${name} COMMAND ${name} -max_total_time=${PGC_FUZZ_SECONDS}
           -timeout=10 -rss_limit_mb=2048 -artifact_prefix=${findings}/ ${corpus_args})
  set_tests_properties(${name} PROPERTIES LABELS fuzz)
endfunction()
