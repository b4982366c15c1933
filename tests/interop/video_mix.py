#!/usr/bin/python3
"""Interop checks of tutti's video MCU with GStreamer webrtcbin participants.

    /usr/bin/python3 video_mix.py CASE      (under run_with_server.sh)

CASE is one of:
  grid          9 participants, each a solid colour of its own, layout grid,
                3 receivers on each tier: every receiver finds, at every
                tile's centre (GET room layout, scaled to the decoded
                frame), the colour of the participant the layout puts there. Then one of them (the
                only one that sends a loud tone) becomes the big tile within
                2 s of PATCH layout=speaker, in what every receiver decodes.
  quality       2 participants send moving patterns; what each receives on
                tier 1 (640x360) is compared with the tier-1 canvases the
                server dumps (TUTTI_TEST_CANVAS_DIR): per decoded frame the
                best-matching canvas (max PSNR on Y); median >= 32 dB.
  visible       room with max_tiles 4 and 9 senders: over 3 s exactly the 4
                visible senders (video_visible) are decoded by the server
                (video_decodes grows), the other 5 not at all.
  tier          a receiver is switched from tier 1 to tier 0 and then to
                tier 2: no gap over 1.5 s in its decoded frames, the frame
                size follows (640x360 -> 320x180 -> 1280x720), no ERROR or
                WARNING from its depayloader or decoder.
  h264          a participant whose offer has ONLY H.264 (x264enc, red) and
                two VP8 ones (blue, green), layout grid: the H.264 one
                decodes the composite as H.264 and sees blue and green in
                their tiles; the VP8 ones see red in its tile; the API says
                video_codec H264 / VP8, the server decodes the H.264
                sender's frames, and its PLI reached the H.264 encoder.

Env: TUTTI_URL (from run_with_server.sh), TUTTI_ADMIN_KEY (the server's
too), TUTTI_TEST_CANVAS_DIR (quality; the server's too). Exit status: 0
pass, 1 a check failed, 2 could not run. Run it with Debian's
/usr/bin/python3 (python3-gi, python3-numpy).
"""

import glob
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gstvideo as gv  # noqa: E402
from gstpeer import CheckFailed, SetupError, log, np  # noqa: E402

# Nine colours far apart in YUV (BT.601 studio range), 0xAARRGGBB.
COLOURS = [
    ("red", 0xFFFF0000), ("green", 0xFF00FF00), ("blue", 0xFF0000FF),
    ("yellow", 0xFFFFFF00), ("magenta", 0xFFFF00FF), ("cyan", 0xFF00FFFF),
    ("white", 0xFFFFFFFF), ("orange", 0xFFFF8000), ("purple", 0xFF8000FF),
]
COLOUR_TOL = 30.0          # max YUV distance from the expected colour
SPEAKER = 5                # cyan: not the grid's centre tile, not the first to join
SPEAKER_DEADLINE_S = 2.0
QUALITY_MIN_DB = 32.0
QUALITY_WARMUP = 40
QUALITY_FRAMES = 90
MAX_GAP_S = 1.5


def fmt_yuv(c):
    return "(%3.0f,%3.0f,%3.0f)" % tuple(c)


def nearest(c, palette):
    """(index, distance) of the palette colour nearest to c."""
    d = [gv.yuv_dist(c, p) for p in palette]
    i = int(np.argmin(d))
    return i, d[i]


TIER_W = {0: 320, 1: 640, 2: 1280}


def pin_tier1(hub, peers, timeout=15.0, tiers=None):
    """Pins every peer to tier 1 (640x360), or peer i to tiers[i] (PATCH
    tier, as an admin), and waits until each decodes that size, then
    forgets what came before: without a pin a receiver's tier follows its
    bandwidth estimate, which starts low and climbs (docs/bandwidth.md)."""
    tiers = tiers or [1] * len(peers)
    for p, t in zip(peers, tiers):
        hub.set_tier(p, t)
    ok = hub.run_until(lambda: all((p.latest() or (0, 0))[1] == TIER_W[t]
                                   for p, t in zip(peers, tiers)), timeout)
    if not ok:
        raise CheckFailed("not every receiver got its tier within "
                          f"{timeout:.0f} s of the pin: " +
                          ", ".join(f"{p.name} tier {t} {(p.latest() or (0, 0, 0))[1:3]}"
                                    for p, t in zip(peers, tiers)))
    for p in peers:
        with p.lock:
            p.frames.clear()
            p.n_frames = 0


