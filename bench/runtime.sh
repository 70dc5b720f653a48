#!/bin/bash
# bench/runtime.sh - berth-runtime against crun and runc: `run` of the same busybox bundle
# (process `true`), interleaved round-robin, medians and ratios into docs/benchmarks.md.
#
#   bench/runtime.sh [RUNS]      (default 50 rounds after 5 warm-up rounds)
#
# The peers are installed and made to work on this machine by ../shared/peers/setup.sh
# (crun refuses hybrid cgroups with controllers left on cgroup2: it mounts a v1 hugetlb).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PEERS=${PEERS:-$REPO/../shared/peers}
RUNS=${1:-50}

scripts/install-deps.sh --bench
if [ -x "$PEERS/setup.sh" ]; then
  "$PEERS/setup.sh" >/dev/null
else
  echo "bench: $PEERS/setup.sh not found; using crun/runc as installed" >&2
fi
# crun refuses a hybrid layout that leaves controllers on cgroup2. setup.sh means to mount
# them as v1 but tests `[ -s cgroup.controllers ]`, and cgroupfs files have size 0: do it here.
if [ "$(stat -fc %T /sys/fs/cgroup)" = tmpfs ] && [ -f /sys/fs/cgroup/unified/cgroup.controllers ]; then
  for c in $(cat /sys/fs/cgroup/unified/cgroup.controllers); do
    grep -q " /sys/fs/cgroup/$c cgroup " /proc/mounts && continue
    mkdir -p "/sys/fs/cgroup/$c" && mount -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$c" ||
      echo "bench: could not mount cgroup v1 $c (crun will refuse this host)" >&2
  done
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build >/dev/null

work=$(mktemp -d /tmp/berth-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
B="$work/bundle"
mkdir -p "$B/rootfs"/{bin,proc,sys,dev,etc,tmp}
cp /bin/busybox "$B/rootfs/bin/"
ln -s busybox "$B/rootfs/bin/true"; ln -s busybox "$B/rootfs/bin/sh"
build/bin/berth-runtime spec --bundle "$B"
sed -i 's/"terminal": true/"terminal": false/; s/"sh"$/"true"/' "$B/config.json"
grep -q '"true"' "$B/config.json" || { echo "bench: could not set args" >&2; exit 1; }

# Every runtime gets its own state dir on the same filesystem.
state=/run/berth-bench; rm -rf "$state"; mkdir -p "$state"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
table=$(python3 bench/interleave.py --runs "$RUNS" --warmup 5 --baseline crun \
  "berth-runtime=$REPO/build/bin/berth-runtime --root $state/berth run --bundle $B b{i}" \
  "crun=crun --root $state/crun run --bundle $B c{i}" \
  "runc=runc --root $state/runc run --bundle $B r{i}" \
  "unshare=unshare -fpnimu true")
rm -rf "$state"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

section="$work/section.md"
{
  echo "<!-- runtime:begin -->"
  echo "## OCI runtime: \`run\` of a busybox bundle (\`true\`)"
  echo
  echo "$(date -u +%Y-%m-%d), $(nproc) cores, kernel $(uname -r), $RUNS interleaved rounds;"
  echo "load average before/after: $load_before / $load_after (other work on the machine widens the spread)."
  echo "crun $(crun --version | head -1 | awk '{print $3}'), runc $(runc --version | head -1 | awk '{print $3}')."
  echo "Same bundle and config.json (\`berth-runtime spec\`, terminal off) for all three; \`unshare -fpnimu true\`"
  echo "is the floor: namespaces without a rootfs, cgroups or seccomp. Targets (issue 2): at most 1.2x crun, faster than runc."
  echo
  echo "$table"
  echo "<!-- runtime:end -->"
} > "$section"

python3 bench/write_section.py runtime "$section"
cat "$section"
