#!/usr/bin/python3
"""Prints the Markdown tables of perf/RESULTS.md from the JSON files that
perf/run leaves in its output directory (tutti-load --json), with the
ratios against the peers measured in the same go.

  perf/summary.py [OUT_DIR]      (default build-perf/perf-out)
"""
import glob
import json
import os
import sys


def load(out):
    runs = {}
    for f in glob.glob(os.path.join(out, "*.json")):
        try:
            with open(f) as fh:
                j = json.load(fh)
            runs[j["label"]] = j
        except (OSError, ValueError, KeyError):
            pass
    return runs


def stalls(out, j):
    """The machine's stalls in a run's measured window (perf/stall_probe.c):
    (stalls of 10 ms or more, counted per CPU; stalls of 5 ms or more on
    every CPU at once; the longest of those in ms), or None without a
    record."""
    path = os.path.join(out, "stalls-%s.txt" % j["label"])
    t0, t1 = j.get("window_start_unix"), j.get("window_end_unix")
    if t0 is None or t1 is None or not os.path.exists(path):
        return None
    n_cpu, per_cpu = 1, {}
    with open(path) as fh:
        for line in fh:
            if line.startswith("# stall_probe:"):
                n_cpu = int(line.split()[2])
            elif not line.startswith("#"):
                cpu, start, ms = line.split()
                start, end = float(start), float(start) + float(ms) / 1e3
                if end > t0 and start < t1:
                    per_cpu.setdefault(int(cpu), []).append((start, end))
    any10 = sum(1 for iv in per_cpu.values() for a, b in iv if b - a >= 0.010)
    # every CPU stopped at once: intersect the CPUs' stall intervals
    common = per_cpu.get(0, []) if len(per_cpu) == n_cpu else []
    for cpu in range(1, n_cpu):
        common = [(max(a, c), min(b, d)) for a, b in common for c, d in per_cpu[cpu]
                  if min(b, d) > max(a, c)]
    common = [b - a for a, b in common if b - a >= 0.005]
    return any10, len(common), max(common, default=0) * 1e3


def stalls_str(out, j):
    s = stalls(out, j)
    return "–" if s is None else "%d / %d (%.0f)" % s


def f(v, fmt="%.1f"):
    return "–" if v is None else fmt % v


def pair(a, b, fmt="%.1f"):
    return "%s / %s" % (f(a, fmt), f(b, fmt))


