#!/usr/bin/env bash
# Installs what ofac's tests need on a fresh Debian 12 machine: the data set,
# the C toolchains the backends are checked with, and OpenBLAS for the
# benchmark baseline. Idempotent: packages already present are not fetched
# again, and apt-get update runs only when something is missing.
set -euo pipefail

packages=(
  dataset-fashion-mnist   # Fashion-MNIST under /usr/share/datasets/fashion-mnist
  libopenblas-dev         # SGEMM baseline in bench/
  gcc                     # host checks of emitted C
  gcc-arm-none-eabi       # backends/c: firmware builds for Cortex-M4/M7
  libnewlib-arm-none-eabi # backends/c: newlib + semihosting (rdimon) for the QEMU check
  qemu-system-arm         # backends/c: runs the firmware on mps2-an386
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "install-deps: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
go mod download
