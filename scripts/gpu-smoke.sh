#!/bin/bash
# gpu-smoke.sh - berth's GPU support against a real NVIDIA GPU, with no NVIDIA Container
# Toolkit installed (docs/gpus.md). Run it as root on a machine with an NVIDIA driver:
#
#   scripts/gpu-smoke.sh [BUILD_DIR]        (default: build; builds nothing itself)
#
# No network is needed: the test image is an empty rootfs (merged-/usr symlinks) that gets
# the host's /usr (and /opt, where PyTorch often lives) bind-mounted read-only, so the host's
# Python and PyTorch run inside. SMOKE_BINDS adds more "-v" arguments (e.g. a conda env).
# Prints an inventory, a table of checks and the start overhead of --gpus; exits non-zero
# when a check fails. It never changes GPU settings (no MIG, persistence or clock changes).
#
# SMOKE_FAKE=DIR runs the same checks against the fake driver of
# tests/fixtures/mk-fake-nvidia-driver.sh in DIR (ctest's gpu_smoke_fake, so the script itself
# is tested where there is no GPU): the host's nvidia-smi is the fake one, the image is a
# merged-/usr busybox instead of the host's /usr, and the PyTorch check is reported as skipped.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
berth_bin=$(realpath "$build/bin/berth")
[ -x "$berth_bin" ] || { echo "gpu-smoke: $berth_bin missing: build first" >&2; exit 2; }
fake=${SMOKE_FAKE:-}
# Under ctest (SMOKE_FAKE) a missing requirement is a skip, told with its reason (exit 77).
need() { echo "gpu-smoke: $1" >&2; [ -n "$fake" ] && exit 77; exit 2; }
[ "$(id -u)" = 0 ] || need "run as root"
dev_root=/ proc_root=/proc
nvidia_smi() { nvidia-smi "$@"; }
if [ -n "$fake" ]; then
  fake=$(realpath "$fake")
  [ -x "$fake/driver/usr/bin/nvidia-smi" ] || { echo "gpu-smoke: $fake is no fake driver" >&2; exit 2; }
  ldd /bin/busybox >/dev/null 2>&1 && need "/bin/busybox is not static (Debian's busybox-static)"
  [ -x /bin/busybox ] || need "no /bin/busybox (Debian's busybox-static)"
  export BERTH_NVIDIA_DRIVER_ROOT=$fake/driver BERTH_NVIDIA_DEV_ROOT=$fake \
    BERTH_NVIDIA_PROC_ROOT=$fake/proc BERTH_NVIDIA_SYS_ROOT=$fake/sys BERTH_NVIDIA_RUN_ROOT=$fake
  dev_root=$fake proc_root=$fake/proc
  nvidia_smi() { FAKE_NVIDIA_PROC=$fake/proc "$fake/driver/usr/bin/nvidia-smi" "$@"; }
fi

