# secwrap-launcher.cmake: run every C/C++ compile of a CMake project
# through secwrap, without editing the project.
#
#   cmake -S . -B build \
#         -DCMAKE_PROJECT_INCLUDE=/usr/local/share/secwrap/cmake/secwrap-launcher.cmake
#
# (that path is where `secwrap install-support /usr/local` puts this file;
# an absolute path to it in a secwrap checkout works the same.)
#
# CMAKE_PROJECT_INCLUDE (CMake >= 3.15) is read right after every project()
# call, so the launcher is in place before any target exists. CMake then
# runs "secwrap /usr/bin/cc <args>" for each compile: secwrap takes the
# real compiler as its first argument, the same as "secwrap gcc".
#
# A launcher already chosen (-DCMAKE_C_COMPILER_LAUNCHER=ccache) is kept
# and secwrap goes in front of it ("secwrap;ccache"): secwrap must run
# before a cache or a distributor, so that the cache key and the remote
# command line carry the flags it adds (README, "Launchers go after
# secwrap"). A list that already holds secwrap is left as it is.
#
# Set -DSECWRAP=/path/to/secwrap (or the SECWRAP environment variable) to
# choose a binary; otherwise secwrap is looked up on PATH. If it is not
# found, configuring fails: a build that silently comes out unsplit is
# what secwrap is there to prevent. -DSECWRAP_OPTIONAL=ON makes that a
# warning and builds without secwrap.
#
# The log and the build id are secwrap's environment at build time
# (SECWRAP_LOG, SECWRAP_BUILD_ID), or `secwrap run -- cmake --build build`,
# which gives each build its own id.

include_guard(GLOBAL)

option(SECWRAP_OPTIONAL "Build without secwrap when it is not found" OFF)

if(NOT SECWRAP AND DEFINED ENV{SECWRAP})
  set(SECWRAP "$ENV{SECWRAP}")
endif()
find_program(SECWRAP NAMES secwrap DOC "secwrap compiler shim")

if(SECWRAP AND NOT EXISTS "${SECWRAP}")
  set(secwrap_missing "SECWRAP is '${SECWRAP}', which does not exist")
elseif(NOT SECWRAP)
  set(secwrap_missing "not found on PATH")
endif()

if(DEFINED secwrap_missing)
  if(SECWRAP_OPTIONAL)
    message(WARNING "secwrap: ${secwrap_missing}; SECWRAP_OPTIONAL is ON, "
                    "so compiling without it (objects are not split and "
                    "nothing is recorded)")
    unset(secwrap_missing)
    return()
  endif()
  message(FATAL_ERROR "secwrap: ${secwrap_missing}; install it (cargo "
                      "install), give -DSECWRAP=/path/to/secwrap, or "
                      "-DSECWRAP_OPTIONAL=ON to build without it")
endif()

foreach(lang C CXX)
  set(secwrap_launcher "${CMAKE_${lang}_COMPILER_LAUNCHER}")
  set(secwrap_present OFF)
  foreach(word IN LISTS secwrap_launcher)
    get_filename_component(secwrap_word_name "${word}" NAME)
    if(word STREQUAL SECWRAP OR secwrap_word_name STREQUAL "secwrap")
      set(secwrap_present ON)
    endif()
  endforeach()
  if(secwrap_present)
    message(STATUS "secwrap: CMAKE_${lang}_COMPILER_LAUNCHER already runs "
                   "secwrap ('${secwrap_launcher}'), leaving it")
  elseif(secwrap_launcher)
    # secwrap first, then the user's launcher: `secwrap ccache cc ...`.
    set(CMAKE_${lang}_COMPILER_LAUNCHER "${SECWRAP};${secwrap_launcher}")
    message(STATUS "secwrap: ${lang} compiles go through ${SECWRAP}, "
                   "then '${secwrap_launcher}'")
  else()
    set(CMAKE_${lang}_COMPILER_LAUNCHER "${SECWRAP}")
    message(STATUS "secwrap: ${lang} compiles go through ${SECWRAP}")
  endif()
endforeach()
unset(secwrap_launcher)
unset(secwrap_present)
unset(secwrap_word_name)
