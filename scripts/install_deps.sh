#!/usr/bin/env bash
# Installs the Debian 12 packages the build and the tests need; does nothing when all are present.
set -euo pipefail
# clang 16 with its sanitizer runtimes, symbolizer and formatter; g++ 12; Boost 1.81; libsodium;
# sshd for the test hosts (nftables for their firewall); Slurm and munge for the test cluster;
# CMake and pkg-config for the out-of-tree template builds; prometheus for `promtool check
# metrics`, which the metrics test runs on what the master serves.
packages=(clang-16 libclang-rt-16-dev llvm-16 clang-format-16 g++ libboost1.81-dev
          libboost-serialization1.81-dev libboost-program-options1.81-dev libboost-test1.81-dev
          libboost-stacktrace1.81-dev libboost-json1.81-dev
          libboost1.81-tools-dev libsodium-dev openssh-server openssh-client openssh-sftp-server
          slurmctld slurmd slurm-client munge nftables
          cmake pkg-config python3 procps iproute2 util-linux prometheus)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
$sudo apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null
