#!/bin/bash
# bench/gpus.sh - the start overhead of GPU injection: `run --rm --network none bb true` with
# and without `--gpus all` (and with a CDI `--device nvidia.com/gpu=all`), interleaved, against
# the fake driver of tests/fixtures/mk-fake-nvidia-driver.sh (two GPUs, real char nodes,
# libraries and ld.so.cache). The NVIDIA toolkit is not installed on this machine, so there is
# no docker/podman GPU run to compare with; GPU.md records its hook at hundreds of ms to
# seconds per start. Medians go into docs/benchmarks.md between the gpus markers.
#
#   bench/gpus.sh [RUNS]     (default 20 rounds after 3 warm-up rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
RUNS=${1:-20}
IMG=bench/bb:latest

scripts/install-deps.sh --bench
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build >/dev/null

work=$(mktemp -d /var/tmp/berth-gpubench-XXXXXX)
B="$REPO/build/bin/berth --root $work/berth --runroot $work/berth-run --config $work/cfg"
cleanup() {
  $B system reset -f >/dev/null 2>&1 || true
  grep -F " $work/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

tests/fixtures/mk-fake-nvidia-driver.sh "$work/nv" 550.54.15
export BERTH_NVIDIA_DRIVER_ROOT=$work/nv/driver BERTH_NVIDIA_DEV_ROOT=$work/nv \
  BERTH_NVIDIA_PROC_ROOT=$work/nv/proc BERTH_NVIDIA_SYS_ROOT=$work/nv/sys BERTH_NVIDIA_RUN_ROOT=$work/nv
# A busybox image made here (Debian's busybox-static): no peer or registry needed.
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc"
cp /bin/busybox "$work/rootfs/bin/busybox"
for a in sh true ls cat; do ln -s busybox "$work/rootfs/bin/$a"; done
echo "root:x:0:0:root:/root:/bin/sh" >"$work/rootfs/etc/passwd"
echo "root:x:0:" >"$work/rootfs/etc/group"
tar -C "$work/rootfs" -c . | $B import - $IMG >/dev/null
$B gpu cdi generate -o "$work/cdi/nvidia.yaml" 2>/dev/null

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
table=$(python3 bench/interleave.py --runs "$RUNS" --warmup 3 --baseline plain \
  "plain=$B run --rm --network none $IMG true" \
  "gpus-all=$B run --rm --network none --gpus all $IMG true" \
  "gpus-utility=$B run --rm --network none --gpus all -e NVIDIA_DRIVER_CAPABILITIES=utility $IMG true" \
  "cdi-all=$B --cdi-spec-dir $work/cdi run --rm --network none --device nvidia.com/gpu=all $IMG true")
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

section="$work/section.md"
{
  echo "<!-- gpus:begin -->"
  echo "## GPUs: start overhead of \`--gpus\` (fake driver)"
  echo
  echo "$(date -u +%Y-%m-%d), $(nproc) cores, kernel $(uname -r), $RUNS interleaved rounds after 3 warm-up rounds;"
  echo "load average before/after: $load_before / $load_after."
  echo "\`run --rm --network none bb true\` with berth, against tests/fixtures/mk-fake-nvidia-driver.sh (two GPUs)."
  echo "Target (issue 5): under 10 ms over the same container without GPUs. No NVIDIA toolkit here to compare with."
  echo
  echo "$table"
  echo "<!-- gpus:end -->"
} > "$section"

python3 bench/write_section.py gpus "$section"
cat "$section"
