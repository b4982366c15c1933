#!/bin/bash
# Run an interop client against a fresh tutti server, all inside a private
# network namespace (only `lo` exists there, so no packet can leave the box),
# with its own PID namespace (when this script ends, every process it started,
# browsers included, is killed by the kernel).
#
#   run_with_server.sh SERVER_BINARY -- CLIENT_COMMAND [ARGS...]
#
# The client gets TUTTI_URL=http://127.0.0.1:<port> in its environment.
# Exit status: the client's; 1 if the client passed but the server did not
# shut down cleanly (exit 0 after SIGTERM); 2 for a setup problem.
#
# Environment:
#   TUTTI_TEST_LOG_LEVEL  server --log-level (default: debug)
#   TUTTI_TEST_LOG_LINES  server log lines printed on failure (default: 400)
#   TUTTI_TEST_KEEP=1     keep the temporary directory (server log, data dir)
#   TUTTI_TEST_SERVER_ARGS more server flags (split on spaces)
#   TUTTI_TEST_FANOUT     (read by the server: rooms' sending split over the send
#                         threads, docs/threads.md); when set, a passing client
#                         also needs the send threads to have done work
#                         (tutti_send_pool_seconds_total > 0)
# Needs: root (or unprivileged user namespaces), util-linux `unshare`,
# iproute2 `ip`; curl if present (else bash's /dev/tcp is used).

# shellcheck disable=SC2317  # (functions run from traps)
set -u

me=run_with_server
die_setup() { echo "$me: $*" >&2; exit 2; }

