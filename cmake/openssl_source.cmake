# OpenSSL for static (Termux) builds, compiled from Debian's source package with only what pocketlm
# uses: TLS 1.2/1.3 clients and servers (cpp-httplib) with ECDHE (X25519, P-256, P-384), RSA and
# ECDSA certificates, AES-GCM and ChaCha20-Poly1305, and SHA-256 for the store. Debian's
# libcrypto.a holds every algorithm of OpenSSL 3's default provider, whose dispatch tables keep
# them all in a static link: 3.6 MB of a 9 MB binary. The "no-" options below drop the legacy
# and unused ones (DES, DSA, DH, Camellia, ARIA, SM2-4, CMS, OCSP, CT, engines, ...), and -Os
# with one section per function lets the link drop the rest; the assembly kernels stay (AES and
# SHA with the ARMv8 crypto instructions, P-256). No unwind tables: no C++ exception crosses
# OpenSSL's C frames (it calls back into nothing that throws), and they were a tenth of its size.
#
# tools/setup.sh fetches the source package (apt-get source openssl) into deps/debian-src (git
# ignores it); it is unpacked here at configure time with Debian's patches (dpkg-source) and
# built by `make` as an external project (libcrypto, libssl and headers only, one job per core).
# Defines pocketlm_openssl_ssl and pocketlm_openssl_crypto (imported static libraries).
include(ExternalProject)
cmake_host_system_information(RESULT openssl_jobs QUERY NUMBER_OF_LOGICAL_CORES)
file(GLOB openssl_dsc "${CMAKE_SOURCE_DIR}/deps/debian-src/openssl_*.dsc")
list(SORT openssl_dsc)
list(POP_BACK openssl_dsc openssl_dsc_newest)
set(POCKETLM_OPENSSL_DSC "${openssl_dsc_newest}" CACHE FILEPATH "Debian source package (.dsc) of OpenSSL")
if(NOT EXISTS "${POCKETLM_OPENSSL_DSC}")
  message(FATAL_ERROR "static builds compile OpenSSL from Debian's source package: run tools/setup.sh "
                      "(it fetches it into deps/debian-src) or set -DPOCKETLM_OPENSSL_DSC=<file.dsc>")
endif()
find_program(POCKETLM_DPKG_SOURCE dpkg-source REQUIRED)
find_program(POCKETLM_MAKE make REQUIRED)
find_program(POCKETLM_PERL perl REQUIRED)

get_filename_component(openssl_pkg "${POCKETLM_OPENSSL_DSC}" NAME_WLE)
set(openssl_dir ${CMAKE_BINARY_DIR}/_deps/openssl/${openssl_pkg})
if(NOT EXISTS ${openssl_dir}/src/Configure)
  file(REMOVE_RECURSE ${CMAKE_BINARY_DIR}/_deps/openssl)
  file(MAKE_DIRECTORY ${openssl_dir})
  # --no-check: apt-get source already checked the files against the signed archive index.
  execute_process(COMMAND ${POCKETLM_DPKG_SOURCE} --no-check -x "${POCKETLM_OPENSSL_DSC}" ${openssl_dir}/src
                  OUTPUT_QUIET RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "dpkg-source could not unpack ${POCKETLM_OPENSSL_DSC}")
  endif()
  file(GLOB openssl_orig_copy ${openssl_dir}/*.orig.tar.*)  # dpkg-source's copy of the tarball
  file(REMOVE ${openssl_orig_copy})
endif()

if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
  set(openssl_target linux-aarch64)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  set(openssl_target linux-x86_64)
else()
  set(openssl_target linux-generic64)
endif()
set(openssl_options
    no-shared no-module no-dso no-engine no-legacy no-tests no-ui-console no-async no-comp no-ct no-cms
    no-ocsp no-ts no-srp no-srtp no-dtls no-ssl3 no-tls1 no-tls1_1 no-sctp no-cmp no-des no-dsa no-dh
    no-ec2m no-sm2 no-sm3 no-sm4 no-aria no-camellia no-seed no-idea no-bf no-cast no-rc2 no-rc4 no-rc5
    no-md4 no-mdc2 no-rmd160 no-whirlpool no-blake2 no-siphash no-scrypt no-gost no-ocb no-siv
    no-padlockeng no-afalgeng no-capieng no-uplink no-weak-ssl-ciphers no-fips no-filenames no-rfc3779 no-err)
set(openssl_install ${openssl_dir}/install)
ExternalProject_Add(pocketlm_openssl_build
  SOURCE_DIR ${openssl_dir}/src
  BINARY_DIR ${openssl_dir}/build
  INSTALL_DIR ${openssl_install}
  CONFIGURE_COMMAND ${POCKETLM_PERL} ${openssl_dir}/src/Configure ${openssl_target} --prefix=${openssl_install}
                    --libdir=lib --openssldir=/etc/ssl ${openssl_options}
                    CC=${CMAKE_C_COMPILER} AR=${CMAKE_AR} RANLIB=${CMAKE_RANLIB}
                    -Os -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables -fno-unwind-tables
  BUILD_COMMAND ${POCKETLM_MAKE} -j${openssl_jobs} build_libs
  INSTALL_COMMAND ${POCKETLM_MAKE} install_dev
  BUILD_BYPRODUCTS ${openssl_install}/lib/libssl.a ${openssl_install}/lib/libcrypto.a
  LOG_CONFIGURE ON LOG_BUILD ON LOG_INSTALL ON LOG_OUTPUT_ON_FAILURE ON)

file(MAKE_DIRECTORY ${openssl_install}/include)
add_library(pocketlm_openssl_crypto STATIC IMPORTED GLOBAL)
set_target_properties(pocketlm_openssl_crypto PROPERTIES IMPORTED_LOCATION ${openssl_install}/lib/libcrypto.a
                      INTERFACE_INCLUDE_DIRECTORIES ${openssl_install}/include)
target_link_libraries(pocketlm_openssl_crypto INTERFACE Threads::Threads)
add_dependencies(pocketlm_openssl_crypto pocketlm_openssl_build)
add_library(pocketlm_openssl_ssl STATIC IMPORTED GLOBAL)
set_target_properties(pocketlm_openssl_ssl PROPERTIES IMPORTED_LOCATION ${openssl_install}/lib/libssl.a
                      INTERFACE_INCLUDE_DIRECTORIES ${openssl_install}/include)
target_link_libraries(pocketlm_openssl_ssl INTERFACE pocketlm_openssl_crypto)
add_dependencies(pocketlm_openssl_ssl pocketlm_openssl_build)
