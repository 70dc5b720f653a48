#!/bin/bash
# bench/build.sh - `berth build` against `docker build`, side by side and interleaved:
#   1. small: a 14-instruction Dockerfile FROM the busybox image bb (LABEL, ENV, WORKDIR, two
#      COPYs, three RUNs, ARG, USER, EXPOSE, CMD): a full build (--no-cache), the no-change
#      rebuild (every step from the cache), and a rebuild after a one-line change in a file;
#   2. dl: FROM the ~1.1 GB PyTorch-style dl image, a COPY of ~2000 small .py files (a few MB)
#      and RUN steps that byte-compile and import them (no network): the same three builds.
# docker with its classic builder (DOCKER_BUILDKIT=0), the one berth copies, and with BuildKit
# when this docker has it (buildx, or the BuildKit built into a 20.10 client). Medians and
# ratios go into docs/benchmarks.md between the build markers. Checks after the timings
# (untimed) compare what berth built with docker's and print any difference.
#
#   bench/build.sh [RUNS] [DL_FULL_RUNS]   (default 10 rounds, 3 for the dl full build;
#                                           one warm-up round each)
# Environment: SKIP_BUILD=1 uses build/bin as it is; BUILD_JOBS=N limits the build's jobs.
#
# The peers and the bb and dl images come from ../shared/peers (setup.sh, make-*-image.sh).
# When docker cannot be started, berth is measured alone and the section says so.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PEERS=${PEERS:-$REPO/../shared/peers}
RUNS=${1:-10}
DL_FULL_RUNS=${2:-3}
REG=${REG:-localhost:5000}
PB=${PB:-/var/tmp/peerbench}
BB=$REG/bb:latest
DL=$REG/dl:latest
T=bench-build   # repository of every image built here (berth's and docker's)

log() { printf '[build.sh %s] %s\n' "$(date +%T)" "$*" >&2; }

scripts/install-deps.sh --bench
# setup.sh's podman smoke test can fail (crun and hybrid cgroups) with docker up: only docker counts.
"$PEERS/setup.sh" >/dev/null 2>&1 || log "WARNING: ../shared/peers/setup.sh failed (docker checked next)"
have_docker=1
if ! docker version >/dev/null 2>&1; then
  have_docker=0
  log "WARNING: docker could not be started here: measuring berth alone"
fi
"$PEERS/make-bb-image.sh" >/dev/null
"$PEERS/make-dl-image.sh" >/dev/null
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  [ -f build/build.ninja ] || cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build --target berth berth-monitor berth-init ${BUILD_JOBS:+-j$BUILD_JOBS} >/dev/null
fi

