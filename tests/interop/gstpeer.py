"""gstpeer: GStreamer webrtcbin participants of tutti, many in one process.

The common base of the GStreamer interop tests (audio_mix.py, video_mix.py
through gstvideo.py, gst_client.py):

  - loading the GStreamer bindings (exit 2 when they are missing), log(),
    SetupError / CheckFailed and exit_code();
  - http() and BaseHub: the server (TUTTI_URL, TUTTI_ADMIN_KEY), its admin
    API, the one GLib main loop every peer shares, starting and closing
    the peers;
  - WebRTCPeer: a real WebRTC peer (libnice ICE on loopback, DTLS, SRTP,
    webrtcbin) that POSTs its offer to /api/v1/rooms/<room>/join, applies
    the answer, and leaves with a DELETE of its participant URL.

And the audio tests' own peer: every Peer sends an Opus audiotestsrc (or
nothing: a recvonly transceiver) and decodes what the server sends
(rtpopusdepay ! opusdec) into an appsink as 48 kHz mono S16LE, each buffer
kept with its arrival time (time.monotonic()). Hub is the audio tests'
BaseHub. Analysis helpers (numpy) measure tones in what a peer received.

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
except (ImportError, ValueError) as e:
    print(f"{os.path.basename(sys.argv[0])}: cannot load GStreamer bindings ({e}); run with "
          "Debian's /usr/bin/python3 (python3-gi, gir1.2-gst-plugins-bad-1.0)", file=sys.stderr)
    sys.exit(2)

try:
    import numpy as np
except ImportError:  # BaseHub says so (exit 2); gst_client.py skips its tone check
    np = None

RATE = 48000
OPUS_CAPS = "application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000"
NEEDED_ELEMENTS = ("webrtcbin", "nicesrc", "opusenc", "opusdec", "rtpopuspay", "rtpopusdepay",
                   "audiotestsrc", "appsink", "identity", "audioconvert", "audioresample")
T0 = time.monotonic()
_log_prefix = str            # () -> the text in front of every log line


def set_log_prefix(fn):
    """fn() gives the text in front of every line log() writes."""
    global _log_prefix
    _log_prefix = fn


def log(*a):
    # one write per line: several GStreamer threads log
    sys.stdout.write(_log_prefix() + " ".join(str(x) for x in a) + "\n")
    sys.stdout.flush()


# One line per named check ("ok   name" / "FAIL name: detail"); the names
# of the failed ones are kept in `failures` for the test's verdict.
failures = []


def check(name, ok, detail=""):
    log(("ok   " if ok else "FAIL ") + name + (f": {detail}" if detail else ""))
    if not ok:
        failures.append(name)
    return ok


class SetupError(Exception):
    """The test could not run (exit 2)."""


class CheckFailed(Exception):
    """A check failed (exit 1)."""


def exit_code(fn):
    """Runs fn() -> None or an exit status; maps exceptions to exit codes;
    os._exit: the interpreter must not tear GStreamer 1.22's webrtcbin down
    (see WebRTCPeer on the ICE agent)."""
    try:
        rc = fn() or 0
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


# ----------------------------------------------------------- GStreamer ----
def missing_elements(names):
    """Initialises GStreamer; the element factories of names it lacks."""
    Gst.init(None)
    return [f for f in names if Gst.ElementFactory.find(f) is None]


def launch(desc, name):
    """A pipeline from a gst-launch description (a lone element, such as a
    recvonly webrtcbin, gets a pipeline of its own)."""
    el = Gst.parse_launch(desc)
    if isinstance(el, Gst.Pipeline):
        return el
    pipe = Gst.Pipeline.new(name)
    pipe.add(el)
    return pipe


def fakesink():
    sink = Gst.ElementFactory.make("fakesink")
    sink.set_property("sync", False)
    sink.set_property("async", False)
    return sink


def appsink(on_sample, name=None):
    """An appsink that calls on_sample(sink) for every buffer, unsynchronised."""
    sink = Gst.ElementFactory.make("appsink", name)
    sink.set_property("emit-signals", True)
    sink.set_property("sync", False)
    sink.connect("new-sample", on_sample)
    return sink


class BaseHub:
    """The server, the main loop, and every peer."""

    def __init__(self, needed, base=None):
        base = base or os.environ.get("TUTTI_URL", "")
        self.base = base.rstrip("/")
        if not self.base.startswith("http://"):
            raise SetupError("TUTTI_URL is not set (run under run_with_server.sh)")
        self.key = os.environ.get("TUTTI_ADMIN_KEY", "")
        if len(self.key) < 16:
            raise SetupError("TUTTI_ADMIN_KEY (16+ chars) must be set for the server and the test")
        if np is None:
            raise SetupError("numpy is missing: run with Debian's /usr/bin/python3 (python3-numpy)")
        missing = missing_elements(needed)
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
        # Open rooms: these peers join without a join token (the token
        # rules have their own tests in tests/api).
        body = {"name": name, "mode": "meeting", "access": "open"}
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

    def patch_participant(self, peer, **fields):
        """PATCH the peer's participant resource; its JSON (200) or CheckFailed."""
        st, j = self.api("PATCH", peer.path, fields)
        if st != 200:
            raise CheckFailed(f"PATCH {peer.path} "
                              + " ".join(f"{k}={v}" for k, v in fields.items())
                              + f" -> {st}: {j}")
        return j

    def metrics(self, prefix="tutti_"):
        """The /metrics samples whose name starts with prefix: {name{labels}: value}."""
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
        bad = [p.name for p in self.peers if not p.leave()]
        for p in self.peers:
            p.stop()
        return bad


