#!/bin/bash
# bench/rootless.sh - berth and podman without root, side by side and interleaved, as one
# ordinary user with a subordinate id range: `run --rm bb true` with each one's default
# network (berth: pasta; podman 4.3: slirp4netns) and with --network none, then a cold pull
# of the 1.1 GB dl image from the local registry. Medians and ratios go into
# docs/benchmarks.md between the rootless markers.
#
#   bench/rootless.sh [RUNS]     (default 20 rounds after 3 warm-up rounds; pulls: 3)
#
# podman runs with its best rootless settings on this machine: native overlay (not its vfs
# default here) and runc (crun refuses the hybrid cgroup layout). The peers and the images
# come from ../shared/peers. The bench user and its /etc/subuid lines are removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PEERS=${PEERS:-$REPO/../shared/peers}
RUNS=${1:-20}
REG=${REG:-localhost:5000}
PB=${PB:-/var/tmp/peerbench}
USER_NAME=berth-bench-rl

scripts/install-deps.sh --bench
# setup.sh ends with a podman+crun smoke test that fails on this hybrid cgroup layout (exit
# 126); what this bench needs from it (podman, runc, the registry) is in place by then.
"$PEERS/setup.sh" >/dev/null 2>&1 || echo "rootless.sh: peers/setup.sh exited $? (its crun smoke test); going on with runc" >&2
"$PEERS/make-bb-image.sh" >/dev/null
"$PEERS/make-dl-image.sh" >/dev/null
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build >/dev/null

work=$(mktemp -d /var/tmp/berth-rlbench-XXXXXX)
tun_mode=$(stat -c %a /dev/net/tun)
userdel "$USER_NAME" 2>/dev/null || true
useradd --system --no-create-home --shell /bin/sh "$USER_NAME"
sed -i "/^$USER_NAME:/d" /etc/subuid /etc/subgid
echo "$USER_NAME:3100000:65536" >> /etc/subuid
echo "$USER_NAME:3100000:65536" >> /etc/subgid
uid=$(id -u "$USER_NAME")
gid=$(id -g "$USER_NAME")
cleanup() {
  pkill -KILL -u "$uid" 2>/dev/null || true
  sleep 0.5
  userdel "$USER_NAME" 2>/dev/null || true
  sed -i "/^$USER_NAME:/d" /etc/subuid /etc/subgid
  chmod "$tun_mode" /dev/net/tun
  rm -rf "$work"
}
trap cleanup EXIT
chmod 666 /dev/net/tun  # pasta and slirp4netns open it as the user (Debian's default mode)
chown "$uid" "$work"
cp "$PB/bb.tar" "$work/bb.tar" && chmod 644 "$work/bb.tar"

AS="setpriv --reuid $uid --regid $gid --clear-groups env -i HOME=$work/home PATH=/usr/sbin:/usr/bin:/sbin:/bin XDG_RUNTIME_DIR=$work/xdg"
mkdir -p "$work/home" "$work/xdg" && chown "$uid" "$work/home" "$work/xdg" && chmod 700 "$work/xdg"
B="$AS $REPO/build/bin/berth --root $work/berth --runroot $work/berth-run --config $work/cfg"
P="$AS podman --storage-driver overlay --runtime runc --cgroup-manager cgroupfs"
$B load -q -i "$work/bb.tar" >/dev/null
$P load -q -i "$work/bb.tar" >/dev/null
# The namespaces each keeps (berth's pause process, podman's) exist before the first round.
$B run --rm --network none "$REG/bb:latest" true
$P run --rm --network none "$REG/bb:latest" true

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
run_table=$(python3 bench/interleave.py --runs "$RUNS" --warmup 3 --baseline podman \
  "berth=$B run --rm $REG/bb:latest true" \
  "berth-none=$B run --rm --network none $REG/bb:latest true" \
  "podman=$P run --rm $REG/bb:latest true" \
  "podman-none=$P run --rm --network none $REG/bb:latest true")
# Cold pulls: each store emptied of the image (and its layers) and synced, untimed.
pull_table=$(python3 bench/interleave.py --runs 3 --warmup 0 --baseline podman \
  --prepare "berth=$B rmi -f $REG/dl:latest >/dev/null 2>&1; $B image prune -af >/dev/null 2>&1; sync" \
  --prepare "podman=$P rmi -f $REG/dl:latest >/dev/null 2>&1; sync" \
  "berth=$B pull -q $REG/dl:latest" \
  "podman=$P pull -q --tls-verify=false $REG/dl:latest")
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

section="$work/section.md"
{
  echo "<!-- rootless:begin -->"
  echo "## Without root: \`run --rm IMAGE true\` and \`pull\`"
  echo
  echo "$(date -u +%Y-%m-%d), $(nproc) cores, kernel $(uname -r), $RUNS interleaved rounds after 3 warm-up rounds"
  echo "(pulls: 3 rounds); load average before/after: $load_before / $load_after."
  echo "One ordinary user with a 65536-id range in /etc/subuid; $(podman --version) with native overlay,"
  echo "runc and cgroupfs (its best rootless settings here: its default vfs driver is slower and crun"
  echo "refuses the hybrid cgroup layout); pasta from $(dpkg-query -W -f='passt ${Version}' passt) for berth's default network,"
  echo "slirp4netns for podman's. Neither gets a cgroup (no v2 delegation on this hybrid machine)."
  echo "Target (issue 7): faster than rootless podman."
  echo
  echo "$run_table"
  echo
  echo "### Cold \`pull\` of the 1.1 GB, 5-layer dl image from $REG"
  echo
  echo "$pull_table"
  echo "<!-- rootless:end -->"
} > "$section"

python3 bench/write_section.py rootless "$section"
cat "$section"
