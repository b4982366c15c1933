#!/bin/bash
# The `audio` scenario's peer: Debian's Janus with only the AudioBridge
# plugin and the HTTP transport, all on loopback (interface 127.0.0.1,
# ICE on `lo` only, HTTP bound to 127.0.0.1 with acl 127., the bridge's
# RTP on 127.0.0.1), and N plain-RTP participants from tutti-load with
# the same media as tutti's run (5 talking in turn, the rest DTX).
# Janus's participants carry no SRTP (plain RTP); tutti's do.
# Run by perf/run inside its network namespace.
#
#   janus_audiobridge.sh TUTTI_LOAD MEDIA_DIR OUT_DIR N
set -u
load=$1 media=$2 out=$3 n=$4
here=$(cd "$(dirname "$0")" && pwd)
conf="$out/janus-conf"
lib=/usr/lib/x86_64-linux-gnu/janus
port=18088
command -v janus >/dev/null || { echo "janus_audiobridge: janus is not installed (scripts/deps.sh --perf)" >&2; exit 2; }

mkdir -p "$conf"
plugins_off=$(cd "$lib/plugins" && ls libjanus_*.so | grep -v audiobridge | paste -sd, -)
transports_off=$(cd "$lib/transports" && ls libjanus_*.so | grep -v '_http' | paste -sd, -)
cat >"$conf/janus.jcfg" <<CFG
general: {
	configs_folder = "$conf"
	plugins_folder = "$lib/plugins"
	transports_folder = "$lib/transports"
	events_folder = "$lib/events"
	loggers_folder = "$lib/loggers"
	debug_level = 3
	session_timeout = 0
	protected_folders = [ "/bin", "/boot", "/dev", "/etc", "/lib", "/proc", "/sbin", "/sys", "/usr", "/var" ]
}
media: {
	rtp_port_range = "30000-39999"
}
nat: {
	interface = "127.0.0.1"
	ice_enforce_list = "lo"
}
plugins: {
	disable = "$plugins_off"
}
transports: {
	disable = "$transports_off"
}
events: {
	broadcast = false
}
loggers: {
	disable = "libjanus_jsonlog.so"
}
CFG
cat >"$conf/janus.transport.http.jcfg" <<CFG
general: {
	json = "plain"
	base_path = "/janus"
	http = true
	port = $port
	ip = "127.0.0.1"
	https = false
	acl = "127."
}
admin: {
	admin_http = false
	admin_https = false
}
CFG
cat >"$conf/janus.plugin.audiobridge.jcfg" <<CFG
general: {
	local_ip = "127.0.0.1"
	rtp_port_range = "20000-29999"
}
CFG

janus -C "$conf/janus.jcfg" -F "$conf" --interface 127.0.0.1 --ice-enforce-list lo \
    -N -L "$out/janus-$n.log" >/dev/null 2>&1 &
jpid=$!
trap 'kill -TERM $jpid 2>/dev/null; wait $jpid 2>/dev/null' EXIT
for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/janus/info" >/dev/null 2>&1 && break
    sleep 0.1
done
/usr/bin/python3 "$here/janus_control.py" "http://127.0.0.1:$port/janus" "$n" 41000 \
    "$out/janus-$n.plain" || exit 1
"$load" --plain "$out/janus-$n.plain" --server-pid "$jpid" --speakers 5 \
    --sample "${SAMPLE:-9}" --media-dir "$media" --warmup "${WARMUP:-5}" \
    --duration "${DURATION:-20}" --json "$out/janus-audio-$n.json" \
    --label "janus-audio-$n"
