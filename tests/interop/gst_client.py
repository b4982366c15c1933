#!/usr/bin/python3
"""Interop test: GStreamer webrtcbin participants join a tutti room.

Each participant sends an Opus sine (its own pitch: 440, 660, ... Hz) and a
VP8 test pattern, POSTs its SDP offer to /api/v1/rooms/<room>/join, applies
the answer, and decodes what the server sends back. The run passes when,
within 15 s, every participant has decoded at least 20 video frames and 1 s
of audio, and (with two or more participants) what each one hears is
another participant's tone, not its own (the N-1 mix). Then each leaves
(DELETE of its participant URL, 204).

    /usr/bin/python3 gst_client.py [http://127.0.0.1:PORT] [--peers N]

The URL may come from env TUTTI_URL instead. --peers defaults to 2: alone in
a room a participant hears nothing but its own N-1 mix, silence, which the
server sends as a few Opus DTX packets. --peers 1 is the echo-era check.

Run it with Debian's /usr/bin/python3 (it needs python3-gi; numpy for the
tone check). Exit status: 0 pass, 1 a check failed, 2 could not run.
Env: TUTTI_ROOM (default demo), TUTTI_GST_SHOW_SDP=1 prints offers and
answers, GST_DEBUG as usual (e.g. webrtcbin:5,nice:4).
"""

import argparse
import os
import sys
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
    print(f"gst_client: cannot load GStreamer bindings ({e}); run with Debian's /usr/bin/python3 "
          "and install python3-gi, gir1.2-gst-plugins-bad-1.0", file=sys.stderr)
    sys.exit(2)

try:
    import numpy as np
except ImportError:  # the tone check is skipped (and says so)
    np = None

TIMEOUT_S = 15.0
NEED_VIDEO_FRAMES = 20
NEED_AUDIO_S = 1.0
TONES = (440, 660, 550, 770, 495, 605)   # one per participant, none a harmonic of another
TONE_WINDOW = 24000                      # samples (0.5 s at 48 kHz) for the pitch estimate
TONE_TOLERANCE = 0.03

PIPELINE = """
webrtcbin name=webrtc bundle-policy=max-bundle
audiotestsrc wave=sine freq={freq} is-live=true
  ! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=2
  ! opusenc ! rtpopuspay pt=111 ! queue
  ! application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000
  ! webrtc.
videotestsrc is-live=true pattern={pattern}
  ! video/x-raw,width=320,height=240,framerate=15/1 ! videoconvert
  ! vp8enc deadline=1 keyframe-max-dist=30 ! rtpvp8pay pt=96 picture-id-mode=15-bit ! queue
  ! application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000
  ! webrtc.
"""


def log(*a):
    # one write per line: several GStreamer threads log
    sys.stdout.write("gst_client: " + " ".join(str(x) for x in a) + "\n")
    sys.stdout.flush()


