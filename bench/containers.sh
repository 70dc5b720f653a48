#!/bin/bash
# bench/containers.sh - `run --rm IMAGE true` with berth, docker, podman and bare crun, side
# by side and interleaved; berth and docker with the default bridge network and with
# --network none; then `python3 -c 'import torch'` in the dl image with berth and docker.
# Medians and ratios go into docs/benchmarks.md between the containers markers.
#
#   bench/containers.sh [RUNS]     (default 20 rounds after 3 warm-up rounds)
#
# The peers and the bb and dl images come from ../shared/peers (setup.sh, make-*-image.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PEERS=${PEERS:-$REPO/../shared/peers}
RUNS=${1:-20}
REG=${REG:-localhost:5000}
PB=${PB:-/var/tmp/peerbench}

scripts/install-deps.sh --bench
# setup.sh ends with a podman smoke test that has failed on this hybrid cgroup layout (exit
# 126); what this bench needs from it (docker, podman, the registry) is in place by then.
"$PEERS/setup.sh" >/dev/null 2>&1 || echo "containers.sh: peers/setup.sh exited $?; going on" >&2
"$PEERS/make-bb-image.sh" >/dev/null
"$PEERS/make-dl-image.sh" >/dev/null
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build >/dev/null

work=$(mktemp -d /var/tmp/berth-bench-XXXXXX)
B="$REPO/build/bin/berth --root $work/berth --runroot $work/berth-run --config $work/cfg"
cleanup() {
  $B system reset -f >/dev/null 2>&1 || true
  grep -F " $work/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The same busybox image everywhere: docker and podman have it from make-bb-image.sh.
$B load -q -i "$PB/bb.tar" >/dev/null
podman image exists "$REG/bb:latest" || podman pull -q --tls-verify=false "$REG/bb:latest" >/dev/null
# Bare crun: a bundle of the same rootfs.
bundle="$work/bundle"
mkdir -p "$bundle/rootfs"
tar -C "$bundle/rootfs" -xf <($B export "$($B create --network none "$REG/bb:latest" true)") 2>/dev/null ||
  cp -a "$PB/bb/rootfs/." "$bundle/rootfs/"
build/bin/berth-runtime spec --bundle "$bundle"
sed -i 's/"terminal": true/"terminal": false/; s/"sh"$/"true"/' "$bundle/config.json"
$B container prune -f >/dev/null 2>&1 || true
state=/run/berth-bench-crun; rm -rf "$state"; mkdir -p "$state"

# crun 1.8 refuses a hybrid cgroup layout with a controller left on cgroup2 ("cgroups in
# hybrid mode not supported"), as on this machine: podman then runs with runc, and the bare
# runtime row is runc's. (Mounting a v1 hugetlb hierarchy would satisfy crun, but changes the
# host for everything after the bench.)
PODMAN_RUNTIME=""
podman run --rm "$REG/bb:latest" true >/dev/null 2>&1 || PODMAN_RUNTIME="--runtime runc"
BARE=crun
crun --root "$state-probe" run --bundle "$bundle" probe >/dev/null 2>&1 || BARE=runc
rm -rf "$state-probe"

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
run_table=$(python3 bench/interleave.py --runs "$RUNS" --warmup 3 --baseline docker \
  "berth=$B run --rm $REG/bb:latest true" \
  "berth-none=$B run --rm --network none $REG/bb:latest true" \
  "docker=docker run --rm $REG/bb:latest true" \
  "docker-none=docker run --rm --network none $REG/bb:latest true" \
  "podman=podman $PODMAN_RUNTIME run --rm $REG/bb:latest true" \
  "$BARE=$BARE --root $state run --bundle $bundle c{i}")

$B pull -q "$REG/dl:latest" >/dev/null
docker pull -q "$REG/dl:latest" >/dev/null
# The floor: the same files as a plain folder, entered with chroot (no namespaces, no cgroup).
dlroot="$work/dlroot"
mkdir -p "$dlroot"
$B export "$($B create --network none "$REG/dl:latest" true)" | tar -C "$dlroot" -xf -
$B container prune -f >/dev/null 2>&1 || true
torch_table=$(python3 bench/interleave.py --runs "$(( RUNS / 4 > 3 ? RUNS / 4 : 3 ))" --warmup 1 --baseline docker \
  "berth=$B run --rm --network none $REG/dl:latest python3 -c 'import torch'" \
  "docker=docker run --rm --network none $REG/dl:latest python3 -c 'import torch'" \
  "chroot=chroot $dlroot python3 -c 'import torch'")
# commit of a container that wrote 200 MB (the issue's goal: faster than docker's 0.78 s).
mk="dd if=/dev/zero of=/big bs=1M count=200"
commit_table=$(python3 bench/interleave.py --runs 3 --warmup 1 --baseline docker \
  --prepare "berth=$B rm -f cw >/dev/null 2>&1; $B rmi -f bench/commit:x >/dev/null 2>&1; $B run --name cw --network none $REG/bb:latest $mk 2>/dev/null; sync" \
  --prepare "docker=docker rm -f cw >/dev/null 2>&1; docker rmi -f bench/commit:x >/dev/null 2>&1; docker run --name cw --network none $REG/bb:latest $mk 2>/dev/null; sync" \
  "berth=$B commit cw bench/commit:x" \
  "docker=docker commit cw bench/commit:x")
docker rm -f cw >/dev/null 2>&1 || true
docker rmi -f bench/commit:x >/dev/null 2>&1 || true
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

section="$work/section.md"
{
  echo "<!-- containers:begin -->"
  echo "## Containers: \`run --rm IMAGE true\`"
  echo
  echo "$(date -u +%Y-%m-%d), $(nproc) cores, kernel $(uname -r), $RUNS interleaved rounds after 3 warm-up rounds;"
  echo "load average before/after: $load_before / $load_after."
  echo "$(docker version -f 'docker {{.Server.Version}}' 2>/dev/null), $(podman --version), crun $(crun --version | head -1 | awk '{print $3}'), $(runc --version | head -1)."
  echo "The busybox image bb (../shared/peers/make-bb-image.sh) in each tool; $BARE (bare) runs a bundle of the same rootfs."
  echo "berth and docker with their default bridge network and with \`--network none\`.${PODMAN_RUNTIME:+ podman with runc: its default crun refuses this hybrid cgroup layout.}"
  echo "Targets (issue 4): berth at least 10x faster than docker (ratio <= 0.10x) and faster than podman."
  echo
  echo "$run_table"
  echo
  echo "### \`run --rm --network none dl python3 -c 'import torch'\`"
  echo
  echo "chroot: the image's files as a plain folder, \`chroot DIR python3 -c 'import torch'\` (the floor)."
  echo
  echo "$torch_table"
  echo
  echo "### \`commit\` of a stopped container that wrote 200 MB (\`dd\` of zeros)"
  echo
  echo "$commit_table"
  echo "<!-- containers:end -->"
} > "$section"

python3 bench/write_section.py containers "$section"
cat "$section"
