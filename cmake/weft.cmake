# weft_unit_test(NAME SOURCES ... LIBS ...): a gtest binary labelled "unit" (no root, no network).
function(weft_unit_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gmock GTest::gtest GTest::gtest_main)
  gtest_discover_tests(${name} PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)
endfunction()

# weft_integration_test(NAME SOURCES ... LIBS ...): a gtest binary labelled "integration" (real etcd,
# network namespaces, root). Each binary is one ctest test so that its fixtures start once.
function(weft_integration_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  if(WEFT_UNIT_ONLY)
    return()
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gmock GTest::gtest GTest::gtest_main)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS integration TIMEOUT 900)
endfunction()

# weft_fuzz_target(NAME SOURCES ... LIBS ...): a libFuzzer binary, built only with -DWEFT_FUZZ=ON
# and clang. Its corpus (regression inputs) lives in fuzz/corpus/NAME.
function(weft_fuzz_target name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  if(NOT WEFT_FUZZ)
    return()
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_libraries(${name} PRIVATE ${ARG_LIBS})
endfunction()
