#!/bin/bash
# install-deps.sh - install every Debian 12 package berth needs to build, test and benchmark.
# Idempotent: packages already installed are skipped, so a second run costs ~0.1 s.
# Usage: scripts/install-deps.sh [--bench]   (--bench adds the peers measured in bench/)
set -euo pipefail

BUILD="build-essential cmake ninja-build pkg-config git
  libseccomp-dev libcap-dev nlohmann-json3-dev libcli11-dev libfmt-dev
  libsqlite3-dev libcurl4-openssl-dev libarchive-dev libisal-dev libzstd-dev libssl-dev
  libmnl-dev libnftables-dev libyaml-cpp-dev"
TEST="libgtest-dev libgmock-dev googletest clang libclang-rt-14-dev clang-format clang-tidy
  busybox-static iproute2 procps util-linux uidmap passt umoci
  podman crun runc containerd slurm-wlm slurm-wlm-basic-plugins munge jq python3
  docker-registry skopeo apache2-utils openssl curl tar gzip xvfb xauth"
# slirp4netns: rootless podman's network in bench/rootless.sh (berth uses passt's pasta).
BENCH="hyperfine python3 isal slirp4netns"  # the peers themselves: ../shared/peers/setup.sh

want="$BUILD $TEST"
[ "${1:-}" = "--bench" ] && want="$want $BENCH"

missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  [ "$(id -u)" = 0 ] || { echo "install-deps: need root to install:$missing" >&2; exit 1; }
  echo "install-deps: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