class Peer:
    """One participant: its own pipeline and webrtcbin."""

    def __init__(self, run, index):
        self.run = run
        self.name = f"peer{index}"
        self.freq = TONES[index % len(TONES)]
        self.failed = None          # a reason, once this peer cannot pass
        self.location = None
        self.t_answer = None
        self.video_frames = 0
        self.video_caps = None
        self.t_first_frame = None
        self.audio_ns = 0
        self.audio_caps = None
        self.samples = []           # recent decoded audio, channel 0, float
        self.n_samples = 0
        self.local_candidates = []
        self.offered = False
        self.nice_agent = None

        self.pipe = Gst.parse_launch(PIPELINE.format(
            freq=self.freq, pattern=("ball", "smpte", "snow", "pinwheel")[index % 4]))
        self.webrtc = self.pipe.get_by_name("webrtc")
        self.webrtc.connect("on-negotiation-needed", self.on_negotiation_needed)
        self.webrtc.connect("on-ice-candidate", self.on_ice_candidate)
        self.webrtc.connect("pad-added", self.on_incoming_pad)
        for prop in ("connection-state", "ice-connection-state", "ice-gathering-state"):
            self.webrtc.connect("notify::" + prop, self.on_state)
        bus = self.pipe.get_bus()
        bus.add_signal_watch()
        bus.connect("message::error", self.on_bus_error)

        # Only `lo` exists inside the test's network namespace, and libnice
        # 0.1.21 gathers no candidate at all there unless told to use
        # 127.0.0.1. The Python wrapper of the agent is kept for the whole
        # run: with GStreamer 1.22, dropping it unrefs an object webrtcbin
        # still uses (crash); the script ends with os._exit for that reason.
        self.ice = self.webrtc.get_property("ice-agent")
        if self.ice is not None:
            self.ice.emit("add-local-ip-address", "127.0.0.1")

        # Every linked sink pad got a transceiver: send and receive on each.
        for i in range(2):
            tr = self.webrtc.emit("get-transceiver", i)
            if tr is not None:
                tr.set_property("direction", GstWebRTC.WebRTCRTPTransceiverDirection.SENDRECV)

    def log(self, *a):
        log(f"[{self.name}]", *a)

    def fail(self, reason):
        if self.failed is None:
            self.failed = reason
            self.log("FAIL: " + reason)
        GLib.idle_add(self.run.check)
        return False

    # ---- signalling -------------------------------------------------------
    def on_negotiation_needed(self, _webrtc):
        if not self.offered:
            self.offered = True
            GLib.idle_add(self.make_offer)

    def make_offer(self):
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
        self.log(f"offer made ({len(sdp)} bytes, {sdp.count('m=')} m-lines), tone {self.freq} Hz")
        if os.environ.get("TUTTI_GST_SHOW_SDP"):
            self.log("offer:\n" + sdp)

        url = f"{self.run.base}/api/v1/rooms/{urllib.parse.quote(self.run.room)}/join"
        req = urllib.request.Request(url, data=sdp.encode(), method="POST",
                                     headers={"Content-Type": "application/sdp"})
        try:
            with urllib.request.urlopen(req, timeout=5) as res:
                status = res.status
                ctype = res.headers.get("Content-Type", "")
                loc = res.headers.get("Location")
                body = res.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            body = e.read().decode("utf-8", "replace")
            return self.fail(f"POST {url} -> {e.code}: {body[:500]}")
        except OSError as e:
            return self.fail(f"POST {url} failed: {e}")
        self.log(f"POST {url} -> {status}, Location: {loc}, Content-Type: {ctype}")
        if status != 201:
            return self.fail(f"POST {url} -> {status}, expected 201")
        if not loc:
            return self.fail("201 without a Location header")
        if not ctype.startswith("application/sdp"):
            return self.fail(f"answer Content-Type is '{ctype}', expected application/sdp")
        self.location = urllib.parse.urljoin(url, loc)
        if os.environ.get("TUTTI_GST_SHOW_SDP"):
            self.log("answer:\n" + body)

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
        self.t_answer = time.monotonic()
        # The server is ICE-lite: the full agent here must be the controlling
        # one (it is, as the offerer; say so, and insist if it is not).
        self.nice_agent = self.ice.get_property("agent") if self.ice is not None else None
        role = "?"
        if self.nice_agent is not None:
            if not self.nice_agent.get_property("controlling-mode"):
                self.log("ICE agent was controlled; making it controlling (the server is ICE-lite)")
                self.nice_agent.set_property("controlling-mode", True)
            role = "controlling"
        self.log(f"answer applied after {self.run.elapsed_ms()} ms (ice-lite: {'a=ice-lite' in body}, "
                 f"candidates: {body.count('a=candidate:')}, ICE agent {role})")
        return False

    def on_ice_candidate(self, _webrtc, mline, cand):
        self.local_candidates.append(cand)
        if os.environ.get("TUTTI_GST_SHOW_SDP"):
            self.log(f"local candidate (m-line {mline}): {cand}")

    def on_state(self, webrtc, pspec):
        val = webrtc.get_property(pspec.name)
        self.log(f"{pspec.name}: {val.value_nick} at {self.run.elapsed_ms()} ms")
        if pspec.name == "connection-state" and \
                val == GstWebRTC.WebRTCPeerConnectionState.FAILED:
            GLib.idle_add(self.fail, "webrtcbin connection-state failed")

    def on_bus_error(self, _bus, msg):
        err, dbg = msg.parse_error()
        self.fail(f"pipeline error from {msg.src.get_name()}: {err.message} ({dbg})")

    # ---- receiving --------------------------------------------------------
    def on_incoming_pad(self, _webrtc, pad):
        if pad.get_direction() != Gst.PadDirection.SRC:
            return
        caps = pad.get_current_caps()
        self.log(f"incoming stream: {caps.to_string() if caps else '(no caps yet)'}")
        dec = Gst.ElementFactory.make("decodebin")
        dec.connect("pad-added", self.on_decoded_pad)
        self.pipe.add(dec)
        dec.sync_state_with_parent()
        if pad.link(dec.get_static_pad("sink")) != Gst.PadLinkReturn.OK:
            GLib.idle_add(self.fail, "cannot link an incoming stream to decodebin")

    def on_decoded_pad(self, _dec, pad):
        caps = pad.get_current_caps() or pad.query_caps(None)
        name = caps.get_structure(0).get_name()
        sink = Gst.ElementFactory.make("fakesink")
        sink.set_property("sync", False)
        sink.set_property("async", False)
        self.pipe.add(sink)
        sink.sync_state_with_parent()
        pad.link(sink.get_static_pad("sink"))
        if name.startswith("video/"):
            pad.add_probe(Gst.PadProbeType.BUFFER, self.count_video)
        elif name.startswith("audio/"):
            pad.add_probe(Gst.PadProbeType.BUFFER, self.count_audio)
        self.log(f"decoding {name}")

    def count_video(self, pad, info):
        if self.video_frames == 0:
            self.t_first_frame = time.monotonic()
            caps = pad.get_current_caps()
            if caps:
                s = caps.get_structure(0)
                self.video_caps = f"{s.get_value('width')}x{s.get_value('height')}"
        self.video_frames += 1
        return Gst.PadProbeReturn.OK

    def count_audio(self, pad, info):
        buf = info.get_buffer()
        if self.audio_caps is None:
            caps = pad.get_current_caps()
            if caps:
                s = caps.get_structure(0)
                self.audio_caps = (s.get_value("rate"), s.get_value("channels"), s.get_value("format"))
        dur = buf.duration
        if self.audio_caps:
            rate, ch, fmt = self.audio_caps
            width = {"S16LE": 2, "F32LE": 4}.get(fmt)
            if dur == Gst.CLOCK_TIME_NONE and width:
                dur = buf.get_size() * Gst.SECOND // (rate * ch * width)
            if np is not None and width:
                ok, mi = buf.map(Gst.MapFlags.READ)
                if ok:
                    a = np.frombuffer(mi.data, dtype=np.int16 if width == 2 else np.float32)
                    a = a[::ch].astype(np.float64) / (32768.0 if width == 2 else 1.0)
                    buf.unmap(mi)
                    self.samples.append(a)
                    self.n_samples += len(a)
                    while self.n_samples - len(self.samples[0]) >= TONE_WINDOW:
                        self.n_samples -= len(self.samples.pop(0))
        self.audio_ns += dur if dur != Gst.CLOCK_TIME_NONE else 0
        return Gst.PadProbeReturn.OK

    def heard(self):
        """(dominant frequency in Hz, level in dBFS) of the last 0.5 s heard."""
        if np is None or not self.samples or not self.audio_caps:
            return None, None
        a = np.concatenate(self.samples)[-TONE_WINDOW:]
        rms = float(np.sqrt(np.mean(a * a)))
        db = 20 * np.log10(rms) if rms > 0 else -200.0
        spec = np.abs(np.fft.rfft(a * np.hanning(len(a))))
        spec[:int(50 * len(a) / self.audio_caps[0]) + 1] = 0     # ignore DC and hum
        freq = float(np.argmax(spec)) * self.audio_caps[0] / len(a)
        return freq, db

    # ---- verdict ----------------------------------------------------------
    def media_ok(self):
        return self.video_frames >= NEED_VIDEO_FRAMES and self.audio_ns >= NEED_AUDIO_S * Gst.SECOND

    def tone_problem(self, others):
        """None when what this peer hears is right, else why not."""
        if not others or np is None:
            return None
        freq, db = self.heard()
        if freq is None:
            return "no decoded audio to check"
        if db < -40:
            return f"hears silence ({db:.0f} dBFS) where the others' tones belong"
        def near(f):
            return abs(freq - f) <= TONE_TOLERANCE * f
        if near(self.freq):
            return f"hears its own tone ({freq:.0f} Hz): not an N-1 mix"
        if not any(near(p.freq) for p in others):
            return (f"hears {freq:.0f} Hz, expected one of "
                    f"{', '.join(str(p.freq) for p in others)} Hz")
        return None

    def figures(self):
        first = (f"{int((self.t_first_frame - self.run.t0) * 1000)} ms"
                 if self.t_first_frame else "never")
        freq, db = self.heard()
        heard = f", hears {freq:.0f} Hz at {db:.0f} dBFS" if freq is not None else ""
        return (f"sends {self.freq} Hz; video frames decoded {self.video_frames} "
                f"({self.video_caps or '-'}, first at {first}), "
                f"audio decoded {self.audio_ns / Gst.SECOND:.2f} s "
                f"({'%s Hz %s ch %s' % self.audio_caps if self.audio_caps else '-'}){heard}, "
                f"connection-state {self.webrtc.get_property('connection-state').value_nick}")

    def dump_stats(self):
        promise = Gst.Promise.new()
        self.webrtc.emit("get-stats", None, promise)
        if promise.wait() != Gst.PromiseResult.REPLIED or promise.get_reply() is None:
            return
        reply = promise.get_reply()
        lines = []
        for i in range(reply.n_fields()):
            v = reply.get_value(reply.nth_field_name(i))
            if isinstance(v, Gst.Structure):
                lines.append("  " + v.to_string())
        self.log("local candidates: " + (", ".join(self.local_candidates) or "none"))
        self.log("webrtcbin stats:\n" + "\n".join(lines))

    def leave(self):
        if not self.location:
            return True
        req = urllib.request.Request(self.location, method="DELETE")
        try:
            with urllib.request.urlopen(req, timeout=5) as res:
                status = res.status
        except urllib.error.HTTPError as e:
            status = e.code
        except OSError as e:
            self.log(f"FAIL: DELETE {self.location} failed: {e}")
            return False
        self.log(f"DELETE {self.location} -> {status}")
        if status != 204:
            self.log(f"FAIL: DELETE answered {status}, expected 204")
            return False
        return True


