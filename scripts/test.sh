#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine, as root: install, build, run.
#   1. unit + integration + end-to-end tests (ctest; real etcd, network namespaces, the emulator)
#   2. unit tests again under ASan+UBSan
#   3. clang-format check of the tree
#   4. libFuzzer targets built with clang and run briefly on their corpora
# Each stage prints its result; the script exits non-zero if any stage failed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=$(nproc)
fuzz_seconds=${WEFT_FUZZ_SECONDS:-20}
failed=()

stage() { printf '\n==== %s ====\n' "$*"; }

stage "setup"
scripts/setup.sh || exit 1

stage "build (g++ $(g++ -dumpversion), RelWithDebInfo)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 1
ninja -C build -j"$jobs" || exit 1

stage "tests: unit, integration, end-to-end"
(cd build && ctest --output-on-failure -j1 --timeout 900) || failed+=("ctest")

stage "unit tests under ASan+UBSan"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DWEFT_SANITIZE=ON -DWEFT_UNIT_ONLY=ON \
  >/dev/null || exit 1
if ninja -C build-asan -j"$jobs"; then
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --output-on-failure -L unit -j"$jobs") || failed+=("asan")
else
  failed+=("asan-build")
fi

stage "clang-format"
mapfile -t sources < <(git ls-files -co --exclude-standard -- '*.h' '*.cc' | grep -v '^build')
if clang-format --dry-run --Werror "${sources[@]}"; then
  echo "clang-format: ${#sources[@]} files clean"
else
  failed+=("clang-format")
fi

stage "clang-14: every library (through weftd and vpc-emulator) and the libFuzzer targets, ${fuzz_seconds}s each"
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_FUZZ=ON -DWEFT_UNIT_ONLY=ON \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 >/dev/null || exit 1
fuzz_targets=()
for corpus in "$root"/fuzz/corpus/*/; do fuzz_targets+=("$(basename "$corpus")"); done
if ninja -C build-fuzz -j"$jobs" weftd vpc-emulator "${fuzz_targets[@]}"; then
  for corpus in "$root"/fuzz/corpus/*/; do
    name=$(basename "$corpus")
    bin=$(find build-fuzz -type f -name "$name" -perm -u+x | head -n 1)
    if [ -z "$bin" ]; then
      echo "fuzz: no binary for corpus $name"; failed+=("fuzz-$name"); continue
    fi
    work=$(mktemp -d)
    if "$bin" -max_total_time="$fuzz_seconds" -print_final_stats=0 -artifact_prefix="$work/" \
         "$work" "$corpus" >"$work/log" 2>&1; then
      echo "fuzz $name: ok ($(grep -c . <(ls "$work") ) new inputs)"
    else
      echo "fuzz $name: FAILED"; tail -n 40 "$work/log"; failed+=("fuzz-$name")
    fi
    rm -rf "$work"
  done
else
  failed+=("fuzz-build")
fi

stage "summary"
if ((${#failed[@]} > 0)); then
  echo "failed stages: ${failed[*]}"
  exit 1
fi
echo "all stages passed"
