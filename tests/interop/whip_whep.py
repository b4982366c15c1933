#!/usr/bin/python3
"""WHIP and WHEP (RFC 9725 and its egress twin) against a fresh tutti server.

    /usr/bin/python3 whip_whep.py        (env TUTTI_URL, TUTTI_ADMIN_KEY)

1. The protocol, with plain HTTP: OPTIONS (CORS preflight, Accept-Post), a
   sendrecv offer refused at /whip and /whep (400 bad_direction); a
   send-only offer → 201 with Location, ETag, application/sdp, an answer
   that is recvonly on every m-line; on the session URL: PATCH without
   If-Match 428, a wrong ETag 412, an ICE restart (If-Match: *) 422, the
   wrong content type 415, a trickle fragment with the ETag 204; DELETE
   200, then 404.
2. Media: a GStreamer webrtcbin publisher (send-only: a green picture and a
   440 Hz tone) goes in through /whip; a WHEP viewer (receive-only) and a
   normal participant (sendrecv, red) both see the green tile where the
   room's layout puts the publisher and hear the tone. (Debian 12's
   simple-whip-client cannot run: it links libsoup2 while libnice's
   plugin pulls in libsoup3, and GLib aborts; so the publisher is
   webrtcbin doing what it would.)
Run it under tests/interop/run_with_server.sh (ctest interop_whip_whep).
Exit 0 pass, 1 a check failed, 2 could not run.
"""

import collections
import os
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gstpeer as gp  # noqa: E402
import gstvideo as gv  # noqa: E402
from gstpeer import OPUS_CAPS, CheckFailed, Gst, GstWebRTC, log, np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
GREEN, RED = 0xFF00FF00, 0xFFFF0000
COLOUR_TOL = 30.0
TONE = 440.0
check, failures = gp.check, gp.failures


class AudioIn:
    """Decodes the received Opus into 48 kHz mono samples (with arrival
    times) for the tone check."""

    def audio_init(self):
        self.alock = threading.Lock()
        self.chunks = []

    def attach_audio(self, pad):
        names = ("rtpopusdepay", "opusdec", "audioconvert", "audioresample", "capsfilter")
        el = [Gst.ElementFactory.make(n) for n in names]
        el[4].set_property("caps", Gst.Caps.from_string(
            "audio/x-raw,format=S16LE,rate=48000,channels=1,layout=interleaved"))
        el.append(gp.appsink(self._on_audio))
        return self.attach(pad, el)

    def _on_audio(self, sink):
        t = time.monotonic()
        buf = sink.emit("pull-sample").get_buffer()
        ok, mi = buf.map(Gst.MapFlags.READ)
        if ok:
            a = np.frombuffer(mi.data, dtype="<i2").astype(np.float64) / 32768.0
            buf.unmap(mi)
            with self.alock:
                self.chunks.append((t, a))
        return Gst.FlowReturn.OK

    def tone_db(self, seconds=1.0):
        """The tone's level (dB re full scale) over the last `seconds`, and
        the level of a frequency nobody sends, as the floor."""
        with self.alock:
            chunks = list(self.chunks)
        if not chunks:
            return None, None
        x = np.concatenate([c for _t, c in chunks])[-int(seconds * gp.RATE):]
        t = np.zeros(len(x))
        P, _ = gp.band_power_windows(x, t, [TONE, 1234.0], win=960, hop=960)
        if not len(P):
            return None, None
        return float(np.median(P[:, 0])), float(np.median(P[:, 1]))


class Publisher(gv.VPeer):
    """A WHIP encoder: sends a colour and a tone, receives nothing."""
    endpoint = "whip"

    def __init__(self, hub, room):
        super().__init__(hub, room, "whip-publisher", gv.solid_src(GREEN), tone=True, decode=False)
        for i in range(2):
            tr = self.webrtc.emit("get-transceiver", i)
            tr.set_property("direction", GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)
        self.headers = {}

    def on_answer(self, url, headers, body):
        self.headers = dict(headers.items())
        return None


