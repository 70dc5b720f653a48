#!/bin/bash
# bench/images.sh - berth's image side against docker and podman, side by side, interleaved:
# a cold `pull` of the ~1.1 GB, 5-layer dl image from the local registry (localhost:5000),
# then (when berth has them) `save` and `load` of the same image. Medians and ratios go into
# docs/benchmarks.md between the images markers; berth's peak RSS during the pull too.
#
#   bench/images.sh [RUNS]      (default 3 rounds after 1 warm-up round)
#
# The peers, the registry and the image come from ../shared/peers (setup.sh,
# make-dl-image.sh). Every pull is cold: each tool's store is emptied (untimed) before it.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PEERS=${PEERS:-$REPO/../shared/peers}
RUNS=${1:-3}
REG=${REG:-localhost:5000}
IMG=$REG/dl:latest

scripts/install-deps.sh --bench
"$PEERS/setup.sh" >/dev/null
"$PEERS/make-dl-image.sh" >/dev/null
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build >/dev/null

work=$(mktemp -d /var/tmp/berth-bench-XXXXXX)   # on disk, like the stores it compares with
# podman leaves overlay mounts under its root: unmount whatever is under $work first.
cleanup() {
  grep -F " $work/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
B="$REPO/build/bin/berth --root $work/berth --runroot $work/berth-run --config $work/cfg"
P="podman --root $work/podman --runroot $work/podman-run --storage-driver overlay"

# Before every timed run (untimed): `sync`, so that no tool pays for the writeback of the
# gigabytes the previous one left dirty in the page cache (that, not the tool, decided the
# times and doubled the spread in runs without it).
S="; sync"

# docker must not find any of the image's layers: its build cache and intermediate images
# share them. Drop the image (and with it its untagged parents) before each docker pull.
docker_clean="docker rmi -f $IMG >/dev/null 2>&1 || true; docker image prune -f >/dev/null"

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
pull_table=$(python3 bench/interleave.py --runs "$RUNS" --warmup 1 --baseline docker \
  --prepare "berth=rm -rf $work/berth$S" \
  --prepare "docker=$docker_clean$S" \
  --prepare "podman=$P rmi -af >/dev/null 2>&1 || true$S" \
  "berth=$B pull -q $IMG" \
  "docker=docker pull -q $IMG" \
  "podman=$P pull -q --tls-verify=false $IMG")

# Peak RSS of one more cold berth pull.
rm -rf "$work/berth"
rss_kb=$(python3 - $B pull -q "$IMG" <<'PY'
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PY
)
size=$(du -sh "$work/berth" | cut -f1)

save_table=""
if $B save --help >/dev/null 2>&1; then
  docker pull -q "$IMG" >/dev/null
  save_table=$(python3 bench/interleave.py --runs "$RUNS" --warmup 1 --baseline docker \
    --prepare "berth=rm -f $work/berth-save.tar$S" \
    --prepare "docker=rm -f $work/docker-save.tar$S" \
    --prepare "podman=rm -f $work/podman-save.tar$S" \
    "berth=$B save -o $work/berth-save.tar $IMG" \
    "docker=docker save -o $work/docker-save.tar $IMG" \
    "podman=$P save -o $work/podman-save.tar $IMG")
  load_table=$(python3 bench/interleave.py --runs "$RUNS" --warmup 1 --baseline docker \
    --prepare "berth=rm -rf $work/berth-load$S" \
    --prepare "docker=$docker_clean$S" \
    --prepare "podman=$P rmi -af >/dev/null 2>&1 || true$S" \
    "berth=${B/--root $work\/berth /--root $work/berth-load } load -q -i $work/docker-save.tar" \
    "docker=docker load -q -i $work/docker-save.tar" \
    "podman=$P load -q -i $work/docker-save.tar")
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

section="$work/section.md"
{
  echo "<!-- images:begin -->"
  echo "## Images: cold \`pull\` of the dl image (~1.1 GB, 5 layers) from a local registry"
  echo
  echo "$(date -u +%Y-%m-%d), $(nproc) cores, kernel $(uname -r), $RUNS interleaved rounds after one warm-up;"
  echo "load average before/after: $load_before / $load_after."
  echo "$(docker version -f 'docker {{.Server.Version}}' 2>/dev/null), $(podman --version)."
  echo "Every pull starts from an empty store, emptied and then \`sync\`ed (untimed) before each run. Target (issue 3):"
  echo "berth at least 2x faster than docker (ratio <= 0.50x)."
  echo
  echo "$pull_table"
  echo
  echo "berth's peak RSS during a cold pull: $((rss_kb / 1024)) MiB. Store size after the pull: $size"
  echo "(unpacked layers plus the compressed layer blobs, kept for push and save)."
  if [ -n "$save_table" ]; then
    echo
    echo "### \`save\` of the dl image to a file, and \`load\` of docker's archive into an empty store"
    echo
    echo "$save_table"
    echo
    echo "$load_table"
  fi
  echo "<!-- images:end -->"
} > "$section"

python3 bench/write_section.py images "$section"
cat "$section"