tmp=$(mktemp -d /tmp/berth-gpu-smoke.XXXXXX)
B=("$berth_bin" --root "$tmp/root" --runroot "$tmp/run" --config "$tmp/config")
cleanup() {
  for id in $("${B[@]}" ps -aq 2>/dev/null); do "${B[@]}" rm -f "$id" >/dev/null 2>&1; done
  "${B[@]}" system reset -f >/dev/null 2>&1
  umount -R "$tmp/run" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "== inventory${fake:+ (fake driver in $fake)}"
ls -l "${dev_root%/}"/dev/nvidia* 2>&1 | sed 's/^/   /'
sed 's/^/   /' "$proc_root/driver/nvidia/version" 2>&1
grep -E 'nvidia' "$proc_root/devices" | sed 's/^/   /'
[ -d /usr/local/nvidia ] && echo "   /usr/local/nvidia exists"
[ -z "$fake" ] && ldconfig -p | grep -E 'libcuda.so|libnvidia-ml.so' | sed 's/^/   /'
echo "   persistence mode: $(nvidia_smi --query-gpu=persistence_mode --format=csv,noheader 2>&1 | tr '\n' ' ')"
echo "   cgroup: $(stat -fc %T /sys/fs/cgroup)"
command -v dpkg >/dev/null && dpkg -l 2>/dev/null | grep -E 'nvidia-container' | sed 's/^/   toolkit package: /'
host_list=$(nvidia_smi -L 2>&1)
echo "$host_list" | sed 's/^/   host: /'
uuid0=$(echo "$host_list" | sed -n '1s/.*(UUID: \(GPU-[^)]*\)).*/\1/p')

echo "== berth"
"${B[@]}" gpu ls || exit 1
"${B[@]}" info | sed -n '/NVIDIA/,$p'

# The image: an empty rootfs with merged-/usr links; the host's /usr comes in read-only
# (with a fake driver: busybox in the image's own /usr/bin instead).
mkdir -p "$tmp/rootfs"/{etc,tmp,proc,sys,dev,usr,opt}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$tmp/rootfs/$d"; done
echo "root:x:0:0:root:/root:/bin/sh" >"$tmp/rootfs/etc/passwd"
echo "root:x:0:" >"$tmp/rootfs/etc/group"
binds=()
if [ -n "$fake" ]; then
  mkdir -p "$tmp/rootfs/usr/bin"
  cp /bin/busybox "$tmp/rootfs/usr/bin/busybox"
  for a in sh test ls grep head echo true sleep; do ln -s busybox "$tmp/rootfs/usr/bin/$a"; done
else
  binds=(-v /usr:/usr:ro)
  [ -d /opt ] && binds+=(-v /opt:/opt:ro)
fi
tar -C "$tmp/rootfs" -c . | "${B[@]}" import - smoke:latest >/dev/null || exit 1
# shellcheck disable=SC2206
binds+=(${SMOKE_BINDS:-})
run() { "${B[@]}" run --rm --network none "${binds[@]}" "$@"; }

fails=0
check() {  # check NAME EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then printf '   %-44s ok\n' "$1"
  else printf '   %-44s FAILED\n      want: %s\n      got:  %s\n' "$1" "$2" "$3"; fails=$((fails + 1)); fi
}

echo "== checks"
check "--gpus all: nvidia-smi -L as on the host" "$host_list" "$(run --gpus all smoke nvidia-smi -L 2>&1)"
check "--gpus '\"device=0\"'" "$(echo "$host_list" | head -1)" \
  "$(run --gpus '"device=0"' smoke nvidia-smi -L 2>&1 | head -1)"
check "--gpus device=$uuid0" "$uuid0" \
  "$(run --gpus "device=$uuid0" smoke nvidia-smi --query-gpu=uuid --format=csv,noheader 2>&1)"
"${B[@]}" gpu cdi generate -o "$tmp/cdi/nvidia.yaml" 2>/dev/null
cdi() { "${B[@]}" --cdi-spec-dir "$tmp/cdi" run --rm --network none "${binds[@]}" "$@"; }
check "--device nvidia.com/gpu=0: GPU 0's node only" "nvidia0" \
  "$(cdi --device nvidia.com/gpu=0 smoke sh -c 'ls /dev | grep "^nvidia[0-9]"' 2>&1 | tr '\n' ' ' | sed 's/ $//')"
# A CDI spec is for any engine: it brings no filtered /proc/driver/nvidia, so NVML inside
# reads the host's procfs (the fake driver has none there).
if [ -z "$fake" ]; then
  check "--device nvidia.com/gpu=0 (berth gpu cdi generate)" "$(echo "$host_list" | head -1)" \
    "$(cdi --device nvidia.com/gpu=0 smoke nvidia-smi -L 2>&1 | head -1)"
fi
check "NVIDIA_DRIVER_CAPABILITIES=utility: no /dev/nvidia-uvm" "absent" \
  "$(run --gpus all -e NVIDIA_DRIVER_CAPABILITIES=utility smoke sh -c 'test -e /dev/nvidia-uvm && echo present || echo absent')"
check "--user 1000:1000 runs nvidia-smi" "$(echo "$host_list" | head -1)" \
  "$(run --gpus all --user 1000:1000 smoke nvidia-smi -L 2>&1 | head -1)"
check "image env alone grants nothing" "0" \
  "$(run -e NVIDIA_VISIBLE_DEVICES=all smoke sh -c 'ls /dev | grep -c "^nvidia[0-9]"')"
if [ -n "$fake" ]; then
  printf '   %-44s skipped (fake driver: no CUDA)\n' "torch: is_available, 4096^2 matmul"
else
torch=$(run --gpus all --ipc host smoke python3 -c '
import torch
assert torch.cuda.is_available()
a = torch.randn(4096, 4096, device="cuda")
b = a @ a
torch.cuda.synchronize()
print("ok", torch.cuda.device_count(), torch.cuda.get_device_capability(), float(b.norm()) > 0)' 2>&1 | tail -1)
check "torch: is_available, 4096^2 matmul" "ok" "${torch%% *}"
echo "      torch said: $torch"
fi
if [ -z "$fake" ] && command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
  "${B[@]}" run -d --name reload --gpus all "${binds[@]}" smoke sleep 60 >/dev/null
  systemctl daemon-reload
  check "nvidia-smi after systemctl daemon-reload" "$(echo "$host_list" | head -1)" \
    "$("${B[@]}" exec reload nvidia-smi -L 2>&1 | head -1)"
  "${B[@]}" rm -f reload >/dev/null
fi

echo "== start overhead (20 runs each, interleaved; median ms)"
for i in $(seq 20); do
  for mode in plain gpus; do
    flags=(); [ $mode = gpus ] && flags=(--gpus all)
    s=$(date +%s%N); run "${flags[@]}" smoke true >/dev/null 2>&1; e=$(date +%s%N)
    echo "$mode $(( (e - s) / 1000 ))" >>"$tmp/times"
  done
done
median() { grep "^$1 " "$tmp/times" | awk '{print $2}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]/1000}'; }
p=$(median plain); g=$(median gpus)
echo "   run --rm true: ${p} ms; with --gpus all: ${g} ms; overhead $(awk -v a="$g" -v b="$p" 'BEGIN {print a - b}') ms"

[ "$fails" = 0 ] && echo "== all GPU checks passed" || { echo "== $fails GPU checks FAILED"; exit 1; }
