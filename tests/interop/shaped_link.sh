#!/bin/bash
# A shaped-link test: a fresh tutti server in a private network namespace
# (S), a client in a second one (C), joined by a veth pair (s0 10.55.0.1 in
# S, c0 10.55.0.2 in C). The client's downlink (s0's egress) is shaped by
# shaped_link.py with `tc ... tbf` (rate) and, in C, `iptables -m statistic
# --mode random` (loss); with DELAY_MS > 0 a UDP relay of the test's own
# (udp_delay_relay.py, 10.55.0.9) sits in the client's media path: the
# client takes the relay's address for the server's candidate, as if a NAT
# stood there (the well-connected peers go direct). No packet leaves these namespaces;
# every process they hold dies with the PID namespace.
#
#   shaped_link.sh SERVER_BINARY CASE [DELAY_MS]
#
# Exit status: shaped_link.py's; 1 if the server did not shut down cleanly;
# 2 for a setup problem. Needs root, util-linux unshare/nsenter, iproute2,
# iptables. TUTTI_TEST_KEEP=1 keeps the temporary directory (server log).
set -u
me=shaped_link
die_setup() { echo "$me: $*" >&2; exit 2; }
[ $# -ge 2 ] || die_setup "usage: $0 SERVER_BINARY CASE [DELAY_MS]"

if [ -z "${TUTTI_IN_NETNS:-}" ]; then
    for c in unshare nsenter ip tc iptables; do
        command -v $c >/dev/null || die_setup "$c is not installed (scripts/deps.sh --test)"
    done
    [ "$(id -u)" = 0 ] || die_setup "needs root (veth, tc, iptables in its own namespaces)"
    self=$(readlink -f "$0")
    TUTTI_IN_NETNS=1 exec unshare --net --pid --fork --kill-child --mount-proc -- "$self" "$@"
fi

server=$(readlink -f "$1")
case_name=$2
delay_ms=${3:-0}
here=$(dirname "$(readlink -f "$0")")
[ -x "$server" ] || die_setup "server binary '$server' is missing"

tmp=$(mktemp -d /tmp/tutti-shaped.XXXXXX) || die_setup "mktemp failed"
server_pid=
relay_pid=
ns_pid=
cleanup() {
    [ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null
    [ -n "$server_pid" ] && kill -KILL "$server_pid" 2>/dev/null
    [ -n "$ns_pid" ] && kill "$ns_pid" 2>/dev/null
    if [ "${TUTTI_TEST_KEEP:-}" = 1 ]; then echo "$me: kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ip link set lo up || die_setup "no lo"
# The client's namespace: held open by a sleeping process of its own.
unshare --net sleep 100000 &
ns_pid=$!
sleep 0.2
ip link add s0 type veth peer name c0 || die_setup "cannot make a veth pair"
ip link set c0 netns "$ns_pid" || die_setup "cannot move c0"
ip addr add 10.55.0.1/24 dev s0 && ip link set s0 up || die_setup "s0"
ip addr add 10.55.0.9/32 dev lo || die_setup "relay address"
nsenter --net=/proc/$ns_pid/ns/net sh -c \
    'ip link set lo up && ip addr add 10.55.0.2/24 dev c0 && ip link set c0 up && ip route add default via 10.55.0.1' ||
    die_setup "cannot set up the client's namespace"
# veth offloads would hand tbf 64 KB super-packets: off.
ethtool -K s0 tso off gso off gro off >/dev/null 2>&1 || true

http_port=18080
media_port=18000
export TUTTI_ADMIN_KEY=${TUTTI_ADMIN_KEY:-shaped-link-admin-key-0123456789}
cmd=("$server" --http "10.55.0.1:$http_port" --media-port "$media_port"
     --data-dir "$tmp/data" --log-level "${TUTTI_TEST_LOG_LEVEL:-info}")
if [ "$delay_ms" != 0 ]; then
    /usr/bin/python3 "$here/udp_delay_relay.py" 10.55.0.9 "$media_port" 10.55.0.1 "$delay_ms" \
        >"$tmp/relay.log" 2>&1 &
    relay_pid=$!
fi
mkdir -p "$tmp/data"
"${cmd[@]}" >"$tmp/server.log" 2>&1 &
server_pid=$!
up=0
for _ in $(seq 100); do
    curl -fsS -o /dev/null --max-time 1 "http://10.55.0.1:$http_port/livez" 2>/dev/null && { up=1; break; }
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
done
[ $up = 1 ] || { tail -50 "$tmp/server.log" >&2; die_setup "server did not come up"; }

export TUTTI_URL="http://10.55.0.1:$http_port"
export TUTTI_CLIENT_NS_PID=$ns_pid TUTTI_LINK_DEV=s0 TUTTI_CLIENT_IP=10.55.0.2
export TUTTI_SHAPED_DELAY_MS=$delay_ms TUTTI_SHAPED_TMP=$tmp
/usr/bin/python3 "$here/shaped_link.py" "$case_name" &
wait $!
rc=$?

kill -TERM "$server_pid"
for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$server_pid" 2>/dev/null; then
    echo "$me: FAIL: server still running 10 s after SIGTERM" >&2
    [ $rc = 0 ] && rc=1
else
    wait "$server_pid"; src=$?
    [ $src = 0 ] || { echo "$me: FAIL: server exit status $src" >&2; [ $rc = 0 ] && rc=1; }
fi
server_pid=
if [ $rc != 0 ]; then
    echo "----- server log (last 60 lines) -----" >&2
    tail -60 "$tmp/server.log" >&2
fi
exit $rc
