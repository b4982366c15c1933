#!/bin/bash
# The `meeting` scenario's peer: a GStreamer pipeline doing the video job
# of tutti's meeting room on the same RTP input. Per sender:
#   udpsrc ! rtpjitterbuffer ! rtpvp8depay ! vp8dec ! compositor (5x5 grid,
#   1280x720, 15 fps)
# then the canvas at the three tiers (320x180 @ 150, 640x360 @ 500,
# 1280x720 @ 1500 kbit/s), each `vp8enc` with tutti's settings (realtime,
# cpu-used -16, CBR, one thread, no lag, error resilient) ! rtpvp8pay !
# udpsink to tutti-load, which counts and decodes the frames.
# The encoders also make a keyframe every 4 s (tutti makes them on request:
# udpsink cannot carry a receiver's PLI back), a small extra cost here.
# tutti-load sends the same 25 streams (180p and 360p alternating) as in
# tutti's run, over plain RTP (no SRTP: GStreamer's side has none).
# Run by perf/run inside its network namespace.
#
#   gst_compositor.sh TUTTI_LOAD MEDIA_DIR OUT_DIR
set -u
load=$1 media=$2 out=$3
n=25 first=42000 outp=43000
command -v gst-launch-1.0 >/dev/null || { echo "gst_compositor: gst-launch-1.0 is not installed (scripts/deps.sh --perf)" >&2; exit 2; }

caps="application/x-rtp,media=video,clock-rate=90000,encoding-name=VP8,payload=96"
enc="deadline=1 cpu-used=-16 end-usage=cbr threads=1 lag-in-frames=0 error-resilient=default undershoot=50 overshoot=50 buffer-initial-size=500 buffer-optimal-size=600 buffer-size=1000 static-threshold=1 noise-sensitivity=0 keyframe-max-dist=60"
args=(compositor name=c background=black)
srcs=()
plain="$out/gst-meeting.plain"
: >"$plain"
for i in $(seq 0 $((n - 1))); do
    x=$(( (i % 5) * 256 )) y=$(( (i / 5) * 144 ))
    args+=("sink_$i::xpos=$x" "sink_$i::ypos=$y" "sink_$i::width=256" "sink_$i::height=144")
    srcs+=(udpsrc address=127.0.0.1 port=$((first + i)) "caps=$caps" ! rtpjitterbuffer latency=50
           ! rtpvp8depay ! vp8dec threads=1 ! "c.sink_$i")
    res=$([ $((i % 2)) = 1 ] && echo 360 || echo 180)
    echo "video 0 $((first + i)) $res" >>"$plain"
done
for k in 0 1 2; do echo "recv $((outp + k))" >>"$plain"; done

# shellcheck disable=SC2206  # $enc is a list of properties
args+=(! video/x-raw,format=I420,width=1280,height=720,framerate=15/1 ! tee name=t
 t. ! queue ! videoscale ! video/x-raw,width=320,height=180 ! vp8enc target-bitrate=150000 $enc
    ! rtpvp8pay pt=96 mtu=1200 ! udpsink host=127.0.0.1 port=$outp sync=false async=false
 t. ! queue ! videoscale ! video/x-raw,width=640,height=360 ! vp8enc target-bitrate=500000 $enc
    ! rtpvp8pay pt=96 mtu=1200 ! udpsink host=127.0.0.1 port=$((outp + 1)) sync=false async=false
 t. ! queue ! vp8enc target-bitrate=1500000 $enc
    ! rtpvp8pay pt=96 mtu=1200 ! udpsink host=127.0.0.1 port=$((outp + 2)) sync=false async=false
 "${srcs[@]}")
echo "gst-launch-1.0 -q ${args[*]}" >"$out/gst-meeting.pipeline"
gst-launch-1.0 -q "${args[@]}" >"$out/gst-meeting.log" 2>&1 &
gpid=$!
trap 'kill -INT $gpid 2>/dev/null; sleep 0.5; kill -TERM $gpid 2>/dev/null; wait $gpid 2>/dev/null' EXIT
sleep 1
kill -0 $gpid 2>/dev/null || { echo "gst_compositor: the pipeline did not start:" >&2; cat "$out/gst-meeting.log" >&2; exit 1; }
"$load" --plain "$plain" --server-pid "$gpid" --sample 3 --tile 0,0,0.2,0.2 \
    --media-dir "$media" --warmup "${WARMUP:-5}" --duration "${DURATION:-20}" \
    --json "$out/gst-meeting.json" --label gst-meeting