class Run:
    def __init__(self, base, room, n_peers):
        self.base = base
        self.room = room
        self.loop = GLib.MainLoop()
        self.t0 = None
        self.result = None
        self.reason = ""
        self.peers = [Peer(self, i) for i in range(n_peers)]

    def elapsed_ms(self):
        return int((time.monotonic() - self.t0) * 1000) if self.t0 else 0

    def check(self):
        if self.result is not None:
            return False
        failed = [p for p in self.peers if p.failed]
        if failed:
            return self.finish(False, "; ".join(f"{p.name}: {p.failed}" for p in failed))
        problems = []
        for p in self.peers:
            if not p.media_ok():
                problems.append(f"{p.name}: not enough media (need {NEED_VIDEO_FRAMES} video "
                                f"frames and {NEED_AUDIO_S:.0f} s of audio)")
            else:
                why = p.tone_problem([q for q in self.peers if q is not p])
                if why:
                    problems.append(f"{p.name}: {why}")
        if not problems:
            return self.finish(True, f"after {self.elapsed_ms()} ms")
        if time.monotonic() - self.t0 > TIMEOUT_S:
            return self.finish(False, f"within {TIMEOUT_S:.0f} s: " + "; ".join(problems))
        return True

    def finish(self, ok, reason):
        if self.result is None:
            self.result = ok
            self.reason = reason
            self.loop.quit()
        return False

    def run(self):
        self.t0 = time.monotonic()
        for p in self.peers:
            if p.pipe.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
                log(f"[{p.name}] FAIL: the pipeline would not start")
                return 2
        GLib.timeout_add(100, self.check)
        self.loop.run()
        for p in self.peers:
            p.log(p.figures())
        if np is None and len(self.peers) > 1:
            log("note: numpy is missing, so what each participant hears was not checked")
        ok = self.result
        if not ok:
            for p in self.peers:
                p.dump_stats()
        for p in self.peers:
            if not p.leave():
                ok = False
                self.reason += f"; {p.name}: leaving failed"
        for p in self.peers:
            p.pipe.set_state(Gst.State.NULL)
        if ok:
            log(f"PASS ({len(self.peers)} participants, {self.reason})")
            return 0
        log(f"FAIL: {self.reason}")
        return 1


