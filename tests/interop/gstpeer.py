"""gstpeer: many GStreamer webrtcbin participants of tutti in one process.

Every Peer is a real WebRTC peer (libnice ICE on loopback, DTLS, SRTP,
webrtcbin): it sends an Opus audiotestsrc (or nothing: a recvonly
transceiver), POSTs its offer to /api/v1/rooms/<room>/join, applies the
answer, and decodes what the server sends (rtpopusdepay ! opusdec) into an
appsink as 48 kHz mono S16LE, each buffer kept with its arrival time
(time.monotonic()). All peers share one Hub (one GLib main loop).

Analysis helpers (numpy) measure tones in what a peer received.

Run under Debian's /usr/bin/python3 (python3-gi, python3-numpy).
"""

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
    print(f"gstpeer: cannot load GStreamer bindings or numpy ({e}); run with Debian's "
          "/usr/bin/python3 (python3-gi, gir1.2-gst-plugins-bad-1.0, python3-numpy)",
          file=sys.stderr)
    sys.exit(2)

RATE = 48000
OPUS_CAPS = "application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000"
NEEDED_ELEMENTS = ("webrtcbin", "nicesrc", "opusenc", "opusdec", "rtpopuspay", "rtpopusdepay",
                   "audiotestsrc", "appsink", "identity", "audioconvert", "audioresample")


def log(*a):
    sys.stdout.write(" ".join(str(x) for x in a) + "\n")
    sys.stdout.flush()


class SetupError(Exception):
    """The test could not run (exit 2)."""


class CheckFailed(Exception):
    """A check failed (exit 1)."""


def db(x):
    return 10.0 * np.log10(np.maximum(x, 1e-30))


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
        if len(self.key) < 16:
            raise SetupError("TUTTI_ADMIN_KEY (16+ chars) must be set for the server and the test")
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

    def create_room(self, name, speakers=3, max_participants=50):
        st, j = self.api("POST", "/api/v1/rooms", {"name": name, "mode": "meeting",
                                                   "max_participants": max_participants,
                                                   "speakers": speakers})
        if st != 201:
            raise SetupError(f"POST /api/v1/rooms ({name}) -> {st}: {j}")
        log(f"room {name} created (speakers={speakers}, max_participants={max_participants})")
        return j

    def room(self, name):
        st, j = self.api("GET", "/api/v1/rooms/" + name)
        if st != 200:
            raise CheckFailed(f"GET /api/v1/rooms/{name} -> {st}: {j}")
        return j

    def set_muted(self, peer, muted):
        """PATCH {muted}; returns (t_sent, t_response) (time.monotonic())."""
        t0 = time.monotonic()
        st, j = self.api("PATCH", peer.path, {"muted": bool(muted)})
        t1 = time.monotonic()
        if st != 200:
            raise CheckFailed(f"PATCH {peer.path} muted={muted} -> {st}: {j}")
        return t0, t1

    def metrics(self):
        st, _h, text = http("GET", self.base + "/metrics")
        return text if st == 200 else ""

    # ---- peers ----
    def add(self, peer):
        self.peers.append(peer)
        return peer

    def start_all(self, peers=None, timeout=30.0):
        """Starts the peers (one after the other: each POST happens on the
        main loop) and waits until every one is connected (DTLS done)."""
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

    def close(self):
        """DELETE every participant, stop every pipeline. Returns the peers
        whose DELETE did not answer 204."""
        bad = []
        dump = os.environ.get("TUTTI_AUDIO_DUMP")
        if dump:                    # keep what every peer received, for a closer look
            os.makedirs(dump, exist_ok=True)
            for p in self.peers:
                if p.keep:
                    _x, t, raw = p.audio()
                    np.savez(os.path.join(dump, p.name + ".npz"), pcm=raw, t=t,
                             net=np.array(sorted(p.net_rtp.items())),
                             depay=np.array(sorted(p.depay_rtp.items())))
            log(f"received audio saved in {dump}")
        for p in self.peers:
            if not p.leave():
                bad.append(p.name)
        for p in self.peers:
            p.stop()
        return bad


