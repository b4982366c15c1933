#!/usr/bin/python3
"""Recording a room: two GStreamer webrtcbin participants (a red picture
with a 440 Hz tone, a blue one silent) in a grid room; the admin API starts
a recording, the room's JSON says it is recording, 10 s later it stops.
The file is listed, downloaded and checked with FFmpeg's own tools:
ffprobe finds a VP8 and an Opus stream and a duration of 10 s (+-0.5 s);
a decoded frame shows red and blue where the layout puts the two; the
decoded audio holds the tone. Start and stop are in the audit log; the
file can be deleted, and then it is gone.

    /usr/bin/python3 recording.py        (env TUTTI_URL, TUTTI_ADMIN_KEY,
                                          TUTTI_TEST_DATA_DIR)
Exit 0 pass, 1 a check failed, 2 could not run.
"""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gstpeer as gp  # noqa: E402
import gstvideo as gv  # noqa: E402
from gstpeer import CheckFailed, log, np  # noqa: E402

RED, BLUE = 0xFFFF0000, 0xFF0000FF
RECORD_S = 10.0
check, failures = gp.check, gp.failures


def api(hub, method, path):
    st, _h, text = gp.http(method, hub.base + path, None, None, hub.key, timeout=15.0)
    try:
        return st, json.loads(text) if text else None
    except ValueError:
        return st, text


def main():
    for tool in ("ffprobe", "ffmpeg"):
        if not shutil.which(tool):
            raise gp.SetupError(f"{tool} is missing (Debian package ffmpeg)")
    hub = gv.Hub()
    tmp = tempfile.mkdtemp(prefix="tutti-rec-")
    try:
        run(hub, tmp)
    finally:
        bad = hub.close()
        shutil.rmtree(tmp, ignore_errors=True)
    if bad:
        failures.append(f"DELETE failed for {bad}")
    if failures:
        raise CheckFailed(f"{len(failures)} check(s) failed: {', '.join(failures)}")
    log("recording: PASS")


