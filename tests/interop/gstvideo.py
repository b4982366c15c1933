"""gstvideo: many GStreamer webrtcbin video participants of tutti in one process.

Every VPeer is a gstpeer.WebRTCPeer (libnice ICE on loopback, DTLS, SRTP,
webrtcbin, offer/answer over HTTP; see gstpeer.py). It sends an Opus
audiotestsrc (silence, or a loud tone for the one meant to be the active
speaker) and a VP8 videotestsrc (a solid colour or a moving pattern), and
decodes the composite the server sends back
(rtpvp8depay ! vp8dec ! videoconvert ! I420 appsink). It keeps the latest
decoded frames (numpy Y, U, V planes) with their arrival times
(time.monotonic()), every arrival time and frame size, and every ERROR and
WARNING its pipeline posts. All peers share one Hub (one GLib main loop).

Run under Debian's /usr/bin/python3 (python3-gi, python3-numpy).
"""

import collections
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gstpeer as gp  # noqa: E402
from gstpeer import OPUS_CAPS, T0, CheckFailed, Gst, log, np  # noqa: E402

VP8_CAPS = "application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000"
# H.264 constrained baseline, packetization-mode 1 (webrtcbin turns the
# string fields into the offer's fmtp). A sender's profile-level-id is the
# one rtph264pay reads from x264enc's SPS (42c00c at 160x120).
H264_SEND_CAPS = ("application/x-rtp,media=video,encoding-name=H264,payload=102,"
                  "clock-rate=90000,packetization-mode=(string)1")
H264_CAPS = H264_SEND_CAPS + ",profile-level-id=(string)42e01f"
# What an H.264 peer needs besides: x264enc (gstreamer1.0-plugins-ugly),
# rtph264pay/depay (-good), avdec_h264 (gstreamer1.0-libav).
H264_ELEMENTS = ("x264enc", "rtph264pay", "rtph264depay", "avdec_h264", "h264parse")
# A shared screen's m-line (VPeer(screen=...)): its own payload type.
SCREEN_CAPS = "application/x-rtp,media=video,encoding-name=VP8,payload=98,clock-rate=90000"
NEEDED_ELEMENTS = ("webrtcbin", "nicesrc", "opusenc", "rtpopuspay", "vp8enc", "vp8dec",
                   "rtpvp8pay", "rtpvp8depay", "audiotestsrc", "videotestsrc", "appsink",
                   "videoconvert", "fakesink")

# Every log line says when, in seconds since the start.
gp.set_log_prefix(lambda: "[%7.3f] " % (time.monotonic() - T0))


# ---------------------------------------------------------------- colours ----
def argb_to_yuv(argb):
    """0xAARRGGBB -> (Y, U, V), BT.601 studio range (what videotestsrc and
    videoconvert make of it for I420 at SD sizes, and what libvpx carries)."""
    r, g, b = (argb >> 16) & 255, (argb >> 8) & 255, argb & 255
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    u = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    v = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
    return (y, u, v)


def solid_src(argb, width=160, height=120, fps=15):
    return (f"videotestsrc pattern=solid-color foreground-color=0x{argb:08x} is-live=true "
            f"! video/x-raw,width={width},height={height},framerate={fps}/1")


def moving_src(pattern="ball", width=320, height=240, fps=15, extra=""):
    return (f"videotestsrc pattern={pattern} is-live=true {extra} "
            f"! video/x-raw,width={width},height={height},framerate={fps}/1")


class Hub(gp.BaseHub):
    """The video tests' hub."""

    def __init__(self, base=None):
        super().__init__(NEEDED_ELEMENTS, base)

    def set_layout(self, room, kind):
        st, j = self.api("PATCH", "/api/v1/rooms/" + room, {"layout": kind})
        if st != 200:
            raise CheckFailed(f"PATCH /api/v1/rooms/{room} layout={kind} -> {st}: {j}")
        return j

    def set_tier(self, peer, tier):
        return self.patch_participant(peer, tier=tier)


def run_hub(name, case):
    """Runs case(hub) on a fresh Hub and exits (gp.exit_code): the hub is
    closed whatever happens, how long it ran is logged, and a participant
    whose DELETE did not answer 204 is a failure."""
    def run():
        hub = Hub()
        t0 = time.monotonic()
        try:
            case(hub)
        except BaseException:
            hub.close()
            log(f"{name}: ran {time.monotonic() - t0:.1f} s")
            raise
        bad = hub.close()
        log(f"{name}: ran {time.monotonic() - t0:.1f} s")
        if bad:
            raise CheckFailed(f"leaving failed for {bad} (DELETE did not answer 204)")
    gp.exit_code(run)


