#!/bin/bash
# test.sh - install what is needed, build berth, run every test.
#
#   ./test.sh            release build + all tests (unit, priv, integration)
#   ./test.sh --quick    release build + unit tests only
#   BERTH_ASAN=0 ./test.sh   skip the ASan+UBSan pass
#
# Tests that need root (namespaces, mounts, cgroups) skip with a printed reason when run
# as an ordinary user; CI runs as root so they run there.
set -euo pipefail
cd "$(dirname "$0")"

scripts/install-deps.sh

jobs=$(nproc)
labels=""
[ "${1:-}" = "--quick" ] && labels="-L unit"

echo "== release build"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$jobs"

# Prints why each skipped test skipped (ctest only says "Skipped").
skip_reasons() {
  awk '/: Skipped$/ {getline reason; print "   skipped: " reason} /^\[  SKIPPED \]/ {print "   " $0}' \
    "$1/Testing/Temporary/LastTest.log" | sort -u
}

echo "== tests (release)"
(cd build && ctest --output-on-failure --no-tests=error $labels) || { skip_reasons build; exit 1; }
skip_reasons build

if [ "${BERTH_ASAN:-1}" = 1 ] && [ -z "$labels" ]; then
  echo "== ASan+UBSan build"
  cmake --preset asan >/dev/null
  cmake --build build-asan -j "$jobs"
  echo "== tests (ASan+UBSan)"
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
     ctest --output-on-failure --no-tests=error) || { skip_reasons build-asan; exit 1; }
  skip_reasons build-asan
fi
# Fuzz smoke: every libFuzzer target over its corpus for a short while (clang).
if [ "${BERTH_FUZZ_SECONDS:-20}" != 0 ] && [ -z "$labels" ]; then
  echo "== fuzz targets (${BERTH_FUZZ_SECONDS:-20}s each)"
  cmake --preset fuzz >/dev/null
  cmake --build build-fuzz -j "$jobs"
  for f in build-fuzz/bin/*_fuzz; do
    name=$(basename "$f" _fuzz)
    scratch=$(mktemp -d)
    "$f" -max_total_time="${BERTH_FUZZ_SECONDS:-20}" -print_final_stats=0 "$scratch" "fuzz/corpus/$name" \
      >"$scratch.log" 2>&1 || { tail -n 40 "$scratch.log"; rm -rf "$scratch" "$scratch.log"; exit 1; }
    echo "   $name: $(grep -o 'cov: [0-9]*' "$scratch.log" | tail -1), no crash"
    rm -rf "$scratch" "$scratch.log"
  done
fi
echo "== all tests passed"
