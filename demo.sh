#!/bin/bash
# demo.sh - build berth and show its main job so far, offline: (1) the image workflow
# against a local registry (Debian's docker-registry on a loopback port): import a busybox
# image, tag, push, remove, pull it back, inspect, save, load, and run a container on the
# pulled image's layers with berth-runtime; (2) the OCI runtime through the lifecycle runc's
# clients drive (create, start, state, exec, pause, kill, delete). Root, Debian 12.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build >/dev/null
RT="$PWD/build/bin/berth-runtime"
BERTH_BIN="$PWD/build/bin/berth"

work=$(mktemp -d /tmp/berth-demo-XXXXXX)
root="$work/state"
registry_pid=""
cleanup() {
  "$RT" --root "$root" delete --force demo-sleeper >/dev/null 2>&1 || true
  "$RT" --root "$root" delete --force demo-image >/dev/null 2>&1 || true
  umount "$work/merged" 2>/dev/null || true
  if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null || true; wait "$registry_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; }
# berth with a private store, run root and client config: nothing of the host's is touched.
berth() { "$BERTH_BIN" --root "$work/store" --runroot "$work/run" --config "$work/docker-config" "$@"; }
bt() { say "berth $*"; berth "$@"; }

# --- 1. images: a local registry, then docker's workflow -------------------------------
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
  "$work/registry" "$port" > "$work/registry.yml"
docker-registry serve "$work/registry.yml" > "$work/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
REG=127.0.0.1:$port
echo "berth demo, part 1: images, with a local registry at $REG (Debian's docker-registry)"

mkdir -p "$work/img"/{bin,etc,tmp}
cp /bin/busybox "$work/img/bin/"
for a in sh ls cat echo id hostname ps; do ln -s busybox "$work/img/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/img/etc/passwd"
echo 'hello from an image pulled by berth' > "$work/img/etc/motd"
say "tar -C rootfs -c . | berth import - demo/busybox:1 -c 'CMD [\"sh\"]' -m 'demo image'"
tar -C "$work/img" -c . | berth import - demo/busybox:1 -c 'CMD ["sh"]' -m 'demo image'
bt images
bt tag demo/busybox:1 "$REG/demo/busybox:1"
bt push "$REG/demo/busybox:1"
bt rmi demo/busybox:1 "$REG/demo/busybox:1"
bt pull "$REG/demo/busybox:1"
bt image inspect -f 'id={{.Id}} cmd={{.Config.Cmd}} layers={{.RootFS.Layers}}' "$REG/demo/busybox:1"
bt history "$REG/demo/busybox:1"
bt save -o "$work/busybox.tar" "$REG/demo/busybox:1"
bt rmi "$REG/demo/busybox:1"
bt load -i "$work/busybox.tar"
bt images --digests
bt system df

# A container from the pulled image: its layers as an overlay (berth run will do this
# itself with the containers issue), run by berth-runtime.
lower=$(berth image inspect -f '{{.GraphDriver.Data.UpperDir}}' "$REG/demo/busybox:1")
mkdir -p "$work/merged" "$work/upper" "$work/overlay-work" "$work/ibundle"
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$work/upper,workdir=$work/overlay-work" "$work/merged"
"$RT" spec --bundle "$work/ibundle"
python3 - "$work/ibundle/config.json" "$work/merged" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["root"] = {"path": sys.argv[2], "readonly": False}
c["process"]["terminal"] = False
c["process"]["args"] = ["sh", "-c", 'cat /etc/motd; echo "I am $(id -un) in $(hostname)"']
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
run "$RT" --root "$root" run --bundle "$work/ibundle" demo-image
umount "$work/merged"

# --- 2. the OCI runtime -----------------------------------------------------------------
echo
echo "berth demo, part 2: the OCI runtime"

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
