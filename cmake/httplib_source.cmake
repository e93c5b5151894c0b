# cpp-httplib for static (Termux) builds, compiled from Debian's source package: Debian ships the
# library only shared, with a split header (/usr/include/httplib.h holds declarations only), so a
# static binary cannot use it. tools/setup.sh fetches the source package (apt-get source, at the
# installed libcpp-httplib-dev's version) into deps/debian-src, which git ignores; this file
# unpacks it into the build folder with Debian's patches applied (dpkg-source) and splits it
# with upstream's split.py, as Debian's own build does, into httplib.h + httplib.cc.
#
# Defines pocketlm_httplib: httplib.cc compiled once, with TLS (OpenSSL), gzip (zlib) and poll(),
# Debian's build options less Brotli (whose encoder and dictionary cost ~700 KB in a static
# binary). OpenSSL is the trimmed one of cmake/openssl_source.cmake, zlib Debian's .a archive.
file(GLOB httplib_dsc "${CMAKE_SOURCE_DIR}/deps/debian-src/cpp-httplib_*.dsc")
set(POCKETLM_HTTPLIB_DSC "${httplib_dsc}" CACHE FILEPATH "Debian source package (.dsc) of cpp-httplib")
if(NOT EXISTS "${POCKETLM_HTTPLIB_DSC}")
  message(FATAL_ERROR "static builds compile cpp-httplib from Debian's source package: run tools/setup.sh "
                      "(it fetches it into deps/debian-src) or set -DPOCKETLM_HTTPLIB_DSC=<file.dsc>")
endif()
find_program(POCKETLM_DPKG_SOURCE dpkg-source REQUIRED)
find_package(Python3 REQUIRED COMPONENTS Interpreter)

set(httplib_dir ${CMAKE_BINARY_DIR}/_deps/cpp-httplib)
get_filename_component(httplib_pkg "${POCKETLM_HTTPLIB_DSC}" NAME_WLE)
if(NOT EXISTS ${httplib_dir}/${httplib_pkg}/httplib.cc)
  file(REMOVE_RECURSE ${httplib_dir})
  file(MAKE_DIRECTORY ${httplib_dir})
  # --no-check: apt-get source already checked the files against the signed archive index.
  execute_process(COMMAND ${POCKETLM_DPKG_SOURCE} --no-check -x "${POCKETLM_HTTPLIB_DSC}" ${httplib_dir}/src
                  OUTPUT_QUIET RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "dpkg-source could not unpack ${POCKETLM_HTTPLIB_DSC}")
  endif()
  file(GLOB httplib_orig_copy ${httplib_dir}/*.orig.tar.*)  # dpkg-source's copy of the tarball
  file(REMOVE ${httplib_orig_copy})
  execute_process(COMMAND ${Python3_EXECUTABLE} ${httplib_dir}/src/split.py -o ${httplib_dir}/${httplib_pkg}
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "split.py could not split ${httplib_dir}/src/httplib.h")
  endif()
endif()

add_library(pocketlm_httplib STATIC ${httplib_dir}/${httplib_pkg}/httplib.cc)
target_include_directories(pocketlm_httplib SYSTEM PUBLIC ${httplib_dir}/${httplib_pkg})
target_compile_definitions(pocketlm_httplib PUBLIC CPPHTTPLIB_OPENSSL_SUPPORT CPPHTTPLIB_ZLIB_SUPPORT
                                                   CPPHTTPLIB_USE_POLL)
target_compile_options(pocketlm_httplib PRIVATE -w)  # third-party code: not held to -Werror
pkg_check_modules(HTTPLIB_ZLIB REQUIRED IMPORTED_TARGET zlib)
target_link_libraries(pocketlm_httplib PUBLIC pocketlm_ssl PkgConfig::HTTPLIB_ZLIB Threads::Threads)
add_dependencies(pocketlm_httplib pocketlm_openssl_build)  # its headers first
pocketlm_cold(pocketlm_httplib)