def wait_frames(hub, peers, n, timeout, what="decoded frames"):
    ok = hub.run_until(lambda: all(p.n_frames >= n for p in peers), timeout)
    if not ok:
        raise CheckFailed(f"not every receiver got {n} {what} within {timeout:.0f} s: " +
                          ", ".join(f"{p.name}={p.n_frames}" for p in peers))


# ------------------------------------------------------------------ grid ----
def case_grid(hub):
    room = "vgrid"
    hub.create_room(room, max_participants=20, layout="grid")
    palette = [gv.argb_to_yuv(c) for _n, c in COLOURS]
    dmin = min(gv.yuv_dist(a, b) for i, a in enumerate(palette) for b in palette[i + 1:])
    log("palette (expected YUV): " + ", ".join(
        f"{n}{fmt_yuv(c)}" for (n, _), c in zip(COLOURS, palette)) +
        f"; nearest pair {dmin:.0f} apart, tolerance {COLOUR_TOL:.0f}")
    peers = [hub.add(gv.VPeer(hub, room, f"p{i}-{name}", gv.solid_src(argb),
                              tone=(i == SPEAKER), keep=48))
             for i, (name, argb) in enumerate(COLOURS)]
    hub.start_all()
    by_id = {p.id: i for i, p in enumerate(peers)}
    # Receivers on every tier: the smaller two are the largest one's canvas
    # scaled down (docs/threads.md), so each must show the same layout.
    tiers = [i % 3 for i in range(len(peers))]
    pin_tier1(hub, peers, timeout=20.0, tiers=tiers)
    wait_frames(hub, peers, 15, 15.0)

    # Every tile's centre shows its participant's colour (retry for a while:
    # each sender first needs a keyframe after it became visible).
    deadline = time.monotonic() + 12.0
    while True:
        j = hub.room(room)
        lay = j["layout"]
        problems, report = check_grid(peers, lay, by_id, palette, tiers)
        if not problems or time.monotonic() > deadline:
            break
        hub.run_for(0.5)
    for line in report:
        log(line)
    if problems:
        raise CheckFailed("grid: " + "; ".join(problems[:12]) +
                          (f" (+{len(problems) - 12} more)" if len(problems) > 12 else ""))
    log(f"grid: PASS: {len(peers)} receivers x {len(lay['tiles'])} tiles show the right colour")

    # The active speaker.
    spk = peers[SPEAKER]
    plist = {q["id"]: q for q in j["participant_list"]}
    log("speaking per the API: " + ", ".join(
        f"{p.name}={plist.get(p.id, {}).get('speaking')}" for p in peers))
    t_patch = time.monotonic()
    hub.set_layout(room, "speaker")
    t_resp = time.monotonic()
    log(f"PATCH layout=speaker answered in {1000 * (t_resp - t_patch):.0f} ms")
    ok = hub.run_until(lambda: any(t.get("large") for t in hub.room(room)["layout"]["tiles"]),
                       SPEAKER_DEADLINE_S, step=0.05)
    j = hub.room(room)
    lay = j["layout"]
    log(f"layout after PATCH ({1000 * (time.monotonic() - t_patch):.0f} ms): kind "
        f"{lay['kind']} {lay['width']}x{lay['height']}, tiles " + ", ".join(
            f"{peers[by_id[t['participant']]].name if t['participant'] in by_id else t['participant']}"
            f"@{t['x']},{t['y']},{t['w']}x{t['h']}{'*' if t['large'] else ''}"
            for t in lay["tiles"]))
    if not ok:
        raise CheckFailed(f"speaker: no tile with \"large\": true in the room's layout "
                          f"{SPEAKER_DEADLINE_S:.0f} s after PATCH layout=speaker")
    big = [t for t in lay["tiles"] if t["large"]][0]
    if big["participant"] != spk.id:
        who = peers[by_id[big["participant"]]].name if big["participant"] in by_id else "?"
        plist = {q["id"]: q for q in j["participant_list"]}
        raise CheckFailed(f"speaker: the large tile is {who} ({big['participant']}), expected "
                          f"the one sending a tone, {spk.name} ({spk.id}); speaking flags: " +
                          ", ".join(f"{p.name}={plist.get(p.id, {}).get('speaking')}"
                                    for p in peers))
    # Let the receivers decode until 2 s after the PATCH (plus a margin to
    # say how late a late one is), then look at what they decoded.
    hub.run_until(lambda: False, max(0.0, t_patch + SPEAKER_DEADLINE_S + 0.7 - time.monotonic()))
    want = palette[SPEAKER]
    problems = []
    for p in peers:
        first, last_vals = None, None
        for f in p.frames_since(t_patch):
            vals = [gv.region_mean(f, *pt) for pt in big_tile_points(big, lay, f[1], f[2])]
            last_vals = vals
            if all(gv.yuv_dist(v, want) <= COLOUR_TOL for v in vals):
                first = f
                break
        if first is None:
            problems.append(f"{p.name}: the big tile never showed {COLOURS[SPEAKER][0]} within "
                            f"{SPEAKER_DEADLINE_S + 0.7:.1f} s (last frame at its 5 points: " +
                            (" ".join(fmt_yuv(v) for v in last_vals) if last_vals else "no frame")
                            + ")")
            continue
        dt = first[0] - t_patch
        log(f"{p.name}: big tile shows {COLOURS[SPEAKER][0]} {1000 * dt:.0f} ms after PATCH "
            f"({first[1]}x{first[2]}, centre {fmt_yuv(gv.region_mean(first, *big_tile_points(big, lay, first[1], first[2])[0]))})")
        if dt > SPEAKER_DEADLINE_S:
            problems.append(f"{p.name}: the big tile showed the speaker only after {dt:.2f} s")
    # The strip, for the record (from each receiver's latest frame).
    f = peers[0].latest()
    if f is not None:
        log(f"{peers[0].name} sees in the strip: " + ", ".join(
            f"{peers[by_id[t['participant']]].name}->{COLOURS[nearest(c, palette)[0]][0]}{fmt_yuv(c)}"
            for t in lay["tiles"] if not t["large"] and t["participant"] in by_id
            for c in [gv.region_mean(f, *gv.tile_centre(t, lay, f[1], f[2]))]))
    if problems:
        raise CheckFailed("speaker: " + "; ".join(problems))
    log(f"speaker: PASS: every receiver shows {spk.name} large within {SPEAKER_DEADLINE_S:.0f} s")