class Peer:
    def __init__(self, hub, room, name, freq=440.0, volume=0.5, wave="sine", send=True,
                 drop=0.0, fec=False, dtx=False, keep=True):
        self.hub, self.room, self.name = hub, room, name
        self.freq, self.volume, self.send = freq, volume, send
        self.keep = keep
        self.location = self.path = None
        self.joined = self.connected = False
        self.failed = None
        self.offered = False
        self.t_connected = None
        self.lock = threading.Lock()
        self.chunks = []          # (arrival monotonic s, int16 array)
        self.n_samples = 0
        self.rx_bufs = 0
        self.net_rtp = {}         # rtp seq -> first arrival at nicesrc (keep only)
        self.depay_rtp = {}       # rtp seq -> arrival at the depayloader
        self.drop = drop

        desc = ["webrtcbin name=webrtc bundle-policy=max-bundle"]
        if send:
            enc = "opusenc name=enc bitrate=32000 frame-size=20"
            if dtx:
                enc += " dtx=true"
            if fec:
                enc += f" inband-fec=true packet-loss-percentage={max(1, int(drop * 100))}"
            chain = (f"audiotestsrc name=src wave={wave} freq={freq} volume={volume} is-live=true "
                     f"samplesperbuffer=960 ! audioconvert ! audioresample "
                     f"! audio/x-raw,rate=48000,channels=1 ! {enc} "
                     f"! rtpopuspay pt=111{' dtx=true' if dtx else ''}")
            if drop > 0:
                chain += f" ! identity name=loss drop-probability={drop}"
            chain += f" ! queue ! {OPUS_CAPS} ! webrtc."
            desc.append(chain)
        el = Gst.parse_launch("\n".join(desc))
        if isinstance(el, Gst.Pipeline):
            self.pipe = el
        else:                       # a lone webrtcbin (recvonly)
            self.pipe = Gst.Pipeline.new(name)
            self.pipe.add(el)
        self.webrtc = self.pipe.get_by_name("webrtc")
        self.webrtc.connect("on-negotiation-needed", self._on_negotiation_needed)
        self.webrtc.connect("pad-added", self._on_pad)
        self.webrtc.connect("notify::connection-state", self._on_state)
        bus = self.pipe.get_bus()
        bus.add_signal_watch()
        bus.connect("message::error", self._on_error)
        # Only lo exists in the test namespace: make libnice use 127.0.0.1.
        # Keep the Python wrapper of the agent alive (see gst_client.py).
        self.ice = self.webrtc.get_property("ice-agent")
        if self.ice is not None:
            self.ice.emit("add-local-ip-address", "127.0.0.1")
        if send:
            tr = self.webrtc.emit("get-transceiver", 0)
            tr.set_property("direction", GstWebRTC.WebRTCRTPTransceiverDirection.SENDRECV)
        else:
            # encoding-params=2: "opus/48000/2" in the offer, as RFC 7587 wants
            # (without it webrtcbin writes opus/48000, which tutti refuses).
            self.webrtc.emit("add-transceiver", GstWebRTC.WebRTCRTPTransceiverDirection.RECVONLY,
                             Gst.Caps.from_string(OPUS_CAPS + ",encoding-params=(string)2"))

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
        if self.keep:
            self._probe_nicesrc()

    def _on_state(self, w, _pspec):
        st = w.get_property("connection-state")
        if st == GstWebRTC.WebRTCPeerConnectionState.CONNECTED and not self.connected:
            self.connected = True
            self.t_connected = time.monotonic()
        elif st == GstWebRTC.WebRTCPeerConnectionState.FAILED:
            self.failed = "connection-state failed"

    def _on_error(self, _bus, msg):
        err, dbg = msg.parse_error()
        text = f"{self.name}: {msg.src.get_name()}: {err.message} ({dbg})"
        self.hub.errors.append(text)
        log("ERROR " + text)

    # ---- receiving ----
    def _on_pad(self, _w, pad):
        if pad.get_direction() != Gst.PadDirection.SRC:
            return
        depay = Gst.ElementFactory.make("rtpopusdepay")
        dec = Gst.ElementFactory.make("opusdec")
        elems = [depay, dec]
        if self.keep:
            conv = Gst.ElementFactory.make("audioconvert")
            res = Gst.ElementFactory.make("audioresample")
            caps = Gst.ElementFactory.make("capsfilter")
            caps.set_property("caps", Gst.Caps.from_string(
                "audio/x-raw,format=S16LE,rate=48000,channels=1,layout=interleaved"))
            sink = Gst.ElementFactory.make("appsink")
            sink.set_property("emit-signals", True)
            sink.set_property("sync", False)
            sink.connect("new-sample", self._on_sample)
            elems += [conv, res, caps, sink]
            depay.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, self._rtp_probe,
                                                   self.depay_rtp)
        else:
            sink = Gst.ElementFactory.make("fakesink")
            sink.set_property("sync", False)
            sink.set_property("async", False)
            elems.append(sink)
        for e in elems:
            self.pipe.add(e)
        for a, b in zip(elems, elems[1:]):
            a.link(b)
        for e in elems:
            e.sync_state_with_parent()
        if pad.link(depay.get_static_pad("sink")) != Gst.PadLinkReturn.OK:
            self.hub.errors.append(f"{self.name}: cannot link the incoming stream")

    def _on_sample(self, sink):
        t = time.monotonic()
        sample = sink.emit("pull-sample")
        buf = sample.get_buffer()
        ok, mi = buf.map(Gst.MapFlags.READ)
        if ok:
            a = np.frombuffer(mi.data, dtype="<i2").copy()
            buf.unmap(mi)
            with self.lock:
                self.chunks.append((t, a))
                self.n_samples += len(a)
                self.rx_bufs += 1
        return Gst.FlowReturn.OK

    @staticmethod
    def _rtp_seq(buf):
        head = buf.extract_dup(0, 4)
        if len(head) < 4 or (head[0] >> 6) != 2 or (head[1] & 0x7F) != 111:
            return None
        return (head[2] << 8) | head[3]

    def _rtp_probe(self, _pad, info, table):
        t = time.monotonic()
        buf = info.get_buffer()
        if buf is not None:
            seq = self._rtp_seq(buf)
            if seq is not None and seq not in table:
                table[seq] = t
        return Gst.PadProbeReturn.OK

    def _rtp_list_probe(self, pad, info, table):
        lst = info.get_buffer_list()
        if lst is not None:
            t = time.monotonic()
            for i in range(lst.length()):
                seq = self._rtp_seq(lst.get(i))
                if seq is not None and seq not in table:
                    table[seq] = t
        return Gst.PadProbeReturn.OK

    def _probe_nicesrc(self):
        """Arrival times of (still SRTP-encrypted, header in clear) RTP
        packets where they leave libnice: to measure what the client's own
        receive path (SRTP, jitter buffer, depay, decode) adds."""
        it = self.webrtc.iterate_recurse()
        while True:
            res, el = it.next()
            if res != Gst.IteratorResult.OK:
                break
            f = el.get_factory()
            if f is not None and f.get_name() == "nicesrc":
                pad = el.get_static_pad("src")
                pad.add_probe(Gst.PadProbeType.BUFFER, self._rtp_probe, self.net_rtp)
                pad.add_probe(Gst.PadProbeType.BUFFER_LIST, self._rtp_list_probe, self.net_rtp)

    def client_latency_ms(self):
        """Median time (ms) from libnice to the depayloader for the same RTP
        sequence numbers (SRTP + rtpjitterbuffer inside webrtcbin); plus the
        median time from the depayloader to the appsink (decode), from counts."""
        common = [s for s in self.depay_rtp if s in self.net_rtp]
        if not common:
            return None
        d = np.array([self.depay_rtp[s] - self.net_rtp[s] for s in common]) * 1000.0
        return float(np.median(d)), float(np.percentile(d, 95)), len(common)

    # ---- received audio ----
    def audio(self):
        """(pcm float64 in [-1, 1), per-sample arrival time, raw int16)."""
        with self.lock:
            chunks = list(self.chunks)
        if not chunks:
            return np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int16)
        raw = np.concatenate([c for _t, c in chunks])
        t = np.concatenate([np.full(len(c), tt) for tt, c in chunks])
        return raw.astype(np.float64) / 32768.0, t, raw

    def segment(self, t0, t1):
        x, t, _ = self.audio()
        sel = (t >= t0) & (t < t1)
        return x[sel]

    def received_s(self):
        return self.n_samples / RATE

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

    def webrtc_stats(self):
        """inbound-rtp / outbound-rtp packet counters from webrtcbin."""
        promise = Gst.Promise.new()
        self.webrtc.emit("get-stats", None, promise)
        if promise.wait() != Gst.PromiseResult.REPLIED or promise.get_reply() is None:
            return {}
        reply = promise.get_reply()
        out = {}
        for i in range(reply.n_fields()):
            v = reply.get_value(reply.nth_field_name(i))
            if not isinstance(v, Gst.Structure):
                continue
            typ = v.get_value("type")
            nick = typ.value_nick if hasattr(typ, "value_nick") else str(typ)
            for f in ("packets-received", "bytes-received", "packets-sent", "bytes-sent",
                      "packets-lost"):
                if v.has_field(f):
                    out[f"{nick}.{f}"] = out.get(f"{nick}.{f}", 0) + v.get_value(f)
        return out


