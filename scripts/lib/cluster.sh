# shellcheck shell=bash
# A whole cluster in network namespaces on this machine, for the lab and the end-to-end tests.
#
#   <tag>-sw      the L2 segment: bridge br0, and etcd on 10.250.0.254 (fd00:250::254)
#   <tag>-n<i>    node i: eth0 = 10.250.0.<10+i>/24 (fd00:250::<10+i>/64), default route via .254,
#                 weftd runs here; cni0 bridge holds the first address of the node's pod subnet
#   <tag>-p<i>    a pod on node i: eth0 = second address of the node's pod subnet
#
# Nothing is created in the root namespace: every link, address and route lives in a namespace
# this file made, and cluster_down removes them (and the processes it started, by PID).

CLUSTER_SEG4=10.250.0
CLUSTER_SEG6=fd00:250:
CLUSTER_ETCD4=10.250.0.254
: "${CLUSTER_TAG:=weft-lab}"
: "${CLUSTER_DIR:=/tmp/${CLUSTER_TAG}}"

cluster_ns() { echo "${CLUSTER_TAG}-$1"; }
cluster_node_ip() { echo "${CLUSTER_SEG4}.$((10 + $1))"; }
cluster_node_ip6() { echo "${CLUSTER_SEG6}:$((10 + $1))"; }
cluster_exec() { local ns; ns=$(cluster_ns "$1"); shift; ip netns exec "$ns" "$@"; }

# cluster_up N: the segment and N nodes (no daemons yet).
cluster_up() {
  local n=$1 i sw node
  mkdir -p "$CLUSTER_DIR"
  sw=$(cluster_ns sw)
  ip netns add "$sw"
  ip -n "$sw" link set lo up
  ip -n "$sw" link add br0 type bridge
  ip -n "$sw" link set br0 up
  ip -n "$sw" addr add "${CLUSTER_ETCD4}/24" dev br0
  ip -n "$sw" addr add "${CLUSTER_SEG6}:254/64" dev br0 nodad
  for ((i = 1; i <= n; i++)); do
    node=$(cluster_ns "n$i")
    ip netns add "$node"
    ip -n "$node" link set lo up
    ip -n "$sw" link add "n$i" type veth peer name eth0 netns "$node"
    ip -n "$sw" link set "n$i" master br0 up
    ip -n "$node" link set eth0 up
    ip -n "$node" addr add "$(cluster_node_ip "$i")/24" dev eth0
    ip -n "$node" addr add "$(cluster_node_ip6 "$i")/64" dev eth0 nodad
    ip -n "$node" route add default via "$CLUSTER_ETCD4"
    ip -n "$node" -6 route add default via "${CLUSTER_SEG6}:254"
    ip netns exec "$node" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  done
}

# cluster_etcd_start: etcd in the segment namespace, reachable from every node.
cluster_etcd_start() {
  local sw data
  sw=$(cluster_ns sw)
  data="$CLUSTER_DIR/etcd"
  rm -rf "$data"
  ip netns exec "$sw" etcd --name lab --data-dir "$data" \
    --listen-client-urls "http://${CLUSTER_ETCD4}:2379,http://127.0.0.1:2379" \
    --advertise-client-urls "http://${CLUSTER_ETCD4}:2379" \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster lab=http://127.0.0.1:2380 --logger zap --log-level error \
    >"$CLUSTER_DIR/etcd.log" 2>&1 &
  echo $! >"$CLUSTER_DIR/etcd.pid"
  local deadline=$((SECONDS + 20))
  until ip netns exec "$sw" etcdctl --endpoints "http://127.0.0.1:2379" endpoint health >/dev/null 2>&1; do
    if ((SECONDS > deadline)); then
      echo "etcd did not become healthy; log:" >&2
      cat "$CLUSTER_DIR/etcd.log" >&2
      return 1
    fi
    sleep 0.1
  done
}

