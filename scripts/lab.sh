#!/usr/bin/env bash
# The weft lab: a cluster of nodes in network namespaces on this machine, a real etcd, weftd on
# every node and a pod on each; then every pod pings every other pod. Run as root on Debian 12.
#
#   scripts/lab.sh                 3 nodes, vxlan backend; tears everything down at the end
#   BACKEND=host-gw NODES=4 scripts/lab.sh
#   scripts/lab.sh --keep          leave the cluster running (explore with: ip netns exec weft-lab-n1 ...)
#   scripts/lab.sh down            remove a kept cluster
#
# Only namespaces named weft-lab-* are created; nothing changes in the root namespace.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
source scripts/lib/cluster.sh

BACKEND=${BACKEND:-vxlan}
NODES=${NODES:-3}
keep=false
case "${1:-}" in
  down) cluster_down; rm -rf "$CLUSTER_DIR"; echo "lab removed"; exit 0 ;;
  --keep) keep=true ;;
  "") ;;
  *) echo "usage: $0 [--keep|down]" >&2; exit 2 ;;
esac

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "installing packages and building weftd"
scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build weftd >/dev/null
WEFTD="$root/build/src/daemon/weftd"
"$WEFTD" --version

if ip netns list | grep -q "^${CLUSTER_TAG}-"; then
  echo "a lab is already running; removing it first"
  cluster_down
fi
rm -rf "$CLUSTER_DIR"
if ! $keep; then
  trap cluster_down EXIT
fi

say "creating $NODES nodes on one L2 segment (namespaces ${CLUSTER_TAG}-*)"
cluster_up "$NODES"
for ((i = 1; i <= NODES; i++)); do echo "  node n$i: eth0 $(cluster_node_ip "$i")"; done

say "starting etcd on ${CLUSTER_ETCD4}:2379 and writing the network config"
cluster_etcd_start
config="{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"Type\":\"$BACKEND\"}}"
cluster_etcdctl put /coreos.com/network/config "$config" >/dev/null
echo "  /coreos.com/network/config = $config"

say "starting weftd on every node"
for ((i = 1; i <= NODES; i++)); do
  cluster_weftd_start "$i" --ip-masq --healthz-port=8081 --resync-interval=5
done
for ((i = 1; i <= NODES; i++)); do
  if ! cluster_wait_file "$CLUSTER_DIR/n$i/subnet.env" 20; then
    echo "weftd on n$i did not write subnet.env; its log:" >&2
    cat "$CLUSTER_DIR/n$i/weftd.log" >&2
    exit 1
  fi
  echo "  n$i subnet.env: $(tr '\n' ' ' <"$CLUSTER_DIR/n$i/subnet.env")"
done

say "leases in etcd"
cluster_etcdctl get --prefix /coreos.com/network/subnets | paste - - | sed 's/^/  /'

say "a pod on every node"
for ((i = 1; i <= NODES; i++)); do
  cluster_pod_up "$i"
  echo "  pod on n$i: $(cluster_pod_ip "$i")"
done

say "waiting for every node to be ready (/readyz)"
for ((i = 1; i <= NODES; i++)); do
  deadline=$((SECONDS + 20))
  until cluster_exec "n$i" curl -sf "http://127.0.0.1:8081/readyz" >/dev/null; do
    if ((SECONDS > deadline)); then
      echo "n$i not ready:"; cluster_exec "n$i" curl -s "http://127.0.0.1:8081/readyz"; exit 1
    fi
    sleep 0.1
  done
  echo "  n$i: $(cluster_exec "n$i" curl -s http://127.0.0.1:8081/readyz)"
done

say "routes weftd programmed on n1 (proto 247 = weft)"
cluster_exec n1 ip route show proto 247 | sed 's/^/  /'

say "every pod pings every other pod"
failures=0
for ((i = 1; i <= NODES; i++)); do
  for ((j = 1; j <= NODES; j++)); do
    ((i == j)) && continue
    if cluster_exec "p$i" ping -c 1 -W 2 "$(cluster_pod_ip "$j")" >/dev/null; then
      echo "  pod n$i -> pod n$j ($(cluster_pod_ip "$j")): ok"
    else
      echo "  pod n$i -> pod n$j ($(cluster_pod_ip "$j")): FAILED"; failures=$((failures + 1))
    fi
  done
done

if $keep; then
  say "lab left running: ip netns exec ${CLUSTER_TAG}-p1 ping $(cluster_pod_ip 2); logs in $CLUSTER_DIR; remove with: $0 down"
fi
if ((failures > 0)); then
  echo "$failures pod pairs could not talk"; exit 1
fi
say "all pods reach each other"