if [ $# -lt 3 ] || [ "$2" != "--" ]; then
    die_setup "usage: $0 SERVER_BINARY -- CLIENT_COMMAND [ARGS...]"
fi

# --- stage 1: re-run this script inside new network + PID namespaces -------
if [ -z "${TUTTI_IN_NETNS:-}" ]; then
    command -v unshare >/dev/null || die_setup "unshare (util-linux) is not installed"
    command -v ip >/dev/null || die_setup "ip (iproute2) is not installed"
    self=$(readlink -f "$0")
    ns=(--net --pid --fork --kill-child --mount-proc)
    if [ "$(id -u)" != 0 ]; then
        ns=(--user --map-root-user "${ns[@]}")
    fi
    # unshare ignores INT/TERM while it waits, so pass them on to the script
    # inside (it cleans up; when it ends, the kernel kills everything left in
    # its PID namespace). If this script is SIGKILLed, --kill-child does that.
    TUTTI_IN_NETNS=1 unshare "${ns[@]}" -- "$self" "$@" &
    ns_pid=$!
    forward() {
        local kids
        kids=$(cat "/proc/$ns_pid/task/$ns_pid/children" 2>/dev/null ||
               ps -o pid= --ppid "$ns_pid" 2>/dev/null)
        # shellcheck disable=SC2086
        [ -n "$kids" ] && kill "-$1" $kids 2>/dev/null
    }
    trap 'forward TERM' TERM
    trap 'forward INT' INT
    while :; do
        wait "$ns_pid"
        rc=$?
        kill -0 "$ns_pid" 2>/dev/null || break
    done
    exit "$rc"
fi

# --- stage 2: inside the namespaces ----------------------------------------
server=$1
shift 2
[ -x "$server" ] || die_setup "server binary '$server' is missing or not executable"
server=$(readlink -f "$server")

ip link set lo up || die_setup "cannot bring up lo in the new network namespace"

tmp=$(mktemp -d /tmp/tutti-interop.XXXXXX) || die_setup "mktemp failed"
datadir="$tmp/data"
mkdir -p "$datadir"
serverlog="$tmp/server.log"
server_pid=
client_pid=

cleanup() {
    if [ -n "$client_pid" ] && kill -0 "$client_pid" 2>/dev/null; then
        kill -TERM "$client_pid" 2>/dev/null
    fi
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -KILL "$server_pid" 2>/dev/null
    fi
    if [ "${TUTTI_TEST_KEEP:-}" = 1 ]; then
        echo "$me: kept $tmp" >&2
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'echo "$me: interrupted" >&2; exit 130' INT
trap 'echo "$me: terminated" >&2; exit 143' TERM

# Free ports: the namespace is new, so nothing is bound in it yet; still ask
# the kernel (bind to port 0) when a python is at hand.
pick_port() { # $1 = tcp|udp
    local py
    for py in /usr/bin/python3 python3; do
        if command -v "$py" >/dev/null 2>&1; then
            "$py" -c 'import socket,sys
t = socket.SOCK_STREAM if sys.argv[1] == "tcp" else socket.SOCK_DGRAM
s = socket.socket(socket.AF_INET, t); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' "$1" && return
        fi
    done
    echo $((20000 + RANDOM % 30000))
}
http_port=$(pick_port tcp)
media_port=$(pick_port udp)
while [ "$media_port" = "$http_port" ]; do media_port=$(pick_port udp); done
url="http://127.0.0.1:$http_port"

http_ok() { # $1 = path; true when it answers 200
    if command -v curl >/dev/null; then
        curl -fsS -o /dev/null --max-time 1 "$url$1" 2>/dev/null
    else
        local line
        exec 3<>"/dev/tcp/127.0.0.1/$http_port" 2>/dev/null || return 1
        printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$1" >&3
        IFS= read -r -t 1 line <&3
        exec 3<&- 3>&-
        case "$line" in "HTTP/1."?" 200"*) return 0 ;; esac
        return 1
    fi
}

print_log() {
    local n=${TUTTI_TEST_LOG_LINES:-400}
    echo "----- server log (last $n lines of $(wc -l <"$serverlog") ; $serverlog) -----" >&2
    tail -n "$n" "$serverlog" >&2
    echo "----- end of server log -----" >&2
}

cmd=("$server" --http "127.0.0.1:$http_port" --media-port "$media_port"
     --data-dir "$datadir" --demo --log-level "${TUTTI_TEST_LOG_LEVEL:-debug}")
# shellcheck disable=SC2206  # (split on purpose)
[ -n "${TUTTI_TEST_SERVER_ARGS:-}" ] && cmd+=(${TUTTI_TEST_SERVER_ARGS})
echo "$me: starting ${cmd[*]}"
"${cmd[@]}" >"$serverlog" 2>&1 &
server_pid=$!

# Wait (bounded, 10 s) for /livez.
up=0
for _ in $(seq 100); do
    if ! kill -0 "$server_pid" 2>/dev/null; then
        wait "$server_pid"; rc=$?; server_pid=
        echo "$me: FAIL: server exited with status $rc before answering /livez" >&2
        print_log
        exit 1
    fi
    if http_ok /livez; then up=1; break; fi
    sleep 0.1
done
if [ $up != 1 ]; then
    echo "$me: FAIL: server did not answer GET /livez with 200 within 10 s" >&2
    print_log
    exit 1
fi
echo "$me: server up at $url (media UDP port $media_port)"

# Run the client (in the background so that INT/TERM traps run promptly).
export TUTTI_URL="$url"
# The server's data directory, for tests that read its store or key.
export TUTTI_TEST_DATA_DIR="$datadir"
# Its log, for tests that check what it writes there.
export TUTTI_TEST_SERVER_LOG="$serverlog"
echo "$me: running $*"
"$@" &
client_pid=$!
wait "$client_pid"
client_rc=$?
client_pid=
echo "$me: client exited with status $client_rc"

# A split fan-out asked for must have been taken.
if [ -n "${TUTTI_TEST_FANOUT:-}" ] && [ "$client_rc" = 0 ]; then
    pool=$(/usr/bin/python3 -c 'import sys, urllib.request
for l in urllib.request.urlopen(sys.argv[1] + "/metrics", timeout=5).read().decode().splitlines():
    if l.startswith("tutti_send_pool_seconds_total "):
        print(l.split()[1])' "$url" 2>/dev/null)
    if awk -v s="${pool:-0}" 'BEGIN { exit !(s > 0) }'; then
        echo "$me: the send threads spent ${pool} s on the rooms' sending"
    else
        echo "$me: FAIL: TUTTI_TEST_FANOUT is set but the send threads did no work" \
             "(tutti_send_pool_seconds_total ${pool:-absent})" >&2
        client_rc=1
    fi
fi

# Stop the server: SIGTERM, bounded wait, must exit 0.
server_rc=
if kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    for _ in $(seq 100); do
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$server_pid" 2>/dev/null; then
        echo "$me: FAIL: server still running 10 s after SIGTERM; killing it" >&2
        kill -KILL "$server_pid"
        wait "$server_pid" 2>/dev/null
        server_rc=timeout
    else
        wait "$server_pid"; server_rc=$?
    fi
else
    wait "$server_pid"; server_rc=$?
    echo "$me: FAIL: server died while the client ran (status $server_rc)" >&2
    [ "$server_rc" = 0 ] && server_rc=died
fi
server_pid=

status=$client_rc
if [ "$server_rc" != 0 ]; then
    echo "$me: FAIL: server shutdown after SIGTERM was not clean (status $server_rc)" >&2
    [ "$status" = 0 ] && status=1
fi
if [ "$status" != 0 ]; then
    print_log
    echo "$me: FAILED (client $client_rc, server $server_rc)" >&2
else
    echo "$me: PASS (client 0, server 0)"
fi
exit "$status"
