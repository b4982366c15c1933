#!/usr/bin/env python3
"""Rooms survive a crash: this test starts its OWN tutti (argv[1]) on free
127.0.0.1 ports with a temporary data directory, creates two rooms (one
with defaults, one with every field set, then changed with PATCH), issues
a token and joins, SIGKILLs the server, starts it again on the same data
directory, and checks that both rooms are back with their fields, that a
deleted room stayed deleted, that the audit log survived, that tokens
issued before still verify (the key is kept), and that /readyz is 200.

    python3 restart.py path/to/tutti

Meant to run inside tests/interop/run_with_server.sh's private network
namespace (ctest api_restart): its own server is the one tested, the one
the wrapper starts is not used. One line per check, then "N passed, N
failed". Exit 0 pass, 1 a check failed, 2 could not run.
"""
import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import checks  # noqa: E402  (tests/api/checks.py)
from checks import check, summary  # noqa: E402

KEY = "restart-test-admin-key-0123456789"
HERE = os.path.dirname(os.path.abspath(__file__))
OFFER = os.path.join(HERE, "..", "data", "sdp", "chrome-offer.sdp")




def free_port(kind):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, binary, data_dir, log_path):
        self.binary, self.data_dir, self.log_path = binary, data_dir, log_path
        self.proc = None

    def start(self):
        self.http_port = free_port(socket.SOCK_STREAM)
        self.media_port = free_port(socket.SOCK_DGRAM)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [self.binary, "--http", f"127.0.0.1:{self.http_port}", "--media-port",
             str(self.media_port), "--data-dir", self.data_dir, "--admin-key", KEY,
             "--log-level", "info"], stdout=log, stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if not k.startswith("TUTTI_")})
        log.close()
        end = time.monotonic() + 10
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode} at start")
            try:
                if self.call("GET", "/livez")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the server did not answer /livez within 10 s")

    def call(self, method, path, body=None, ctype=None, auth=KEY):
        h = {}
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
            ctype = ctype or "application/json"
        if ctype:
            h["Content-Type"] = ctype
        if auth:
            h["Authorization"] = "Bearer " + auth
        c = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            try:
                j = json.loads(data) if data else None
            except ValueError:
                j = None
            return r.status, j, dict(r.getheaders())
        finally:
            c.close()

    def kill(self, sig):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                return self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return self.proc.wait()
        return self.proc.returncode if self.proc else None


def audit_rows(data_dir):
    con = sqlite3.connect(f"file:{os.path.join(data_dir, 'tutti.db')}?mode=ro", uri=True,
                          timeout=5)
    try:
        return con.execute("SELECT ts, actor, action, room, detail, addr FROM audit").fetchall()
    finally:
        con.close()


def room_form(j):
    return {k: v for k, v in (j or {}).items()
            if k not in ("stats", "participants", "participant_list", "layout", "recording")}


