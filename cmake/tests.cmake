# Every test's scratch space: FL_TEST_TMP points here. Created at configure time so a test
# that runs first on a clean clone finds it.
file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/tmp)

# Test registration. Unit tests: every tests/unit/<module>/test_*.c is one cmocka executable,
# labelled "unit". Integration and fault tests are shell/python drivers registered in
# tests/CMakeLists.txt-like lists below. Fuzz corpora are replayed by the fuzz harnesses built
# as plain executables (a small main() that feeds each corpus file) when FL_FUZZ is OFF.
file(GLOB FL_UNIT_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/unit/*/test_*.c)
foreach(src ${FL_UNIT_TESTS})
  get_filename_component(name ${src} NAME_WE)
  get_filename_component(dir ${src} DIRECTORY)
  get_filename_component(module ${dir} NAME)
  set(target unit_${module}_${name})
  add_executable(${target} ${src})
  target_link_libraries(${target} PRIVATE fl PkgConfig::CMOCKA)
  add_test(NAME ${module}/${name} COMMAND ${target})
  set_tests_properties(${module}/${name} PROPERTIES LABELS unit TIMEOUT 300
    ENVIRONMENT "FL_TEST_TMP=${CMAKE_BINARY_DIR}/tmp;FL_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endforeach()

# Fuzz harnesses: tests/fuzz/fuzz_<name>.c defines LLVMFuzzerTestOneInput. With FL_FUZZ=ON they
# link against libFuzzer; otherwise against a replay driver that runs every file of
# tests/fuzz/corpus/<name>/ (and tests/fuzz/crashers/<name>/ when present) once.
file(GLOB FL_FUZZERS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_*.c)
foreach(src ${FL_FUZZERS})
  get_filename_component(name ${src} NAME_WE)
  string(REPLACE "fuzz_" "" corpus ${name})
  if(FL_FUZZ)
    add_executable(${name} ${src})
    target_link_libraries(${name} PRIVATE fl)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  else()
    add_executable(${name} ${src} ${CMAKE_SOURCE_DIR}/tests/fuzz/replay_main.c)
    target_link_libraries(${name} PRIVATE fl)
    add_test(NAME fuzz/${corpus} COMMAND ${name}
      ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/${corpus} ${CMAKE_SOURCE_DIR}/tests/fuzz/crashers/${corpus})
    set_tests_properties(fuzz/${corpus} PROPERTIES LABELS "unit;fuzz" TIMEOUT 300)
  endif()
endforeach()

# fl_pq_tool: the Parquet interop tests' helper (write every variant, dump any file as JSON
# lines, concatenate files); also used by bench/parquet_vs_duckdb.py. Not a test itself.
add_executable(fl_pq_tool ${CMAKE_SOURCE_DIR}/tests/interop/pq_tool.c)
target_link_libraries(fl_pq_tool PRIVATE fl)

# Integration, interop and fault tests: scripts under tests/<kind>/ named test_*.sh or
# test_*.py, run against the built binary. Each gets FLEETLAKE_BIN, FL_PQ_TOOL and a scratch dir.
foreach(kind integration interop fault)
  file(GLOB FL_SCRIPT_TESTS CONFIGURE_DEPENDS
       ${CMAKE_SOURCE_DIR}/tests/${kind}/test_*.sh ${CMAKE_SOURCE_DIR}/tests/${kind}/test_*.py)
  foreach(src ${FL_SCRIPT_TESTS})
    get_filename_component(name ${src} NAME_WE)
    get_filename_component(ext ${src} EXT)
    if(ext STREQUAL ".py")
      set(cmd python3 ${src})
    else()
      set(cmd bash ${src})
    endif()
    add_test(NAME ${kind}/${name} COMMAND ${cmd})
    set_tests_properties(${kind}/${name} PROPERTIES LABELS ${kind} TIMEOUT 900
      ENVIRONMENT "FLEETLAKE_BIN=$<TARGET_FILE:fleetlake>;FL_PQ_TOOL=$<TARGET_FILE:fl_pq_tool>;FL_TEST_TMP=${CMAKE_BINARY_DIR}/tmp;FL_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
  endforeach()
endforeach()

# Browser tests (label browser): tests/browser/test_*.py drive Debian's headless Chromium with
# playwright-core (scripts/install-web-npm.sh --test) against `serve --demo`; screenshots are
# kept in the build directory's browser-artifacts/.
file(GLOB FL_BROWSER_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/browser/test_*.py)
foreach(src ${FL_BROWSER_TESTS})
  get_filename_component(name ${src} NAME_WE)
  add_test(NAME browser/${name} COMMAND python3 ${src})
  set_tests_properties(browser/${name} PROPERTIES LABELS browser TIMEOUT 300
    ENVIRONMENT "FLEETLAKE_BIN=$<TARGET_FILE:fleetlake>;FL_TEST_TMP=${CMAKE_BINARY_DIR}/tmp;FL_SOURCE_DIR=${CMAKE_SOURCE_DIR};FL_BROWSER_ARTIFACTS=${CMAKE_BINARY_DIR}/browser-artifacts")
endforeach()
