#!/usr/bin/env bash
# Data plane benchmark (issue 4). Usage: bench/datapath_bench.sh BUILD_DIR [--write-baseline]
#   [--runs=N] [datapath_bench options, e.g. --cases=host-gw:5000 --changes=200 --idle=5]
# --runs=N runs the whole bench N times and ends with each targeted figure's spread over the runs
# and how many of them met its target (timings move with the machine's state).
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
runs=1
write_baseline=false
args=()
for a in "$@"; do
  case "$a" in
  --runs=*) runs=${a#--runs=} ;;
  *)
    [ "$a" = "--write-baseline" ] && write_baseline=true
    args+=("$a")
    ;;
  esac
done
if ! [[ "$runs" =~ ^[1-9][0-9]{0,2}$ ]]; then
  echo "--runs=$runs: want a whole number from 1 to 999" >&2
  exit 2
fi
if [ "$runs" -gt 1 ] && $write_baseline; then
  echo "--write-baseline takes one run; drop --runs=$runs" >&2
  exit 2
fi
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
outputs=""
cleanup() {
  if [ -n "$outputs" ]; then
    rm -rf "$outputs"
  fi
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
if [ "$runs" -eq 1 ]; then
  ip netns exec "$ns" "$bench" --weftd="$weftd" --netns="$ns" \
    --baseline="$here/baseline/datapath.txt" "${args[@]}"
  exit 0
fi

outputs=$(mktemp -d /tmp/weft-bench-runs.XXXXXX) # each run's output; removed on exit
for i in $(seq 1 "$runs"); do
  echo "== run $i of $runs"
  ip netns exec "$ns" "$bench" --weftd="$weftd" --netns="$ns" \
    --baseline="$here/baseline/datapath.txt" "${args[@]}" | tee "$outputs/run-$i.txt"
done
# A figure line: name value [target (<= N, or ~ 0)] [baseline delta].
echo
echo "over $runs runs (each value above is one run's; targets from issue 4):"
printf '%-34s %8s %8s %8s %8s %8s\n' figure min median max target within
awk '$1 ~ /^[a-z-]+\.[0-9]+\.[a-z0-9_]+$/ && $2 ~ /^[0-9.]+$/ && ($3 == "<=" || $3 == "~") {
       print $1, $2, $3, $4 }' "$outputs"/run-*.txt |
  sort -k1,1 -k2,2g |
  awk 'function flush() {
         if (key == "") return
         mid = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
         within = "-"
         if (op == "<=") { k = 0; for (i = 1; i <= n; i++) if (v[i] <= t + 0) k++; within = k "/" n }
         printf "%-34s %8.2f %8.2f %8.2f %8s %8s\n", key, v[1], mid, v[n], op " " t, within
       }
       $1 != key { flush(); key = $1; n = 0; op = $3; t = $4 }
       { v[++n] = $2 }
       END { flush() }'