class WebRTCPeer:
    """One participant: a pipeline with a webrtcbin named "webrtc" (and
    what the subclass sends into it), that joins hub.base's room.

    A subclass builds the pipeline, calls this __init__, then sets its
    transceivers (sendrecv(), recvonly()) and handles the incoming streams
    in _on_pad(webrtc, pad). The peer answers to hub.base and reports fatal
    pipeline errors in hub.errors (pipeline_error())."""

    endpoint = "join"             # POST the offer to /api/v1/rooms/<room>/<endpoint>

    def __init__(self, hub, room, name, pipe):
        self.hub, self.room, self.name = hub, room, name
        self.pipe = pipe
        self.location = self.path = self.id = None
        self.joined = self.connected = False
        self.failed = None          # a reason, once this peer cannot pass
        self.offered = False
        self.t_connected = None
        self.webrtc = self.pipe.get_by_name("webrtc")
        self.webrtc.connect("on-negotiation-needed", self._on_negotiation_needed)
        self.webrtc.connect("pad-added", self._on_pad)
        self.webrtc.connect("notify::connection-state", self._on_state)
        bus = self.pipe.get_bus()
        bus.add_signal_watch()
        bus.connect("message::error", self._on_error)
        # Only `lo` exists inside the test's network namespace, and libnice
        # 0.1.21 gathers no candidate at all there unless told to use
        # 127.0.0.1 (or TUTTI_TEST_LOCAL_IP: a test's own veth address in a
        # namespace of its own, shaped_link.py). The Python wrapper of the agent is kept for the whole
        # run: with GStreamer 1.22, dropping it unrefs an object webrtcbin
        # still uses (a crash); the tests end with os._exit (exit_code())
        # for the same reason.
        self.ice = self.webrtc.get_property("ice-agent")
        if self.ice is not None:
            self.ice.emit("add-local-ip-address",
                          os.environ.get("TUTTI_TEST_LOCAL_IP", "127.0.0.1"))

    def sendrecv(self, n):
        """Send and receive on the transceivers of the first n linked sink pads."""
        for i in range(n):
            tr = self.webrtc.emit("get-transceiver", i)
            if tr is not None:
                tr.set_property("direction", GstWebRTC.WebRTCRTPTransceiverDirection.SENDRECV)

    def recvonly(self, caps):
        """Adds a receive-only transceiver for caps (a caps string)."""
        self.webrtc.emit("add-transceiver", GstWebRTC.WebRTCRTPTransceiverDirection.RECVONLY,
                         Gst.Caps.from_string(caps))

    def log(self, *a):
        log(f"{self.name}:", *a)

    def fail(self, reason):
        """This peer cannot pass (the first reason is kept)."""
        if self.failed is None:
            self.failed = reason

    def state(self):
        return self.webrtc.get_property("connection-state").value_nick

    # ---- signalling ----
    def start(self):
        if self.pipe.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            self.fail("the pipeline would not start")

    def _on_negotiation_needed(self, _w):
        if not self.offered:
            self.offered = True
            GLib.idle_add(self._offer)

    def _offer(self):
        try:
            self._offer_answer()
        except Exception as e:  # noqa: BLE001 (reported, the test fails)
            self.fail(f"signalling: {e!r}")
        return False

    def _offer_answer(self):
        promise = Gst.Promise.new()
        self.webrtc.emit("create-offer", None, promise)
        promise.wait()
        reply = promise.get_reply()
        offer = reply.get_value("offer") if reply is not None else None
        if offer is None:
            return self.fail(f"create-offer failed: {reply.to_string() if reply else 'no reply'}")
        promise = Gst.Promise.new()
        self.webrtc.emit("set-local-description", offer, promise)
        promise.wait()
        sdp = offer.sdp.as_text()
        self.on_offer(sdp)
        url = f"{self.hub.base}/api/v1/rooms/{urllib.parse.quote(self.room)}/{self.endpoint}"
        st, h, body = http("POST", url, sdp, "application/sdp")
        if st != 201:
            return self.fail(f"POST {url} -> {st}: {body[:300]}")
        loc = h.get("Location")
        if not loc:
            return self.fail("201 without a Location header")
        why = self.on_answer(url, h, body)
        if why:
            return self.fail(why)
        body = self.rewrite_answer(body)
        self.location = urllib.parse.urljoin(url, loc)
        self.path = urllib.parse.urlparse(self.location).path
        self.id = self.path.rstrip("/").rsplit("/", 1)[-1]
        res, msg = GstSdp.SDPMessage.new_from_text(body)
        if res != GstSdp.SDPResult.OK:
            return self.fail("answer is not parseable SDP:\n" + body)
        answer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, msg)
        promise = Gst.Promise.new()
        self.webrtc.emit("set-remote-description", answer, promise)
        promise.wait()
        reply = promise.get_reply()
        if reply is not None and reply.has_field("error"):
            return self.fail(f"set-remote-description failed: {reply.get_value('error')}"
                             f"\nanswer was:\n{body}")
        # The server is ICE-lite: the full agent here must be the controlling
        # one (it is, as the offerer; insist if it is not).
        agent = self.ice.get_property("agent") if self.ice is not None else None
        if agent is not None and not agent.get_property("controlling-mode"):
            self.log("ICE agent was controlled; making it controlling (the server is ICE-lite)")
            agent.set_property("controlling-mode", True)
        self.joined = True
        self.on_joined(body, agent)
        return False

    # Hooks for subclasses.
    def on_offer(self, sdp):
        """The offer, set as local description, before it is POSTed."""

    def on_answer(self, url, headers, body):
        """The server's 201 (with a Location): a reason to fail, or None."""
        return None

    def on_joined(self, answer, agent):
        """The answer is applied (agent: libnice's, or None)."""

    def rewrite_answer(self, body):
        """The answer as this peer applies it (a test's relay may stand in
        for the server's candidate address)."""
        return body

    def _on_state(self, w, _pspec):
        st = w.get_property("connection-state")
        if st == GstWebRTC.WebRTCPeerConnectionState.CONNECTED and not self.connected:
            self.connected = True
            self.t_connected = time.monotonic()
        elif st == GstWebRTC.WebRTCPeerConnectionState.FAILED:
            self.fail("webrtcbin connection-state failed")

    def _on_error(self, _bus, msg):
        err, dbg = msg.parse_error()
        self.pipeline_error(msg.src.get_name() if msg.src else "?", f"{err.message} ({dbg})")

    def pipeline_error(self, src, text):
        """An ERROR on the bus: fatal for the test (hub.run_until raises)."""
        text = f"{self.name}: {src}: {text}"
        self.hub.errors.append(text)
        log("ERROR " + text)

    # ---- receiving ----
    def _on_pad(self, _w, pad):
        raise NotImplementedError

    def attach(self, pad, elems):
        """Adds elems to the pipeline, links them in a chain and the incoming
        pad to the first. False when the pad would not link."""
        for e in elems:
            self.pipe.add(e)
        for a, b in zip(elems, elems[1:]):
            a.link(b)
        for e in elems:
            e.sync_state_with_parent()
        return pad.link(elems[0].get_static_pad("sink")) == Gst.PadLinkReturn.OK

    def probe_nicesrc(self, on_buffer, on_list, data):
        """Probes on the src pad of every nicesrc inside webrtcbin: what
        arrives from the network, before SRTP and the jitter buffer."""
        it = self.webrtc.iterate_recurse()
        while True:
            res, el = it.next()
            if res != Gst.IteratorResult.OK:
                break
            f = el.get_factory()
            if f is not None and f.get_name() == "nicesrc":
                pad = el.get_static_pad("src")
                pad.add_probe(Gst.PadProbeType.BUFFER, on_buffer, data)
                pad.add_probe(Gst.PadProbeType.BUFFER_LIST, on_list, data)

    def stats(self):
        """webrtcbin's statistics: a list of Gst.Structure (empty when it
        gave none). Copies: what get_value() gives lives in the reply, which
        goes with the promise."""
        promise = Gst.Promise.new()
        self.webrtc.emit("get-stats", None, promise)
        if promise.wait() != Gst.PromiseResult.REPLIED or promise.get_reply() is None:
            return []
        reply = promise.get_reply()
        out = []
        for i in range(reply.n_fields()):
            v = reply.get_value(reply.nth_field_name(i))
            if isinstance(v, Gst.Structure):
                out.append(v.copy())
        return out

    # ---- teardown ----
    def leave(self):
        """DELETE of the participant URL; False unless it answered 204."""
        if not self.location:
            return True
        try:
            st, _h, _b = http("DELETE", self.location)
        except OSError as e:
            self.log(f"DELETE {self.location} failed: {e}")
            return False
        self.location = None
        want = 200 if self.endpoint in ("whip", "whep") else 204   # RFC 9725: 200 OK
        if st != want:
            self.log(f"DELETE -> {st}, expected {want}")
            return False
        return True

    def stop(self):
        self.pipe.set_state(Gst.State.NULL)