class Member(AudioIn, gv.VPeer):
    """A normal participant (sendrecv, red), decoding video and audio."""

    def __init__(self, hub, room):
        self.audio_init()
        super().__init__(hub, room, "member", gv.solid_src(RED), keep=8)

    def _on_pad(self, w, pad):
        caps = pad.get_current_caps() or pad.query_caps(None)
        if caps and caps.get_structure(0).get_string("media") == "audio":
            if not self.attach_audio(pad):
                self.hub.errors.append(f"{self.name}: cannot link audio")
            return
        super()._on_pad(w, pad)


class Viewer(Member):
    """A WHEP player: receive-only audio and video."""
    endpoint = "whep"

    def __init__(self, hub, room):
        self.audio_init()
        self.tone, self.decode = False, True
        self.lock = threading.Lock()
        self.frames = collections.deque(maxlen=8)
        self.frame_times, self.sizes, self.messages = [], [], []
        self.n_frames = 0
        self.on_frame = None
        gp.WebRTCPeer.__init__(self, hub, room, "whep-viewer",
                               gp.launch("webrtcbin name=webrtc bundle-policy=max-bundle", "whep"))
        self.recvonly(OPUS_CAPS + ",encoding-params=(string)2")
        self.recvonly(gv.VP8_CAPS)


def sdp_with(direction):
    with open(os.path.join(HERE, "..", "data", "sdp", "chrome-offer.sdp"), "rb") as f:
        text = f.read().decode()
    return text.replace("a=sendrecv", "a=" + direction)


def protocol(hub):
    base = hub.base + "/api/v1/rooms/proto"
    hub.create_room("proto")
    st, h, _ = gp.http("OPTIONS", base + "/whip")
    check("options_whip_is_204_with_accept_post_and_cors",
          st == 204 and h.get("Accept-Post") == "application/sdp"
          and h.get("Access-Control-Allow-Origin") == "*"
          and "POST" in (h.get("Access-Control-Allow-Methods") or ""), f"{st} {dict(h)}")
    st, h, _ = gp.http("OPTIONS", base + "/whep")
    check("options_whep_is_204", st == 204 and h.get("Accept-Post") == "application/sdp", f"{st}")
    for ep in ("whip", "whep"):
        st, _h, body = gp.http("POST", f"{base}/{ep}", sdp_with("sendrecv"), "application/sdp")
        check(f"sendrecv_offer_to_{ep}_is_400_bad_direction", st == 400 and "bad_direction" in body,
              f"{st} {body[:120]}")
    st, _h, body = gp.http("POST", base + "/whip", sdp_with("recvonly"), "application/sdp")
    check("recvonly_offer_to_whip_is_400", st == 400, f"{st}")
    st, _h, body = gp.http("POST", base + "/whip", sdp_with("sendonly"), "text/plain")
    check("whip_wrong_content_type_is_415", st == 415, f"{st}")
    st, h, body = gp.http("POST", base + "/whip", sdp_with("sendonly"), "application/sdp")
    loc, etag = h.get("Location", ""), h.get("ETag", "")
    ok = check("sendonly_offer_to_whip_is_201", st == 201, f"{st} {body[:200]}")
    if not ok:
        return
    check("201_has_location_of_a_whip_session", "/api/v1/rooms/proto/whip/" in loc and "?s=" in loc, loc)
    check("201_has_an_etag", etag.startswith('"') and etag.endswith('"') and len(etag) > 2, etag)
    check("201_is_application_sdp", (h.get("Content-Type") or "").startswith("application/sdp"))
    check("201_exposes_headers_to_browsers",
          "Location" in (h.get("Access-Control-Expose-Headers") or ""))
    mlines = [ln for ln in body.splitlines() if ln.startswith("m=")]
    recv = [ln for ln in body.splitlines() if ln.strip() == "a=recvonly"]
    check("answer_is_recvonly_on_every_m_line", mlines and len(recv) == len(mlines),
          f"{len(mlines)} m-lines, {len(recv)} a=recvonly")
    sess = urllib.parse.urljoin(base, loc)
    frag = "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n" \
           "a=mid:0\r\na=candidate:1 1 UDP 2130706431 127.0.0.1 5000 typ host\r\n"
    trickle = "a=mid:0\r\na=candidate:1 1 UDP 2130706431 127.0.0.1 5000 typ host\r\n"
    SF = "application/trickle-ice-sdpfrag"

    def patch(body_, ctype, if_match):
        hd = {"Content-Type": ctype}
        if if_match is not None:
            hd["If-Match"] = if_match
        req = urllib.request.Request(sess, data=body_.encode(), method="PATCH", headers=hd)
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, r.headers
        except urllib.error.HTTPError as e:
            return e.code, e.headers
    st, _ = patch(trickle, SF, None)
    check("patch_without_if_match_is_428", st == 428, f"{st}")
    st, _ = patch(trickle, SF, '"not-the-etag"')
    check("patch_with_a_wrong_etag_is_412", st == 412, f"{st}")
    st, _ = patch(frag, SF, "*")
    check("ice_restart_is_422_not_supported", st == 422, f"{st}")
    st, _ = patch(trickle, "application/json", etag)
    check("patch_of_another_type_is_415", st == 415, f"{st}")
    st, hp = patch(trickle, SF, etag)
    check("trickle_with_the_etag_is_204", st == 204, f"{st}")
    nosecret = sess.split("?")[0]
    st, _h, _ = gp.http("DELETE", nosecret)
    check("delete_without_the_secret_is_404", st == 404, f"{st}")
    st, _h, _ = gp.http("DELETE", sess)
    check("delete_is_200", st == 200, f"{st}")
    st, _h, _ = gp.http("DELETE", sess)
    check("second_delete_is_404", st == 404, f"{st}")