work=$(mktemp -d /var/tmp/berth-buildbench-XXXXXX)
B="$REPO/build/bin/berth --root $work/berth --runroot $work/berth-run --config $work/cfg"
DK=docker                 # the docker client: one that can do both builders when there is one
cache_before="$work/buildkit-cache.before"
: >"$cache_before"
bk_cache_ids() { { $DK system df -v --format '{{range .BuildCache}}{{println .ID}}{{end}}' 2>/dev/null || true; } | sed '/^$/d' | sort; }
# BuildKit's cache records made by this run (not in $cache_before), children before their
# parents: a record with a child left is not pruned, and prune takes one id filter only.
bk_prune_new() {
  { $DK system df -v --format '{{range .BuildCache}}{{.ID}} {{.Parent}}{{println}}{{end}}' 2>/dev/null || true; } |
    python3 -c '
import sys
before = set(open(sys.argv[1]).read().split())
parent = {}
for line in sys.stdin:
    f = line.split()
    if f and f[0] not in before:
        parent[f[0]] = f[1] if len(f) > 1 else ""
def depth(i, seen=()):
    p = parent.get(i, "")
    return 0 if not p or p not in parent or p in seen else 1 + depth(p, seen + (i,))
for i in sorted(parent, key=depth, reverse=True):
    print(i)
' "$cache_before" | while read -r id; do $DK builder prune -af --filter "id=$id" >/dev/null 2>&1 || true; done
}
cleanup() {
  set +e  # clean up all that can be, whatever fails
  $B system reset -f >/dev/null 2>&1 || true
  if [ "$have_docker" = 1 ]; then
    # Every image built here carries the label (the LABEL step is the first after FROM, so
    # the classic builder's intermediate images have it too).
    $DK images -a -q --filter label=berth.bench=build 2>/dev/null | sort -u | xargs -r $DK rmi -f >/dev/null 2>&1 || true
    $DK images --format '{{.Repository}}:{{.Tag}}' "$T" 2>/dev/null | xargs -r $DK rmi -f >/dev/null 2>&1 || true
    bk_prune_new
  fi
  grep -F " $work/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# ---- the contexts --------------------------------------------------------------------------
small=$work/ctx-small
mkdir -p "$small/data"
cat >"$small/Dockerfile" <<EOF
FROM $BB
LABEL berth.bench=build org.example.app=small
ENV APP_HOME=/app APP_ENV=bench
WORKDIR /app
COPY app.sh config.ini ./
COPY data/ ./data/
RUN mkdir -p /app/logs && chmod +x /app/app.sh
RUN echo 'app:x:1000:1000:app:/app:/bin/sh' >> /etc/passwd && echo 'app:x:1000:' >> /etc/group
RUN for i in 1 2 3; do echo "log \$i" > /app/logs/\$i.log; done && chown -R 1000:1000 /app
ARG VERSION=1.0
ENV VERSION=\$VERSION
USER app
EXPOSE 8080
CMD ["/app/app.sh"]
EOF
cat >"$small/app.sh" <<'EOF'
#!/bin/sh
MESSAGE="hello from the small image"
echo "$MESSAGE ($APP_ENV, version $VERSION)"
EOF
printf '[server]\nport = 8080\nworkers = 2\n' >"$small/config.ini"
for i in 1 2 3 4 5; do head -c $((i * 1000)) /dev/urandom | base64 >"$small/data/part$i.txt"; done

dl=$work/ctx-dl
mkdir -p "$dl"
cat >"$dl/Dockerfile" <<EOF
FROM $DL
LABEL berth.bench=build org.example.app=trainer
ENV PYTHONPATH=/workspace/src PYTHONUNBUFFERED=1
WORKDIR /workspace
COPY requirements.txt ./
RUN mkdir -p /workspace/out /workspace/cache && python3 -c 'import sys; print(sys.version)' > /workspace/pyver.txt
COPY src/ ./src/
RUN python3 -m compileall -q -j 0 src
RUN python3 -c 'import pkg00.mod000, pkg17.mod023; print(pkg17.mod023.BUILD_TAG)' > /workspace/out/tag.txt
CMD ["python3", "-m", "pkg00.mod000"]
EOF
printf 'numpy\ntorch\n' >"$dl/requirements.txt"
# ~2000 small modules in 40 packages (a few MB), each a few functions and a class.
python3 - "$dl/src" <<'PY'
import os, sys
root = sys.argv[1]
for p in range(40):
    pkg = os.path.join(root, f"pkg{p:02d}")
    os.makedirs(pkg)
    open(os.path.join(pkg, "__init__.py"), "w").write(f'"""Package {p}."""\n')
    for m in range(50):
        lines = [f'"""Module {m} of package {p}: layers and helpers."""', "import math", ""]
        if (p, m) == (17, 23):
            lines += ["BUILD_TAG = 'initial'", ""]
        for f in range(6):
            lines += [f"def f{f}(x, scale={f + 1}.0):",
                      f'    """Scaled activation number {f} of module {m}."""',
                      f"    y = x * scale + {p * m + f}",
                      "    return math.tanh(y) if y < 10 else y / (1 + abs(y))", ""]
        lines += [f"class Layer{m}:", "    def __init__(self, width=64):",
                  "        self.width = width", f"        self.weights = [0.01 * i for i in range(width)]",
                  "", "    def forward(self, xs):",
                  "        return [f0(x) + w for x, w in zip(xs, self.weights)]", ""]
        if (p, m) == (0, 0):
            lines += ["if __name__ == '__main__':", "    print(sum(Layer0().forward([1.0] * 64)))", ""]
        open(os.path.join(pkg, f"mod{m:03d}.py"), "w").write("\n".join(lines))
PY
dl_files=$(find "$dl/src" -type f | wc -l)
dl_size=$(du -sh "$dl/src" | cut -f1)

# ---- the images in berth; docker's builders ---------------------------------------------------
$B load -q -i "$PB/bb.tar" >/dev/null
$B load -q -i "$PB/dl.tar" >/dev/null

have_bk=0
docker_note="docker was not available: berth alone."
if [ "$have_docker" = 1 ]; then
  bk_cache_ids >"$cache_before"
  probe=$work/ctx-probe; mkdir -p "$probe"
  printf 'FROM %s\nLABEL berth.bench=build\n' "$BB" >"$probe/Dockerfile"
  # A 28.x client without the buildx plugin refuses BuildKit; Debian's 20.10 client has it built in.
  for c in docker /usr/bin/docker; do
    if DOCKER_BUILDKIT=1 "$c" build -q -t "$T/probe:bk" "$probe" >/dev/null 2>&1; then DK=$c; have_bk=1; break; fi
  done
  if ! DOCKER_BUILDKIT=0 $DK build -q -t "$T/probe:classic" "$probe" >/dev/null 2>&1; then
    have_docker=0; have_bk=0
    log "WARNING: docker's classic builder fails here: measuring berth alone"
    docker_note="docker's classic builder failed (\`DOCKER_BUILDKIT=0 $DK build\`): berth alone."
  else
    client=$($DK version -f '{{.Client.Version}}' 2>/dev/null)
    server=$($DK version -f '{{.Server.Version}}' 2>/dev/null)
    docker_note="docker $server (client $client at \`$DK\`): docker-classic is its classic builder (\`DOCKER_BUILDKIT=0\`), the one berth copies;"
    if [ "$have_bk" = 1 ]; then
      docker_note="$docker_note docker-buildkit is BuildKit (\`DOCKER_BUILDKIT=1\`, the default builder of docker 23 and later)."
    else
      docker_note="$docker_note BuildKit is not available to this client (no buildx), so it has no row."
    fi
  fi
  $DK rmi -f "$T/probe:bk" "$T/probe:classic" >/dev/null 2>&1 || true
fi
log "$docker_note"

# ---- timing ------------------------------------------------------------------------------------
# Commands of one table: berth, then docker's builders. $1 = context, $2 = image name, $3 = flags.
cmds() {
  local ctx=$1 name=$2 flags=$3
  echo "berth=$B build $flags -t $T/$name:berth $ctx"
  if [ "$have_docker" = 1 ]; then
    echo "docker-classic=env DOCKER_BUILDKIT=0 $DK build $flags -t $T/$name:classic $ctx"
    [ "$have_bk" = 1 ] && echo "docker-buildkit=env DOCKER_BUILDKIT=1 $DK build $flags -t $T/$name:buildkit $ctx"
  fi
  return 0
}
# --prepare for each tool: shell command $1 with {tool} replaced by the tool's tag.
prepares() {
  echo "--prepare=berth=${1//\{tool\}/berth}"
  if [ "$have_docker" = 1 ]; then
    echo "--prepare=docker-classic=${2//\{tool\}/classic}"
    [ "$have_bk" = 1 ] && echo "--prepare=docker-buildkit=${2//\{tool\}/buildkit}"
  fi
  return 0
}
baseline=berth; [ "$have_docker" = 1 ] && baseline=docker-classic
table() { # table WHAT RUNS CTX NAME FLAGS BERTH_PREPARE DOCKER_PREPARE
  local -a c p
  log "timing $1: $2 rounds"
  shift
  mapfile -t c < <(cmds "$2" "$3" "$4")
  mapfile -t p < <(prepares "$5" "$6")
  python3 bench/interleave.py --runs "$1" --warmup 1 --baseline "$baseline" "${p[@]}" "${c[@]}"
}
# Before a full build (untimed): drop the previous result and its untagged parents, so the
# stores do not grow from round to round, then `sync`: no build pays for the last one's writeback.
full_b="$B rmi -f $T/NAME:{tool} >/dev/null 2>&1; $B image prune -f >/dev/null 2>&1; sync"
full_d="$DK rmi -f $T/NAME:{tool} >/dev/null 2>&1; $DK image prune -f --filter label=berth.bench=build >/dev/null 2>&1; sync"
# A one-line change: the line gets the tool's name and the round, a value no build saw before.
chg_small="sed -i 's/^MESSAGE=.*/MESSAGE=\"changed {tool} {i}\"/' $small/app.sh; sync"
chg_dl="sed -i \"s/^BUILD_TAG = .*/BUILD_TAG = '{tool}-{i}'/\" $dl/src/pkg17/mod023.py; sync"

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
t_small_full=$(table "small full" "$RUNS" "$small" small --no-cache "${full_b//NAME/small}" "${full_d//NAME/small}")
t_small_cached=$(table "small no-change" "$RUNS" "$small" small "" sync sync)
t_small_change=$(table "small one-line change" "$RUNS" "$small" small "" "$chg_small" "$chg_small")
t_dl_full=$(table "dl full" "$DL_FULL_RUNS" "$dl" dl --no-cache "${full_b//NAME/dl}" "${full_d//NAME/dl}")
t_dl_cached=$(table "dl no-change" "$RUNS" "$dl" dl "" sync sync)
t_dl_change=$(table "dl one-line change" "$RUNS" "$dl" dl "" "$chg_dl" "$chg_dl")
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- checks (untimed): what berth built against docker's, and the cache's behaviour ----------
checks=()
check() { checks+=("$1"); log "check: $1"; }
last=$RUNS  # the last round's {i} (one warm-up round: 0..RUNS)
got=$($B run --rm --network none $T/dl:berth cat /workspace/out/tag.txt 2>&1 || true)
[ "$got" = "berth-$last" ] && check "dl one-line change: berth's image has the last change (BUILD_TAG berth-$last)." ||
  check "dl one-line change: berth's image has BUILD_TAG \`$got\`, expected \`berth-$last\` (stale cache?)."
probe_cmd='id -u; pwd; ls -ln /app /app/data /app/logs | sed "s/ [A-Z][a-z][a-z] .* / /"; cat /app/logs/*; /app/app.sh'
fmt='{{.Config.User}} {{json .Config.Cmd}} {{.Config.WorkingDir}} {{json .Config.ExposedPorts}} {{json .Config.Labels}}'
env_fmt='{{json .Config.Env}}'
# Both small images from the same context: app.sh as written, rebuilt (untimed) by berth and
# by docker's classic builder (only the COPY of app.sh and the steps after it run).
sed -i 's/^MESSAGE=.*/MESSAGE="hello from the small image"/' "$small/app.sh"
$B build -t $T/small:berth "$small" >/dev/null 2>&1 || true
[ "$have_docker" = 1 ] && { DOCKER_BUILDKIT=0 $DK build -t $T/small:classic "$small" >/dev/null 2>&1 || true; }
b_out=$($B run --rm --network none $T/small:berth sh -c "$probe_cmd" 2>&1 || true)
b_cfg=$($B inspect -f "$fmt" $T/small:berth 2>&1 || true)
b_env=$($B inspect -f "$env_fmt" $T/small:berth 2>&1 || true)
b_hist=$($B history -q $T/dl:berth 2>/dev/null | wc -l || true)
if [ "$have_docker" = 1 ]; then
  d_out=$($DK run --rm --network none $T/small:classic sh -c "$probe_cmd" 2>&1 || true)
  d_cfg=$($DK inspect -f "$fmt" $T/small:classic 2>&1 || true)
  d_env=$($DK inspect -f "$env_fmt" $T/small:classic 2>&1 || true)
  d_hist=$($DK history -q $T/dl:classic 2>/dev/null | wc -l || true)
  if [ "$b_out" = "$d_out" ]; then
    check "small image: the same files, owners, modes and output in berth's and docker's image."
  else
    check "small image: the container's output (id; pwd; ls -ln of /app; logs; app.sh) differs, diff docker berth: $(diff <(echo "$d_out") <(echo "$b_out") | head -20 | tr '\n' ' ')"
  fi
  [ "$b_cfg" = "$d_cfg" ] && check "small image: the same User, Cmd, WorkingDir, ExposedPorts and Labels." ||
    check "small image config: berth \`$b_cfg\` vs docker \`$d_cfg\`."
  [ "$b_env" = "$d_env" ] && check "small image: the same Env." ||
    check "small image Env: berth \`$b_env\` vs docker \`$d_env\`."
  [ "$b_hist" = "$d_hist" ] && check "dl image: $b_hist history entries in both." ||
    check "dl image: berth's history has $b_hist entries, docker's $d_hist."
fi
# Steps taken from the cache by a one-line-change rebuild of dl: COPY src/ and the two RUNs
# after it must run again; LABEL, ENV, WORKDIR, COPY requirements.txt and the first RUN (5 of
# the 10 steps; FROM is never "Using cache") come from the cache.
sed -i "s/^BUILD_TAG = .*/BUILD_TAG = 'check'/" "$dl/src/pkg17/mod023.py"
n=$($B build -t $T/dl:berth "$dl" 2>&1 | grep -c 'Using cache' || true)
check "a one-line change in src/ then \`berth build\` of dl: $n of 10 steps from the cache (5 expected)."
# The same change with the size and mtime of the file kept (rsync -t, tar x, cp -p can do that).
f=$dl/src/pkg17/mod023.py
touch -r "$f" "$work/stamp"
sed -i "s/^BUILD_TAG = 'check'/BUILD_TAG = 'chekk'/" "$f"
touch -r "$work/stamp" "$f"
$B build -t $T/dl:berth "$dl" >/dev/null 2>&1 || true
got=$($B run --rm --network none $T/dl:berth cat /workspace/out/tag.txt 2>&1 || true)
[ "$got" = chekk ] && check "a same-size change with the mtime put back is seen by berth's cache too." ||
  check "a same-size change with the mtime put back is NOT seen by berth's cache: the image has \`$got\`, the context \`chekk\`."

# ---- the section -------------------------------------------------------------------------------
commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$REPO" diff-index --quiet HEAD -- 2>/dev/null || commit="$commit (with uncommitted changes)"
section="$work/section.md"
{
  echo "<!-- build:begin -->"
  echo "## Build: \`berth build\` against \`docker build\`"
  echo
  echo "$(date -u +%Y-%m-%d), commit $commit, $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')),"
  echo "$(free -g | awk '/^Mem:/{print $2}') GiB, kernel $(uname -r); $RUNS interleaved rounds after one warm-up round ($DL_FULL_RUNS for the dl full build);"
  echo "load average before/after: $load_before / $load_after."
  echo "$docker_note"
  echo "Every tool builds the same context directory and tags its own image. Before each full build (untimed)"
  echo "the tool's previous result and its dangling parents are removed and \`sync\` runs; before each"
  echo "one-line-change build a line of one file gets a value no build saw before. bench/build.sh writes the contexts."
  echo
  echo "### small: 14 instructions FROM bb (LABEL, ENV, WORKDIR, 2 COPY of 7 files, 3 RUN, ARG, USER, EXPOSE, CMD)"
  echo
  echo "Full build, \`--no-cache\`:"
  echo
  echo "$t_small_full"
  echo
  echo "No-change rebuild (every step from the cache):"
  echo
  echo "$t_small_cached"
  echo
  echo "One-line change in app.sh (the first COPY and every step after it run again):"
  echo
  echo "$t_small_change"
  echo
  echo "### dl: FROM the ~1.1 GB dl image, COPY of $dl_files .py files ($dl_size), \`compileall\` and an import in RUN steps"
  echo
  echo "Full build, \`--no-cache\`:"
  echo
  echo "$t_dl_full"
  echo
  echo "No-change rebuild:"
  echo
  echo "$t_dl_cached"
  echo
  echo "One-line change in one of the .py files (COPY src/ and the two RUNs after it run again):"
  echo
  echo "$t_dl_change"
  echo
  echo "Checks after the timings (untimed):"
  echo
  for c in "${checks[@]}"; do echo "- $c"; done
  echo "<!-- build:end -->"
} >"$section"

python3 bench/write_section.py build "$section"
cat "$section"
