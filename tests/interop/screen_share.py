#!/usr/bin/python3
"""Interop check of screen sharing with GStreamer webrtcbin participants.

    /usr/bin/python3 screen_share.py      (under run_with_server.sh)

A sharer sends its camera (solid orange, 320x240) and, on a second video
m-line (sendonly), a "screen" (solid blue, 1280x720) from the start; a
viewer (solid green camera) is pinned to the 1280x720 tier and decodes
the composite. Room: meeting, screen_share "everyone" (open rooms give
no presenter role; the role rules are tests/api/screen_api.py's).

For each of the layouts grid and presenter:
  1. before: the screen is nowhere in the composite (grid: the two
     cameras side by side);
  2. PATCH {"screen": true} on the sharer's URL: within 1 s the viewer
     decodes the screen large (blue at the centre of the screen tile) and
     the sharer's camera small beside it (orange in the column); the
     room's layout (GET) says so: the screen tile is large and "screen",
     over 10 times the area of the sharer's camera tile;
  3. while the (static) screen is shown, the viewer decodes at most 60 %
     of the frame rate it had before (the tier encodes every 3rd frame of
     a static screen; at least 2 fps stay);
  4. PATCH {"screen": false}: within 1 s the composite is back as in 1.
The times from each PATCH to the first decoded frame that shows the new
composite are printed ("follow ... ms").

Env: TUTTI_URL (from run_with_server.sh), TUTTI_ADMIN_KEY. Exit status:
0 pass, 1 a check failed, 2 could not run.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gstvideo as gv  # noqa: E402
from gstpeer import CheckFailed, log  # noqa: E402

ROOM = "screen"
ORANGE, BLUE, GREEN = 0xFFFF8000, 0xFF0000FF, 0xFF00FF00
TOL = 30.0
FOLLOW_S = 1.0
# Where the screen layout puts things on 1280x720 (mixer/layout.c): the
# screen in 1068x600 at (0, 60), the column's first tile (the sharer's
# camera) at x 1068..1280 around y 301 with two cameras.
SCREEN_AT = (534, 360)
SHARER_AT = (1174, 301)
# The grid of two: sharer left, viewer right.
GRID_SHARER_AT = (320, 360)
GRID_VIEWER_AT = (960, 360)


def colour_at(frame, xy):
    return gv.region_mean(frame, xy[0], xy[1], half=6)


def near(c, argb):
    return gv.yuv_dist(c, gv.argb_to_yuv(argb)) <= TOL


def sharing_shown(f):
    return near(colour_at(f, SCREEN_AT), BLUE) and near(colour_at(f, SHARER_AT), ORANGE)


def cameras_shown(kind):
    def shown(f):
        if near(colour_at(f, SCREEN_AT), BLUE):
            return False
        if kind == "grid":
            return near(colour_at(f, GRID_SHARER_AT), ORANGE) and \
                near(colour_at(f, GRID_VIEWER_AT), GREEN)
        return True
    return shown


class Watch:
    """The arrival time of the first decoded frame, after t0, for which
    pred(frame) holds (frames are checked as they are decoded)."""

    def __init__(self, peer):
        self.pred, self.t0, self.hit, self.last = None, 0.0, None, None
        peer.on_frame = self._on_frame

    def arm(self, pred):
        self.pred, self.t0, self.hit = pred, time.monotonic(), None

    def _on_frame(self, _peer, t, w, h, y, u, v):
        if self.pred is None or self.hit is not None or t < self.t0 or w != 1280:
            return
        self.last = (t, w, h, y, u, v)
        if self.pred((t, w, h, y, u, v)):
            self.hit = t


def follow(hub, watch, pred, what, patch):
    """Arms the watch, runs patch(), waits for the composite; returns ms."""
    watch.arm(pred)
    t0 = watch.t0
    patch()
    t_resp = time.monotonic()
    hub.run_until(lambda: watch.hit is not None, 8.0)
    if watch.hit is None:
        # What the viewer saw last, and what the server says of its
        # link: a pacer that dropped a keyframe's tail shows here.
        f = watch.last
        if f:
            log(f"{what}: the last 1280x720 frame, {f[0] - t0:.2f} s in: screen spot "
                f"{colour_at(f, SCREEN_AT)}, sharer spot {colour_at(f, SHARER_AT)}")
        _st, j = hub.api("GET", f"/api/v1/rooms/{ROOM}/participants")
        for pp in (j or {}).get("participants", []):
            log(f"{what}: participant tier {pp.get('video_tier')} bandwidth "
                f"{pp.get('bandwidth')} pacer {pp.get('pacer')}")
        raise CheckFailed(f"{what}: the viewer's composite did not follow within 8 s")
    ms = 1000 * (watch.hit - t0)
    log(f"{what}: follow {ms:.0f} ms (PATCH answered in {1000 * (t_resp - t0):.0f} ms)")
    return ms


def frame_rate(hub, peer, seconds=2.0):
    """Frames per second the peer decodes over the next seconds."""
    n0 = peer.n_frames
    t0 = time.monotonic()
    hub.run_for(seconds)
    return (peer.n_frames - n0) / (time.monotonic() - t0)


def check_fps(fps, kind):
    before, during = fps[f"{kind} before"], fps[f"{kind} sharing"]
    log(f"{kind}: the viewer decodes {before:.1f} fps before the share, "
        f"{during:.1f} fps while the static screen is shown")
    if not (during <= 0.6 * before and during >= 2.0):
        raise CheckFailed(f"{kind}: a static screen should make the 1280x720 tier send about a "
                          f"third of the frames: {before:.1f} fps before, {during:.1f} while shared")


def check_layout(hub, sharer):
    lay = hub.room(ROOM)["layout"]
    tiles = lay["tiles"]
    log("layout: " + ", ".join(
        f"{t['participant'][:6]}{'(screen)' if t.get('screen') else ''}"
        f"@{t['x']},{t['y']},{t['w']}x{t['h']}{'*' if t['large'] else ''}" for t in tiles))
    scr = [t for t in tiles if t.get("screen")]
    cam = [t for t in tiles if t["participant"] == sharer.id and not t.get("screen")]
    problems = []
    if lay.get("screen") != sharer.id:
        problems.append(f"layout.screen is {lay.get('screen')}, not the sharer")
    if len(scr) != 1 or not scr[0]["large"] or scr[0]["participant"] != sharer.id:
        problems.append("no single large screen tile of the sharer")
    if len(cam) != 1 or cam[0]["large"]:
        problems.append("the sharer's camera is not one small tile")
    if scr and cam and scr[0]["w"] * scr[0]["h"] < 10 * cam[0]["w"] * cam[0]["h"]:
        problems.append("the screen is not over 10 times the camera's area")

    def inside(t, xy):
        return t["x"] <= xy[0] < t["x"] + t["w"] and t["y"] <= xy[1] < t["y"] + t["h"]
    if scr and not inside(scr[0], SCREEN_AT):
        problems.append(f"the screen tile does not hold {SCREEN_AT}")
    if cam and not inside(cam[0], SHARER_AT):
        problems.append(f"the sharer's camera tile does not hold {SHARER_AT}")
    if problems:
        raise CheckFailed("layout while sharing: " + "; ".join(problems))


def run_case(hub):
    hub.create_room(ROOM, layout="grid", screen_share="everyone")
    sharer = hub.add(gv.VPeer(hub, ROOM, "sharer", gv.solid_src(ORANGE, 320, 240),
                              screen=gv.solid_src(BLUE, 1280, 720, fps=10)))
    viewer = hub.add(gv.VPeer(hub, ROOM, "viewer", gv.solid_src(GREEN, 320, 240)))
    hub.start_all()
    watch = Watch(viewer)
    hub.set_tier(viewer, 2)
    if not hub.run_until(lambda: (viewer.latest() or (0, 0))[1] == 1280, 20.0):
        raise CheckFailed("the viewer did not get the 1280x720 tier within 20 s")
    times, fps = {}, {}
    for kind in ("grid", "presenter"):
        if kind != "grid":
            hub.set_layout(ROOM, kind)
        # 1. before: no screen (the grid: both cameras)
        watch.arm(cameras_shown(kind))
        if not hub.run_until(lambda: watch.hit is not None, 10.0):
            raise CheckFailed(f"{kind}: before sharing, the composite is not the cameras'")
        fps[f"{kind} before"] = frame_rate(hub, viewer)
        # 2. share
        times[f"{kind} start"] = follow(
            hub, watch, sharing_shown, f"{kind}: screen on",
            lambda: hub.patch_participant(sharer, screen=True))
        check_layout(hub, sharer)
        j = hub.patch_participant(sharer, screen=True)   # again: no change
        if j.get("screen") is not True:
            raise CheckFailed(f"the sharer's resource does not say screen: true: {j}")
        # A static screen: the 1280x720 tier sends fewer frames (after 1 s
        # unchanged, every 3rd), though the cameras beside it send 15 fps.
        hub.run_for(1.5)
        fps[f"{kind} sharing"] = frame_rate(hub, viewer)
        check_fps(fps, kind)
        # 3. stop
        times[f"{kind} stop"] = follow(
            hub, watch, cameras_shown(kind), f"{kind}: screen off",
            lambda: hub.patch_participant(sharer, screen=False))
        lay = hub.room(ROOM)["layout"]
        if lay.get("screen") is not None or any(t.get("screen") for t in lay["tiles"]):
            raise CheckFailed(f"{kind}: the layout still has a screen after stop: {lay}")
    slow = {k: v for k, v in times.items() if v > FOLLOW_S * 1000}
    log("follow times: " + ", ".join(f"{k} {v:.0f} ms" for k, v in times.items()))
    if slow:
        raise CheckFailed(f"the composite took over {FOLLOW_S:.0f} s to follow: {slow}")
    log("screen_share: PASS")


def main():
    gv.run_hub("screen_share", run_case)


if __name__ == "__main__":
    main()