def main():
    ap = argparse.ArgumentParser(description="GStreamer webrtcbin participants join a tutti room")
    ap.add_argument("url", nargs="?", default=os.environ.get("TUTTI_URL", ""),
                    help="server URL, e.g. http://127.0.0.1:8080 (default: env TUTTI_URL)")
    ap.add_argument("--peers", type=int, default=2, choices=range(1, len(TONES) + 1),
                    metavar="N", help="participants to run (default 2)")
    args = ap.parse_args()
    base = args.url.rstrip("/")
    if not base.startswith(("http://", "https://")):
        print("gst_client: give the server URL as the first argument or in TUTTI_URL "
              "(e.g. http://127.0.0.1:8080)", file=sys.stderr)
        return 2
    Gst.init(None)
    missing = [f for f in ("webrtcbin", "nicesrc", "opusenc", "opusdec", "vp8enc", "vp8dec",
                           "rtpopuspay", "rtpvp8pay", "decodebin", "audiotestsrc", "videotestsrc")
               if Gst.ElementFactory.find(f) is None]
    if missing:
        print("gst_client: missing GStreamer elements: " + ", ".join(missing) +
              " (gstreamer1.0-plugins-base/-good/-bad, gstreamer1.0-nice)", file=sys.stderr)
        return 2
    return Run(base, os.environ.get("TUTTI_ROOM", "demo"), args.peers).run()


if __name__ == "__main__":
    rc = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)  # skip interpreter teardown (see the note on ice-agent)
