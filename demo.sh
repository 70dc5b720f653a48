#!/bin/bash
# demo.sh - build berth and run its main job, offline: (1) the workflow of SPEC.md section 1
# against a local registry (Debian's docker-registry on a loopback port, htpasswd auth):
# login, pull, images, run, run with a host directory mounted, commit, tag, push, rmi,
# pull back, save and load, a detached web server with a published port fetched with curl,
# ps, logs, exec, stop, rm, GPUs (the host's, or a fake driver); (2) the OCI runtime through the lifecycle runc's clients drive
# (create, start, state, exec, pause, kill, delete). Root, Debian 12. Stops at the first
# failure and cleans up after itself.
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
  berth rm -f web work >/dev/null 2>&1 || true
  umount "$work/run/netns" 2>/dev/null || true
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

# --- 1. the workflow: a local registry with a password, then docker's commands ------------
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
htpasswd -Bbn demo demo-password > "$work/htpasswd"
printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\nauth:\n  htpasswd:\n    realm: demo\n    path: %s\n' \
  "$work/registry" "$port" "$work/htpasswd" > "$work/registry.yml"
docker-registry serve "$work/registry.yml" > "$work/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && break; sleep 0.1; done
REG=127.0.0.1:$port
echo "berth demo, part 1: the workflow, with a local registry at $REG (Debian's docker-registry, htpasswd)"

# A demo image, pushed to the registry as the starting point (what `docker pull` would find).
mkdir -p "$work/img"/{bin,etc,tmp,www}
cp /bin/busybox "$work/img/bin/"
for a in sh ls cat echo id hostname ps httpd sleep date wc; do ln -s busybox "$work/img/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/img/etc/passwd"
echo 'root:x:0:' > "$work/img/etc/group"
echo 'hello from an image pulled by berth' > "$work/img/etc/motd"
echo '<h1>served by a berth container</h1>' > "$work/img/www/index.html"
tar -C "$work/img" -c . | berth import - "$REG/demo/busybox:1" -c 'CMD ["sh"]' -m 'demo image' >/dev/null

say "berth login -u demo --password-stdin $REG"
echo demo-password | berth login -u demo --password-stdin "$REG"
berth push -q "$REG/demo/busybox:1" >/dev/null
berth rmi "$REG/demo/busybox:1" >/dev/null
bt pull "$REG/demo/busybox:1"
bt images
bt run --rm "$REG/demo/busybox:1" sh -c 'cat /etc/motd; echo "I am $(id -un) in $(hostname)"'
mkdir -p "$work/data" && echo "a dataset on the host" > "$work/data/train.txt"
bt run --name work -v "$work/data:/data" "$REG/demo/busybox:1" sh -c 'wc -l /data/train.txt; echo "model weights" > /model.bin'
bt ps -a
bt commit -m "trained model" -a demo work "$REG/demo/project:v1"
bt rm work
bt tag "$REG/demo/project:v1" "$REG/demo/project:latest"
bt push "$REG/demo/project:v1"
bt rmi "$REG/demo/project:v1" "$REG/demo/project:latest"
bt pull "$REG/demo/project:v1"
bt run --rm "$REG/demo/project:v1" cat /model.bin
# berth build: a Dockerfile on top of the committed image, then the same build again (cached).
mkdir -p "$work/app" && printf 'print("hello from a built image")\n' > "$work/app/train.py"
printf '*.tmp\n' > "$work/app/.dockerignore" && echo scratch > "$work/app/notes.tmp"
cat > "$work/app/Dockerfile" <<DOCKERFILE
FROM $REG/demo/project:v1
ARG EPOCHS=3
ENV EPOCHS=\$EPOCHS
WORKDIR /app
COPY . .
RUN echo "epochs: \$EPOCHS" > /app/config.txt && ls /app
CMD ["cat", "/app/config.txt", "/app/train.py"]
DOCKERFILE
bt build -t myimage:v1 --build-arg EPOCHS=5 "$work/app"
bt build -t myimage:v1 --build-arg EPOCHS=5 "$work/app"
bt run --rm myimage:v1
bt history myimage:v1
bt save -o "$work/project.tar" "$REG/demo/project:v1"
bt rmi "$REG/demo/project:v1"
bt load -i "$work/project.tar"
web=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
bt run -d --name web -p "127.0.0.1:$web:80" "$REG/demo/project:v1" httpd -f -v -p 80 -h /www
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$web/" >/dev/null && break; sleep 0.1; done
run curl -s "http://127.0.0.1:$web/"
bt ps
bt logs web
bt exec web ps
bt stop -t 1 web
bt rm web

# GPUs (SPEC's `run --gpus all -it -v /data:/data -p 8888:8888 IMAGE`): this host's NVIDIA
# driver when it has one, else the fake driver the tests use, found through BERTH_NVIDIA_*.
if [ -e /proc/driver/nvidia/version ]; then
  echo "GPUs: this host's NVIDIA driver (no NVIDIA Container Toolkit needed)"
else
  echo "GPUs: no NVIDIA driver here; tests/fixtures/mk-fake-nvidia-driver.sh makes a fake one with two GPUs"
  tests/fixtures/mk-fake-nvidia-driver.sh "$work/nvidia"
  export BERTH_NVIDIA_DRIVER_ROOT=$work/nvidia/driver BERTH_NVIDIA_DEV_ROOT=$work/nvidia \
    BERTH_NVIDIA_PROC_ROOT=$work/nvidia/proc BERTH_NVIDIA_SYS_ROOT=$work/nvidia/sys BERTH_NVIDIA_RUN_ROOT=$work/nvidia
fi
bt gpu ls
nb=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
bt run --rm --gpus all -v "$work/data:/data" -p "127.0.0.1:$nb:8888" "$REG/demo/project:v1" sh -c \
  'ls /dev | busybox grep nvidia; busybox grep -h -E "Model|UUID" /proc/driver/nvidia/gpus/*/information; echo "NVIDIA_VISIBLE_DEVICES=$NVIDIA_VISIBLE_DEVICES"; ls /data'
bt run --rm --gpus '"device=1"' "$REG/demo/project:v1" sh -c 'ls /dev | busybox grep nvidia'
bt system df

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