def big_tile_points(big, lay, w, h):
    """Centre and four inner points (at 1/4 and 3/4) of the big tile, in a
    w x h frame: in the grid they would fall into different tiles."""
    sx, sy = w / lay["width"], h / lay["height"]
    pts = []
    for fx, fy in ((0.5, 0.5), (0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)):
        pts.append(((big["x"] + fx * big["w"]) * sx, (big["y"] + fy * big["h"]) * sy))
    return pts


def check_grid(peers, lay, by_id, palette, tiers):
    problems, report = [], []
    tiles = lay["tiles"]
    if lay["kind"] != "grid":
        problems.append(f"layout kind is {lay['kind']}, expected grid")
    if len(tiles) != len(peers):
        problems.append(f"layout has {len(tiles)} tiles, expected {len(peers)}")
    order = [by_id.get(t["participant"]) for t in tiles]
    if order != list(range(len(tiles))):
        problems.append(f"tiles are not in join order: {order}")
    report.append(f"layout {lay['kind']} {lay['width']}x{lay['height']}: " + ", ".join(
        f"{peers[i].name if i is not None else '?'}@{t['x']},{t['y']},{t['w']}x{t['h']}"
        for t, i in zip(tiles, order)))
    for p, tier in zip(peers, tiers):
        f = p.latest()
        if f is None:
            problems.append(f"{p.name}: no decoded frame")
            continue
        want = (TIER_W[tier], TIER_W[tier] * 9 // 16)
        if (f[1], f[2]) != want:
            problems.append(f"{p.name}: receives {f[1]}x{f[2]}, expected "
                            f"{want[0]}x{want[1]} (tier {tier})")
        cells = []
        for t, i in zip(tiles, order):
            c = gv.region_mean(f, *gv.tile_centre(t, lay, f[1], f[2]))
            if i is None:
                problems.append(f"{p.name}: tile of unknown participant {t['participant']}")
                continue
            k, _d = nearest(c, palette)
            d = gv.yuv_dist(c, palette[i])
            ok = k == i and d <= COLOUR_TOL
            cells.append(f"{COLOURS[i][0]}={fmt_yuv(c)} d={d:.0f}{'' if ok else ' BAD'}")
            if not ok:
                problems.append(f"{p.name}: tile of {peers[i].name} shows {fmt_yuv(c)} (nearest: "
                                f"{COLOURS[k][0]}), expected {fmt_yuv(palette[i])}")
        report.append(f"{p.name} receives {f[1]}x{f[2]}: " + " ".join(cells))
    return problems, report


# ------------------------------------------------------------------ h264 ----
H264_COLOURS = [("red", 0xFFFF0000), ("blue", 0xFF0000FF), ("green", 0xFF00FF00)]


def case_h264(hub):
    missing = gv.gp.missing_elements(gv.H264_ELEMENTS)
    if missing:
        raise SetupError("GStreamer elements missing for H.264: " + ", ".join(missing) +
                         " (scripts/deps.sh --test installs them)")
    room = "vh264"
    hub.create_room(room, max_participants=10, layout="grid")
    palette = [gv.argb_to_yuv(c) for _n, c in H264_COLOURS]
    peers = [hub.add(gv.VPeer(hub, room, f"p{i}-{name}-{'h264' if i == 0 else 'vp8'}",
                              gv.solid_src(argb), keep=8, codec="H264" if i == 0 else "VP8"))
             for i, (name, argb) in enumerate(H264_COLOURS)]
    hub.start_all()
    by_id = {p.id: i for i, p in enumerate(peers)}
    pin_tier1(hub, peers, timeout=20.0)
    wait_frames(hub, peers, 10, 15.0)
    h264 = peers[0]
    if getattr(h264, "rx_encoding", None) != "H264":
        raise CheckFailed(f"{h264.name} receives {getattr(h264, 'rx_encoding', None)}, "
                          "expected H264")
    for p in peers[1:]:
        if getattr(p, "rx_encoding", None) != "VP8":
            raise CheckFailed(f"{p.name} receives {getattr(p, 'rx_encoding', None)}, "
                              "expected VP8")
    deadline = time.monotonic() + 12.0
    while True:
        j = hub.room(room)
        lay = j["layout"]
        problems, report = check_grid_colours(peers, lay, by_id, palette, H264_COLOURS)
        if not problems or time.monotonic() > deadline:
            break
        hub.run_for(0.5)
    for line in report:
        log(line)
    plist = {q["id"]: q for q in j["participant_list"]}
    for i, p in enumerate(peers):
        q = plist.get(p.id, {})
        want = "H264" if i == 0 else "VP8"
        log(f"{p.name}: video_codec {q.get('video_codec')}, video_decodes "
            f"{q.get('video_decodes')}")
        if q.get("video_codec") != want:
            problems.append(f"{p.name}: the API says video_codec {q.get('video_codec')}, "
                            f"expected {want}")
        if not q.get("video_decodes"):
            problems.append(f"{p.name}: the server decoded none of its frames")
    # The H.264 sender's encoder makes keyframes only when asked (its
    # key-int-max is minutes): the server's PLI must have reached it.
    log(f"{h264.name}: {h264.key_requests} keyframe requests reached its encoder")
    if h264.key_requests < 1:
        problems.append(f"{h264.name}: no keyframe request (PLI) from the server reached "
                        "its H.264 encoder")
    msgs = [m for p in peers for m in p.messages if "-rx-" in m[2]]
    for m in msgs:
        log(f"receiver message: {m}")
    if any(m[1] == "ERROR" for m in msgs):
        problems.append("ERROR messages from a receiving chain (above)")
    if problems:
        raise CheckFailed("h264: " + "; ".join(problems))
    log("h264: PASS: the H.264 receiver sees the VP8 senders' colours, the VP8 receivers "
        "the H.264 sender's")


def check_grid_colours(peers, lay, by_id, palette, names):
    """Every receiver's latest frame: each tile's centre is its
    participant's colour (nearest in palette, within COLOUR_TOL)."""
    problems, report = [], []
    tiles = lay["tiles"]
    if len(tiles) != len(peers):
        problems.append(f"layout has {len(tiles)} tiles, expected {len(peers)}")
    for p in peers:
        f = p.latest()
        if f is None:
            problems.append(f"{p.name}: no decoded frame")
            continue
        cells = []
        for t in tiles:
            i = by_id.get(t["participant"])
            if i is None:
                problems.append(f"{p.name}: tile of unknown participant {t['participant']}")
                continue
            c = gv.region_mean(f, *gv.tile_centre(t, lay, f[1], f[2]))
            k, _d = nearest(c, palette)
            d = gv.yuv_dist(c, palette[i])
            ok = k == i and d <= COLOUR_TOL
            cells.append(f"{names[i][0]}={fmt_yuv(c)} d={d:.0f}{'' if ok else ' BAD'}")
            if not ok:
                problems.append(f"{p.name}: tile of {peers[i].name} shows {fmt_yuv(c)} "
                                f"(nearest: {names[k][0]}), expected {fmt_yuv(palette[i])}")
        report.append(f"{p.name} receives {f[1]}x{f[2]}: " + " ".join(cells))
    return problems, report


# --------------------------------------------------------------- quality ----
def case_quality(hub):
    cdir = os.environ.get("TUTTI_TEST_CANVAS_DIR")
    if not cdir:
        raise SetupError("TUTTI_TEST_CANVAS_DIR must be set (for the server and the test)")
    os.makedirs(cdir, exist_ok=True)
    # The server writes the canvases only once someone receives, i.e. after
    # this: old dumps from another run must not be taken for this one's.
    for old in glob.glob(os.path.join(cdir, "t[0-9]-*.i420")):
        os.unlink(old)
    room = "vquality"
    hub.create_room(room, max_participants=10, layout="grid")
    need = QUALITY_WARMUP + QUALITY_FRAMES
    srcs = [("ball", gv.moving_src("ball", 320, 240)),
            ("smpte", gv.moving_src("smpte", 640, 360, extra="horizontal-speed=3"))]
    peers = [hub.add(gv.VPeer(hub, room, f"p{i}-{n}", s, keep=need + 20))
             for i, (n, s) in enumerate(srcs)]
    hub.start_all()
    pin_tier1(hub, peers)
    wait_frames(hub, peers, need, 30.0)
    # The frames to judge: taken now (the appsinks go on receiving); every
    # canvas they came from was written before it was encoded and sent.
    taken = {p.name: list(p.frames)[-need:][QUALITY_WARMUP:] for p in peers}
    hub.run_for(0.3)
    W, H = 640, 360
    files = sorted(glob.glob(os.path.join(cdir, "t1-*.i420")))
    if not files:
        raise CheckFailed(f"the server dumped no tier-1 canvas into {cdir}")
    canv = []
    for fn in files:
        b = np.fromfile(fn, dtype=np.uint8)
        if len(b) != W * H * 3 // 2:
            raise CheckFailed(f"{fn}: {len(b)} bytes, expected {W * H * 3 // 2} (640x360 I420)")
        canv.append(b[:W * H].reshape(H, W))
    canv = np.stack(canv)
    log(f"{len(canv)} tier-1 canvases dumped ({os.path.basename(files[0])} .. "
        f"{os.path.basename(files[-1])})")
    small = canv.reshape(len(canv), H // 4, 4, W // 4, 4).astype(np.float32).mean(axis=(2, 4))
    small = small.reshape(len(canv), -1)
    ok_all = True
    for p in peers:
        frames = taken[p.name]
        if any((f[1], f[2]) != (W, H) for f in frames):
            raise CheckFailed(f"{p.name}: decoded frames are not all {W}x{H}")
        vals, best_idx, neigh = [], [], []
        for f in frames:
            y = f[3]
            ys = y.astype(np.float32).reshape(H // 4, 4, W // 4, 4).mean(axis=(1, 3)).ravel()
            d = np.mean((small - ys[None, :]) ** 2, axis=1)
            cand = np.argsort(d)[:4]
            scores = [(gv.psnr(y, canv[c]), int(c)) for c in cand]
            s, c = max(scores)
            vals.append(s)
            best_idx.append(c)
            # For the record: how much worse the canvases next to it match
            # (says that the match is the very frame, not a look-alike).
            nb = [gv.psnr(y, canv[k]) for k in (c - 1, c + 1)
                  if 0 <= k < len(canv) and not np.array_equal(canv[k], canv[c])]
            if nb:
                neigh.append(max(nb))
        vals = np.array(vals)
        save = os.environ.get("VIDEO_MIX_SAVE")
        if save:   # debugging: the worst and the median frame next to their best canvas
            os.makedirs(save, exist_ok=True)
            for tag, k in (("worst", int(np.argmin(vals))),
                           ("median", int(np.argsort(vals)[len(vals) // 2]))):
                for what, img in (("decoded", frames[k][3]), ("canvas", canv[best_idx[k]])):
                    fn = os.path.join(save, f"{p.name}-{tag}-{what}.pgm")
                    with open(fn, "wb") as fh:
                        fh.write(b"P5 %d %d 255\n" % (img.shape[1], img.shape[0]) + img.tobytes())
            log(f"{p.name}: saved worst/median frames and canvases under {save}; per frame "
                f"PSNR: " + " ".join(f"{x:.1f}" for x in vals))
        steps = np.diff(best_idx)
        mono = float(np.mean(steps >= 0)) if len(steps) else 1.0
        med = float(np.median(vals))
        log(f"{p.name}: PSNR-Y vs best-matching tier-1 canvas over {len(vals)} frames "
            f"(after {QUALITY_WARMUP} warm-up): min {vals.min():.2f} dB, median {med:.2f} dB, "
            f"max {vals.max():.2f} dB; best canvases {best_idx[0]}..{best_idx[-1]}, "
            f"{100 * mono:.0f}% in order, {len(set(best_idx))} distinct; the canvas next "
            f"to the best one scores {np.median(neigh) if neigh else float('nan'):.2f} dB "
            f"(median)")
        if med < QUALITY_MIN_DB:
            ok_all = False
            log(f"{p.name}: median PSNR {med:.2f} dB < {QUALITY_MIN_DB:.0f} dB")
    st = hub.metrics("tutti_video")
    log("metrics: " + ", ".join(f"{k}={v}" for k, v in sorted(st.items())))
    if not ok_all:
        raise CheckFailed(f"quality: median PSNR below {QUALITY_MIN_DB:.0f} dB (see above; the "
                          f"canvases are kept in {cdir})")
    # Passed: the dumps (up to 300 x 340 KB) are not worth keeping; leave
    # first, so that the server stops writing them.
    bad = hub.close()
    if bad:
        raise CheckFailed(f"leaving failed for {bad} (DELETE did not answer 204)")
    hub.run_for(0.3)
    for fn in glob.glob(os.path.join(cdir, "t[0-9]-*.i420")):
        os.unlink(fn)
    log("quality: PASS")


# --------------------------------------------------------------- visible ----
def case_visible(hub):
    room = "vvisible"
    hub.create_room(room, max_participants=20, layout="grid", max_tiles=4)
    peers = [hub.add(gv.VPeer(hub, room, f"p{i}-{name}", gv.solid_src(argb), decode=False))
             for i, (name, argb) in enumerate(COLOURS)]
    hub.start_all()
    ids = [p.id for p in peers]

    def table():
        j = hub.room(room)
        return j, {q["id"]: q for q in j["participant_list"]}

    # Warm up: every visible one has been decoded at least once.
    def ready():
        _j, pl = table()
        vis = [i for i in ids if pl.get(i, {}).get("video_visible")]
        return len(vis) == 4 and all(pl[i]["video_decodes"] > 0 for i in vis)
    if not hub.run_until(ready, 15.0, step=0.25):
        _j, pl = table()
        raise CheckFailed("visible: not 4 visible participants with decodes within 15 s: " +
                          ", ".join(f"{p.name} visible={pl.get(p.id, {}).get('video_visible')} "
                                    f"decodes={pl.get(p.id, {}).get('video_decodes')}"
                                    for p in peers))
    hub.run_for(1.0)
    j0, a = table()
    hub.run_for(3.0)
    j1, b = table()
    problems = []
    grew, still, visible = [], [], []
    for i, p in enumerate(peers):
        qa, qb = a.get(p.id), b.get(p.id)
        if qa is None or qb is None:
            problems.append(f"{p.name} ({p.id}) missing from participant_list")
            continue
        d = qb["video_decodes"] - qa["video_decodes"]
        vis = qa["video_visible"] and qb["video_visible"]
        (grew if d > 0 else still).append(i)
        if vis:
            visible.append(i)
        log(f"{p.name:10s} id {p.id} joined #{i}: video_visible {qa['video_visible']}->"
            f"{qb['video_visible']}, video_decodes {qa['video_decodes']} -> "
            f"{qb['video_decodes']} (+{d} in 3 s), video_frames_sent {qb['video_frames_sent']}")
    tiles = [t["participant"] for t in j1["layout"]["tiles"]]
    log(f"layout tiles: {[peers[ids.index(t)].name if t in ids else t for t in tiles]}")
    if len(visible) != 4:
        problems.append(f"{len(visible)} participants are video_visible, expected 4")
    if len(grew) != 4:
        problems.append(f"video_decodes grew for {len(grew)} participants "
                        f"({[peers[i].name for i in grew]}), expected exactly 4")
    if set(grew) != set(visible):
        problems.append(f"decoded {[peers[i].name for i in grew]} but visible "
                        f"{[peers[i].name for i in visible]}")
    if sorted(tiles) != sorted(ids[i] for i in visible):
        problems.append("the layout's tiles are not the video_visible participants")
    if visible != [0, 1, 2, 3]:
        problems.append(f"visible are {[peers[i].name for i in visible]}, expected the first 4 "
                        "to join (grid: join order)")
    for i in grew:
        d = b[ids[i]]["video_decodes"] - a[ids[i]]["video_decodes"]
        if d < 15:
            problems.append(f"{peers[i].name}: only {d} decodes in 3 s (sends 15 fps)")
    log("metrics: " + ", ".join(f"{k}={v}" for k, v in sorted(hub.metrics("tutti_video").items())))
    if problems:
        raise CheckFailed("visible: " + "; ".join(problems))
    log(f"visible: PASS: decoded only the 4 visible senders "
        f"({[peers[i].name for i in visible]}); the other 5 stayed still")


# ------------------------------------------------------------------ tier ----
def case_tier(hub):
    room = "vtier"
    hub.create_room(room, max_participants=10, layout="grid")
    sender = hub.add(gv.VPeer(hub, room, "sender", gv.moving_src("ball", 320, 240),
                              decode=False))
    rx = hub.add(gv.VPeer(hub, room, "receiver", gv.solid_src(0xFF0000FF), keep=2))
    blue = gv.argb_to_yuv(0xFF0000FF)
    hub.start_all()
    wait_frames(hub, [rx], 20, 15.0)
    # Tiers pinned by the admin (PATCH tier): without that, the receiver's
    # tier follows its bandwidth estimate (docs/bandwidth.md), which a busy
    # machine moves.
    steps = [(1, (640, 360)), (0, (320, 180)), (2, (1280, 720))]
    problems = []
    switches = []
    for tier, size in steps:
        t_sw = time.monotonic()
        if tier is not None:
            hub.set_tier(rx, tier)
            log(f"PATCH {rx.name} tier={tier}")
            ok = hub.run_until(lambda: rx.sizes and rx.sizes[-1][1:] == size
                               and rx.sizes[-1][0] >= t_sw, 5.0)
            if not ok:
                problems.append(f"after tier {tier}: frames are "
                                f"{rx.sizes[-1][1]}x{rx.sizes[-1][2]}, expected "
                                f"{size[0]}x{size[1]} within 5 s")
            else:
                log(f"frame size {size[0]}x{size[1]} after "
                    f"{1000 * (rx.sizes[-1][0] - t_sw):.0f} ms")
            switches.append((tier, t_sw))
        elif rx.sizes[-1][1:] != size:
            problems.append(f"starts at {rx.sizes[-1][1]}x{rx.sizes[-1][2]}, expected "
                            f"{size[0]}x{size[1]} (tier 1)")
        n0 = rx.n_frames
        hub.run_for(2.5)
        j = hub.room(room)
        q = {x["id"]: x for x in j["participant_list"]}.get(rx.id, {})
        # What it decodes is the composite: its own (blue) tile is blue.
        f = rx.latest()
        own = [t for t in j["layout"]["tiles"] if t["participant"] == rx.id]
        if f is not None and own:
            c = gv.region_mean(f, *gv.tile_centre(own[0], j["layout"], f[1], f[2]))
            d = gv.yuv_dist(c, blue)
            log(f"its own tile's centre at {f[1]}x{f[2]}: {fmt_yuv(c)} (blue {fmt_yuv(blue)}, "
                f"d={d:.0f})")
            if d > COLOUR_TOL:
                problems.append(f"at {f[1]}x{f[2]} its own tile shows {fmt_yuv(c)}, not blue")
        else:
            problems.append("no frame, or no tile of its own in the layout")
        log(f"tier {1 if tier is None else tier}: {rx.n_frames - n0} frames in 2.5 s at "
            f"{rx.sizes[-1][1]}x{rx.sizes[-1][2]}; API video_tier {q.get('video_tier')}, "
            f"video_frames_sent {q.get('video_frames_sent')}")
        want_tier = 1 if tier is None else tier
        if q.get("video_tier") != want_tier:
            problems.append(f"API says video_tier {q.get('video_tier')}, expected {want_tier}")
        if rx.n_frames - n0 < 20:
            problems.append(f"only {rx.n_frames - n0} frames in 2.5 s on tier {want_tier}")
    times = np.array(rx.frame_times)
    gaps = np.diff(times)
    for tier, t_sw in switches:
        sel = (times[1:] >= t_sw - 1.0) & (times[:-1] <= t_sw + 3.0)
        g = float(gaps[sel].max()) if sel.any() else float("inf")
        log(f"switch to tier {tier}: longest gap between decoded frames around it "
            f"{1000 * g:.0f} ms")
        if g > MAX_GAP_S:
            problems.append(f"a gap of {g:.2f} s in decoded frames around the switch to tier {tier}")
    log(f"receiver: {rx.n_frames} frames; sizes: " + " -> ".join(
        f"{w}x{h}@{t - gv.T0:.2f}s" for t, w, h in rx.sizes) +
        f"; longest gap overall {1000 * float(gaps.max()):.0f} ms")
    msgs = rx.messages + sender.messages
    for t, kind, src, text in msgs:
        log(f"bus {kind} at {t - gv.T0:.2f}s from {src}: {text}")
    bad = [m for m in rx.messages if "rx-" in m[2] or "vp8" in m[2] or "depay" in m[2]]
    if bad:
        problems.append(f"{len(bad)} ERROR/WARNING messages from the receiver's depayloader "
                        f"or decoder (above)")
    log(f"bus messages: {len(msgs)} in all, {len(bad)} from the receiving chain")
    log("metrics: " + ", ".join(f"{k}={v}" for k, v in sorted(hub.metrics("tutti_video").items())))
    if problems:
        raise CheckFailed("tier: " + "; ".join(problems))
    log("tier: PASS")


CASES = {"grid": case_grid, "quality": case_quality, "visible": case_visible,
         "tier": case_tier, "h264": case_h264}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        print(f"usage: {sys.argv[0]} {'|'.join(CASES)}", file=sys.stderr)
        sys.stdout.flush()
        os._exit(2)
    gv.run_hub(sys.argv[1], CASES[sys.argv[1]])


if __name__ == "__main__":
    main()
