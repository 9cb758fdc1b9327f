#!/usr/bin/env bash
# The install leg: `b2 install` to a temporary prefix, then app_template copied to a temporary
# folder outside this tree and built against that prefix three ways, each a check that runs the
# demo: b2 (clang 16), CMake (clang 16), and g++ 12 with pkg-config under ASan + UBSan (the
# recipe of docs/gcc12_coroutines.md), whose link must show the g++ 12 notice exactly once.
# Ends with "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
scripts/install_deps.sh
work=$(mktemp -d /tmp/rpcp-install-XXXXXX)
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"
echo "### leg: install (prefix $prefix)"
passed=0 failed=0

# check NAME COMMAND...: runs COMMAND with its output in a log, printed when it fails.
check() {
  local name=$1; shift
  if ( "$@" ) > "$work/$name.log" 2>&1; then
    echo "== check $name: passed"; passed=$((passed + 1))
  else
    echo "== check $name: FAILED"; sed 's/^/   /' "$work/$name.log"; failed=$((failed + 1))
  fi
}

# runs DEMO: the demo on two local workers prints the primes below 100000.
runs() {
  local out
  out=$(timeout 60 "$1" --workers 2 --below 100000) || return 1
  [ "$out" = "primes below 100000: 9592" ] || { echo "$1 printed: $out"; return 1; }
}

# A copy of the template as a user would make it: the folder's files, nothing built.
copy_template() {
  rm -rf "$work/$1" && mkdir -p "$work/$1" && cp app_template/*.cpp app_template/*.hpp \
    app_template/jamroot.jam app_template/CMakeLists.txt "$work/$1/"
}

installed() {
  b2 -j"$(nproc)" -q install --prefix="$prefix" > /dev/null || return 1
  for f in include/rpc_parallel/rpc_parallel.hpp include/rpc_parallel/remote.hpp \
           lib/librpc_parallel.a lib/librpc_parallel_remote.a lib/pkgconfig/rpc_parallel.pc \
           lib/cmake/rpc_parallel/rpc_parallelConfig.cmake share/rpc_parallel/b2/jamroot.jam; do
    [ -e "$prefix/$f" ] || { echo "not installed: $f"; return 1; }
  done
  # Nothing installed points back into this tree.
  if grep -rl "$root" "$prefix/include" "$prefix/lib/pkgconfig" "$prefix/lib/cmake" "$prefix/share"; then
    return 1
  fi
}

with_b2() {
  copy_template b2-app && cd "$work/b2-app" || return 1
  echo "using clang : 16 : clang++-16 ;" > project-config.jam
  b2 -j"$(nproc)" -q --rpc-parallel="$prefix" || return 1
  runs "$work/b2-app/bin/clang-linux-16/release/cxxstd-20-iso/threading-multi/demo"
}

with_cmake() {
  copy_template cmake-app && cd "$work/cmake-app" || return 1
  cmake -S . -B build -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_CXX_COMPILER=clang++-16 \
    -DCMAKE_BUILD_TYPE=Release || return 1
  cmake --build build -j"$(nproc)" || return 1
  runs build/demo
}

# The recipe of docs/gcc12_coroutines.md: g++ 12 with ASan + UBSan against the installed library.
with_pkg_config() {
  copy_template pkg-config-app && cd "$work/pkg-config-app" || return 1
  g++-12 -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer main.cpp -o demo \
    $(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs rpc_parallel_remote) \
    2> link.log || { cat link.log; return 1; }
  cat link.log
  [ "$(grep -c 'rpc_parallel: built with g++ 12' link.log)" -eq 1 ] ||
    { echo "expected the g++ 12 notice once in the link output"; return 1; }
  mkdir reports
  ASAN_OPTIONS=log_path=$PWD/reports/asan UBSAN_OPTIONS=log_path=$PWD/reports/ubsan runs ./demo ||
    return 1
  if [ -n "$(ls reports)" ]; then cat reports/*; return 1; fi
}

check installed installed
check template_with_b2 with_b2
check template_with_cmake with_cmake
check template_with_pkg_config with_pkg_config
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