cluster_etcdctl() { ip netns exec "$(cluster_ns sw)" env ETCDCTL_API=3 etcdctl --endpoints http://127.0.0.1:2379 "$@"; }

# cluster_weftd_start I ARGS...: weftd in node I, logging to $CLUSTER_DIR/n<I>/weftd.log.
cluster_weftd_start() {
  local i=$1 dir
  shift
  dir="$CLUSTER_DIR/n$i"
  mkdir -p "$dir"
  ip netns exec "$(cluster_ns "n$i")" "$WEFTD" --etcd-endpoints="http://${CLUSTER_ETCD4}:2379" \
    --iface=eth0 --subnet-file="$dir/subnet.env" "$@" >>"$dir/weftd.log" 2>&1 &
  echo $! >"$dir/weftd.pid"
}

cluster_weftd_stop() {
  local i=$1 sig=${2:-TERM} pidfile="$CLUSTER_DIR/n$1/weftd.pid"
  [ -f "$pidfile" ] || return 0
  kill "-$sig" "$(cat "$pidfile")" 2>/dev/null || true
  wait "$(cat "$pidfile")" 2>/dev/null || true
  rm -f "$pidfile"
}

# cluster_wait_file PATH SECONDS
cluster_wait_file() {
  local deadline=$((SECONDS + $2))
  until [ -s "$1" ]; do
    ((SECONDS > deadline)) && return 1
    sleep 0.05
  done
}

# cluster_subnet_env I KEY: a value from node I's subnet.env.
cluster_subnet_env() { sed -n "s/^$2=//p" "$CLUSTER_DIR/n$1/subnet.env"; }

# cluster_pod_up I: a pod namespace on node I, on a cni0 bridge holding the subnet's first address.
cluster_pod_up() {
  local i=$1 node pod sub gw prefix pod_ip
  node=$(cluster_ns "n$i")
  pod=$(cluster_ns "p$i")
  sub=$(cluster_subnet_env "$i" FLANNEL_SUBNET)    # e.g. 10.244.3.1/24
  gw=${sub%/*}
  prefix=${sub#*/}
  pod_ip="${gw%.*}.$((${gw##*.} + 1))"
  ip netns add "$pod"
  ip -n "$pod" link set lo up
  ip -n "$node" link add cni0 type bridge
  ip -n "$node" addr add "$sub" dev cni0
  ip -n "$node" link set cni0 up
  ip -n "$node" link add "veth-p$i" type veth peer name eth0 netns "$pod"
  ip -n "$node" link set "veth-p$i" master cni0 up
  ip -n "$pod" link set eth0 up
  ip -n "$pod" addr add "$pod_ip/$prefix" dev eth0
  ip -n "$pod" route add default via "$gw"
  echo "$pod_ip" >"$CLUSTER_DIR/n$i/pod_ip"
  local sub6 gw6
  sub6=$(cluster_subnet_env "$i" FLANNEL_IPV6_SUBNET)    # e.g. fd00:244:0:3::1/64
  if [ -n "$sub6" ]; then
    gw6=${sub6%/*}
    ip -n "$node" addr add "$sub6" dev cni0 nodad
    ip -n "$pod" addr add "${gw6%1}2/${sub6#*/}" dev eth0 nodad
    ip -n "$pod" -6 route add default via "$gw6"
    echo "${gw6%1}2" >"$CLUSTER_DIR/n$i/pod_ip6"
  fi
}

cluster_pod_ip() { cat "$CLUSTER_DIR/n$1/pod_ip"; }
cluster_pod_ip6() { cat "$CLUSTER_DIR/n$1/pod_ip6"; }

# cluster_down: stops every process it started and removes every namespace with the tag. Safe
# under `set -e` (it runs from EXIT traps): a process that already exited is not an error.
cluster_down() {
  local pidfile ns
  for pidfile in "$CLUSTER_DIR"/n*/weftd.pid "$CLUSTER_DIR"/etcd.pid; do
    [ -f "$pidfile" ] || continue
    kill "$(cat "$pidfile")" 2>/dev/null || true
    wait "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  done
  for ns in $(ip netns list | awk '{print $1}' | grep "^${CLUSTER_TAG}-" || true); do
    ip netns delete "$ns" || true
  done
}
