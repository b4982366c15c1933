"""gstvideo: many GStreamer webrtcbin video participants of tutti in one process.

Every VPeer is a real WebRTC peer (libnice ICE on loopback, DTLS, SRTP,
webrtcbin). It sends an Opus audiotestsrc (silence, or a loud tone for the
one meant to be the active speaker) and a VP8 videotestsrc (a solid colour
or a moving pattern), POSTs its offer to /api/v1/rooms/<room>/join, applies
the answer, and decodes the composite the server sends back
(rtpvp8depay ! vp8dec ! videoconvert ! I420 appsink). It keeps the latest
decoded frames (numpy Y, U, V planes) with their arrival times
(time.monotonic()), every arrival time and frame size, and every ERROR and
WARNING its pipeline posts. All peers share one Hub (one GLib main loop).

Run under Debian's /usr/bin/python3 (python3-gi, python3-numpy).
"""

import collections
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

try:
    import gi
    gi.require_version("Gst", "1.0")
    gi.require_version("GstSdp", "1.0")
    gi.require_version("GstWebRTC", "1.0")
    from gi.repository import GLib, Gst, GstSdp, GstWebRTC
    import numpy as np
except (ImportError, ValueError) as e:
    print(f"gstvideo: cannot load GStreamer bindings or numpy ({e}); run with Debian's "
          "/usr/bin/python3 (python3-gi, gir1.2-gst-plugins-bad-1.0, python3-numpy)",
          file=sys.stderr)
    sys.exit(2)

OPUS_CAPS = "application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000"
VP8_CAPS = "application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000"
NEEDED_ELEMENTS = ("webrtcbin", "nicesrc", "opusenc", "rtpopuspay", "vp8enc", "vp8dec",
                   "rtpvp8pay", "rtpvp8depay", "audiotestsrc", "videotestsrc", "appsink",
                   "videoconvert", "fakesink")
T0 = time.monotonic()


def log(*a):
    # one write per line: several GStreamer threads log
    sys.stdout.write("[%7.3f] " % (time.monotonic() - T0) + " ".join(str(x) for x in a) + "\n")
    sys.stdout.flush()


class SetupError(Exception):
    """The test could not run (exit 2)."""


class CheckFailed(Exception):
    """A check failed (exit 1)."""


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


# ---------------------------------------------------------------- HTTP ----
def http(method, url, body=None, ctype=None, key=None, timeout=5.0):
    """Returns (status, headers, body text); never raises for an HTTP status."""
    headers = {}
    if ctype:
        headers["Content-Type"] = ctype
    if key:
        headers["Authorization"] = "Bearer " + key
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            return res.status, res.headers, res.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode("utf-8", "replace")