def main():
    if len(sys.argv) != 2 or not os.access(sys.argv[1], os.X_OK):
        print("usage: restart.py path/to/tutti", file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="tutti-restart.")
    data = os.path.join(tmp, "data")
    srv = Server(os.path.abspath(sys.argv[1]), data, os.path.join(tmp, "server.log"))
    try:
        try:
            srv.start()
        except RuntimeError as e:
            print(f"restart: SETUP PROBLEM: {e}")
            return 2
        st, plain, _ = srv.call("POST", "/api/v1/rooms", {"name": "plain-room"})
        check("create_plain_room", st == 201, f"{st}")
        full = {"name": "full-room", "mode": "lecture", "layout": "speaker", "access": "open",
                "locked": True, "max_participants": 12, "speakers": 2, "max_tiles": 4,
                "fps": 10, "tiers": [{"width": 320, "height": 180, "kbps": 200},
                                     {"width": 640, "height": 360, "kbps": 700}],
                "screen_share": "off"}
        st, j, _ = srv.call("POST", "/api/v1/rooms", full)
        check("create_room_with_every_field",
              st == 201 and dict(room_form(j), layout=(j or {}).get("layout")) == full,
              f"{st} {room_form(j)}")
        st, j, _ = srv.call("PATCH", "/api/v1/rooms/full-room",
                            {"layout": "presenter", "locked": False, "max_participants": 30,
                             "screen_share": "everyone"})
        want_full = dict(full, layout="presenter", locked=False, max_participants=30,
                         screen_share="everyone")
        check("patch_it", st == 200 and all(j.get(k) == v for k, v in want_full.items()
                                            if k != "layout")
              and j.get("layout", {}).get("kind") == "presenter", f"{st}")
        st, _j, _ = srv.call("POST", "/api/v1/rooms", {"name": "gone-room"})
        st2, _j, _ = srv.call("DELETE", "/api/v1/rooms/gone-room")
        check("create_and_delete_a_third", st == 201 and st2 == 204, f"{st} {st2}")
        st, plain_before, _ = srv.call("GET", "/api/v1/rooms/plain-room")
        st, tok, _ = srv.call("POST", "/api/v1/rooms/plain-room/tokens",
                              {"name": "Before Restart", "ttl": 600})
        token = (tok or {}).get("token", "")
        check("issue_token", st == 201 and token, f"{st}")
        with open(OFFER, "rb") as f:
            offer = f.read()
        st, _j, h = srv.call("POST", "/api/v1/rooms/full-room/join", offer, "application/sdp",
                             auth=None)
        check("join_open_room", st == 201, f"{st}")
        time.sleep(1.5)        # the audit writer runs off the request path
        rows_before = audit_rows(data)
        check("audit_rows_before_the_kill", len(rows_before) >= 5, f"{len(rows_before)} rows")

        pid = srv.proc.pid
        rc = srv.kill(signal.SIGKILL)
        check("server_killed_with_SIGKILL", rc == -signal.SIGKILL, f"pid {pid} rc {rc}")

        try:
            srv.start()
        except RuntimeError as e:
            check("server_restarts_on_the_same_data_dir", False, str(e))
            return 1
        check("server_restarts_on_the_same_data_dir", True, f"pid {srv.proc.pid}")
        st, _j, _ = srv.call("GET", "/readyz", auth=None)
        check("readyz_is_200_after_restart", st == 200, f"{st}")
        st, j, _ = srv.call("GET", "/api/v1/rooms")
        names = sorted(r["name"] for r in (j or {}).get("rooms", []))
        check("both_rooms_are_back_and_the_deleted_one_is_not",
              st == 200 and names == ["full-room", "plain-room"], f"{st} {names}")
        st, j, _ = srv.call("GET", "/api/v1/rooms/full-room")
        got = {k: v for k, v in room_form(j).items()}
        check("full_room_has_its_fields", st == 200 and got == {
            k: v for k, v in want_full.items() if k != "layout"}
            and (j or {}).get("layout", {}).get("kind") == "presenter", f"{st} {got}")
        check("full_room_is_empty_after_the_crash", (j or {}).get("participant_list") == [],
              str((j or {}).get("participant_list")))
        st, j, _ = srv.call("GET", "/api/v1/rooms/plain-room")
        check("plain_room_has_its_fields", st == 200 and room_form(j) == room_form(plain_before),
              f"{st} {room_form(j)}")
        st, _j, _ = srv.call("POST", "/api/v1/rooms/plain-room/join", offer, "application/sdp",
                             auth=token)
        check("a_token_issued_before_the_crash_still_joins", st == 201, f"{st}")
        st, _j, _ = srv.call("POST", "/api/v1/rooms", {"name": "plain-room"})
        check("the_restored_name_is_taken", st == 409, f"{st}")
        time.sleep(1.5)
        rows_after = audit_rows(data)
        kept = all(r in rows_after for r in rows_before)
        actions = {r[2] for r in rows_before}
        check("audit_log_survived", kept and len(rows_after) > len(rows_before)
              and {"room.create", "room.update", "room.delete", "token.issue",
                   "participant.join"} <= actions,
              f"{len(rows_before)} rows before, {len(rows_after)} after, actions {sorted(actions)}")
        rc = srv.kill(signal.SIGTERM)
        check("clean_exit_on_SIGTERM", rc == 0, f"rc {rc}")
    finally:
        srv.kill(signal.SIGKILL)
        if checks.failures:
            try:
                with open(os.path.join(tmp, "server.log"), errors="replace") as f:
                    print("----- server log -----\n" + f.read()[-6000:])
            except OSError:
                pass
        subprocess.run(["rm", "-rf", tmp])
    return summary()


if __name__ == "__main__":
    sys.exit(main())
