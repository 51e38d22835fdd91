# Precompiled headers (WHARF_PCH, on by default): most of a clean build is GCC
# parsing the same Protobuf, Boost.JSON/Beast, spdlog, RocksDB and GoogleTest
# headers again in every translation unit. Two headers are compiled once — one
# for the code, one for the tests (which add GoogleTest) — and every other
# target reuses them (REUSE_FROM), so the tree builds the big headers twice,
# not ~300 times.
#
# A precompiled header is only valid for a translation unit whose macros match
# the ones it was built with, so the definitions the imported libraries carry
# (SPDLOG_COMPILED_LIB, BOOST_*_DYN_LINK, ...) are made global: then every
# target sees them, whether or not it links that library. A unit whose flags
# still differ gets a warning (-Winvalid-pch) and parses the headers itself;
# it never fails the build.

set(WHARF_PCH_LIBRARIES
    protobuf::libprotobuf Boost::json Boost::url Boost::headers spdlog::spdlog
    RocksDB::rocksdb Threads::Threads)

# Call after find_package and before the first add_subdirectory.
function(wharf_pch_definitions)
  if(NOT WHARF_PCH)
    return()
  endif()
  set(definitions "")
  set(pending ${WHARF_PCH_LIBRARIES} GTest::gtest GTest::gtest_main GTest::gmock)
  set(visited "")
  # Through INTERFACE_LINK_LIBRARIES too: spdlog brings fmt's FMT_SHARED,
  # Boost.JSON brings Boost.Container's definitions.
  while(pending)
    list(POP_FRONT pending lib)
    if(NOT TARGET ${lib} OR lib IN_LIST visited)
      continue()
    endif()
    list(APPEND visited ${lib})
    get_target_property(defs ${lib} INTERFACE_COMPILE_DEFINITIONS)
    if(defs)
      list(APPEND definitions ${defs})
    endif()
    get_target_property(deps ${lib} INTERFACE_LINK_LIBRARIES)
    if(deps)
      list(APPEND pending ${deps})
    endif()
  endwhile()
  list(REMOVE_DUPLICATES definitions)
  if(definitions)
    add_compile_definitions(${definitions})
  endif()
  # GCC 12 with these headers preloaded reports false -Warray-bounds and
  # friends inside libstdc++ (the same family as GCC bug 105329); they stay
  # warnings so a PCH build and a plain one fail on the same code.
  add_compile_options(-Winvalid-pch -Wno-error=invalid-pch -Wno-error=array-bounds
                      -Wno-error=stringop-overflow -Wno-error=restrict)
  message(STATUS "wharf: precompiled headers on (-DWHARF_PCH=OFF to build without)")
endfunction()

function(_wharf_targets_under dir out)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(sub ${subdirs})
    _wharf_targets_under(${sub} more)
    list(APPEND targets ${more})
  endforeach()
  set(${out} ${targets} PARENT_SCOPE)
endfunction()

# Does `target` link GoogleTest, directly or through a test helper library?
function(_wharf_links_gtest target out)
  get_target_property(libs ${target} LINK_LIBRARIES)
  set(found FALSE)
  foreach(lib ${libs})
    if(lib MATCHES "^GTest::")
      set(found TRUE)
    endif()
  endforeach()
  set(${out} ${found} PARENT_SCOPE)
endfunction()

# Call last, once every target exists.
function(wharf_use_precompiled_headers)
  if(NOT WHARF_PCH)
    return()
  endif()
  set(code_headers
      <algorithm> <chrono> <cstdint> <functional> <map> <memory> <mutex> <optional>
      <string> <string_view> <thread> <unordered_map> <variant> <vector>
      <google/protobuf/message.h> <google/protobuf/util/json_util.h>
      <boost/json.hpp> <boost/asio.hpp> <boost/beast/core.hpp> <boost/beast/http.hpp>
      <boost/beast/websocket.hpp> <spdlog/spdlog.h> <rocksdb/db.h>)
  set(stub ${CMAKE_BINARY_DIR}/wharf_pch.cc)
  file(WRITE ${stub} "// translation unit of the precompiled-header targets\n")

  add_library(wharf_pch OBJECT ${stub})
  target_link_libraries(wharf_pch PRIVATE ${WHARF_PCH_LIBRARIES})
  target_precompile_headers(wharf_pch PRIVATE ${code_headers})

  add_library(wharf_pch_test OBJECT ${stub})
  target_link_libraries(wharf_pch_test PRIVATE ${WHARF_PCH_LIBRARIES} GTest::gtest GTest::gmock)
  target_precompile_headers(wharf_pch_test PRIVATE ${code_headers} <gtest/gtest.h>
                            <gmock/gmock.h>)

  _wharf_targets_under(${CMAKE_SOURCE_DIR} targets)
  foreach(target ${targets})
    if(target MATCHES "^wharf_pch")
      continue()
    endif()
    get_target_property(type ${target} TYPE)
    if(NOT type MATCHES "^(EXECUTABLE|STATIC_LIBRARY|SHARED_LIBRARY|OBJECT_LIBRARY)$")
      continue()
    endif()
    get_target_property(sources ${target} SOURCES)
    if(NOT sources MATCHES "\\.cc(;|$)")
      continue()
    endif()
    # Generated Protobuf code is built with -w; fuzzers with their own sanitizers.
    get_target_property(options ${target} COMPILE_OPTIONS)
    if(options MATCHES "(^|;)-w(;|$)" OR options MATCHES "-fsanitize=")
      continue()
    endif()
    _wharf_links_gtest(${target} is_test)
    if(is_test)
      target_precompile_headers(${target} REUSE_FROM wharf_pch_test)
    else()
      target_precompile_headers(${target} REUSE_FROM wharf_pch)
    endif()
  endforeach()
endfunction()
