#!/usr/bin/env python3
"""Screen sharing over the API (docs/api.md): the room setting screen_share
and a participant's PATCH {"screen": true|false}.

  - screen_share: "presenters" by default; "everyone" and "off" at creation
    and by PATCH; anything else is 400 with the room unchanged;
  - a join whose offer has a second sending video m-line gets it answered
    recvonly (the screen's m-line);
  - presenters only: an attendee's own PATCH screen true is 403
    screen_not_allowed (so is an admin's for it), a presenter's is 200 and
    the room's layout and the events stream name the sharer;
  - everyone: an attendee may share, but not while a presenter does (409
    screen_busy); a presenter takes the screen over from an attendee;
  - off (PATCH on the room): the share in progress ends; so does a
    presenters-only share whose sharer is made an attendee;
  - screen false from someone not sharing is 200 and changes nothing;
    a share whose screen sends no media ends after 10 s; leaving ends a
    share.

Env: TUTTI_URL (run_with_server.sh), TUTTI_ADMIN_KEY. Plain python3.
"""

import http.client
import json
import os
import queue
import socket
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, summary  # noqa: E402

URL = os.environ.get("TUTTI_URL", "").rstrip("/")
KEY = os.environ.get("TUTTI_ADMIN_KEY", "")
SDP_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "sdp")


def call(method, path, body=None, auth=None, ctype=None):
    """(status, headers, parsed JSON or text)."""
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
        ctype = ctype or "application/json"
    h = {}
    if ctype:
        h["Content-Type"] = ctype
    if auth:
        h["Authorization"] = "Bearer " + auth
    u = urllib.parse.urlsplit(URL)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        raw = r.read().decode("utf-8", "replace")
        try:
            data = json.loads(raw)
        except ValueError:
            data = raw
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        conn.close()


def ecode(j):
    return j.get("error", {}).get("code") if isinstance(j, dict) else None


def token(room, name, role):
    st, _h, j = call("POST", f"/api/v1/rooms/{room}/tokens", {"name": name, "role": role},
                     auth=KEY)
    if st != 201:
        raise RuntimeError(f"token: {st} {j}")
    return j["token"]


def join(room, tok, sdp="chrome-screen-offer.sdp"):
    with open(os.path.join(SDP_DIR, sdp), "rb") as f:
        offer = f.read()
    st, h, body = call("POST", f"/api/v1/rooms/{room}/join", offer, auth=tok,
                       ctype="application/sdp")
    loc = h.get("location", "")
    return st, loc, body


def pid(loc):
    return loc.split("?", 1)[0].rsplit("/", 1)[-1]


def layout(room):
    st, _h, j = call("GET", f"/api/v1/rooms/{room}", auth=KEY)
    return (j or {}).get("layout", {}) if st == 200 else {}


def me(loc):
    st, _h, j = call("GET", f"/api/v1/rooms/{loc.split('/')[4]}/participants", auth=KEY)
    for p in (j or {}).get("participants", []):
        if p["id"] == pid(loc):
            return p
    return {}


