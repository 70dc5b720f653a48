#!/bin/bash
# demo.sh - build berth and show its main job so far: berth-runtime running an OCI bundle
# made from Debian's busybox-static, isolated like a docker container, through the whole
# lifecycle (create, start, state, exec, pause, kill, delete). Root, Debian 12.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build >/dev/null
RT="$PWD/build/bin/berth-runtime"

work=$(mktemp -d /tmp/berth-demo-XXXXXX)
root="$work/state"
cleanup() {
  "$RT" --root "$root" delete --force demo-sleeper >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; }

# A bundle: a rootfs with busybox and the probe, and `berth-runtime spec`'s config.json.
mkdir -p "$work/bundle/rootfs"/{bin,proc,sys,dev,etc,tmp}
cp /bin/busybox "$work/bundle/rootfs/bin/"
for a in sh ps ls cat hostname id ip mount grep sleep head; do ln -s busybox "$work/bundle/rootfs/bin/$a"; done
cp build/tests/berth-probe "$work/bundle/rootfs/bin/probe" 2>/dev/null || true
"$RT" spec --bundle "$work/bundle"
cfg="$work/bundle/config.json"
sed -i 's/"terminal": true/"terminal": false/' "$cfg"
python3 - "$cfg" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["args"] = ["sh", "-c",
  "echo \"hostname: $(hostname)\"; echo \"pid of this shell: $$\"; echo processes:; ps;"
  " echo network:; ip -o link; echo identity: $(id); grep -E 'CapEff|NoNewPrivs' /proc/self/status;"
  " echo 'write to /: '; (echo x > /x) 2>&1 | head -1"]
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY

echo "berth demo: an isolated container from an OCI bundle ($work/bundle)"
run "$RT" --root "$root" run --bundle "$work/bundle" demo-run
echo "(exit status: $?)"

# The lifecycle runc clients use: create, start, state, exec, pause, resume, kill, delete.
python3 - "$cfg" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["process"]["args"] = ["sleep", "300"]
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
run "$RT" --root "$root" create --bundle "$work/bundle" demo-sleeper
run "$RT" --root "$root" list
run "$RT" --root "$root" start demo-sleeper
run "$RT" --root "$root" state demo-sleeper
run "$RT" --root "$root" exec demo-sleeper ps
run "$RT" --root "$root" pause demo-sleeper
run "$RT" --root "$root" list
run "$RT" --root "$root" resume demo-sleeper
run "$RT" --root "$root" kill demo-sleeper KILL
sleep 0.2
run "$RT" --root "$root" delete demo-sleeper
say "$RT --root $root run --bundle /nonexistent oops   # a wrong input"
"$RT" --root "$root" run --bundle /nonexistent oops || echo "(exit status: $?)"
echo
echo "Done. Speed against crun and runc: bench/runtime.sh (results in docs/benchmarks.md)."
