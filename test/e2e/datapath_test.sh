#!/usr/bin/env bash
# End-to-end data plane test: 3 nodes in network namespaces on one L2 segment, a real etcd, weftd
# on every node and a pod on each. Usage: datapath_test.sh WEFTD BACKEND (v4|dual|nft|dr)
# (nft: IPv4 with EnableNFTables, the rules checked in nftables instead of iptables; dr: dual
# stack with the backend's DirectRouting, so nodes on the segment route to each other directly)
# Checks: every pod pings every other pod; masquerade rules equal flanneld's text; a route deleted
# by hand comes back; a deleted lease disappears from the other nodes; kill -9 and restart keeps
# the subnet and leaves no duplicates; --ip-blackhole-route's routes. Runs as root; touches only
# namespaces it creates.
set -uo pipefail
WEFTD=$1
BACKEND=$2
STACK=$3
V6=0 # the IPv6 checks too
case "$STACK" in dual | dr) V6=1 ;; esac
here=$(cd "$(dirname "$0")" && pwd)
CLUSTER_TAG="wte${BACKEND:0:2}${STACK:0:1}$$"
CLUSTER_DIR=$(mktemp -d "/tmp/${CLUSTER_TAG}.XXXX")
source "$here/../../scripts/lib/cluster.sh"
trap 'cluster_down; rm -rf "$CLUSTER_DIR"' EXIT

RESYNC=2
pass=0
fail=0
check() {
  local name=$1
  shift
  if "$@"; then
    echo "PASS: $name"
    pass=$((pass + 1))
  else
    echo "FAIL: $name"
    fail=$((fail + 1))
  fi
}
# until_ok SECONDS CMD...: true as soon as CMD succeeds, false after SECONDS.
until_ok() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS > deadline)) && return 1
    sleep 0.1
  done
}
dump_logs() {
  for i in 1 2 3; do
    echo "---- weftd n$i ----"
    tail -n 30 "$CLUSTER_DIR/n$i/weftd.log"
    echo "---- routes n$i ----"
    cluster_exec "n$i" ip route
    cluster_exec "n$i" ip -6 route 2>/dev/null | grep -v fe80
  done
}

cluster_up 3
cluster_etcd_start || exit 1
if [ "$V6" = 1 ]; then
  dr=""
  [ "$STACK" = dr ] && dr=",\"DirectRouting\":true"
  config="{\"Network\":\"10.244.0.0/16\",\"EnableIPv6\":true,\"IPv6Network\":\"fd00:244::/56\",\"Backend\":{\"Type\":\"$BACKEND\"$dr}}"
elif [ "$STACK" = nft ]; then
  # The nftables run of vxlan also turns on GBP (the VXLAN Group Based Policy extension) on every
  # node: the pods must still reach each other.
  gbp=""
  [ "$BACKEND" = vxlan ] && gbp=",\"GBP\":true"
  config="{\"Network\":\"10.244.0.0/16\",\"EnableNFTables\":true,\"Backend\":{\"Type\":\"$BACKEND\"$gbp}}"
else
  config="{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"Type\":\"$BACKEND\"}}"
fi
cluster_etcdctl put /coreos.com/network/config "$config" >/dev/null
weftd_args=(--ip-masq --resync-interval=$RESYNC --iptables-resync=1 --healthz-port=8081)
for i in 1 2 3; do cluster_weftd_start "$i" "${weftd_args[@]}"; done
for i in 1 2 3; do
  if ! cluster_wait_file "$CLUSTER_DIR/n$i/subnet.env" 30; then
    echo "FAIL: weftd on n$i wrote no subnet.env"
    dump_logs
    echo "0 passed, 1 failed"
    exit 1
  fi
done
for i in 1 2 3; do cluster_pod_up "$i"; done