# =============================================================== audio ====
class Hub(BaseHub):
    """The audio tests' hub."""

    def __init__(self, base=None):
        super().__init__(NEEDED_ELEMENTS, base)

    def create_room(self, name, speakers=3, max_participants=50, **cfg):
        return super().create_room(name, max_participants=max_participants, speakers=speakers,
                                   **cfg)

    def set_muted(self, peer, muted):
        """PATCH {muted}; returns (t_sent, t_response) (time.monotonic())."""
        t0 = time.monotonic()
        self.patch_participant(peer, muted=bool(muted))
        return t0, time.monotonic()

    def close(self):
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
        return super().close()


class Peer(WebRTCPeer):
    def __init__(self, hub, room, name, freq=440.0, volume=0.5, wave="sine", send=True,
                 drop=0.0, fec=False, dtx=False, keep=True):
        self.freq, self.volume, self.send = freq, volume, send
        self.keep = keep
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
        super().__init__(hub, room, name, launch("\n".join(desc), name))
        if send:
            self.sendrecv(1)
        else:
            # encoding-params=2: "opus/48000/2" in the offer, as RFC 7587 wants
            # (without it webrtcbin writes opus/48000, which tutti refuses).
            self.recvonly(OPUS_CAPS + ",encoding-params=(string)2")

    def on_joined(self, answer, agent):
        if self.keep:
            self._probe_nicesrc()

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
            elems += [conv, res, caps, appsink(self._on_sample)]
            depay.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, self._rtp_probe,
                                                   self.depay_rtp)
        else:
            elems.append(fakesink())
        if not self.attach(pad, elems):
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
        self.probe_nicesrc(self._rtp_probe, self._rtp_list_probe, self.net_rtp)

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

    def webrtc_stats(self):
        """inbound-rtp / outbound-rtp packet counters from webrtcbin."""
        out = {}
        for v in self.stats():
            typ = v.get_value("type")
            nick = typ.value_nick if hasattr(typ, "value_nick") else str(typ)
            for f in ("packets-received", "bytes-received", "packets-sent", "bytes-sent",
                      "packets-lost"):
                if v.has_field(f):
                    out[f"{nick}.{f}"] = out.get(f"{nick}.{f}", 0) + v.get_value(f)
        return out


# ------------------------------------------------------- audio analysis ----
def db(x):
    return 10.0 * np.log10(np.maximum(x, 1e-30))


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
