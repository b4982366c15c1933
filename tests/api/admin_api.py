#!/usr/bin/env python3
"""The admin REST API against a running server (TUTTI_URL, TUTTI_ADMIN_KEY,
TUTTI_TEST_DATA_DIR from tests/interop/run_with_server.sh): every endpoint's
happy path and documented errors (docs/api.md), join tokens (attendee,
presenter, another room's, forged, expired: signed here with the server's
own jwt.key), bad input for every endpoint refused with the documented 4xx
JSON error AND nothing changed (the rooms, their participants and the
store's rooms table read back before and after each request), room ids in
paths, unicode names, the event stream (hello, roster, hand, ended), the
metrics, and at the end the audit log in the store.

One line per check ("ok   name: detail" / "FAIL name: detail"), then
"N passed, N failed". Exit 0 all passed, 1 a check failed, 2 could not run.
Joins use the real offers in tests/data/sdp; no media flows here.
"""
import base64
import hashlib
import hmac
import http.client
import json
import os
import queue
import socket
import sqlite3
import sys
import threading
import time
import urllib.parse
from checks import check, summary  # noqa: E402  (tests/api/checks.py)

URL = os.environ.get("TUTTI_URL", "").rstrip("/")
KEY = os.environ.get("TUTTI_ADMIN_KEY", "")
DATA_DIR = os.environ.get("TUTTI_TEST_DATA_DIR", "")
HERE = os.path.dirname(os.path.abspath(__file__))
SDP_DIR = os.path.join(HERE, "..", "data", "sdp")
JSON = "application/json"
SDP = "application/sdp"
NO_KEY = object()   # send no Authorization header



# ------------------------------------------------------------ plumbing ----


# The server limits failed credential checks per client address (20, then
# one per 2 s; then 429 rate_limited, even for the right key). Requests that
# are meant to fail authentication come from their own loopback addresses
# (127.0.0.10 and up, 12 failures each), so that the rest of the run, from
# 127.0.0.1, is never limited; section_rate_limit checks the limit itself.
_fail_src = {"n": 0, "addr": 10}


def fail_src():
    _fail_src["n"] += 1
    if _fail_src["n"] > 12:
        _fail_src["n"] = 1
        _fail_src["addr"] += 1
    return f"127.0.0.{_fail_src['addr']}"


def call(method, path, body=None, ctype=None, auth=None, headers=None, timeout=10, src=None):
    """(status, {lower-case header: value}, body bytes). body: bytes, str, or
    an object (sent as JSON, ctype defaults to application/json). auth: the
    bearer credential (None: none). src: the client's address (127.0.0.x)."""
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
        ctype = ctype or JSON
    if isinstance(body, str):
        body = body.encode("utf-8")
    h = dict(headers or {})
    if ctype:
        h["Content-Type"] = ctype
    if auth is not None:
        h["Authorization"] = "Bearer " + auth
    u = urllib.parse.urlsplit(URL)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout,
                                      source_address=(src, 0) if src else None)
    try:
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    except (ConnectionError, socket.timeout) as e:   # a server that hangs up on a huge body
        return 0, {}, str(e).encode()
    finally:
        conn.close()


def jbody(b):
    try:
        return json.loads(b)
    except (ValueError, TypeError):
        return None


def ecode(b):
    j = jbody(b)
    try:
        return j["error"]["code"] if isinstance(j["error"]["message"], str) else None
    except (KeyError, TypeError):
        return None


def short(b, n=120):
    s = b.decode("utf-8", "replace") if isinstance(b, bytes) else str(b)
    return s[:n].replace("\n", "\\n")


def expect(name, res, status, code=None):
    """A check that res = (status, headers, body) has status and, for an
    error, a JSON error with code (and a JSON content type)."""
    st, h, b = res
    ok = st == status
    if code is not None:
        ok = ok and ecode(b) == code and h.get("content-type", "").startswith(JSON)
    return check(name, ok, f"{st} {short(b)}" + ("" if ok else f" (expected {status} {code or ''})"))


def offer(name="chrome-offer.sdp"):
    with open(os.path.join(SDP_DIR, name), "rb") as f:
        return f.read()


def join(room, token=None, query="", src=None):
    st, h, b = call("POST", f"/api/v1/rooms/{room}/join{query}", offer(), SDP, token, src=src)
    loc = h.get("location", "")
    return st, loc, b


def pid_of(loc):
    """The participant id of a participant URL (/participants/<id>?s=<secret>)."""
    return loc.split("?", 1)[0].rsplit("/", 1)[-1]


def create(room_body):
    return call("POST", "/api/v1/rooms", room_body, auth=KEY)


def token(room, name="Someone", role=None, ttl=None):
    body = {"name": name}
    if role:
        body["role"] = role
    if ttl:
        body["ttl"] = ttl
    st, _h, b = call("POST", f"/api/v1/rooms/{room}/tokens", body, auth=KEY)
    if st != 201:
        raise RuntimeError(f"token for {room}: {st} {short(b)}")
    return jbody(b)["token"]


# --------------------------------------------------- what "nothing" is ----
ROSTER_KEYS = ("id", "name", "role", "hand", "data_cap", "muted", "spotlight", "video_tier")


def state():
    """Everything a refused request must not change: each room's form and
    its participants (via the API), and the store's rooms table."""
    st, _h, b = call("GET", "/api/v1/rooms", auth=KEY)
    rooms = {}
    for r in (jbody(b) or {}).get("rooms", []):
        r = {k: v for k, v in r.items() if k != "stats"}
        st2, _h2, b2 = call("GET", "/api/v1/rooms/" + r["name"], auth=KEY)
        g = jbody(b2) or {}
        r["participant_list"] = sorted(
            [{k: p.get(k) for k in ROSTER_KEYS} for p in g.get("participant_list", [])],
            key=lambda p: p["id"])
        r["live_layout"] = (g.get("layout") or {}).get("kind")
        rooms[r["name"]] = r
    return {"api_status": st, "rooms": rooms, "store": store_rooms()}


def store_rooms():
    db = os.path.join(DATA_DIR, "tutti.db")
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return {n: json.loads(j) for n, j in con.execute("SELECT name, json FROM rooms")}
    finally:
        con.close()


def refused(name, method, path, body, status, code, ctype=None, auth=KEY, before=None, src=None):
    """A bad request: the documented status and JSON error, and nothing
    changed (rooms, participants, the store's rooms table). One check.
    Returns the state after, to chain."""
    before = before if before is not None else state()
    if src is None and status in (401, 403, (401, 403)):
        src = fail_src()
    st, h, b = call(method, path, body, ctype, auth, src=src)
    codes = code if isinstance(code, tuple) else (code,)
    statuses = status if isinstance(status, tuple) else (status,)
    ok = st in statuses and (code is None or (ecode(b) in codes
                                              and h.get("content-type", "").startswith(JSON)))
    after = state()
    detail = f"{st} {short(b, 90)}" + ("" if ok else f" (expected {status} {code or ''})")
    if after != before:
        diff = [n for n in set(before["rooms"]) | set(after["rooms"])
                if before["rooms"].get(n) != after["rooms"].get(n)]
        detail += f"; CHANGED rooms {diff}, store changed: {before['store'] != after['store']}"
        ok = False
    else:
        detail += "; nothing changed"
    check(name, ok, detail)
    return after