class VPeer(gp.WebRTCPeer):
    """One participant.

    video: a gst-launch fragment ending in raw video caps (solid_src(),
    moving_src()), or None to send no video (a recvonly video transceiver).
    tone: send a loud 440 Hz sine instead of silence.
    decode: decode the received video (else it goes to a fakesink).
    keep: how many decoded frames to keep (the latest).
    codec: "VP8", or "H264": its offer has ONLY H.264 (x264enc constrained
    baseline, rtph264pay), and it decodes what it gets with avdec_h264.
    screen: like video, a shared screen sent on a second video m-line
    (sendonly, payload type 98; needs video); None: no such m-line."""

    def __init__(self, hub, room, name, video, tone=False, decode=True, keep=4, codec="VP8",
                 screen=None):
        self.tone, self.decode, self.codec = tone, decode, codec
        self.lock = threading.Lock()
        self.frames = collections.deque(maxlen=keep)   # (t, w, h, Y, U, V)
        self.frame_times = []                          # arrival of every decoded frame
        self.sizes = []                                # (t, w, h) at each size change
        self.n_frames = 0
        self.messages = []                             # (t, ERROR|WARNING, src, text)
        self.on_frame = None                           # optional hook(peer, t, w, h, y, u, v)

        audio = ("audiotestsrc wave=sine freq=440 volume=0.6 is-live=true" if tone else
                 "audiotestsrc wave=silence is-live=true")
        desc = ["webrtcbin name=webrtc bundle-policy=max-bundle",
                f"{audio} ! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=1 "
                f"! opusenc bitrate=32000 ! rtpopuspay pt=111 ! queue ! {OPUS_CAPS} ! webrtc."]
        if video and codec == "H264":
            desc.append(f"{video} ! videoconvert ! x264enc name=venc tune=zerolatency "
                        f"speed-preset=ultrafast bitrate=300 key-int-max=3000 "
                        f"! video/x-h264,profile=constrained-baseline "
                        f"! rtph264pay pt=102 config-interval=-1 aggregate-mode=zero-latency "
                        f"! queue ! {H264_SEND_CAPS} ! webrtc.")
        elif video:
            desc.append(f"{video} ! videoconvert ! vp8enc name=venc deadline=1 "
                        f"! rtpvp8pay pt=96 picture-id-mode=15-bit ! queue ! {VP8_CAPS} ! webrtc.")
        if video and screen:
            desc.append(f"{screen} ! videoconvert ! vp8enc name=senc deadline=1 "
                        f"! rtpvp8pay pt=98 picture-id-mode=15-bit ! queue ! {SCREEN_CAPS} "
                        f"! webrtc.")
        super().__init__(hub, room, name, gp.launch("\n".join(desc), name))
        self.pipe.get_bus().connect("message::warning", self._on_warning)
        # Keyframe requests that reach the encoder (the server's PLI/FIR,
        # turned by webrtcbin's RTP session into upstream force-key-unit
        # events).
        self.key_requests = 0
        venc = self.pipe.get_by_name("venc")
        if venc is not None:
            venc.get_static_pad("src").add_probe(Gst.PadProbeType.EVENT_UPSTREAM,
                                                 self._on_upstream_event)
        self.sendrecv(2 if video else 1)
        if video and screen:
            tr = self.webrtc.emit("get-transceiver", 2)
            tr.set_property("direction", gp.GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)
        if not video:
            self.recvonly(H264_CAPS if codec == "H264" else VP8_CAPS)

    def _on_upstream_event(self, _pad, info):
        ev = info.get_event()
        st = ev.get_structure() if ev is not None else None
        if st is not None and st.get_name() == "GstForceKeyUnit":
            self.key_requests += 1
        return Gst.PadProbeReturn.OK

    def pipeline_error(self, src, text):
        self.messages.append((time.monotonic(), "ERROR", src, text))
        super().pipeline_error(src, text)

    def _on_warning(self, _bus, msg):
        err, dbg = msg.parse_warning()
        src = msg.src.get_name() if msg.src else "?"
        self.messages.append((time.monotonic(), "WARNING", src, f"{err.message} ({dbg})"))
        log(f"WARNING {self.name}: {src}: {err.message} ({dbg})")

    # ---- receiving ----
    def _on_pad(self, _w, pad):
        if pad.get_direction() != Gst.PadDirection.SRC:
            return
        caps = pad.get_current_caps() or pad.query_caps(None)
        media = caps.get_structure(0).get_string("media") if caps else None
        if media == "video" and self.decode:
            enc = caps.get_structure(0).get_string("encoding-name") if caps else None
            self.rx_encoding = enc
            if enc == "H264":
                names = ("rtph264depay", "avdec_h264", "videoconvert", "capsfilter")
            else:
                names = ("rtpvp8depay", "vp8dec", "videoconvert", "capsfilter")
            elems = [Gst.ElementFactory.make(n, f"{self.name}-rx-{n}") for n in names]
            elems[3].set_property("caps", Gst.Caps.from_string("video/x-raw,format=I420"))
            elems.append(gp.appsink(self._on_sample, f"{self.name}-rx-appsink"))
        else:
            elems = [gp.fakesink()]
        if not self.attach(pad, elems):
            self.hub.errors.append(f"{self.name}: cannot link the incoming {media} stream")

    def _on_sample(self, sink):
        t = time.monotonic()
        sample = sink.emit("pull-sample")
        buf = sample.get_buffer()
        s = sample.get_caps().get_structure(0)
        w, h = s.get_value("width"), s.get_value("height")
        # GStreamer's default I420 layout: rows padded to 4 bytes.
        sy, sc = (w + 3) & ~3, ((w + 1) // 2 + 3) & ~3
        cw, ch = (w + 1) // 2, (h + 1) // 2
        ok, mi = buf.map(Gst.MapFlags.READ)
        if not ok:
            return Gst.FlowReturn.OK
        try:
            a = np.frombuffer(mi.data, dtype=np.uint8)
            o_u = sy * h
            o_v = o_u + sc * ch
            if len(a) < o_v + sc * ch:
                return Gst.FlowReturn.OK
            y = a[:o_u].reshape(h, sy)[:, :w].copy()
            u = a[o_u:o_v].reshape(ch, sc)[:, :cw].copy()
            v = a[o_v:o_v + sc * ch].reshape(ch, sc)[:, :cw].copy()
        finally:
            buf.unmap(mi)
        with self.lock:
            if not self.sizes or self.sizes[-1][1:] != (w, h):
                self.sizes.append((t, w, h))
            self.frames.append((t, w, h, y, u, v))
            self.frame_times.append(t)
            self.n_frames += 1
        hook = self.on_frame
        if hook is not None:
            hook(self, t, w, h, y, u, v)
        return Gst.FlowReturn.OK

    def latest(self):
        with self.lock:
            return self.frames[-1] if self.frames else None

    def frames_since(self, t0):
        with self.lock:
            return [f for f in self.frames if f[0] >= t0]


# ------------------------------------------------------------ analysis ----
def region_mean(frame, cx, cy, half=4):
    """Mean (Y, U, V) of a (2*half)^2 square centred at (cx, cy) in frame
    pixels (chroma from the matching half-size square)."""
    _t, w, h, y, u, v = frame
    x0, x1 = max(0, int(cx) - half), min(w, int(cx) + half)
    y0, y1 = max(0, int(cy) - half), min(h, int(cy) + half)
    Y = float(y[y0:y1, x0:x1].mean())
    U = float(u[y0 // 2:max(y0 // 2 + 1, y1 // 2), x0 // 2:max(x0 // 2 + 1, x1 // 2)].mean())
    V = float(v[y0 // 2:max(y0 // 2 + 1, y1 // 2), x0 // 2:max(x0 // 2 + 1, x1 // 2)].mean())
    return (Y, U, V)


def tile_centre(tile, layout, w, h):
    """A layout tile's centre (tile rectangles are given on the largest
    tier's canvas, layout width x height), scaled to a w x h frame."""
    sx, sy = w / layout["width"], h / layout["height"]
    return ((tile["x"] + tile["w"] / 2) * sx, (tile["y"] + tile["h"] / 2) * sy)


def yuv_dist(a, b):
    return float(np.sqrt(sum((x - y) ** 2 for x, y in zip(a, b))))


def psnr(a, b):
    d = a.astype(np.float32) - b.astype(np.float32)
    mse = float(np.mean(d * d))
    return 99.0 if mse <= 1e-10 else 10.0 * np.log10(255.0 * 255.0 / mse)