def tile_colour(peer, layout, tile):
    f = peer.latest()
    if not f:
        return None
    cx, cy = gv.tile_centre(tile, layout, f[1], f[2])
    return gv.region_mean(f, cx, cy)


def media(hub):
    room = "whiproom"
    hub.create_room(room, layout="grid")
    pub = hub.add(Publisher(hub, room))
    member = hub.add(Member(hub, room))
    viewer = hub.add(Viewer(hub, room))
    hub.start_all()
    h = pub.headers
    log(f"publisher's 201: Location {h.get('Location')}, ETag {h.get('ETag')}")
    green = gv.argb_to_yuv(GREEN)
    last = {}

    def sees_and_hears():
        lay = hub.room(room)["layout"]
        tile = next((t for t in lay["tiles"] if t["participant"] == pub.id), None)
        if not tile:
            last["why"] = f"no tile for the publisher in {lay}"
            return False
        good = True
        for p in (member, viewer):
            c = tile_colour(p, lay, tile)
            lv, fl = p.tone_db()
            last[p.name] = (c, lv, fl)
            d = gv.yuv_dist(c, green) if c else None
            if d is None or d > COLOUR_TOL or lv is None or lv - fl < 20:
                good = False
        return good
    ok = hub.run_until(sees_and_hears, 20.0, step=0.5)
    for p in (member, viewer):
        c, lv, fl = last.get(p.name, (None, None, None))
        log(f"{p.name}: publisher's tile {tuple(round(x) for x in c) if c else None} "
            f"(green {tuple(round(x) for x in green)}), {TONE:.0f} Hz "
            f"{lv if lv is None else round(lv, 1)} dB, floor {fl if fl is None else round(fl, 1)} dB; "
            f"{p.n_frames} frames")
    check("member_and_whep_viewer_see_and_hear_the_whip_publisher", ok, last.get("why", ""))
    plist = hub.room(room)["participant_list"]
    check("three_in_the_room", len(plist) == 3, f"{len(plist)}")


def main():
    hub = gv.Hub()
    t0 = time.monotonic()
    try:
        protocol(hub)
        media(hub)
    finally:
        bad = hub.close()
        log(f"cleanup: {len(hub.peers)} peers left; took {time.monotonic() - t0:.1f} s"
            + (f"; DELETE failed for {bad}" if bad else ""))
    check("every_session_ended_with_delete", not bad, f"{bad}")
    if failures:
        raise CheckFailed(f"{len(failures)} check(s) failed: {', '.join(failures)}")
    log("whip_whep: PASS")


if __name__ == "__main__":
    gp.exit_code(main)
