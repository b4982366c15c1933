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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gstpeer as gp  # noqa: E402  (exits 2 without the GStreamer bindings)
from gstpeer import GLib, Gst, log  # noqa: E402

np = gp.np                               # None: the tone check is skipped (and says so)

TIMEOUT_S = 15.0
NEED_VIDEO_FRAMES = 20
NEED_AUDIO_S = 1.0
TONES = (440, 660, 550, 770, 495, 605)   # one per participant, none a harmonic of another
TONE_WINDOW = 24000                      # samples (0.5 s at 48 kHz) for the pitch estimate
TONE_TOLERANCE = 0.03
SHOW_SDP = bool(os.environ.get("TUTTI_GST_SHOW_SDP"))

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


gp.set_log_prefix(lambda: "gst_client: ")


class Peer(gp.WebRTCPeer):
    """One participant: its own pipeline and webrtcbin (see gstpeer.WebRTCPeer
    for the signalling)."""

    def __init__(self, run, index):
        self.run = run
        self.freq = TONES[index % len(TONES)]
        self.t_answer = None
        self.video_frames = 0
        self.video_caps = None
        self.t_first_frame = None
        self.audio_ns = 0
        self.audio_caps = None
        self.samples = []           # recent decoded audio, channel 0, float
        self.n_samples = 0
        self.local_candidates = []
        self.nice_agent = None

        name = f"peer{index}"
        pipe = gp.launch(PIPELINE.format(
            freq=self.freq, pattern=("ball", "smpte", "snow", "pinwheel")[index % 4]), name)
        super().__init__(run, run.room, name, pipe)
        self.webrtc.connect("on-ice-candidate", self.on_ice_candidate)
        for prop in ("connection-state", "ice-connection-state", "ice-gathering-state"):
            self.webrtc.connect("notify::" + prop, self.on_state)
        # Every linked sink pad got a transceiver: send and receive on each.
        self.sendrecv(2)

    def log(self, *a):
        log(f"[{self.name}]", *a)

    def fail(self, reason):
        if self.failed is None:
            self.failed = reason
            self.log("FAIL: " + reason)
        GLib.idle_add(self.run.check)
        return False

    def pipeline_error(self, src, text):
        self.fail(f"pipeline error from {src}: {text}")

    # ---- signalling (gstpeer.WebRTCPeer), said in full -------------------
    def on_offer(self, sdp):
        self.log(f"offer made ({len(sdp)} bytes, {sdp.count('m=')} m-lines), tone {self.freq} Hz")
        if SHOW_SDP:
            self.log("offer:\n" + sdp)

    def on_answer(self, url, headers, body):
        ctype = headers.get("Content-Type", "")
        self.log(f"POST {url} -> 201, Location: {headers.get('Location')}, Content-Type: {ctype}")
        if not ctype.startswith("application/sdp"):
            return f"answer Content-Type is '{ctype}', expected application/sdp"
        if SHOW_SDP:
            self.log("answer:\n" + body)
        return None

    def on_joined(self, answer, agent):
        self.t_answer = time.monotonic()
        self.nice_agent = agent
        role = "controlling" if agent is not None else "?"
        self.log(f"answer applied after {self.run.elapsed_ms()} ms (ice-lite: {'a=ice-lite' in answer}, "
                 f"candidates: {answer.count('a=candidate:')}, ICE agent {role})")

    def on_ice_candidate(self, _webrtc, mline, cand):
        self.local_candidates.append(cand)
        if SHOW_SDP:
            self.log(f"local candidate (m-line {mline}): {cand}")

    def on_state(self, webrtc, pspec):
        val = webrtc.get_property(pspec.name)
        self.log(f"{pspec.name}: {val.value_nick} at {self.run.elapsed_ms()} ms")

    # ---- receiving --------------------------------------------------------
    def _on_pad(self, _webrtc, pad):
        if pad.get_direction() != Gst.PadDirection.SRC:
            return
        caps = pad.get_current_caps()
        self.log(f"incoming stream: {caps.to_string() if caps else '(no caps yet)'}")
        dec = Gst.ElementFactory.make("decodebin")
        dec.connect("pad-added", self.on_decoded_pad)
        if not self.attach(pad, [dec]):
            GLib.idle_add(self.fail, "cannot link an incoming stream to decodebin")

    def on_decoded_pad(self, _dec, pad):
        caps = pad.get_current_caps() or pad.query_caps(None)
        name = caps.get_structure(0).get_name()
        sink = gp.fakesink()
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
                f"connection-state {self.state()}")

    def dump_stats(self):
        stats = self.stats()
        if not stats:
            return
        self.log("local candidates: " + (", ".join(self.local_candidates) or "none"))
        self.log("webrtcbin stats:\n" + "\n".join("  " + v.to_string() for v in stats))

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
            p.stop()
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
    missing = gp.missing_elements(("webrtcbin", "nicesrc", "opusenc", "opusdec", "vp8enc",
                                   "vp8dec", "rtpopuspay", "rtpvp8pay", "decodebin",
                                   "audiotestsrc", "videotestsrc"))
    if missing:
        print("gst_client: missing GStreamer elements: " + ", ".join(missing) +
              " (gstreamer1.0-plugins-base/-good/-bad, gstreamer1.0-nice)", file=sys.stderr)
        return 2
    return Run(base, os.environ.get("TUTTI_ROOM", "demo"), args.peers).run()


if __name__ == "__main__":
    gp.exit_code(main)  # os._exit: no interpreter teardown (see gstpeer.WebRTCPeer)
