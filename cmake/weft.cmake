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

# weft_prefer_static_imports(): points the imported libraries created in the calling directory
# (nghttp2, OpenSSL, libnl ...) at Debian's static archives where one exists next to
# the shared library. weftd then maps a handful of shared objects instead of about seventy: it
# starts faster (no symbol resolution across 60 libraries) and keeps fewer pages resident.
# Off for sanitizer and fuzz builds, and with -DWEFT_STATIC_DEPS=OFF.
function(weft_prefer_static_imports)
  if(NOT WEFT_STATIC_DEPS OR WEFT_SANITIZE OR WEFT_FUZZ)
    return()
  endif()
  get_directory_property(imported IMPORTED_TARGETS)
  foreach(t IN LISTS imported)
    get_target_property(type ${t} TYPE)
    if(type STREQUAL "SHARED_LIBRARY" OR type STREQUAL "UNKNOWN_LIBRARY")
      foreach(prop IMPORTED_LOCATION IMPORTED_LOCATION_NONE IMPORTED_LOCATION_RELEASE
                   IMPORTED_LOCATION_RELWITHDEBINFO IMPORTED_LOCATION_DEBUG)
        get_target_property(loc ${t} ${prop})
        # (CMAKE_MATCH_1 is read only after MATCHES ran: nested ifs.)
        if(loc AND loc MATCHES "^(.*/lib[^/]+)\\.so(\\.[0-9.]+)?$")
          set(archive "${CMAKE_MATCH_1}.a")
          if(EXISTS "${archive}")
            set_target_properties(${t} PROPERTIES ${prop} "${archive}")
          endif()
        endif()
      endforeach()
    elseif(type STREQUAL "INTERFACE_LIBRARY")
      # pkg-config targets list full library paths in their interface.
      get_target_property(libs ${t} INTERFACE_LINK_LIBRARIES)
      if(libs)
        set(out)
        foreach(l IN LISTS libs)
          if(l MATCHES "^(/.*/lib[^/]+)\\.so(\\.[0-9.]+)?$")
            set(archive "${CMAKE_MATCH_1}.a")
            if(EXISTS "${archive}")
              set(l "${archive}")
            endif()
          endif()
          list(APPEND out "${l}")
        endforeach()
        set_target_properties(${t} PROPERTIES INTERFACE_LINK_LIBRARIES "${out}")
      endif()
    endif()
  endforeach()
endfunction()