# ------------------------------------------------------------ analysis ----
def spectrum(x):
    """Power spectrum (Hann window) and its bin frequencies."""
    w = np.hanning(len(x))
    X = np.fft.rfft(x * w)
    p = (np.abs(X) ** 2) / (np.sum(w) ** 2 / 4.0)   # a full-scale sine's peak -> ~1 (0 dB)
    f = np.fft.rfftfreq(len(x), 1.0 / RATE)
    return f, p


def tone_report(x, freqs, half_bw=6.0, floor_band=(100.0, 4000.0), guard=40.0):
    """Peak power (dB) at each of freqs (max within ±half_bw Hz), and the
    noise floor: median bin power in floor_band, leaving out ±guard Hz
    around every tone of freqs and their 2nd/3rd harmonics."""
    f, p = spectrum(x)
    tones = {}
    for fr in freqs:
        sel = (f >= fr - half_bw) & (f <= fr + half_bw)
        tones[fr] = float(db(p[sel].max()))
    sel = (f >= floor_band[0]) & (f <= floor_band[1])
    for fr in freqs:
        for h in (1, 2, 3):
            sel &= np.abs(f - h * fr) > guard
    floor = float(db(np.median(p[sel])))
    return tones, floor


def band_power_windows(x, t, freqs, win=960, hop=48):
    """Sliding windows of win samples (20 ms) every hop samples: the power
    (dB) at each frequency (Hann-windowed DFT at that exact frequency), and
    each window's end time (arrival time of its last sample)."""
    if len(x) < win:
        return np.zeros((0, len(freqs))), np.zeros(0)
    starts = np.arange(0, len(x) - win + 1, hop)
    idx = starts[:, None] + np.arange(win)[None, :]
    frames = x[idx] * np.hanning(win)[None, :]
    n = np.arange(win)
    basis = np.exp(-2j * np.pi * np.outer(n, np.asarray(freqs, dtype=float)) / RATE)
    amp = np.abs(frames @ basis) / (np.sum(np.hanning(win)) / 2.0)
    return db(amp ** 2), t[starts + win - 1]


def longest_run(mask):
    """Length of the longest run of True in a boolean array."""
    best = cur = 0
    for m in mask:
        cur = cur + 1 if m else 0
        best = max(best, cur)
    return best


def exit_code(fn):
    """Runs fn() -> None; maps exceptions to exit codes; os._exit (see
    gst_client.py on why the interpreter must not tear GStreamer down)."""
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