class Hub:
    """The server, the main loop, and every peer."""

    def __init__(self, base=None):
        base = base or os.environ.get("TUTTI_URL", "")
        self.base = base.rstrip("/")
        if not self.base.startswith("http://"):
            raise SetupError("TUTTI_URL is not set (run under run_with_server.sh)")
        self.key = os.environ.get("TUTTI_ADMIN_KEY", "")
        if not self.key:
            raise SetupError("TUTTI_ADMIN_KEY must be set for the server and the test")
        Gst.init(None)
        missing = [f for f in NEEDED_ELEMENTS if Gst.ElementFactory.find(f) is None]
        if missing:
            raise SetupError("missing GStreamer elements: " + ", ".join(missing))
        self.loop = GLib.MainLoop()
        self.peers = []
        self.errors = []          # fatal pipeline errors (strings)

    # ---- main loop ----
    def run_for(self, seconds):
        GLib.timeout_add(max(1, int(seconds * 1000)), self._quit)
        self.loop.run()

    def _quit(self):
        self.loop.quit()
        return False

    def run_until(self, pred, timeout, step=0.05):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.errors:
                raise CheckFailed("pipeline error: " + self.errors[0])
            if pred():
                return True
            self.run_for(step)
        return pred()

    # ---- admin API ----
    def api(self, method, path, obj=None):
        body = json.dumps(obj) if obj is not None else None
        st, _h, text = http(method, self.base + path, body,
                            "application/json" if body is not None else None, self.key)
        try:
            return st, json.loads(text) if text else None
        except ValueError:
            return st, text

    def create_room(self, name, **cfg):
        body = {"name": name, "mode": "meeting"}
        body.update(cfg)
        st, j = self.api("POST", "/api/v1/rooms", body)
        if st != 201:
            raise SetupError(f"POST /api/v1/rooms {body} -> {st}: {j}")
        log(f"room {name} created: {json.dumps(body)}")
        return j

    def room(self, name):
        st, j = self.api("GET", "/api/v1/rooms/" + name)
        if st != 200:
            raise CheckFailed(f"GET /api/v1/rooms/{name} -> {st}: {j}")
        return j

    def set_layout(self, room, kind):
        st, j = self.api("PATCH", "/api/v1/rooms/" + room, {"layout": kind})
        if st != 200:
            raise CheckFailed(f"PATCH /api/v1/rooms/{room} layout={kind} -> {st}: {j}")
        return j

    def set_tier(self, peer, tier):
        st, j = self.api("PATCH", peer.path, {"tier": tier})
        if st != 200:
            raise CheckFailed(f"PATCH {peer.path} tier={tier} -> {st}: {j}")
        return j

    def metrics(self, prefix="tutti_video"):
        st, _h, text = http("GET", self.base + "/metrics")
        if st != 200:
            return {}
        out = {}
        for line in text.splitlines():
            if line.startswith(prefix):
                k, _, v = line.rpartition(" ")
                out[k] = v
        return out

    # ---- peers ----
    def add(self, peer):
        self.peers.append(peer)
        return peer

    def start_all(self, peers=None, timeout=30.0):
        """Starts the peers one after the other (each POST happens on the
        main loop, so they join in this order) and waits until every one
        is connected (DTLS done)."""
        peers = peers if peers is not None else self.peers
        for p in peers:
            p.start()
            if not self.run_until(lambda: p.joined or p.failed, 10.0):
                raise CheckFailed(f"{p.name}: no answer within 10 s")
            if p.failed:
                raise CheckFailed(f"{p.name}: {p.failed}")
        ok = self.run_until(lambda: all(q.connected or q.failed for q in peers), timeout)
        bad = [q for q in peers if not q.connected]
        if not ok or bad:
            raise CheckFailed("not connected within %.0f s: %s" % (
                timeout, ", ".join(f"{q.name} ({q.failed or q.state()})" for q in bad)))
        log(f"{len(peers)} peers connected")

    def close(self):
        """DELETE every participant, stop every pipeline. Returns the names
        of the peers whose DELETE did not answer 204."""
        bad = []
        for p in self.peers:
            if not p.leave():
                bad.append(p.name)
        for p in self.peers:
            p.stop()
        return bad


