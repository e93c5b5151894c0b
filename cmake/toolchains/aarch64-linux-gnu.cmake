# Cross build for 64-bit ARM Linux (phones under Termux, ARM servers) with Debian's cross
# compiler, tested under qemu user-mode emulation:
#   cmake -S . -B build-aarch64 -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake
# Needs (tools/setup.sh installs them): g++-aarch64-linux-gnu, qemu-user, and the arm64 builds of
# the libraries the project links (dpkg --add-architecture arm64; libpcre2-dev:arm64
# libedit-dev:arm64 libgtest-dev:arm64). Debian's cross gcc searches the multiarch folders
# /usr/lib/aarch64-linux-gnu and /usr/include/aarch64-linux-gnu itself, so no sysroot is set.
# Header-only packages (nlohmann-json, CLI11) come from the host's /usr/share.
#
# POCKETLM_STATIC (default ON) links binaries statically: one file that runs in Termux on Android
# (whose libc is Bionic, not glibc), with every verb: cpp-httplib is compiled from Debian's source
# package (cmake/httplib_source.cmake), OpenSSL, zlib and c-ares come from their arm64 .a archives,
# and name resolution goes through c-ares, not glibc's NSS (src/store/resolver.cpp). With
# -DPOCKETLM_STATIC=OFF binaries link the multiarch shared libraries and run under qemu with the
# arm64 loader (/lib, /usr/lib/aarch64-linux-gnu); the unit tests are built that way.
#
# Android NDK instead of this file (dynamic Bionic binary, no PCRE2/libedit packages there):
#   cmake -S . -B build-android -G Ninja \
#     -DCMAKE_TOOLCHAIN_FILE=$ANDROID_NDK/build/cmake/android.toolchain.cmake \
#     -DANDROID_ABI=arm64-v8a -DANDROID_PLATFORM=android-28
# with PCRE2 and libedit built for the NDK and found through PKG_CONFIG_LIBDIR; the per-ISA kernel
# files and runtime detection (getauxval) work unchanged there.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# Tests run through qemu; QEMU_CPU in the environment picks the emulated core (max, cortex-a76,
# cortex-a53, ...). Dynamic binaries load the multiarch libc6:arm64 (/lib/ld-linux-aarch64.so.1),
# the glibc 2.36 build that matches the multiarch libraries they link. No "-L
# /usr/aarch64-linux-gnu": that mixes the cross toolchain's older glibc with the multiarch
# libstdc++, and the thread-pool tests hang under it.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64)

set(POCKETLM_STATIC ON CACHE BOOL "Link aarch64 binaries statically (for Termux)")
if(POCKETLM_STATIC)
  set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
  # pkg_check_modules resolves libraries to full paths; make those the .a archives.
  set(CMAKE_FIND_LIBRARY_SUFFIXES .a)
  # No private dependencies to add: the static binary goes without libedit (src/cli/CMakeLists.txt)
  # and OpenSSL's Libs.private, -ldl -pthread, are part of glibc 2.36's libc.
endif()

# Libraries and headers: the cross toolchain's own tree, then the host's multiarch folders
# (searched through CMAKE_LIBRARY_ARCHITECTURE); programs always from the host.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

# pkg-config must see only the arm64 .pc files (plus arch-independent ones).
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
