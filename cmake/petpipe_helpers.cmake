# Common warning flags for petpipe targets. Third-party headers come in as system includes (see the top
# CMakeLists.txt), so what is reported is petpipe's own code; PETPIPE_WERROR makes any of it an error.
function(petpipe_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wno-unused-parameter)
  if(PETPIPE_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      # GCC's flow-sensitive middle-end warnings depend on inlining and optimisation level, and GCC 12
      # reports false positives from libstdc++ and Eigen code inlined into ours at -O3 (overlapping
      # memcpy in std::string::replace, operator delete "at an offset" in std::vector destructors,
      # "may be used uninitialized" inside AVX intrinsics). They stay warnings, printed in the log,
      # but do not fail the build; every other warning does.
      target_compile_options(${target} PRIVATE -Wno-error=maybe-uninitialized -Wno-error=array-bounds
        -Wno-error=stringop-overflow -Wno-error=stringop-overread -Wno-error=restrict
        -Wno-error=free-nonheap-object)
    endif()
  endif()
  if(PETPIPE_NATIVE)
    target_compile_options(${target} PRIVATE -march=native)
  endif()
endfunction()

# petpipe_add_module(NAME SOURCES ... DEPENDS ...)
# A module is a static library modules/<name> with public headers under include/petpipe/<name>/.
function(petpipe_add_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPENDS;PRIVATE_DEPENDS" ${ARGN})
  add_library(petpipe_${name} STATIC ${M_SOURCES})
  add_library(petpipe::${name} ALIAS petpipe_${name})
  target_include_directories(petpipe_${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_link_libraries(petpipe_${name} PUBLIC ${M_DEPENDS} PRIVATE ${M_PRIVATE_DEPENDS})
  petpipe_warnings(petpipe_${name})
endfunction()

# petpipe_add_test(NAME SOURCES ... DEPENDS ... LABELS ...)
function(petpipe_add_test name)
  cmake_parse_arguments(T "" "" "SOURCES;DEPENDS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_DEPENDS} GTest::gtest GTest::gtest_main)
  # tests/support: test_util.hpp (temporary folders, running the petpipe executable) for every test.
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/tests/support)
  petpipe_warnings(${name})
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  # Tests find the executable, atlases and sources through environment variables set by
  # tests/support/test_env.cpp (gtest_discover_tests cannot pass a list of ENVIRONMENT entries).
  target_sources(${name} PRIVATE ${CMAKE_SOURCE_DIR}/tests/support/test_env.cpp)
  set_source_files_properties(${CMAKE_SOURCE_DIR}/tests/support/test_env.cpp TARGET_DIRECTORY ${name}
    PROPERTIES COMPILE_DEFINITIONS
    "PETPIPE_TEST_EXE=\"${CMAKE_BINARY_DIR}/pipeline/petpipe\";PETPIPE_TEST_ATLAS_DIR=\"${PETPIPE_ATLAS_DIR}\";PETPIPE_TEST_SOURCE_DIR=\"${CMAKE_SOURCE_DIR}\";PETPIPE_TEST_BINARY_DIR=\"${CMAKE_BINARY_DIR}\"")
  gtest_discover_tests(${name} PROPERTIES LABELS "${T_LABELS}" DISCOVERY_TIMEOUT 60)
endfunction()