def lecture(out, runs):
    rows = sorted((j for k, j in runs.items() if k.startswith("lecture-")),
                  key=lambda j: j["participants"])
    if not rows:
        return
    print("| students | connected | server CPU (cores) | per participant µs/s | peak RSS MiB "
          "| missed deadlines (audio) | receivers fps med / worst | sampled decoded fps med / worst "
          "| audio lost / stalls | audio delay ms med / p95 | video delay ms med / p95 "
          "| tutti-load CPU | server µs per packet delivered "
          "| machine stalls ≥ 10 ms / all CPUs at once (longest ms) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for j in rows:
        per_pkt = (j["server_cpu"] / j["rx_pps"] * 1e6
                   if j.get("server_cpu") and j.get("rx_pps") else None)
        print("| %d | %d | %s | %s | %s | %s | %s | %s | %d / %d | %s | %s | %s | %s | %s |" % (
            j["participants"] - 1, j["connected"], f(j["server_cpu"], "%.2f"),
            f(j["server_cpu_per_participant_us"], "%.0f"), f(j["server_rss_peak_mib"], "%.0f"),
            "%s (%s)" % (f(j["missed_deadlines"], "%.0f"), f(j.get("missed_audio_deadlines"), "%.0f")),
            pair(j["fps_median"], j["fps_worst"]),
            pair(j["decoded_fps_median"], j["decoded_fps_worst"]),
            j["audio_lost"], j["audio_stalls"],
            pair(j["audio_delay_ms_median"], j["audio_delay_ms_p95"]),
            pair(j["video_delay_ms_median"], j["video_delay_ms_p95"]),
            f(j["loadgen_cpu"], "%.2f"), f(per_pkt, "%.1f"), stalls_str(out, j)))
    print()


def meeting(out, runs):
    t, g = runs.get("meeting"), runs.get("gst-meeting")
    if not t:
        return
    print("| 25 × 180p/360p, grid, 3 tiers | tutti | GStreamer compositor |")
    print("|---|---:|---:|")
    rows = [
        ("CPU (cores)", "server_cpu", "%.2f"),
        ("CPU per output frame, ms", "cpu_ms_per_output_frame", "%.1f"),
        ("receivers' fps, median", "fps_median", "%.1f"),
        ("receivers' fps, worst", "fps_worst", "%.1f"),
        ("decoded fps (sample), median", "decoded_fps_median", "%.1f"),
        ("video delay ms, median", "video_delay_ms_median", "%.0f"),
        ("video delay ms, p95", "video_delay_ms_p95", "%.0f"),
        ("audio delay ms, median", "audio_delay_ms_median", "%.0f"),
        ("peak RSS MiB", "server_rss_peak_mib", "%.0f"),
        ("missed deadlines", "missed_deadlines", "%.0f"),
        ("of which the audio missed", "missed_audio_deadlines", "%.0f"),
    ]
    for name, key, fmt in rows:
        print("| %s | %s | %s |" % (name, f(t.get(key), fmt), f(g.get(key), fmt) if g else "–"))
    print("| machine stalls ≥ 10 ms / all CPUs at once (longest ms) | %s | %s |" % (
        stalls_str(out, t), stalls_str(out, g) if g else "–"))
    if g and t.get("cpu_ms_per_output_frame") and g.get("cpu_ms_per_output_frame"):
        print("| **ratio tutti / GStreamer, CPU per output frame** | **%.2f** | |" % (
            t["cpu_ms_per_output_frame"] / g["cpu_ms_per_output_frame"]))
    print()


def audio(runs):
    rows = sorted((j for k, j in runs.items() if k.startswith("audio-")),
                  key=lambda j: j["participants"])
    if not rows:
        return
    print("| N | tutti CPU (cores) | tutti µs/s per participant | Janus CPU (cores) "
          "| Janus µs/s per participant | **tutti / Janus** | tutti audio delay ms med / p95 "
          "| Janus audio delay ms med / p95 | tutti lost / stalls | Janus lost / stalls "
          "| peak RSS MiB tutti / Janus |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for t in rows:
        n = t["participants"]
        jn = runs.get("janus-audio-%d" % n, {})
        ratio = None
        if jn.get("server_cpu_per_participant_us") and t.get("server_cpu_per_participant_us"):
            ratio = t["server_cpu_per_participant_us"] / jn["server_cpu_per_participant_us"]
        print("| %d | %s | %s | %s | %s | **%s** | %s | %s | %d / %d | %s | %s |" % (
            n, f(t["server_cpu"], "%.3f"), f(t["server_cpu_per_participant_us"], "%.0f"),
            f(jn.get("server_cpu"), "%.3f"), f(jn.get("server_cpu_per_participant_us"), "%.0f"),
            f(ratio, "%.3f"),
            pair(t["audio_delay_ms_median"], t["audio_delay_ms_p95"]),
            pair(jn.get("audio_delay_ms_median"), jn.get("audio_delay_ms_p95")),
            t["audio_lost"], t["audio_stalls"],
            "%d / %d" % (jn["audio_lost"], jn["audio_stalls"]) if jn else "–",
            pair(t["server_rss_peak_mib"], jn.get("server_rss_peak_mib"), "%.0f")))
    print()


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "build-perf/perf-out"
    runs = load(out)
    lecture(out, runs)
    meeting(out, runs)
    audio(runs)
    smoke = runs.get("smoke")
    if smoke:
        print("smoke: %d/%d connected, %d srtp failures, %d without audio, %d without video" % (
            smoke["connected"], smoke["participants"], smoke["srtp_failures"],
            smoke["receivers_without_audio"], smoke["receivers_without_video"]))


if __name__ == "__main__":
    main()
