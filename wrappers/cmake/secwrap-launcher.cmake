# secwrap-launcher.cmake: run every C/C++ compile of a CMake project
# through secwrap, without editing the project.
#
#   cmake -S . -B build \
#         -DCMAKE_PROJECT_INCLUDE=/path/to/wrappers/cmake/secwrap-launcher.cmake
#
# CMAKE_PROJECT_INCLUDE (CMake >= 3.15) is read right after every project()
# call, so the launcher is in place before any target exists. CMake then
# runs "secwrap /usr/bin/cc <args>" for each compile: secwrap takes the
# real compiler as its first argument, the same as "secwrap gcc".
#
# Set -DSECWRAP=/path/to/secwrap (or the SECWRAP environment variable) to
# choose a binary; otherwise secwrap is looked up on PATH. If it is not
# found, the build goes ahead unwrapped and says so.

include_guard(GLOBAL)

if(NOT SECWRAP AND DEFINED ENV{SECWRAP})
  set(SECWRAP "$ENV{SECWRAP}")
endif()
find_program(SECWRAP NAMES secwrap DOC "secwrap compiler shim")

if(NOT SECWRAP)
  message(STATUS "secwrap: not found, compiling without it")
  return()
endif()

foreach(lang C CXX)
  # Keep a launcher the user chose (e.g. ccache): secwrap would otherwise
  # see it as the compiler. Unset it to get secwrap.
  if(CMAKE_${lang}_COMPILER_LAUNCHER)
    message(STATUS "secwrap: CMAKE_${lang}_COMPILER_LAUNCHER already set to "
                   "'${CMAKE_${lang}_COMPILER_LAUNCHER}', leaving it")
  else()
    set(CMAKE_${lang}_COMPILER_LAUNCHER "${SECWRAP}")
    message(STATUS "secwrap: ${lang} compiles go through ${SECWRAP}")
  endif()
endforeach()