ping_all() {
  local flag=$1 ipfn=$2 i j
  for i in 1 2 3; do
    for j in 1 2 3; do
      ((i == j)) && continue
      cluster_exec "p$i" ping "$flag" -c 1 -W 1 "$($ipfn "$j")" >/dev/null 2>&1 || return 1
    done
  done
}
ready_all() {
  local i
  for i in 1 2 3; do cluster_exec "n$i" curl -sf http://127.0.0.1:8081/readyz || return 1; done
}
check "every node reports ready" until_ok 20 ready_all
# The acquire allocates from the lease watch's snapshot: a start reads the config and lists the
# leases once, so two Range calls in all (weftd's /metrics). Only a lost race for a subnet (a
# second create Txn) lists them again.
ranges_at_start() {
  local i m ranges txns
  for i in 1 2 3; do
    m=$(cluster_exec "n$i" curl -sf http://127.0.0.1:8081/metrics)
    ranges=$(sed -n 's/^weft_etcd_requests_total{method="Range"} //p' <<<"$m")
    txns=$(sed -n 's/^weft_etcd_requests_total{method="Txn"} //p' <<<"$m")
    [ -n "$ranges" ] && [ -n "$txns" ] && [ "$ranges" -eq $((1 + txns)) ] ||
      { echo "n$i made $ranges Range calls for $txns Txn" >&2; return 1; }
  done
}
check "each node listed the leases once at start" ranges_at_start
# The start's log line: how long subnet.env took and how much of it went to etcd (no more than
# the whole).
start_time_logged() {
  local i line total etcd
  for i in 1 2 3; do
    line=$(grep -oE '[0-9.]+ ms after the start, [0-9.]+ ms of it waiting for etcd' \
      "$CLUSTER_DIR/n$i/weftd.log" | head -n 1)
    [ -n "$line" ] || { echo "n$i logged no start time" >&2; return 1; }
    read -r total _ _ _ _ etcd _ <<<"$line"
    awk -v t="$total" -v e="$etcd" 'BEGIN { exit !(t > 0 && e > 0 && e <= t) }' ||
      { echo "n$i: $line" >&2; return 1; }
  done
}
check "each node logged its start time and etcd's share of it" start_time_logged
check "every pod pings every other pod (IPv4)" until_ok 20 ping_all -4 cluster_pod_ip
if [ "$V6" = 1 ]; then
  check "every pod pings every other pod (IPv6)" until_ok 20 ping_all -6 cluster_pod_ip6
fi

# flanneld's masquerade rules, text as iptables-save prints them (reference/flannel.md §5.2).
masq_rules_match() {
  local sub net=10.244.0.0/16 want got
  sub=$(cluster_subnet_env 1 FLANNEL_SUBNET)
  sub="${sub%.*}.0/${sub#*/}"
  want=$(cat <<RULES
-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG
-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG -s $sub -d $net -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG -s $net -d $sub -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG ! -s $net -d $sub -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG -s $net ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully
-A FLANNEL-POSTRTG ! -s $net -d $net -m comment --comment "flanneld masq" -j MASQUERADE --random-fully
RULES
)
  got=$(cluster_exec n1 iptables-save -t nat | grep -E '^-A (POSTROUTING|FLANNEL-POSTRTG)')
  [ "$got" = "$want" ] || { diff <(echo "$want") <(echo "$got"); return 1; }
  want=$(cat <<RULES
-A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD
-A FLANNEL-FWD -s $net -m comment --comment "flanneld forward" -j ACCEPT
-A FLANNEL-FWD -d $net -m comment --comment "flanneld forward" -j ACCEPT
RULES
)
  got=$(cluster_exec n1 iptables-save -t filter | grep -E '^-A (FORWARD|FLANNEL-FWD)')
  [ "$got" = "$want" ] || { diff <(echo "$want") <(echo "$got"); return 1; }
}
# flanneld's nftables rules (reference/flannel.md §5.3), and no iptables chains beside them.
nft_rules_match() {
  local t sub
  sub=$(cluster_subnet_env 1 FLANNEL_SUBNET)
  sub="${sub%.*}.0/${sub#*/}"
  t=$(cluster_exec n1 nft list table ip flannel-ipv4) || return 1
  echo "$t" | grep -q "type nat hook postrouting priority srcnat" || return 1
  echo "$t" | grep -q "type filter hook forward priority filter" || return 1
  echo "$t" | grep -q "ip saddr $sub ip daddr 10.244.0.0/16 return" || return 1
  echo "$t" | grep -q "ip saddr 10.244.0.0/16 ip daddr != 224.0.0.0/4 masquerade fully-random" || return 1
  echo "$t" | grep -q "ip saddr 10.244.0.0/16 accept" || return 1
  ! cluster_exec n1 iptables-save | grep -q FLANNEL
}
nft_rule_deleted_comes_back() {
  cluster_exec n1 nft flush chain ip flannel-ipv4 postrtg || return 1
  until_ok 10 nft_rules_match
}

rule_deleted_comes_back() {
  cluster_exec n1 iptables -t nat -D FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 \
    -m comment --comment "flanneld masq" -j RETURN || return 1
  until_ok 10 masq_rules_match
}
if [ "$STACK" = nft ]; then
  check "nftables rules match flanneld's and no iptables rules exist" nft_rules_match
  check "an nftables chain flushed by hand comes back" nft_rule_deleted_comes_back
else
  check "masquerade and forward rules match flanneld's text" masq_rules_match
  check "a masquerade rule deleted by hand comes back" rule_deleted_comes_back
fi

subnet_of() { local s; s=$(cluster_subnet_env "$1" FLANNEL_SUBNET); echo "${s%.*}.0/${s#*/}"; }
has_route() { cluster_exec "$1" ip route show "$2" | grep -q .; }
no_route() { ! has_route "$1" "$2"; }

route_deleted_comes_back() {
  local dst
  dst=$(subnet_of 2)
  cluster_exec n1 ip route del "$dst" || return 1
  no_route n1 "$dst" || return 1
  until_ok $((RESYNC * 3 + 2)) has_route n1 "$dst"
}
check "a route deleted by hand comes back within a resync" route_deleted_comes_back

# DirectRouting (as flanneld): a node on the same segment is reached through the uplink, via its
# public address, for IPv4 and IPv6 alike; nothing of it goes through the vxlan devices.
direct_routes() {
  local v4 v6
  v4=$(cluster_exec n1 ip route show "$(subnet_of 2)")
  grep -q "via 10.250.0.12 dev eth0 proto 247" <<<"$v4" || { echo "n1: $v4" >&2; return 1; }
  v6=$(cluster_subnet_env 2 FLANNEL_IPV6_SUBNET)
  v6=$(cluster_exec n1 ip -6 route show "${v6%::*}::/${v6#*/}")
  grep -q "via fd00:250::12 dev eth0 proto 247" <<<"$v6" || { echo "n1: $v6" >&2; return 1; }
  local dev entries
  for dev in flannel.1 flannel-v6.1; do
    entries=$(cluster_exec n1 ip neigh show dev "$dev" nud permanent)$(
      cluster_exec n1 bridge fdb show dev "$dev" | grep -E 'dst (10\.250\.|fd00:250:)')
    [ -z "$entries" ] || { echo "n1 $dev: $entries" >&2; return 1; }
  done
}
if [ "$STACK" = dr ]; then
  check "with DirectRouting the nodes route to each other directly, IPv4 and IPv6" direct_routes
fi

# Something else deletes the vxlan device (an admin, a network manager): weftd creates it again
# with its index and MAC within a resync, and fills it; the pods reach each other again.
vxlan_device_deleted_comes_back() {
  local devs=(flannel.1) dev before=() after=() i
  [ "$V6" = 1 ] && devs+=(flannel-v6.1)
  for dev in "${devs[@]}"; do
    before+=("$(cluster_exec n1 ip -o link show "$dev" | awk '{print $1, $2}')/$(cluster_exec n1 cat "/sys/class/net/$dev/address")")
    cluster_exec n1 ip link del "$dev" || return 1
  done
  # (With DirectRouting the pods on one segment never needed the devices: wait for them too.)
  for dev in "${devs[@]}"; do
    until_ok $((RESYNC + 10)) cluster_exec n1 test -e "/sys/class/net/$dev" || return 1
  done
  until_ok $((RESYNC + 10)) ping_all -4 cluster_pod_ip || return 1
  if [ "$V6" = 1 ]; then
    until_ok $((RESYNC + 10)) ping_all -6 cluster_pod_ip6 || return 1
  fi
  for dev in "${devs[@]}"; do
    after+=("$(cluster_exec n1 ip -o link show "$dev" | awk '{print $1, $2}')/$(cluster_exec n1 cat "/sys/class/net/$dev/address")")
  done
  for i in "${!devs[@]}"; do
    [ "${before[$i]}" = "${after[$i]}" ] || { echo "${devs[$i]}: ${before[$i]} -> ${after[$i]}"; return 1; }
  done
}
if [ "$BACKEND" = vxlan ]; then
  check "a vxlan device deleted by hand comes back with its index and MAC, and the pods reach each other" vxlan_device_deleted_comes_back
fi

# As flanneld: the vxlan devices take no IPv6 router advertisements (accept_ra 0), also once
# recreated.
vxlan_devices_refuse_router_advertisements() {
  local devs=(flannel.1) dev i v
  [ "$V6" = 1 ] && devs+=(flannel-v6.1)
  cluster_exec n1 test -e /proc/sys/net/ipv6 || return 0
  for i in 1 2 3; do
    for dev in "${devs[@]}"; do
      v=$(cluster_exec "n$i" cat "/proc/sys/net/ipv6/conf/$dev/accept_ra") || return 1
      [ "$v" = 0 ] || { echo "n$i $dev: accept_ra $v" >&2; return 1; }
    done
  done
}
if [ "$BACKEND" = vxlan ]; then
  check "the vxlan devices take no IPv6 router advertisements (as flanneld)" vxlan_devices_refuse_router_advertisements
fi
vxlan_devices_have_gbp() {
  local i
  for i in 1 2 3; do
    cluster_exec "n$i" ip -d link show flannel.1 | grep -q ' gbp' ||
      { echo "n$i: flannel.1 has no gbp" >&2; return 1; }
  done
}
if [ "$BACKEND" = vxlan ] && [ "$STACK" = nft ]; then
  check "with \"GBP\": true every flannel.1 has the GBP extension" vxlan_devices_have_gbp
fi

no_duplicates() {
  local i
  for i in 1 2 3; do
    [ -f "$CLUSTER_DIR/n$i/weftd.pid" ] || continue
    [ "$(cluster_exec "n$i" ip route show proto 247 | wc -l)" -eq "$1" ] || return 1
    [ -z "$(cluster_exec "n$i" ip route show | sort | uniq -d)" ] || return 1
  done
}

kill9_restart_keeps_subnet() {
  local before after
  before=$(cluster_subnet_env 2 FLANNEL_SUBNET)
  cluster_weftd_stop 2 KILL
  rm -f "$CLUSTER_DIR/n2/subnet.env.seen"
  # In iptables mode a start removes flannel's nftables tables left by an earlier nftables mode.
  if [ "$STACK" != nft ]; then
    cluster_exec n2 nft add table ip flannel-ipv4 || return 1
  fi
  cluster_weftd_start 2 "${weftd_args[@]}"
  until_ok 20 cluster_exec n2 curl -sf http://127.0.0.1:8081/readyz || return 1
  if [ "$STACK" != nft ] && cluster_exec n2 nft list table ip flannel-ipv4 >/dev/null 2>&1; then
    echo "the leftover nftables table flannel-ipv4 is still there"
    return 1
  fi
  after=$(cluster_subnet_env 2 FLANNEL_SUBNET)
  [ "$before" = "$after" ] || { echo "subnet changed: $before -> $after"; return 1; }
  # The restart renewed the lease subnet.env names after reading that one key: Range calls are
  # the config, that key and the watch's listing, with one Txn.
  local m ranges txns
  m=$(cluster_exec n2 curl -sf http://127.0.0.1:8081/metrics)
  ranges=$(sed -n 's/^weft_etcd_requests_total{method="Range"} //p' <<<"$m")
  txns=$(sed -n 's/^weft_etcd_requests_total{method="Txn"} //p' <<<"$m")
  [ "$ranges" = 3 ] && [ "$txns" = 1 ] ||
    { echo "restart made $ranges Range and $txns Txn calls (want 3 and 1)"; return 1; }
  until_ok 10 ping_all -4 cluster_pod_ip || return 1
  [ "$(cluster_etcdctl get --prefix --keys-only /coreos.com/network/subnets | grep -c .)" -eq 3 ]
}
check "kill -9 and restart keeps the subnet and the lease count (and removes leftover nftables tables)" kill9_restart_keeps_subnet
check "no duplicate routes on any node" no_duplicates 2

# --ip-blackhole-route (flanneld's, meant for setups without the bridge plugin): node 1, restarted
# with it, gets a blackhole route for its IPv6 subnet (below its bridge's own route, which keeps
# the pods reachable) and none for its IPv4 subnet, whose place the bridge's route holds already.
blackhole_route() {
  cluster_weftd_stop 1 TERM
  cluster_weftd_start 1 "${weftd_args[@]}" --ip-blackhole-route
  until_ok 20 cluster_exec n1 curl -sf http://127.0.0.1:8081/readyz || return 1
  local v4 v6 holes
  v4=$(subnet_of 1)
  if [ "$V6" = 1 ]; then
    v6=$(cluster_subnet_env 1 FLANNEL_IPV6_SUBNET)
    v6="${v6%::*}::/${v6#*/}"
    until_ok 10 eval 'cluster_exec n1 ip -6 route show type blackhole | grep -q "^blackhole $v6"' ||
      { echo "n1 has no blackhole route for $v6" >&2; return 1; }
    until_ok 10 ping_all -6 cluster_pod_ip6 || { echo "IPv6 pods unreachable" >&2; return 1; }
  else
    sleep 2.5 # two --iptables-resync periods: the attempts were made
  fi
  holes=$(cluster_exec n1 ip route show type blackhole)
  [ -z "$holes" ] || { echo "n1 IPv4 blackholes: $holes (its subnet is $v4)" >&2; return 1; }
  # The IPv4 attempt found the bridge's route: nothing to warn about.
  ! grep -E "^[WE].*blackhole" "$CLUSTER_DIR/n1/weftd.log" >&2 || return 1
  until_ok 10 ping_all -4 cluster_pod_ip
}
if [ "$V6" = 1 ]; then
  check "with --ip-blackhole-route a node's IPv6 subnet gets a blackhole below its bridge route" blackhole_route
else
  check "with --ip-blackhole-route a node's IPv4 subnet, held by its bridge route, gets no blackhole" blackhole_route
fi

lease_deleted_disappears() {
  local dst key
  dst=$(subnet_of 3)
  cluster_weftd_stop 3 TERM
  key=$(cluster_etcdctl get --prefix --keys-only /coreos.com/network/subnets | grep "${dst%/*}-")
  cluster_etcdctl del "$key" >/dev/null || return 1
  until_ok $((RESYNC + 3)) no_route n1 "$dst" || return 1
  until_ok $((RESYNC + 3)) no_route n2 "$dst"
}
check "a node whose lease is deleted disappears from the others' routes" lease_deleted_disappears

((fail > 0)) && dump_logs
echo "$pass passed, $fail failed"
((fail == 0))
