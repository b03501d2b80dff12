#!/usr/bin/env bash
# Data plane benchmark (issue 4). Usage: bench/datapath_bench.sh BUILD_DIR [--write-baseline]
#   [datapath_bench options, e.g. --cases=host-gw:5000 --changes=200 --idle=5]
# Runs as root. Makes one network namespace weft-bench-<pid> holding a veth pair up0/up1
# (up0 = 10.250.0.1/16) and lo, runs build/bench/datapath_bench inside it against
# build/src/daemon/weftd, and deletes the namespace (and any process left in it) on exit.
# Nothing is created in the root namespace. Compares with bench/baseline/datapath.txt.
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: $0 BUILD_DIR [--write-baseline] [bench options]" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
shift
here=$(cd "$(dirname "$0")" && pwd)
bench="$build/bench/datapath_bench"
weftd="${WEFTD:-$build/src/daemon/weftd}" # WEFTD=path compares another build
for f in "$bench" "$weftd"; do
  if [ ! -x "$f" ]; then
    echo "$f is missing; build it first: ninja -C $build datapath_bench weftd" >&2
    exit 2
  fi
done

ns="weft-bench-$$"
cleanup() {
  # Processes still in the namespace are ours (the bench, weftd, etcd); stop them by PID.
  local pids
  pids=$(ip netns pids "$ns" 2>/dev/null || true)
  if [ -n "$pids" ]; then
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
  fi
  ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link add up0 type veth peer name up1
ip -n "$ns" addr add 10.250.0.1/16 dev up0
ip -n "$ns" link set up0 up
ip -n "$ns" link set up1 up

mkdir -p "$here/baseline"
ip netns exec "$ns" "$bench" --weftd="$weftd" --netns="$ns" --baseline="$here/baseline/datapath.txt" "$@"