def run(hub, tmp):
    room = "recorded"
    hub.create_room(room, layout="grid")
    st, j = api(hub, "POST", f"/api/v1/rooms/{room}/recording")
    check("recording_an_empty_room_is_409", st == 409, f"{st} {j}")
    red = hub.add(gv.VPeer(hub, room, "red", gv.solid_src(RED), tone=True, decode=False))
    blue = hub.add(gv.VPeer(hub, room, "blue", gv.solid_src(BLUE), decode=False))
    hub.start_all()
    hub.run_until(lambda: len(hub.room(room)["layout"]["tiles"]) == 2, 10.0, step=0.25)
    hub.run_for(1.5)                         # both pictures in the canvas
    layout = hub.room(room)["layout"]
    st, j = api(hub, "POST", f"/api/v1/rooms/{room}/recording")
    t0 = time.monotonic()
    if not check("start_is_201", st == 201 and isinstance(j, dict) and j.get("name"), f"{st} {j}"):
        return
    name = j["name"]
    st, j2 = api(hub, "POST", f"/api/v1/rooms/{room}/recording")
    check("a_second_start_is_409", st == 409, f"{st} {j2}")
    check("the_room_says_it_is_recording", hub.room(room).get("recording") is True)
    hub.run_for(max(0.0, RECORD_S - (time.monotonic() - t0)))
    st, info = api(hub, "DELETE", f"/api/v1/rooms/{room}/recording")
    log(f"stopped after {time.monotonic() - t0:.2f} s: {st} {info}")
    check("stop_is_200", st == 200 and isinstance(info, dict), f"{st} {info}")
    check("the_room_says_it_is_not_recording", hub.room(room).get("recording") is False)
    st, lst = api(hub, "GET", "/api/v1/recordings")
    names = [r["name"] for r in (lst or {}).get("recordings", [])]
    check("the_recording_is_listed", name in names, f"{names}")
    path = os.path.join(tmp, name)
    st, _h, _ = gp.http("GET", hub.base + "/api/v1/recordings/" + name)
    check("download_without_the_key_is_401", st == 401, f"{st}")
    import urllib.request
    req = urllib.request.Request(hub.base + "/api/v1/recordings/" + name,
                                 headers={"Authorization": "Bearer " + hub.key})
    with urllib.request.urlopen(req, timeout=15) as r, open(path, "wb") as f:
        ctype = r.headers.get("Content-Type")
        f.write(r.read())
    check("download_is_video_webm", ctype == "video/webm", f"{ctype}, {os.path.getsize(path)} bytes")

    probe = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", path],
        capture_output=True, text=True, timeout=30).stdout or "{}")
    codecs = sorted(s.get("codec_name") for s in probe.get("streams", []))
    dur = float(probe.get("format", {}).get("duration", "nan"))
    log(f"ffprobe: streams {codecs}, duration {dur:.3f} s, format "
        f"{probe.get('format', {}).get('format_name')}")
    check("ffprobe_finds_vp8_and_opus", codecs == ["opus", "vp8"], f"{codecs}")
    check("duration_is_10_s_within_half_a_second", abs(dur - RECORD_S) <= 0.5, f"{dur:.3f} s")

    w, h = layout["width"], layout["height"]
    raw = subprocess.run(["ffmpeg", "-v", "error", "-ss", "5", "-i", path, "-frames:v", "1",
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, timeout=30).stdout
    if check("a_frame_decodes", len(raw) == w * h * 3, f"{len(raw)} bytes for {w}x{h}"):
        img = np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3).astype(float)
        for peer, want in ((red, (255, 0, 0)), (blue, (0, 0, 255))):
            tile = next((t for t in layout["tiles"] if t["participant"] == peer.id), None)
            if not check(f"{peer.name}_has_a_tile", tile is not None):
                continue
            cx, cy = int(tile["x"] + tile["w"] / 2), int(tile["y"] + tile["h"] / 2)
            got = img[cy - 4:cy + 4, cx - 4:cx + 4].reshape(-1, 3).mean(axis=0)
            d = float(np.sqrt(((got - np.array(want)) ** 2).sum()))
            check(f"{peer.name}_tile_shows_its_colour", d < 60,
                  f"rgb {tuple(int(x) for x in got)} at {cx},{cy}, distance {d:.0f}")
    pcm = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-vn", "-f", "s16le", "-ac", "1",
                          "-ar", "48000", "-"], capture_output=True, timeout=30).stdout
    x = np.frombuffer(pcm, dtype="<i2").astype(float) / 32768.0
    log(f"audio: {len(x) / 48000:.2f} s decoded")
    if check("audio_decodes", len(x) > 48000 * (RECORD_S - 1)):
        seg = x[48000 * 2:48000 * 8]
        spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
        f = np.fft.rfftfreq(len(seg), 1 / 48000)
        tone = spec[np.argmin(np.abs(f - 440))]
        floor = np.median(spec[(f > 200) & (f < 4000)])
        check("the_tone_is_in_the_recording", tone > 100 * floor,
              f"440 Hz {20 * np.log10(tone / floor):.0f} dB over the median")
    data = os.environ.get("TUTTI_TEST_DATA_DIR")
    if data:
        con = sqlite3.connect(f"file:{os.path.join(data, 'tutti.db')}?mode=ro", uri=True)
        acts = [r[0] for r in con.execute(
            "SELECT action FROM audit WHERE room = ? AND action LIKE 'recording.%' ORDER BY id",
            (room,))]
        con.close()
        check("start_and_stop_are_audited", acts == ["recording.start", "recording.stop"], f"{acts}")
    st, _ = api(hub, "DELETE", "/api/v1/recordings/" + name)
    check("delete_is_204", st == 204, f"{st}")
    st, _ = api(hub, "GET", "/api/v1/recordings/" + name)
    check("then_it_is_gone", st == 404, f"{st}")


if __name__ == "__main__":
    gp.exit_code(main)
