#!/usr/bin/env bash
# The server's start-up contract. Takes the binary as its argument and
# starts its own servers on 127.0.0.1 (ctest runs it inside the private
# network namespace of tests/interop/run_with_server.sh):
#   - HTTPS with a given certificate and key answers /livez over TLS, and a
#     join over HTTPS works;
#   - a bad flag, a port in use and an unwritable data directory each end
#     the server at once with a non-zero status and one clear line;
#   - SIGTERM ends it with status 0;
#   - --metrics-auth puts /metrics behind the admin key;
#   - --ice-server comes back as a Link header of WHIP answers;
#   - --media-rt puts the media threads in SCHED_RR (as root), and a
#     priority out of range is refused.
set -u
bin=$1
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
pass=0 fail=0
check() { # name, condition result (0 = ok), detail
	if [ "$2" = 0 ]; then echo "ok   $1${3:+: $3}"; pass=$((pass + 1));
	else echo "FAIL $1${3:+: $3}"; fail=$((fail + 1)); fi
}
port() { /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=127.0.0.1 -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
http=$(port); media=$(port)
"$bin" --http 127.0.0.1:$http --media-port $media --data-dir "$tmp/d1" --demo \
	--tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem" --admin-key https-test-admin-key-000 \
	2>"$tmp/https.log" &
pid=$!
for _ in $(seq 50); do curl -sk "https://127.0.0.1:$http/livez" >/dev/null && break; sleep 0.1; done
out=$(curl -s --cacert "$tmp/cert.pem" "https://127.0.0.1:$http/livez")
check https_livez "$([ "$out" = '{"status":"ok"}' ] && echo 0 || echo 1)" "$out"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http/livez")
check plain_http_is_refused_on_the_tls_port "$([ "$code" != 200 ] && echo 0 || echo 1)" "$code"
code=$(curl -s --cacert "$tmp/cert.pem" -o /dev/null -w '%{http_code}' -X POST \
	-H 'Content-Type: application/sdp' --data-binary @"$(dirname "$0")/../data/sdp/chrome-offer.sdp" \
	"https://127.0.0.1:$http/api/v1/rooms/demo/join")
check join_over_https_is_201 "$([ "$code" = 201 ] && echo 0 || echo 1)" "$code"

# Port in use: the same HTTP port again.
# (Log lines of what had started may come before it; the error itself is
# one line, the last, and the only one of the "tutti: " kind.)
one_error() { [ "$(grep -c '^tutti: ' "$1")" -eq 1 ] && tail -1 "$1" | grep -q "$2"; }
"$bin" --http 127.0.0.1:$http --media-port $(port) --data-dir "$tmp/d2" \
	--admin-key https-test-admin-key-000 2>"$tmp/inuse.log"
rc=$?
check http_port_in_use_exits_nonzero "$([ $rc -ne 0 ] && one_error "$tmp/inuse.log" "in use" && echo 0 || echo 1)" "rc=$rc $(tail -1 "$tmp/inuse.log")"
"$bin" --http 127.0.0.1:$(port) --media-port $media --data-dir "$tmp/d3" \
	--admin-key https-test-admin-key-000 2>"$tmp/inuse2.log"
rc=$?
check media_port_in_use_exits_nonzero "$([ $rc -ne 0 ] && one_error "$tmp/inuse2.log" "in use" && echo 0 || echo 1)" "rc=$rc $(tail -1 "$tmp/inuse2.log")"

kill -TERM $pid; wait $pid; rc=$?
check sigterm_exits_zero "$([ $rc -eq 0 ] && echo 0 || echo 1)" "rc=$rc"

"$bin" --no-such-flag 2>"$tmp/flag.log"; rc=$?
check bad_flag_exits_nonzero_with_one_line "$([ $rc -ne 0 ] && [ "$(wc -l <"$tmp/flag.log")" -eq 1 ] && echo 0 || echo 1)" "rc=$rc $(cat "$tmp/flag.log")"
touch "$tmp/afile"
"$bin" --http 127.0.0.1:$(port) --media-port $(port) --data-dir "$tmp/afile/sub" 2>"$tmp/dir.log"; rc=$?
check unwritable_data_dir_exits_nonzero_with_one_line "$([ $rc -ne 0 ] && [ "$(wc -l <"$tmp/dir.log")" -eq 1 ] && echo 0 || echo 1)" "rc=$rc $(cat "$tmp/dir.log")"
"$bin" --http 127.0.0.1:$(port) --media-port $(port) --tls-cert "$tmp/cert.pem" 2>"$tmp/half.log"; rc=$?
check tls_cert_without_key_is_refused "$([ $rc -ne 0 ] && echo 0 || echo 1)" "$(cat "$tmp/half.log")"

# --metrics-auth: /metrics wants the admin key; health stays open.
# --ice-server: WHIP answers carry it as a Link header.
http=$(port)
"$bin" --http 127.0.0.1:$http --media-port $(port) --data-dir "$tmp/d4" --metrics-auth \
	--ice-server stun:stun.example.net:3478 --demo --media-rt 3 \
	--admin-key metrics-test-admin-key-000 2>"$tmp/metrics.log" &
mpid=$!
for _ in $(seq 50); do curl -s "http://127.0.0.1:$http/livez" >/dev/null && break; sleep 0.1; done
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http/metrics")
check metrics_auth_without_key_is_401 "$([ "$code" = 401 ] && echo 0 || echo 1)" "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong-key-wrong-key' "http://127.0.0.1:$http/metrics")
check metrics_auth_with_a_wrong_key_is_401 "$([ "$code" = 401 ] && echo 0 || echo 1)" "$code"
out=$(curl -s -H 'Authorization: Bearer metrics-test-admin-key-000' "http://127.0.0.1:$http/metrics")
check metrics_auth_with_the_key_is_200 "$(echo "$out" | grep -q '^tutti_rooms ' && echo 0 || echo 1)" "$(echo "$out" | head -c 60)"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http/livez")
check metrics_auth_leaves_livez_open "$([ "$code" = 200 ] && echo 0 || echo 1)" "$code"
sed 's/a=sendrecv/a=sendonly/' "$(dirname "$0")/../data/sdp/chrome-offer.sdp" >"$tmp/sendonly.sdp"
link=$(curl -s -D - -o /dev/null -X POST -H 'Content-Type: application/sdp' \
	--data-binary @"$tmp/sendonly.sdp" "http://127.0.0.1:$http/api/v1/rooms/demo/whip" | tr -d '\r' | grep -i '^link:')
check ice_server_is_a_whip_link_header "$([ "$link" = 'Link: <stun:stun.example.net:3478>; rel="ice-server"' ] && echo 0 || echo 1)" "$link"
"$bin" --ice-server 'stun:a b' 2>"$tmp/ice.log"; rc=$?
check ice_server_with_a_space_is_refused "$([ $rc -ne 0 ] && [ "$(wc -l <"$tmp/ice.log")" -eq 1 ] && echo 0 || echo 1)" "$(cat "$tmp/ice.log")"
if [ "$(id -u)" = 0 ]; then
	cls=$(ps -L -o cls=,rtprio=,comm= -p $mpid | awk '$3 == "tutti-io" {print $1, $2}')
	check media_rt_makes_the_io_thread_sched_rr "$([ "$cls" = "RR 3" ] && echo 0 || echo 1)" "$cls"
fi
"$bin" --media-rt 100 2>"$tmp/rt.log"; rc=$?
check media_rt_out_of_range_is_refused "$([ $rc -ne 0 ] && [ "$(wc -l <"$tmp/rt.log")" -eq 1 ] && echo 0 || echo 1)" "$(cat "$tmp/rt.log")"
kill -TERM $mpid; wait $mpid

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
