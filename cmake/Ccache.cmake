# Compiler cache (WHARF_CCACHE, on when ccache is installed). CI builds a fresh
# clone in another folder on the machine whose cache the developer's build
# filled, so paths are made relative to the source tree (base_dir) and the
# working directory is left out of the hash: the same source compiled in
# another clone is a hit. The cache itself lives outside every clone
# (CCACHE_DIR, default ~/.cache/ccache).
#
# Precompiled headers stay on: GCC writes the same .gch in every clone, so
# the units that use it hit too. What does defeat the cache is a compile flag
# that holds an absolute path (-DSOMETHING="/clone/..."): such paths live in
# generated units instead (tests/test_paths.h, cli/commands.h kDefaultUiDir).
if(NOT WHARF_CCACHE)
  return()
endif()
find_program(WHARF_CCACHE_PROGRAM ccache)
if(NOT WHARF_CCACHE_PROGRAM)
  message(STATUS "wharf: ccache not found; compiling without a cache")
  return()
endif()
set(CMAKE_CXX_COMPILER_LAUNCHER
    ${CMAKE_COMMAND} -E env CCACHE_BASEDIR=${CMAKE_SOURCE_DIR} CCACHE_NOHASHDIR=1
    "CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime"
    ${WHARF_CCACHE_PROGRAM})
message(STATUS "wharf: compiling through ${WHARF_CCACHE_PROGRAM} (-DWHARF_CCACHE=OFF to build without)")