# ---------------------------------------------------------------- JWT ----
def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def b64u_dec(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def sign(claims, key, header=None):
    h = b64u(json.dumps(header or {"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    p = b64u(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode())
    sig = hmac.new(key, f"{h}.{p}".encode(), hashlib.sha256).digest()
    return f"{h}.{p}.{b64u(sig)}"


def server_key():
    with open(os.path.join(DATA_DIR, "jwt.key"), "rb") as f:
        k = f.read()
    if len(k) != 32:
        raise RuntimeError(f"jwt.key has {len(k)} bytes, expected 32")
    return k


def claims(room, role="attendee", name="Test", iat=None, exp=None, jti="testjti0123456789"):
    now = int(time.time())
    iat = now if iat is None else iat
    return {"room": room, "role": role, "name": name, "iat": iat,
            "exp": iat + 600 if exp is None else exp, "jti": jti}


# ---------------------------------------------------------------- SSE ----
class Events:
    """A background reader of /api/v1/rooms/{room}/events: (event, data) pairs
    in a queue; ("<end>", None) when the stream ends."""

    def __init__(self, room, auth=KEY, src=None):
        u = urllib.parse.urlsplit(URL)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30,
                                               source_address=(src, 0) if src else None)
        h = {"Accept": "text/event-stream"}
        if auth:
            h["Authorization"] = "Bearer " + auth
        self.conn.request("GET", f"/api/v1/rooms/{room}/events", headers=h)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.ctype = self.resp.getheader("Content-Type", "")
        self.q = queue.Queue()
        self.comments = []
        if self.status == 200:
            threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        ev, data = None, []
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    break
                line = line.decode("utf-8").rstrip("\r\n")
                if line == "":
                    if ev or data:
                        self.q.put((ev or "message", "\n".join(data)))
                    ev, data = None, []
                elif line.startswith(":"):
                    self.comments.append(line)
                elif line.startswith("event:"):
                    ev = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip())
        except (OSError, http.client.HTTPException, ValueError):
            pass
        self.q.put(("<end>", None))

    def wait(self, pred, timeout=5.0):
        """The first (event, data-json) for which pred is true, or None."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            try:
                ev, data = self.q.get(timeout=left)
            except queue.Empty:
                return None
            d = jbody(data) if data is not None else None
            if pred(ev, d):
                return ev, d
            if ev == "<end>":
                return None

    def close(self):
        try:
            self.conn.sock.shutdown(socket.SHUT_RDWR)
        except (OSError, AttributeError):
            pass
        self.conn.close()


# ============================================================ sections ====
def section_health_and_static():
    expect("livez", call("GET", "/livez"), 200)
    expect("readyz", call("GET", "/readyz"), 200)
    st, h, b = call("GET", "/metrics")
    text = b.decode()
    names = ["rooms", "participants", "room_ticks_total", "room_missed_deadlines_total",
             "room_inbound_dropped_total", "audio_encodes_total", "audio_decodes_total",
             "video_decodes_total", "video_encodes_total", "video_keyframes_total",
             "video_retransmits_total", "transport_peers", "transport_peers_connected",
             "transport_received_packets_total", "transport_received_bytes_total",
             "transport_sent_packets_total", "transport_sent_bytes_total",
             "transport_rtp_received_total", "transport_rtcp_received_total",
             "transport_rtp_sent_total", "transport_rtcp_sent_total",
             "transport_stun_requests_total", "transport_dtls_handshakes_total",
             "transport_consent_expired_total", "transport_dropped_packets_total"]
    missing = [n for n in names if f"# TYPE tutti_{n} " not in text]
    check("metrics_lists_every_documented_metric", st == 200 and not missing
          and h.get("content-type", "").startswith("text/plain; version=0.0.4"),
          f"{st} missing {missing}" if missing else f"{st}, {len(names)} metrics")
    expect("web_root_is_200", call("GET", "/"), 200)
    expect("web_room_page_demo_is_200", call("GET", "/r/demo"), 200)
    st, h, b = call("GET", "/r/%2e%2e")
    check("web_room_page_traversal_is_404_html", st == 404
          and h.get("content-type", "").startswith("text/html"), f"{st}")
    for p in ("/static/..%2f..%2fCMakeLists.txt", "/static/.hidden", "/static/../CMakeLists.txt",
              "/static/%2e%2e"):
        expect(f"static_{p}_is_404", call("GET", p), 404, "not_found")
    expect("unknown_path_is_404", call("GET", "/api/v2/rooms", auth=KEY), 404, "not_found")
    expect("post_to_root_is_404", call("POST", "/", "{}", JSON), 404, "not_found")


def section_auth():
    create({"name": "auth-room", "access": "open"})
    st, loc, _ = join("auth-room")
    part = loc or "/api/v1/rooms/auth-room/participants/AAAAAAAAAAAAAAAA"
    reqs = [
        ("POST", "/api/v1/rooms", {"name": "auth-new"}),
        ("GET", "/api/v1/rooms", None),
        ("GET", "/api/v1/rooms/auth-room", None),
        ("PATCH", "/api/v1/rooms/auth-room", {"locked": True}),
        ("DELETE", "/api/v1/rooms/auth-room", None),
        ("GET", "/api/v1/rooms/auth-room/participants", None),
        ("PATCH", part, {"muted": True}),
        ("POST", "/api/v1/rooms/auth-room/tokens", {"name": "x"}),
    ]
    before = state()
    for creds, label in ((None, "no_key"), ("wrong-admin-key-0123456789", "wrong_key"),
                         (KEY + "x", "longer_key"), (KEY[:-1], "shorter_key")):
        for m, p, body in reqs:
            before = refused(f"{label}_{m}_{p.replace('/api/v1/rooms', '')}_is_401", m, p, body,
                             401, "unauthorized", auth=creds, before=before)
    st, _h, b = call("GET", "/api/v1/rooms", headers={"Authorization": "Basic " + KEY},
                     src=fail_src())
    check("basic_scheme_is_401", st == 401 and ecode(b) == "unauthorized", f"{st}")
    st, _h, b = call("GET", "/api/v1/rooms", headers={"Authorization": "bearer " + KEY})
    check("bearer_scheme_is_case_insensitive", st == 200, f"{st}")
    ev = Events("auth-room", auth="wrong-admin-key-0123456789", src=fail_src())
    check("events_wrong_admin_key_is_401", ev.status == 401, f"{ev.status}")
    ev.close()
    call("DELETE", "/api/v1/rooms/auth-room", auth=KEY)


def section_rooms():
    st, h, b = create({"name": "meet-1"})
    j = jbody(b) or {}
    check("create_with_defaults_is_201", st == 201 and j.get("mode") == "meeting"
          and j.get("layout") == "grid" and j.get("access") == "token" and j.get("locked") is False
          and j.get("max_participants") == 100 and j.get("speakers") == 3
          and j.get("max_tiles") == 25 and j.get("fps") == 15 and len(j.get("tiers", [])) == 3
          and j.get("participants") == 0 and isinstance(j.get("stats"), dict), short(b, 300))
    full = {"name": "lecture-9", "mode": "lecture", "layout": "speaker", "access": "open",
            "locked": True, "max_participants": 20, "speakers": 2, "max_tiles": 9, "fps": 10,
            "tiers": [{"width": 320, "height": 180, "kbps": 200},
                      {"width": 960, "height": 540, "kbps": 900}], "screen_share": "everyone"}
    st, h, b = create(full)
    j = jbody(b) or {}
    check("create_with_every_field_is_201_and_echoes_them",
          st == 201 and all(j.get(k) == v for k, v in full.items()), short(b, 400))
    check("create_stores_the_room", store_rooms().get("lecture-9") == full,
          str(store_rooms().get("lecture-9")))
    expect("create_existing_is_409", create({"name": "lecture-9"}), 409, "room_exists")
    check("409_left_the_room_as_it_was", store_rooms().get("lecture-9") == full)
    st, h, b = call("GET", "/api/v1/rooms", auth=KEY)
    names = [r.get("name") for r in (jbody(b) or {}).get("rooms", [])]
    check("list_has_the_rooms", st == 200 and {"meet-1", "lecture-9", "demo"} <= set(names),
          str(names))
    st, h, b = call("GET", "/api/v1/rooms/lecture-9", auth=KEY)
    j = jbody(b) or {}
    check("get_room_is_200", st == 200 and j.get("name") == "lecture-9"
          and j.get("participant_list") == [] and (j.get("layout") or {}).get("kind") == "speaker",
          short(b, 200))
    # PATCH: every patchable field, read back from the API and the store
    st, h, b = call("PATCH", "/api/v1/rooms/lecture-9",
                    {"layout": "presenter", "access": "token", "locked": False,
                     "max_participants": 80, "screen_share": "off"}, auth=KEY)
    j = jbody(b) or {}
    check("patch_room_is_200", st == 200 and (j.get("layout") or {}).get("kind") == "presenter"
          and j.get("access") == "token" and j.get("locked") is False
          and j.get("max_participants") == 80 and j.get("screen_share") == "off", short(b, 300))
    want = dict(full, layout="presenter", access="token", locked=False, max_participants=80,
                screen_share="off")
    check("patch_room_is_stored", store_rooms().get("lecture-9") == want,
          str(store_rooms().get("lecture-9")))
    st, h, b = call("PATCH", "/api/v1/rooms/lecture-9", {}, auth=KEY)
    check("patch_room_with_nothing_is_200", st == 200, f"{st}")
    tiers = [{"width": 480, "height": 270, "kbps": 300}]
    st, h, b = call("PATCH", "/api/v1/rooms/lecture-9", {"tiers": tiers}, auth=KEY)
    check("patch_tiers_of_an_empty_room_is_200", st == 200 and (jbody(b) or {}).get("tiers") == tiers
          and store_rooms().get("lecture-9", {}).get("tiers") == tiers, f"{st} {short(b)}")
    call("PATCH", "/api/v1/rooms/lecture-9", {"tiers": full["tiers"]}, auth=KEY)
    refused("patch_max_participants_above_4x_is_409", "PATCH", "/api/v1/rooms/lecture-9",
            {"max_participants": 81}, 409, "conflict")
    # below the number of participants: two joins in an open room of 5
    create({"name": "crowd", "access": "open", "max_participants": 5})
    a = join("crowd")
    b2 = join("crowd")
    check("two_joins_in_crowd", a[0] == 201 and b2[0] == 201, f"{a[0]} {b2[0]}")
    refused("patch_max_participants_below_members_is_409", "PATCH", "/api/v1/rooms/crowd",
            {"max_participants": 1}, 409, "conflict")
    st, h, b = call("PATCH", "/api/v1/rooms/crowd", {"locked": True}, auth=KEY)
    check("lock_room_is_200", st == 200 and (jbody(b) or {}).get("locked") is True, f"{st}")
    st, loc, b = join("crowd")
    check("join_locked_room_is_403_room_locked", st == 403 and ecode(b) == "room_locked",
          f"{st} {short(b)}")
    call("PATCH", "/api/v1/rooms/crowd", {"locked": False, "max_participants": 2}, auth=KEY)
    st, loc, b = join("crowd")
    check("join_full_room_is_503_room_full", st == 503 and ecode(b) == "room_full",
          f"{st} {short(b)}")
    # DELETE
    st, h, b = call("DELETE", "/api/v1/rooms/crowd", auth=KEY)
    check("delete_room_is_204", st == 204 and b == b"", f"{st}")
    st, h, b = call("DELETE", a[1])
    check("participants_of_a_deleted_room_are_gone", st == 404, f"{st}")
    check("delete_removes_from_store", "crowd" not in store_rooms())
    expect("get_deleted_room_is_404", call("GET", "/api/v1/rooms/crowd", auth=KEY), 404,
           "room_not_found")
    expect("delete_deleted_room_is_404", call("DELETE", "/api/v1/rooms/crowd", auth=KEY), 404,
           "room_not_found")
    st, h, b = create({"name": "crowd", "access": "open"})
    check("a_deleted_name_can_be_made_again", st == 201, f"{st}")
    call("DELETE", "/api/v1/rooms/crowd", auth=KEY)


def section_not_found_and_methods():
    p404 = "/api/v1/rooms/ghost"
    for m, p, body, code in [
        ("GET", p404, None, "room_not_found"),
        ("PATCH", p404, {"locked": True}, "room_not_found"),
        ("DELETE", p404, None, "room_not_found"),
        ("GET", p404 + "/participants", None, "room_not_found"),
        ("POST", p404 + "/tokens", {"name": "x"}, "room_not_found"),
        ("GET", p404 + "/events", None, "room_not_found"),
        ("PATCH", "/api/v1/rooms/meet-1/participants/AAAAAAAAAAAAAAAA", {"muted": True},
         "participant_not_found"),
        ("DELETE", "/api/v1/rooms/meet-1/participants/AAAAAAAAAAAAAAAA", None,
         "participant_not_found"),
        ("DELETE", "/api/v1/rooms/meet-1/participants/short", None, "participant_not_found"),
        ("GET", "/api/v1/rooms/meet-1/nothing", None, "not_found"),
        ("GET", "/api/v1/rooms/meet-1/participants/AAAAAAAAAAAAAAAA/x", None, "not_found"),
        ("GET", "/api/v1/room", None, "not_found"),
    ]:
        refused(f"{m}_{p.replace('/api/v1/rooms', '')}_is_404", m, p, body, 404, code)
    st, _h, b = call("POST", p404 + "/join", offer(), SDP)
    check("join_unknown_room_is_404", st == 404 and ecode(b) == "room_not_found", f"{st}")
    for m, p in [("PUT", "/api/v1/rooms"), ("DELETE", "/api/v1/rooms"),
                 ("PATCH", "/api/v1/rooms"), ("POST", "/api/v1/rooms/meet-1"),
                 ("PUT", "/api/v1/rooms/meet-1"), ("GET", "/api/v1/rooms/meet-1/join"),
                 ("POST", "/api/v1/rooms/meet-1/participants"),
                 ("DELETE", "/api/v1/rooms/meet-1/participants"),
                 ("POST", "/api/v1/rooms/meet-1/events"), ("GET", "/api/v1/rooms/meet-1/tokens"),
                 ("PUT", "/api/v1/rooms/meet-1/participants/AAAAAAAAAAAAAAAA"),
                 ("GET", "/api/v1/rooms/meet-1/participants/AAAAAAAAAAAAAAAA")]:
        refused(f"{m}_{p.replace('/api/v1/rooms', '')}_is_405", m, p, None, 405,
                "method_not_allowed")


def section_content_type_and_size():
    st, loc, _ = join("demo")
    part = loc
    huge = json.dumps({"name": "big-room", "pad": "x" * (70 * 1024)})
    mega = b"{" + b" " * (1024 * 1024) + b"}"
    for m, p in [("POST", "/api/v1/rooms"), ("PATCH", "/api/v1/rooms/meet-1"),
                 ("POST", "/api/v1/rooms/meet-1/tokens"), ("PATCH", part)]:
        tag = p.replace("/api/v1/rooms", "").replace(part, "/participant")
        for ct in ("text/plain", "application/x-www-form-urlencoded", "application/jsonx", None):
            refused(f"{m}_{tag}_as_{ct}_is_415", m, p, '{"locked": true}', 415,
                    "unsupported_media_type", ctype=ct)
        refused(f"{m}_{tag}_70KiB_is_413", m, p, huge, 413, "too_large", ctype=JSON)
        refused(f"{m}_{tag}_1MiB_is_413", m, p, mega, 413, "too_large", ctype=JSON)
    st, _h, b = call("POST", "/api/v1/rooms", {"name": "ct-params"}, "application/json; charset=utf-8",
                     KEY)
    check("json_with_charset_parameter_is_accepted", st == 201, f"{st} {short(b)}")
    call("DELETE", "/api/v1/rooms/ct-params", auth=KEY)
    st, _h, b = call("POST", "/api/v1/rooms/demo/join", b"v=0" + b" " * (70 * 1024), SDP)
    check("join_70KiB_is_413", st == 413 and ecode(b) == "too_large", f"{st}")
    st, _h, b = call("POST", "/api/v1/rooms/demo/join", offer(), JSON)
    check("join_as_json_is_415", st == 415 and ecode(b) == "unsupported_media_type", f"{st}")
    st, _h, b = call("PATCH", part, "a=end-of-candidates", "text/plain")
    check("participant_patch_as_text_is_415", st == 415, f"{st}")
    call("DELETE", part)


ROOM_BAD_BODIES = [
    # (label, raw body or object, expected code)
    ("empty", b"", "bad_json"),
    ("truncated", b'{"name": "x"', "bad_json"),
    ("trailing_garbage", b'{"name": "x"} {', "bad_json"),
    ("not_json", b"name=x", "bad_json"),
    ("array", b'[{"name": "x"}]', "bad_json"),
    ("string", b'"x"', "bad_json"),
    ("number", b"42", "bad_json"),
    ("null", b"null", "bad_json"),
    ("duplicate_key", b'{"name": "dup-a", "name": "dup-b"}', "bad_json"),
    ("single_quotes", b"{'name': 'x'}", "bad_json"),
    ("nul_in_string", b'{"name": "a\\u0000b"}', "bad_json"),
    ("invalid_utf8", b'{"name": "caf\xe9"}', "bad_json"),
    ("deep_nesting_3000", b"[" * 3000 + b"]" * 3000, "bad_json"),
    ("deep_nesting_in_object", b'{"name": "deep", "mode": ' + b"[" * 3000 + b"]" * 3000 + b"}",
     "bad_json"),
    ("nested_1000_in_field", b'{"name": "deep", "mode": ' + b"[" * 1000 + b"]" * 1000 + b"}",
     "bad_field"),
    ("nested_object_in_tiers", b'{"name": "deep", "tiers": [{"width": {"a": {"b": [1]}}, '
     b'"height": 180, "kbps": 150}]}', "bad_field"),
]


def room_field_cases():
    c = []
    for name in ["", "A", "Room", "a_b", "a b", "a/b", "a.b", "..", "%2e%2e", "../etc",
                 "a" * 65, "café", "рум", "部屋", "😀", "a\u200bb", " a", "a\n"]:
        c.append((f"name_{name!r}", {"name": name}))
    for v in [None, 1, True, ["a"], {"a": 1}]:
        c.append((f"name_type_{v!r}", {"name": v}))
    c.append(("name_missing", {"mode": "meeting"}))
    bad = {
        "mode": ["Meeting", "webinar", "", 1, None, True],
        "layout": ["mosaic", "GRID", 0, None, ["grid"]],
        "access": ["closed", "public", True, None],
        "locked": ["yes", 1, 0, None, "true"],
        "max_participants": [0, -1, 10001, 1.5, "10", None, True, 2 ** 40],
        "speakers": [0, 9, "3", 2.0],
        "max_tiles": [0, 26, "9"],
        "fps": [0, 31, "15", 15.5],
        "tiers": [[], {}, "hd", [{"width": 320, "height": 180}],
                  [{"width": 320, "height": 180, "kbps": 150, "fps": 15}],
                  [{"width": 321, "height": 180, "kbps": 150}],
                  [{"width": 8, "height": 180, "kbps": 150}],
                  [{"width": 3840, "height": 2160, "kbps": 150}],
                  [{"width": 320, "height": 180, "kbps": 10}],
                  [{"width": 320, "height": 180, "kbps": "150"}],
                  [{"width": 640, "height": 360, "kbps": 500},
                   {"width": 320, "height": 180, "kbps": 150}],
                  [{"width": 320, "height": 180, "kbps": 150}] * 4,
                  [1, 2]],
    }
    for field, values in bad.items():
        for v in values:
            c.append((f"{field}_{json.dumps(v)[:40]}", {"name": "badf", field: v}))
    for f in ["colour", "Name", "name ", "participants", "stats", "id", ""]:
        c.append((f"unknown_field_{f!r}", {"name": "badf", f: 1}))
    return c


def section_bad_input():
    # POST /api/v1/rooms
    before = state()
    for label, body, code in ROOM_BAD_BODIES:
        before = refused(f"create_{label}_is_400_{code}", "POST", "/api/v1/rooms", body, 400,
                         code, ctype=JSON, before=before)
    for label, body in room_field_cases():
        before = refused(f"create_{label}_is_400_bad_field", "POST", "/api/v1/rooms", body, 400,
                         "bad_field", before=before)
    # a NUL in a string: jansson refuses it while parsing
    before = refused("create_name_NUL_is_400_bad_json", "POST", "/api/v1/rooms",
                     {"name": "\u0000"}, 400, "bad_json", before=before)
    # PATCH /api/v1/rooms/{room}
    for label, body, code in ROOM_BAD_BODIES:
        if label.startswith("nested"):
            continue
        before = refused(f"patch_room_{label}_is_400_{code}", "PATCH", "/api/v1/rooms/meet-1",
                         body, 400, code, ctype=JSON, before=before)
    for label, body in [("mode", {"mode": "lecture"}), ("name", {"name": "other"}),
                        ("speakers", {"speakers": 2}), ("fps", {"fps": 10}),
                        ("max_tiles", {"max_tiles": 4}),
                        ("tiers_empty", {"tiers": []}),
                        ("tiers_bad", {"tiers": [{"width": 321, "height": 180, "kbps": 150}]}),
                        ("presenter_type", {"presenter": 1}),
                        ("presenter_short", {"presenter": "abc"}),
                        ("unknown", {"colour": "red"}), ("layout_bad", {"layout": "mosaic"}),
                        ("layout_type", {"layout": 1}), ("access_bad", {"access": "closed"}),
                        ("locked_type", {"locked": "true"}),
                        ("max_0", {"max_participants": 0}),
                        ("max_str", {"max_participants": "5"}),
                        ("good_and_bad", {"locked": True, "layout": "mosaic"})]:
        before = refused(f"patch_room_{label}_is_400_bad_field", "PATCH", "/api/v1/rooms/meet-1",
                         body, 400, "bad_field", before=before)
    # POST /api/v1/rooms/{room}/tokens
    for label, body, code in ROOM_BAD_BODIES:
        if label.startswith("nested"):
            continue
        before = refused(f"token_{label}_is_400_{code}", "POST", "/api/v1/rooms/meet-1/tokens",
                         body, 400, code, ctype=JSON, before=before)
    for label, body in [("no_name", {"role": "attendee"}), ("empty_name", {"name": ""}),
                        ("name_129_bytes", {"name": "é" * 64 + "x"}),
                        ("name_type", {"name": 5}), ("name_null", {"name": None}),
                        ("name_bell", {"name": "a\u0007b"}), ("name_newline", {"name": "a\nb"}),
                        ("name_del", {"name": "a\u007fb"}), ("name_c1", {"name": "a\u0085b"}),
                        ("role_admin", {"name": "x", "role": "admin"}),
                        ("role_type", {"name": "x", "role": 1}),
                        ("role_null", {"name": "x", "role": None}),
                        ("ttl_59", {"name": "x", "ttl": 59}),
                        ("ttl_too_long", {"name": "x", "ttl": 2592001}),
                        ("ttl_negative", {"name": "x", "ttl": -60}),
                        ("ttl_string", {"name": "x", "ttl": "600"}),
                        ("ttl_float", {"name": "x", "ttl": 600.5}),
                        ("unknown", {"name": "x", "room": "demo"})]:
        before = refused(f"token_{label}_is_400_bad_field", "POST", "/api/v1/rooms/meet-1/tokens",
                         body, 400, "bad_field", before=before)
    # PATCH /api/v1/rooms/{room}/participants/{id}
    st, loc, _ = join("demo", query="?name=bad-input")
    check("join_for_bad_participant_patches", st == 201, f"{st}")
    before = state()
    for label, body, code in ROOM_BAD_BODIES:
        if label.startswith("nested"):
            continue
        before = refused(f"patch_participant_{label}_is_400_{code}", "PATCH", loc, body, 400,
                         code, ctype=JSON, before=before)
    for label, body in [("empty", {}), ("unknown", {"name": "x"}), ("hand_type", {"hand": "yes"}),
                        ("hand_null", {"hand": None}), ("data_cap_bad", {"data_cap": "high"}),
                        ("data_cap_type", {"data_cap": 1}), ("muted_type", {"muted": 1}),
                        ("spotlight_type", {"spotlight": "on"}), ("tier_3", {"tier": 3}),
                        ("tier_neg", {"tier": -1}), ("tier_str", {"tier": "1"}),
                        ("role_admin", {"role": "admin"}), ("role_type", {"role": True}),
                        ("good_and_bad", {"muted": True, "tier": 7})]:
        before = refused(f"patch_participant_{label}_is_400_bad_field", "PATCH", loc, body, 400,
                         "bad_field", before=before)
    # the self fields alone, no credentials, a bad value: still 400 and nothing changed
    before = refused("patch_own_hand_bad_without_key_is_400", "PATCH", loc, {"hand": 1}, 400,
                     "bad_field", auth=None, before=before)
    call("DELETE", loc)
    before = state()
    # room ids in paths
    for rid in ["..", "%2e%2e", "%2E%2E", ".", "%2e", "..%2f..%2fetc%2fpasswd",
                "%2e%2e%2f%2e%2e%2fetc", "Meet-1", "a_b", "a%20b", "caf%C3%A9", "%F0%9F%98%80",
                "%E9%83%A8%E5%B1%8B", "a" * 65, "%", "%zz", "%2e%2e%5cwindows"]:
        for m, suffix, body in [("GET", "", None), ("PATCH", "", {"locked": True}),
                                ("DELETE", "", None), ("GET", "/participants", None),
                                ("POST", "/tokens", {"name": "x"}), ("GET", "/events", None)]:
            before = refused(f"room_id_{rid}_{m}{suffix}_is_400_bad_room", m,
                             f"/api/v1/rooms/{rid}{suffix}", body, 400, "bad_room", before=before)
        st, _h, b = call("POST", f"/api/v1/rooms/{rid}/join", offer(), SDP)
        check(f"room_id_{rid}_join_is_400_bad_room", st == 400 and ecode(b) == "bad_room",
              f"{st}")
    before = refused("room_id_empty_is_400", "GET", "/api/v1/rooms/", None, 400, "bad_room",
                     before=before)
    # a decoded %2f is a slash: a longer path, no such path
    for m in ("GET", "PATCH", "DELETE"):
        before = refused(f"room_id_a%2fb_{m}_is_404_not_found", m, "/api/v1/rooms/a%2fb",
                         {"locked": True} if m == "PATCH" else None, 404, "not_found",
                         before=before)
    before = refused("room_id_dotdot_literal_is_400", "GET", "/api/v1/rooms/../rooms", None, 400,
                     "bad_room", before=before)


def section_tokens():
    create({"name": "tok-room", "mode": "lecture", "access": "token"})
    create({"name": "tok-other", "access": "token"})
    uname = "Zoë 🎻 Ωμέγα 日本語 👩‍💻"
    st, _h, b = call("POST", "/api/v1/rooms/tok-room/tokens",
                     {"name": uname, "role": "attendee", "ttl": 600}, auth=KEY)
    j = jbody(b) or {}
    ok = check("issue_attendee_token_is_201", st == 201 and j.get("role") == "attendee"
               and isinstance(j.get("token"), str)
               and j.get("join_url", "").endswith("/r/tok-room?token=" + j.get("token", "-"))
               and abs(j.get("expires_at", 0) - (time.time() + 600)) < 30, short(b, 200))
    att = j.get("token", "x.y.z")
    if ok:
        payload = json.loads(b64u_dec(att.split(".")[1]))
        check("token_claims_are_the_documented_six",
              sorted(payload) == ["exp", "iat", "jti", "name", "role", "room"]
              and payload["room"] == "tok-room" and payload["name"] == uname
              and payload["exp"] - payload["iat"] == 600, str(payload))
    pres = token("tok-room", "Prof. P", "presenter")
    other = token("tok-other", "Other", "attendee")
    other_pres = token("tok-other", "Other P", "presenter")

    st, loc, b = join("tok-room")
    check("join_token_room_without_token_is_401_token_required",
          st == 401 and ecode(b) == "token_required", f"{st} {short(b)}")
    st, loc, b = join("tok-room", other, src=fail_src())
    check("join_with_another_rooms_token_is_403_wrong_room",
          st == 403 and ecode(b) == "wrong_room", f"{st} {short(b)}")
    st, att_loc, b = join("tok-room", att)
    check("join_with_attendee_token_is_201", st == 201 and att_loc, f"{st} {short(b)}")
    att_id = pid_of(att_loc)
    st, pres_loc, b = join("tok-room", pres, query="?name=Ignored")
    check("join_with_presenter_token_is_201", st == 201, f"{st}")
    st, _h, b = call("GET", "/api/v1/rooms/tok-room/participants", auth=KEY)
    parts = {p["id"]: p for p in (jbody(b) or {}).get("participants", [])}
    pa = parts.get(att_id, {})
    check("unicode_display_name_round_trips", pa.get("name") == uname, repr(pa.get("name")))
    check("attendee_in_lecture_joins_muted_as_attendee",
          pa.get("role") == "attendee" and pa.get("muted") is True, str(pa))
    pp = parts.get(pid_of(pres_loc), {})
    check("presenter_role_and_the_signed_name_wins", pp.get("role") == "presenter"
          and pp.get("name") == "Prof. P", str(pp))

    # forged and invalid tokens
    h, p, s = att.split(".")
    pl = json.loads(b64u_dec(p))
    forged_role = f"{h}.{b64u(json.dumps(dict(pl, role='presenter')).encode())}.{s}"
    key = server_key()
    now = int(time.time())
    cases = [
        ("payload_changed", forged_role, "bad_token"),
        ("wrong_key", sign(claims("tok-room"), b"k" * 32), "bad_token"),
        ("alg_none", b64u(b'{"alg":"none","typ":"JWT"}') + f".{p}.", "bad_token"),
        ("alg_hs512", sign(claims("tok-room"), key, {"alg": "HS512", "typ": "JWT"}), "bad_token"),
        ("extra_header_kid", sign(claims("tok-room"), key, {"alg": "HS256", "kid": "1"}),
         "bad_token"),
        ("extra_claim", sign(dict(claims("tok-room"), admin=True), key), "bad_token"),
        ("missing_jti", sign({k: v for k, v in claims("tok-room").items() if k != "jti"}, key),
         "bad_token"),
        ("role_admin", sign(claims("tok-room", role="admin"), key), "bad_token"),
        ("iat_in_future", sign(claims("tok-room", iat=now + 3600), key), "bad_token"),
        ("garbage", "garbage", "bad_token"),
        ("two_parts", f"{h}.{p}", "bad_token"),
        ("too_long", att + "A" * 3000, "bad_token"),
        ("expired", sign(claims("tok-room", iat=now - 7200, exp=now - 3600), key),
         "token_expired"),
        ("expired_one_second_ago", sign(claims("tok-room", iat=now - 100, exp=now - 1), key),
         "token_expired"),
    ]
    for label, tok, code in cases:
        st, loc, b = join("tok-room", tok, src=fail_src())
        check(f"join_token_{label}_is_401_{code}", st == 401 and ecode(b) == code,
              f"{st} {short(b)}")
        if loc:
            call("DELETE", loc)
    # the control: a token signed here the same way is accepted
    st, selfsigned_loc, b = join("tok-room", sign(claims("tok-room", name="Self Signed"), key))
    check("join_with_a_token_signed_here_is_201 (the expired check is not vacuous)", st == 201,
          f"{st} {short(b)}")

    # attendee: no presenter actions; nothing changes
    before = state()
    for label, m, p, body in [
        ("get_room", "GET", "/api/v1/rooms/tok-room", None),
        ("patch_room", "PATCH", "/api/v1/rooms/tok-room", {"layout": "grid"}),
        ("delete_room", "DELETE", "/api/v1/rooms/tok-room", None),
        ("list_participants", "GET", "/api/v1/rooms/tok-room/participants", None),
        ("mute_other", "PATCH", pres_loc, {"muted": True}),
        ("spotlight_self", "PATCH", att_loc, {"spotlight": True}),
        ("role_self_presenter", "PATCH", att_loc, {"role": "presenter"}),
        ("unmute_self", "PATCH", att_loc, {"muted": False}),
    ]:
        before = refused(f"attendee_{label}_is_403", m, p, body, 403, "forbidden", auth=att,
                         before=before)
    for label, m, p, body in [
        ("other_rooms_presenter_patch_room", "PATCH", "/api/v1/rooms/tok-room", {"locked": True}),
        ("other_rooms_presenter_delete_room", "DELETE", "/api/v1/rooms/tok-room", None),
        ("other_rooms_presenter_mute", "PATCH", att_loc, {"muted": False}),
    ]:
        before = refused(f"{label}_is_403", m, p, body, 403, "forbidden", auth=other_pres,
                         before=before)
    exp_pres = sign(claims("tok-room", role="presenter", iat=now - 7200, exp=now - 60), key)
    before = refused("expired_presenter_token_patch_room_is_401", "PATCH", "/api/v1/rooms/tok-room",
                     {"locked": True}, 401, "unauthorized", auth=exp_pres, before=before)
    before = refused("token_shaped_admin_key_is_401", "GET", "/api/v1/rooms", None, 401,
                     "unauthorized", auth=pres, before=before)
    before = refused("presenter_token_cannot_create_rooms", "POST", "/api/v1/rooms",
                     {"name": "by-presenter"}, 401, "unauthorized", auth=pres, before=before)
    before = refused("presenter_token_cannot_issue_tokens", "POST", "/api/v1/rooms/tok-room/tokens",
                     {"name": "x", "role": "presenter"}, 401, "unauthorized", auth=pres,
                     before=before)

    # the participant's own hand and data cap, no credentials
    st, _h, b = call("PATCH", att_loc, {"hand": True, "data_cap": "audio-only"})
    j = jbody(b) or {}
    check("own_hand_and_data_cap_without_credentials_is_200",
          st == 200 and j.get("hand") is True and j.get("data_cap") == "audio-only", short(b, 200))
    # presenter actions with a presenter token
    st, _h, b = call("GET", "/api/v1/rooms/tok-room", auth=pres)
    check("presenter_get_room_is_200", st == 200, f"{st}")
    st, _h, b = call("GET", "/api/v1/rooms/tok-room/participants", auth=pres)
    check("presenter_list_participants_is_200", st == 200, f"{st}")
    st, _h, b = call("PATCH", att_loc, {"muted": False, "hand": False}, auth=pres)
    j = jbody(b) or {}
    check("presenter_unmutes_attendee_is_200", st == 200 and j.get("muted") is False
          and j.get("hand") is False, short(b, 200))
    st, _h, b = call("PATCH", att_loc, {"muted": True}, auth=pres)
    check("presenter_mutes_attendee_is_200", st == 200 and (jbody(b) or {}).get("muted") is True,
          f"{st}")
    st, _h, b = call("PATCH", att_loc, {"spotlight": True}, auth=pres)
    j = jbody(b) or {}
    check("presenter_spotlight_is_200", st == 200 and j.get("spotlight") is True, short(b, 300))
    call("PATCH", att_loc, {"data_cap": "auto"})
    st, _h, b = call("PATCH", att_loc, {"tier": 1}, auth=pres)
    check("presenter_sets_tier_is_200", st == 200, f"{st} {short(b)}")
    st, _h, b = call("PATCH", att_loc, {"spotlight": False}, auth=pres)
    check("spotlight_off_is_200", st == 200 and (jbody(b) or {}).get("spotlight") is False,
          f"{st}")
    # PATCH room {"presenter": id}; a refused PATCH must not half-apply it
    before = state()
    before = refused("patch_room_presenter_unknown_id_is_404", "PATCH", "/api/v1/rooms/tok-room",
                     {"presenter": "AAAAAAAAAAAAAAAA"}, 404, "participant_not_found",
                     before=before)
    before = refused("patch_room_presenter_with_a_refused_change_is_409_and_changes_nothing",
                     "PATCH", "/api/v1/rooms/tok-room",
                     {"presenter": att_id, "max_participants": 10000}, 409, "conflict",
                     before=before)
    st, _h, b = call("PATCH", "/api/v1/rooms/tok-room", {"tiers": [
        {"width": 320, "height": 180, "kbps": 150}]}, auth=KEY)
    check("patch_tiers_of_a_room_with_participants_is_409", st == 409
          and ecode(b) == "conflict", f"{st} {short(b)}")
    st, _h, b = call("PATCH", "/api/v1/rooms/tok-room", {"presenter": att_id}, auth=pres)
    j = jbody(b) or {}
    who = [p for p in j.get("participant_list", []) if p.get("id") == att_id]
    check("patch_room_presenter_promotes", st == 200 and who and who[0]["role"] == "presenter",
          f"{st} {short(b)}")
    call("PATCH", att_loc, {"role": "attendee"}, auth=pres)
    st, _h, b = call("PATCH", att_loc, {"role": "presenter"}, auth=pres)
    check("presenter_promotes_attendee_is_200",
          st == 200 and (jbody(b) or {}).get("role") == "presenter", f"{st}")
    st, _h, b = call("PATCH", "/api/v1/rooms/tok-room", {"layout": "presenter", "locked": True},
                     auth=pres)
    j = jbody(b) or {}
    check("presenter_patch_room_is_200", st == 200 and j.get("locked") is True
          and (j.get("layout") or {}).get("kind") == "presenter", short(b, 200))
    check("presenter_patch_is_stored", store_rooms().get("tok-room", {}).get("locked") is True)
    st, _h, b = call("DELETE", "/api/v1/rooms/tok-room", auth=pres)
    check("presenter_delete_room_is_204", st == 204, f"{st}")
    check("room_gone_after_presenter_delete", "tok-room" not in store_rooms()
          and call("GET", "/api/v1/rooms/tok-room", auth=KEY)[0] == 404)
    call("DELETE", "/api/v1/rooms/tok-other", auth=KEY)

    # open room: ?name= with unicode round trips
    create({"name": "open-uni", "access": "open"})
    nm = "Łukasz 李 🦊"
    st, loc, b = join("open-uni", query="?name=" + urllib.parse.quote(nm))
    st2, _h, b2 = call("GET", "/api/v1/rooms/open-uni/participants", auth=KEY)
    got = [p.get("name") for p in (jbody(b2) or {}).get("participants", [])]
    check("open_room_unicode_query_name_round_trips", st == 201 and got == [nm], str(got))
    st, loc2, b = join("open-uni", query="?name=" + urllib.parse.quote("a\x07b\x1bc"))
    st2, _h, b2 = call("GET", "/api/v1/rooms/open-uni/participants", auth=KEY)
    got = [p.get("name") for p in (jbody(b2) or {}).get("participants", [])]
    check("open_room_query_name_control_characters_dropped", "abc" in got, str(got))
    st, _h, b = call("PATCH", "/api/v1/rooms/open-uni", {"access": "token"}, auth=KEY)
    st, loc3, b = join("open-uni")
    check("room_switched_to_token_needs_one", st == 401 and ecode(b) == "token_required",
          f"{st}")
    call("DELETE", "/api/v1/rooms/open-uni", auth=KEY)


def section_events():
    create({"name": "sse-room", "access": "token"})
    tok = token("sse-room", "Listener", "attendee")
    # auth of the stream
    for label, auth, status, code in [("no_credentials", None, 401, "token_required"),
                                      ("another_rooms_token", token("meet-1", "x"), 403,
                                       "wrong_room"),
                                      ("forged", "a.b.c", 401, "bad_token")]:
        ev = Events("sse-room", auth=auth, src=fail_src())
        st, _h, b = ev.status, None, ev.resp.read() if ev.status != 200 else b""
        check(f"events_{label}_is_{status}_{code}", st == status and ecode(b) == code,
              f"{st} {short(b)}")
        ev.close()
    # token in the query (EventSource)
    u = urllib.parse.urlsplit(URL)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    conn.request("GET", f"/api/v1/rooms/sse-room/events?token={tok}")
    r = conn.getresponse()
    first = r.readline() if r.status == 200 else b""
    check("events_with_token_in_query_is_200_hello", r.status == 200
          and first.startswith(b"event: hello"), f"{r.status} {first!r}")
    conn.close()

    ev = Events("sse-room")      # the admin key
    check("events_is_200_event_stream", ev.status == 200 and ev.ctype.startswith(
        "text/event-stream"), f"{ev.status} {ev.ctype}")
    got = ev.wait(lambda e, d: e == "hello")
    check("events_hello_first", got is not None and got[1] == {}, str(got))
    got = ev.wait(lambda e, d: e == "roster")
    check("events_initial_roster_empty", got is not None and got[1] == {"participants": []},
          str(got))
    got = ev.wait(lambda e, d: e == "layout")
    check("events_initial_layout", got is not None and got[1].get("kind") == "grid", str(got))
    st, loc, b = join("sse-room", tok)
    pid = pid_of(loc)
    got = ev.wait(lambda e, d: e == "roster" and any(
        p.get("id") == pid for p in d.get("participants", [])))
    p = [q for q in got[1]["participants"] if q["id"] == pid][0] if got else {}
    check("events_roster_after_join", got is not None and p.get("name") == "Listener"
          and p.get("hand") is False and "video_decodes" not in p, str(got)[:200])
    t0 = time.monotonic()
    st, _h, b = call("PATCH", loc, {"hand": True})
    got = ev.wait(lambda e, d: e == "roster" and any(
        q.get("id") == pid and q.get("hand") is True for q in d.get("participants", [])))
    check("events_roster_hand_true_after_patch", st == 200 and got is not None,
          f"{st} after {time.monotonic() - t0:.2f} s")
    st, _h, b = call("PATCH", "/api/v1/rooms/sse-room", {"layout": "speaker"}, auth=KEY)
    got = ev.wait(lambda e, d: e == "layout" and d.get("kind") == "speaker")
    check("events_layout_after_patch_room", got is not None, str(got))
    st, _h, b = call("DELETE", loc)
    got = ev.wait(lambda e, d: e == "roster" and not any(
        q.get("id") == pid for q in d.get("participants", [])))
    check("events_roster_after_leave", st == 204 and got is not None, f"{st}")
    st, _h, b = call("DELETE", "/api/v1/rooms/sse-room", auth=KEY)
    got = ev.wait(lambda e, d: e == "ended")
    check("events_ended_after_delete_room", st == 204 and got is not None and got[1] == {},
          f"{st} {got}")
    got = ev.wait(lambda e, d: e == "<end>")
    check("events_stream_closes_after_ended", got is not None)
    ev.close()


def section_rate_limit():
    """Failed credentials are limited per address: 20, then 429."""
    src = "127.0.0.250"
    codes = [call("GET", "/api/v1/rooms", auth="wrong-admin-key-0123456789", src=src)[0]
             for _ in range(20)]
    check("twenty_failed_admin_keys_are_401", codes == [401] * 20, str(sorted(set(codes))))
    st, _h, b = call("GET", "/api/v1/rooms", auth="wrong-admin-key-0123456789", src=src)
    check("then_429_rate_limited", st == 429 and ecode(b) == "rate_limited", f"{st} {short(b)}")
    st, _h, b = call("POST", "/api/v1/rooms/meet-1/join", offer(), SDP, "x.y.z", src=src)
    check("a_limited_address_cannot_try_join_tokens", st == 429 and ecode(b) == "rate_limited",
          f"{st}")
    st, _h, b = call("GET", "/api/v1/rooms", auth=KEY, src=src)
    print(f"note: the right admin key from the limited address: {st} {short(b)}")
    st, _h, b = call("GET", "/api/v1/rooms", auth=KEY)
    check("other_addresses_are_not_limited", st == 200, f"{st}")


def section_metrics_after():
    st, _h, b = call("GET", "/api/v1/rooms", auth=KEY)
    n = len((jbody(b) or {}).get("rooms", []))
    st, _h, m = call("GET", "/metrics")
    val = None
    for line in m.decode().splitlines():
        if line.startswith("tutti_rooms "):
            val = int(line.split()[1])
    check("metric_tutti_rooms_is_the_room_count", val == n, f"metric {val}, listed {n}")


def section_audit():
    time.sleep(2.0)      # the audit writer runs off the request path
    db = os.path.join(DATA_DIR, "tutti.db")
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    rows = con.execute("SELECT ts, actor, action, room, detail, addr FROM audit").fetchall()
    con.close()
    check("audit_has_rows", len(rows) > 0, f"{len(rows)} rows")

    def has(action, room=None, actor=None):
        return [r for r in rows if r[2] == action and (room is None or r[3] == room)
                and (actor is None or r[1] == actor)]
    for action, room, actor in [("room.create", "lecture-9", "admin"),
                                ("room.update", "lecture-9", "admin"),
                                ("room.delete", "crowd", "admin"),
                                ("room.delete", "tok-room", None),
                                ("token.issue", "tok-room", "admin"),
                                ("participant.join", "tok-room", "participant"),
                                ("participant.leave", "sse-room", None),
                                ("participant.update", "tok-room", None)]:
        rs = has(action, room, actor)
        check(f"audit_{action}_{room}", bool(rs) and all(r[5] == "127.0.0.1" for r in rs)
              and all(r[0] and r[0][:2] == "20" for r in rs),
              f"{len(rs)} rows" + (f", e.g. {rs[0]}" if rs else ""))
    joins = has("participant.join")
    check("audit_join_detail_is_a_participant_id",
          joins and all(r[4] and len(r[4]) == 16 for r in joins), str(joins[:1]))
    bad_words = ["v=0", "a=fingerprint", "a=ice-pwd", "m=audio", "eyJ", KEY, "RTP", "Bearer"]
    leaks = [r for r in rows for w in bad_words if any(w in (c or "") for c in r)]
    check("audit_has_no_sdp_tokens_keys_or_media", not leaks, str(leaks[:2]))
    refused_names = {"badf", "deep", "dup-a", "dup-b", "auth-new", "by-presenter", "big-room",
                     "ghost"}
    bad = [r for r in rows if r[3] in refused_names]
    check("audit_has_no_rows_for_refused_requests", not bad, str(bad[:3]))
    check("store_rooms_match_the_api", set(store_rooms()) == set(state()["rooms"]) - {"demo"}
          or set(store_rooms()) == set(state()["rooms"]),
          f"store {sorted(store_rooms())}")


def section_nul_in_path():
    """A %00 in a room id must not cut the path short: DELETE of
    /api/v1/rooms/victim%00x/participants is not DELETE of the room."""
    create({"name": "nul-victim", "access": "open"})
    before = state()
    for m, p in [("GET", "/api/v1/rooms/nul-victim%00x"),
                 ("PATCH", "/api/v1/rooms/nul-victim%00x/participants"),
                 ("DELETE", "/api/v1/rooms/nul-victim%00x/participants"),
                 ("DELETE", "/api/v1/rooms/nul-victim%00/../x")]:
        before = refused(f"nul_in_room_id_{m}_{p[14:]}_is_400_bad_room", m, p,
                         {"locked": True} if m == "PATCH" else None, 400, "bad_room",
                         before=before)
    call("DELETE", "/api/v1/rooms/nul-victim", auth=KEY)


def main():
    if not URL.startswith("http://") or len(KEY) < 16 or not DATA_DIR:
        print("admin_api: TUTTI_URL, TUTTI_ADMIN_KEY and TUTTI_TEST_DATA_DIR must be set "
              "(run under tests/interop/run_with_server.sh)", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    for sec in (section_health_and_static, section_auth, section_rooms,
                section_not_found_and_methods, section_content_type_and_size, section_bad_input,
                section_tokens, section_events, section_rate_limit, section_metrics_after,
                section_audit, section_nul_in_path):
        print(f"== {sec.__name__[8:]}", flush=True)
        try:
            sec()
        except Exception as e:  # noqa: BLE001 (a broken section is a failure, the rest runs)
            import traceback
            traceback.print_exc()
            check(f"{sec.__name__}_ran", False, repr(e))
    return summary(f" ({time.monotonic() - t0:.1f} s)")


if __name__ == "__main__":
    sys.exit(main())
