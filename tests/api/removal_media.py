#!/usr/bin/python3
"""A participant removed over the API loses its media within 1 s.

Two GStreamer webrtcbin participants (tests/interop/gstpeer.py: real ICE,
DTLS, SRTP) join an open room: a talker sending an Opus tone and a
listener (receive only) that hears it. Once the listener receives audio, an
admin removes it (DELETE /api/v1/rooms/{room}/participants/{id} with the
admin key). Every packet that reaches the listener's ICE transport
(nicesrc: SRTP and SRTCP from the server) is timed; the test prints the
time from the DELETE's response to the last packet received and fails if
it is over 1 s. It also checks that the listener was receiving right up to
the DELETE, that it left the roster, that the talker stayed, and that a
second DELETE is 404.

    /usr/bin/python3 removal_media.py      (env TUTTI_URL, TUTTI_ADMIN_KEY)

Run under tests/interop/run_with_server.sh (ctest api_removal_media), with
Debian's /usr/bin/python3 (python3-gi, GStreamer webrtcbin). One line per
check, then "N passed, N failed". Exit 0 pass, 1 a check failed, 2 could
not run.
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
import gstpeer as gp  # noqa: E402  (exits 2 without the GStreamer bindings)
from gstpeer import Gst, log  # noqa: E402
from checks import check, summary  # noqa: E402  (tests/api/checks.py)

ROOM = "removal"
BOUND_S = 1.0
WATCH_S = 3.0




class TimedPeer(gp.Peer):
    """A Peer that times every buffer leaving its nicesrc elements."""

    def __init__(self, *a, **kw):
        self.arrivals_lock = threading.Lock()
        self.arrivals = []            # time.monotonic() of each packet
        super().__init__(*a, **kw)

    def on_joined(self, answer, agent):
        super().on_joined(answer, agent)
        self.probe_nicesrc(self._time_one, self._time_list, None)

    def _time_one(self, _pad, _info, _u):
        t = time.monotonic()
        with self.arrivals_lock:
            self.arrivals.append(t)
        return Gst.PadProbeReturn.OK

    def _time_list(self, _pad, info, _u):
        t = time.monotonic()
        lst = info.get_buffer_list()
        n = lst.length() if lst is not None else 0
        with self.arrivals_lock:
            self.arrivals.extend([t] * n)
        return Gst.PadProbeReturn.OK

    def times(self):
        with self.arrivals_lock:
            return list(self.arrivals)


def main():
    hub = gp.Hub()
    hub.create_room(ROOM, access="open")
    talker = hub.add(TimedPeer(hub, ROOM, "talker", freq=440.0, volume=0.5))
    listener = hub.add(TimedPeer(hub, ROOM, "listener", send=False))
    hub.start_all(timeout=30.0)
    ok = hub.run_until(lambda: listener.received_s() >= 1.0, 15.0)
    if not check("listener_receives_audio", ok, f"{listener.received_s():.2f} s decoded, "
                 f"{len(listener.times())} packets"):
        return 1
    hub.run_for(0.5)

    t_sent = time.monotonic()
    st, _h, body = gp.http("DELETE", f"{hub.base}{listener.path}", key=hub.key)
    t_done = time.monotonic()
    listener.location = None          # removed: hub.close() must not DELETE it again
    check("admin_delete_is_204", st == 204, f"{st} {body[:100]} in {1000 * (t_done - t_sent):.1f} ms")
    hub.run_for(WATCH_S)

    times = listener.times()
    before = [t for t in times if t_sent - 0.5 <= t < t_sent]
    after = [t for t in times if t >= t_done]
    last = max(times) if times else None
    check("listener_was_receiving_until_the_delete", len(before) >= 10,
          f"{len(before)} packets in the 0.5 s before the DELETE")
    gap = (last - t_done) if last is not None and last >= t_done else 0.0
    print(f"measured: last packet {1000 * gap:.1f} ms after the DELETE's response "
          f"({len(after)} packets after it; watched {WATCH_S:.0f} s)", flush=True)
    check("media_stops_within_1s_of_the_delete", gap <= BOUND_S,
          f"last packet {1000 * gap:.1f} ms after the response (bound {1000 * BOUND_S:.0f} ms)")
    late = [t for t in after if t > t_done + BOUND_S]
    check("no_packet_later_than_1s", not late,
          f"{len(late)} packets later than {BOUND_S:.0f} s")

    st, j = hub.api("GET", f"/api/v1/rooms/{ROOM}/participants")
    ids = [p.get("id") for p in (j or {}).get("participants", [])] if isinstance(j, dict) else []
    check("listener_left_the_roster", st == 200 and listener.id not in ids and talker.id in ids,
          f"{st} {ids}")
    st, _h, _b = gp.http("DELETE", f"{hub.base}/api/v1/rooms/{ROOM}/participants/{listener.id}",
                         key=hub.key)
    check("second_delete_is_404", st == 404, f"{st}")
    t_talk = talker.times()
    check("talker_still_in_the_room_and_served", talker.connected and not talker.failed,
          f"{talker.state()}, {len(t_talk)} packets")
    bad = hub.close()
    check("talker_leaves_with_204", not bad, str(bad))
    return summary()


if __name__ == "__main__":
    gp.exit_code(main)