class Events:
    """(event, data) pairs of the room's event stream, read in the background."""

    def __init__(self, room):
        u = urllib.parse.urlsplit(URL)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        self.conn.request("GET", f"/api/v1/rooms/{room}/events",
                          headers={"Authorization": "Bearer " + KEY})
        self.resp = self.conn.getresponse()
        self.q = queue.Queue()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        ev, data = None, []
        try:
            for line in iter(self.resp.readline, b""):
                line = line.decode().rstrip("\r\n")
                if not line:
                    if ev:
                        self.q.put((ev, json.loads("\n".join(data) or "null")))
                    ev, data = None, []
                elif line.startswith("event:"):
                    ev = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip())
        except Exception:  # noqa: BLE001 (the socket shut down under it: the end)
            pass

    def wait(self, pred, timeout=5.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                ev, d = self.q.get(timeout=max(0.01, end - time.monotonic()))
            except queue.Empty:
                return None
            if pred(ev, d):
                return d
        return None

    def drain(self):
        """Forgets what came so far."""
        while not self.q.empty():
            self.q.get_nowait()

    def close(self):
        # Shut the socket down: the reader thread still holds it, and the
        # server would see the end only at its next keep-alive (15 s).
        try:
            self.conn.sock.shutdown(socket.SHUT_RDWR)
        except (OSError, AttributeError):
            pass
        self.conn.close()


def section_setting():
    st, _h, j = call("POST", "/api/v1/rooms", {"name": "s-default"}, auth=KEY)
    check("screen_share_defaults_to_presenters", st == 201 and j.get("screen_share") == "presenters",
          f"{st} {j}")
    for v in ("everyone", "off", "presenters"):
        st, _h, j = call("PATCH", "/api/v1/rooms/s-default", {"screen_share": v}, auth=KEY)
        check(f"patch_screen_share_{v}_is_200", st == 200 and j.get("screen_share") == v,
              f"{st} {j}")
    st, _h, j = call("POST", "/api/v1/rooms", {"name": "s-off", "screen_share": "off"}, auth=KEY)
    check("create_with_screen_share_off", st == 201 and j.get("screen_share") == "off", f"{st}")
    for label, bad in [("unknown", "all"), ("number", 1), ("null", None), ("upper", "Everyone")]:
        st, _h, j = call("PATCH", "/api/v1/rooms/s-off", {"screen_share": bad}, auth=KEY)
        check(f"patch_screen_share_{label}_is_400", st == 400 and ecode(j) == "bad_field",
              f"{st} {j}")
        st, _h, j = call("POST", "/api/v1/rooms", {"name": "s-bad", "screen_share": bad},
                         auth=KEY)
        check(f"create_screen_share_{label}_is_400", st == 400, f"{st}")
    st, _h, j = call("GET", "/api/v1/rooms/s-off", auth=KEY)
    check("bad_patches_left_it_off", st == 200 and j.get("screen_share") == "off", f"{j}")


def section_presenters_only(ev):
    room = "s-class"
    call("POST", "/api/v1/rooms", {"name": room, "mode": "lecture"}, auth=KEY)
    ev_room = Events(room)
    pres_tok, att_tok = token(room, "Teacher", "presenter"), token(room, "Student", "attendee")
    st, pres, answer = join(room, pres_tok)
    check("join_with_a_screen_m_line_is_201", st == 201, f"{st} {str(answer)[:200]}")
    ms = str(answer).split("\r\nm=")
    check("the_screen_m_line_is_answered_recvonly",
          len(ms) == 4 and "a=mid:2\r\n" in ms[3] and "a=recvonly\r\n" in ms[3]
          and " 9 UDP/TLS/RTP/SAVPF" in ms[3].split("\r\n")[0], str(answer)[-400:])
    st, att, _ = join(room, att_tok)
    check("attendee_joins", st == 201, f"{st}")

    st, _h, j = call("PATCH", att, {"screen": True})
    check("attendee_own_screen_is_403_screen_not_allowed",
          st == 403 and ecode(j) == "screen_not_allowed", f"{st} {j}")
    st, _h, j = call("PATCH", att.split("?")[0], {"screen": True}, auth=KEY)
    check("admin_cannot_make_an_attendee_share_either",
          st == 403 and ecode(j) == "screen_not_allowed", f"{st} {j}")
    check("nobody_shares_after_the_refusals", layout(room).get("screen") is None,
          str(layout(room)))
    st, _h, j = call("PATCH", att, {"screen": "yes"})
    check("screen_not_a_boolean_is_400", st == 400 and ecode(j) == "bad_field", f"{st} {j}")

    t0 = time.monotonic()
    st, _h, j = call("PATCH", pres, {"screen": True})
    check("presenter_own_screen_is_200", st == 200 and j.get("screen") is True, f"{st} {j}")
    got = ev_room.wait(lambda e, d: e == "layout" and d.get("screen") == pid(pres))
    check("events_layout_names_the_sharer_within_1s",
          got is not None and time.monotonic() - t0 < 1.0 and got.get("screen_share") == "presenters",
          f"{got} after {time.monotonic() - t0:.2f} s")
    # Its tile comes with the screen's first picture; these participants
    # send none, so after the 3 s the server waits for one (black then).
    end = time.monotonic() + 5.0
    while time.monotonic() < end and not any(t.get("screen") for t in layout(room).get("tiles", [])):
        time.sleep(0.1)
    lay = layout(room)
    scr = [t for t in lay.get("tiles", []) if t.get("screen")]
    check("room_layout_has_the_screen_tile_large",
          lay.get("screen") == pid(pres) and len(scr) == 1 and scr[0]["large"]
          and scr[0]["participant"] == pid(pres), str(lay))
    check("participant_list_says_screen", me(pres).get("screen") is True
          and me(att).get("screen") is False, f"{me(pres)}")
    st, _h, j = call("PATCH", att, {"screen": False})
    check("screen_false_from_a_non_sharer_is_200_and_changes_nothing",
          st == 200 and layout(room).get("screen") == pid(pres), f"{st} {j}")

    st, _h, j = call("PATCH", pres, {"screen": False})
    check("presenter_stops_sharing_200", st == 200 and j.get("screen") is False, f"{st} {j}")
    got = ev_room.wait(lambda e, d: e == "layout" and d.get("screen") is None)
    check("events_layout_screen_null_after_stop", got is not None, str(got))
    check("room_layout_has_no_screen_after_stop",
          not any(t.get("screen") for t in layout(room).get("tiles", [])), str(layout(room)))

    # The sharer is made an attendee: a presenters-only share ends.
    call("PATCH", pres, {"screen": True})
    st, _h, j = call("PATCH", pres.split("?")[0], {"role": "attendee"}, auth=KEY)
    check("sharer_made_attendee_loses_the_screen",
          st == 200 and layout(room).get("screen") is None and j.get("screen") is False,
          f"{st} {layout(room).get('screen')}")
    call("PATCH", pres.split("?")[0], {"role": "presenter"}, auth=KEY)

    # The room's setting changes under a share: "off" ends it.
    call("PATCH", pres, {"screen": True})
    st, _h, j = call("PATCH", f"/api/v1/rooms/{room}", {"screen_share": "off"}, auth=KEY)
    check("patch_room_screen_share_off_is_200", st == 200, f"{st}")
    got = ev_room.wait(lambda e, d: e == "layout" and d.get("screen") is None
                       and d.get("screen_share") == "off")
    check("screen_share_off_ends_the_share", got is not None and layout(room).get("screen") is None,
          str(layout(room)))
    st, _h, j = call("PATCH", pres, {"screen": True})
    check("presenter_screen_in_an_off_room_is_403", st == 403 and ecode(j) == "screen_not_allowed",
          f"{st} {j}")

    # everyone: attendees may share; one at a time.
    call("PATCH", f"/api/v1/rooms/{room}", {"screen_share": "everyone"}, auth=KEY)
    st, _h, j = call("PATCH", pres, {"screen": True})
    check("everyone_presenter_shares", st == 200, f"{st} {j}")
    st, _h, j = call("PATCH", att, {"screen": True})
    check("attendee_while_a_presenter_shares_is_409_screen_busy",
          st == 409 and ecode(j) == "screen_busy" and layout(room).get("screen") == pid(pres),
          f"{st} {j}")
    call("PATCH", pres, {"screen": False})
    st, _h, j = call("PATCH", att, {"screen": True})
    check("everyone_attendee_shares", st == 200 and layout(room).get("screen") == pid(att),
          f"{st} {j}")
    st, _h, j = call("PATCH", pres, {"screen": True})
    check("a_presenter_takes_the_screen_over", st == 200 and layout(room).get("screen") == pid(pres)
          and me(att).get("screen") is False, f"{st} {layout(room).get('screen')}")
    # A share whose screen sends nothing (these participants send no
    # media at all) ends after 10 s: a client gone without a word.
    time.sleep(0.2)
    ev_room.drain()
    t0 = time.monotonic()
    got = ev_room.wait(lambda e, d: e == "layout" and d.get("screen") is None, timeout=14.0)
    waited = time.monotonic() - t0
    check("a_share_without_screen_media_ends_after_10s",
          got is not None and 8.0 <= waited <= 12.5 and me(pres).get("screen") is False,
          f"ended after {waited:.1f} s" if got else "still shared after 14 s")
    call("PATCH", pres, {"screen": True})
    # The stream sends a layout only when it differs from the last one it
    # sent: a share that ends before the stream read it would send none.
    # So the share is seen on the stream first, then its sharer leaves.
    ev_room.wait(lambda e, d: e == "layout" and d.get("screen") == pid(pres))
    st, _h, _j = call("DELETE", pres)
    check("sharer_leaves_204", st == 204, f"{st}")
    got = ev_room.wait(lambda e, d: e == "layout" and d.get("screen") is None)
    check("leaving_ends_the_share", got is not None and layout(room).get("screen") is None,
          str(layout(room)))
    call("DELETE", att)
    ev_room.close()


def main():
    if not URL.startswith("http://") or len(KEY) < 16:
        print("screen_api: SETUP PROBLEM: TUTTI_URL and TUTTI_ADMIN_KEY are needed")
        return 2
    section_setting()
    section_presenters_only(None)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