class VPeer:
    """One participant.

    video: a gst-launch fragment ending in raw video caps (solid_src(),
    moving_src()), or None to send no video (a recvonly video transceiver).
    tone: send a loud 440 Hz sine instead of silence.
    decode: decode the received video (else it goes to a fakesink).
    keep: how many decoded frames to keep (the latest)."""

    def __init__(self, hub, room, name, video, tone=False, decode=True, keep=4):
        self.hub, self.room, self.name = hub, room, name
        self.tone, self.decode = tone, decode
        self.location = self.path = self.id = None
        self.joined = self.connected = False
        self.failed = None
        self.offered = False
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
        if video:
            desc.append(f"{video} ! videoconvert ! vp8enc name=venc deadline=1 "
                        f"! rtpvp8pay pt=96 picture-id-mode=15-bit ! queue ! {VP8_CAPS} ! webrtc.")
        self.pipe = Gst.parse_launch("\n".join(desc))
        self.webrtc = self.pipe.get_by_name("webrtc")
        self.webrtc.connect("on-negotiation-needed", self._on_negotiation_needed)
        self.webrtc.connect("pad-added", self._on_pad)
        self.webrtc.connect("notify::connection-state", self._on_state)
        bus = self.pipe.get_bus()
        bus.add_signal_watch()
        bus.connect("message::error", self._on_error)
        bus.connect("message::warning", self._on_warning)
        # Only lo exists in the test namespace: make libnice use 127.0.0.1.
        # Keep the Python wrapper of the agent alive for the whole run: with
        # GStreamer 1.22, dropping it unrefs an object webrtcbin still uses
        # (a crash); the tests end with os._exit for the same reason.
        self.ice = self.webrtc.get_property("ice-agent")
        if self.ice is not None:
            self.ice.emit("add-local-ip-address", "127.0.0.1")
        n_linked = 2 if video else 1
        for i in range(n_linked):
            tr = self.webrtc.emit("get-transceiver", i)
            if tr is not None:
                tr.set_property("direction", GstWebRTC.WebRTCRTPTransceiverDirection.SENDRECV)
        if not video:
            self.webrtc.emit("add-transceiver", GstWebRTC.WebRTCRTPTransceiverDirection.RECVONLY,
                             Gst.Caps.from_string(VP8_CAPS))

    def state(self):
        return self.webrtc.get_property("connection-state").value_nick

    # ---- signalling ----
    def start(self):
        if self.pipe.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            self.failed = "the pipeline would not start"

    def _on_negotiation_needed(self, _w):
        if not self.offered:
            self.offered = True
            GLib.idle_add(self._offer)

    def _offer(self):
        try:
            self._offer_answer()
        except Exception as e:  # noqa: BLE001 (reported, the test fails)
            self.failed = f"signalling: {e!r}"
        return False

    def _offer_answer(self):
        promise = Gst.Promise.new()
        self.webrtc.emit("create-offer", None, promise)
        promise.wait()
        reply = promise.get_reply()
        offer = reply.get_value("offer") if reply is not None else None
        if offer is None:
            self.failed = "create-offer failed"
            return
        promise = Gst.Promise.new()
        self.webrtc.emit("set-local-description", offer, promise)
        promise.wait()
        url = f"{self.hub.base}/api/v1/rooms/{urllib.parse.quote(self.room)}/join"
        st, h, body = http("POST", url, offer.sdp.as_text(), "application/sdp")
        if st != 201:
            self.failed = f"POST {url} -> {st}: {body[:300]}"
            return
        loc = h.get("Location")
        if not loc:
            self.failed = "201 without Location"
            return
        self.location = urllib.parse.urljoin(url, loc)
        self.path = urllib.parse.urlparse(self.location).path
        self.id = self.path.rstrip("/").rsplit("/", 1)[-1]
        res, msg = GstSdp.SDPMessage.new_from_text(body)
        if res != GstSdp.SDPResult.OK:
            self.failed = "answer is not SDP"
            return
        answer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, msg)
        promise = Gst.Promise.new()
        self.webrtc.emit("set-remote-description", answer, promise)
        promise.wait()
        reply = promise.get_reply()
        if reply is not None and reply.has_field("error"):
            self.failed = f"set-remote-description: {reply.get_value('error')}"
            return
        agent = self.ice.get_property("agent") if self.ice is not None else None
        if agent is not None and not agent.get_property("controlling-mode"):
            agent.set_property("controlling-mode", True)   # the server is ICE-lite
        self.joined = True

    def _on_state(self, w, _pspec):
        st = w.get_property("connection-state")
        if st == GstWebRTC.WebRTCPeerConnectionState.CONNECTED and not self.connected:
            self.connected = True
        elif st == GstWebRTC.WebRTCPeerConnectionState.FAILED:
            self.failed = "connection-state failed"

    def _on_error(self, _bus, msg):
        err, dbg = msg.parse_error()
        src = msg.src.get_name() if msg.src else "?"
        self.messages.append((time.monotonic(), "ERROR", src, f"{err.message} ({dbg})"))
        text = f"{self.name}: {src}: {err.message} ({dbg})"
        self.hub.errors.append(text)
        log("ERROR " + text)

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
        elems = []
        if media == "video" and self.decode:
            names = ("rtpvp8depay", "vp8dec", "videoconvert", "capsfilter", "appsink")
            elems = [Gst.ElementFactory.make(n, f"{self.name}-rx-{n}") for n in names]
            elems[3].set_property("caps", Gst.Caps.from_string("video/x-raw,format=I420"))
            sink = elems[4]
            sink.set_property("emit-signals", True)
            sink.set_property("sync", False)
            sink.connect("new-sample", self._on_sample)
        else:
            sink = Gst.ElementFactory.make("fakesink")
            sink.set_property("sync", False)
            sink.set_property("async", False)
            elems = [sink]
        for e in elems:
            self.pipe.add(e)
        for a, b in zip(elems, elems[1:]):
            a.link(b)
        for e in elems:
            e.sync_state_with_parent()
        if pad.link(elems[0].get_static_pad("sink")) != Gst.PadLinkReturn.OK:
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

    # ---- teardown ----
    def leave(self):
        if not self.location:
            return True
        try:
            st, _h, _b = http("DELETE", self.location)
        except OSError as e:
            log(f"{self.name}: DELETE failed: {e}")
            return False
        self.location = None
        if st != 204:
            log(f"{self.name}: DELETE -> {st}, expected 204")
            return False
        return True

    def stop(self):
        self.pipe.set_state(Gst.State.NULL)


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


def exit_code(fn):
    """Runs fn() -> None; maps exceptions to exit codes; os._exit (the
    interpreter must not tear GStreamer 1.22's webrtcbin down)."""
    try:
        fn()
        rc = 0
    except SetupError as e:
        log(f"SETUP PROBLEM: {e}")
        rc = 2
    except CheckFailed as e:
        log(f"FAIL: {e}")
        rc = 1
    except Exception:  # noqa: BLE001 (a bug in the test: say where)
        import traceback
        traceback.print_exc()
        log("FAIL: the test raised an exception")
        rc = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)
