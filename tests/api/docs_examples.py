#!/usr/bin/env python3
"""Runs every example of docs/api.md, in order, against a running server
(TUTTI_URL, TUTTI_ADMIN_KEY) and checks each response as the page states it.

An example is a ```http block (the request) followed by a ```response block
(status, field checks, captures); the convention is described at the top of
docs/api.md ("Examples are tests"). The run also checks that every endpoint
of the API has at least one example. One line per example; on the first
mismatch the example and what came back are printed and the run stops.

    python3 docs_examples.py [docs/api.md]

Exit status: 0 all passed, 1 a mismatch, 2 the page could not be parsed.
"""
import http.client
import json
import os
import re
import socket
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
STREAM_WAIT_S = 5.0
TIMEOUT_S = 10.0

# Every endpoint must have an example: (method, regex over the example's path).
ENDPOINTS = [
    ("GET", r"^/livez$"),
    ("GET", r"^/readyz$"),
    ("GET", r"^/metrics$"),
    ("GET", r"^/$"),
    ("GET", r"^/r/[^/]+$"),
    ("GET", r"^/static/"),
    ("POST", r"^/api/v1/rooms$"),
    ("GET", r"^/api/v1/rooms$"),
    ("GET", r"^/api/v1/rooms/[^/]+$"),
    ("PATCH", r"^/api/v1/rooms/[^/]+$"),
    ("DELETE", r"^/api/v1/rooms/[^/]+$"),
    ("POST", r"^/api/v1/rooms/[^/]+/tokens$"),
    ("POST", r"^/api/v1/rooms/[^/]+/join"),
    ("GET", r"^/api/v1/rooms/[^/]+/participants$"),
    ("PATCH", r"^/api/v1/rooms/[^/]+/participants/[^/]+$"),
    ("DELETE", r"^/api/v1/rooms/[^/]+/participants/[^/]+$"),
    ("GET", r"^/api/v1/rooms/[^/]+/events"),
]


class ParseError(Exception):
    pass


class Mismatch(Exception):
    pass


def blocks(text):
    """Fenced blocks: (tag, content, line number of the opening fence)."""
    out = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^```(\S*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        tag, start = m.group(1), i + 1
        j = i + 1
        while j < len(lines) and not re.match(r"^```\s*$", lines[j]):
            j += 1
        if j >= len(lines):
            raise ParseError(f"line {start}: unterminated fenced block")
        out.append((tag, "\n".join(lines[i + 1:j]), start))
        i = j + 1
    return out


def examples(text):
    """[(request text, response text, line)] in the page's order."""
    bl = blocks(text)
    out = []
    for k, (tag, content, line) in enumerate(bl):
        if tag == "http":
            if k + 1 >= len(bl) or bl[k + 1][0] != "response":
                raise ParseError(f"line {line}: an http block without a response block after it")
            out.append((content, bl[k + 1][1], line))
        elif tag == "response" and (k == 0 or bl[k - 1][0] != "http"):
            raise ParseError(f"line {line}: a response block without a request before it")
    return out


VAR = re.compile(r"\$([A-Z][A-Z0-9_]*)")


def subst(s, env):
    def one(m):
        if m.group(1) not in env:
            raise Mismatch(f"unknown variable ${m.group(1)} (not captured before)")
        return env[m.group(1)]
    return VAR.sub(one, s)


def parse_request(text, env):
    head, sep, body = text.partition("\n\n")
    lines = [ln for ln in head.split("\n") if ln.strip()]
    if not lines:
        raise ParseError("empty request")
    m = re.match(r"^([A-Z]+) (\S+)$", subst(lines[0], env))
    if not m:
        raise ParseError(f"bad request line {lines[0]!r}")
    method, path = m.groups()
    headers = {}
    for ln in lines[1:]:
        k, c, v = ln.partition(":")
        if not c:
            raise ParseError(f"bad header line {ln!r}")
        headers[k.strip()] = subst(v.strip(), env)
    data = None
    if sep:
        b = body.rstrip("\n")
        if re.match(r"^@\S+$", b):
            with open(os.path.join(REPO, b[1:]), "rb") as f:
                data = f.read()
        else:
            data = subst(b, env).encode("utf-8")
    return method, path, headers, data


def do_request(base, method, path, headers, data, stream_needles):
    u = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=TIMEOUT_S)
    try:
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        if hdrs.get("content-type", "").startswith("text/event-stream"):
            # A stream does not end: read until every needle has come.
            buf = b""
            end = time.monotonic() + STREAM_WAIT_S
            conn.sock.settimeout(0.5)
            while time.monotonic() < end:
                text = buf.decode("utf-8", "replace")
                if all(n in text for n in stream_needles):
                    break
                try:
                    chunk = r.read1(4096)
                except (socket.timeout, TimeoutError):
                    continue
                if not chunk:
                    break
                buf += chunk
            body = buf
        else:
            body = r.read()
        return r.status, hdrs, body.decode("utf-8", "replace")
    finally:
        conn.close()


def get_path(obj, path):
    """Follows 'a.b[0].c' / 'a[*].b' (a list then); raises KeyError."""
    toks = re.findall(r"\.?([^.\[\]]+)|\[(\*|\d+)\]", path)
    cur = [obj]
    many = False
    for key, idx in toks:
        nxt = []
        for c in cur:
            if key:
                if not isinstance(c, dict) or key not in c:
                    raise KeyError(path)
                nxt.append(c[key])
            elif idx == "*":
                if not isinstance(c, list):
                    raise KeyError(path)
                nxt.extend(c)
                many = True
            else:
                if not isinstance(c, list) or int(idx) >= len(c):
                    raise KeyError(path)
                nxt.append(c[int(idx)])
        cur = nxt
    return cur if many else cur[0]


TYPES = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


def stream_needles(resp_text, env):
    out = []
    for ln in resp_text.split("\n"):
        m = re.match(r"^body contains (.+)$", ln.strip())
        if m:
            out.append(json.loads(subst(m.group(1), env)))
    return out


def check_response(resp_text, status, hdrs, body, env):
    """Raises Mismatch; fills env with captures."""
    parsed = None

    def js():
        nonlocal parsed
        if parsed is None:
            try:
                parsed = json.loads(body)
            except ValueError:
                raise Mismatch("the body is not JSON")
        return parsed

    for raw in resp_text.split("\n"):
        ln = raw.strip()
        if not ln or ln.startswith("#"):
            continue
        m = re.match(r"^(?:→|->)\s*(\d{3})$", ln)
        if m:
            if status != int(m.group(1)):
                raise Mismatch(f"status {status}, expected {m.group(1)}")
            continue
        m = re.match(r"^\$([A-Z][A-Z0-9_]*) := (.+)$", ln)
        if m:
            var, src = m.groups()
            mh = re.match(r"^header (\S+)(?: ~ (.+))?$", src)
            if mh:
                v = hdrs.get(mh.group(1).lower())
                if v is None:
                    raise Mismatch(f"no header {mh.group(1)} to capture")
                if mh.group(2):
                    mm = re.search(mh.group(2), v)
                    if not mm:
                        raise Mismatch(f"header {mh.group(1)}: {v!r} does not match {mh.group(2)}")
                    v = mm.group(1) if mm.groups() else mm.group(0)
                env[var] = v
            elif src.startswith("body."):
                try:
                    v = get_path(js(), src[5:])
                except KeyError:
                    raise Mismatch(f"no {src} to capture")
                env[var] = v if isinstance(v, str) else json.dumps(v)
            else:
                raise ParseError(f"bad capture {ln!r}")
            continue
        ln = subst(ln, env)
        m = re.match(r"^header (\S+) ~ (.+)$", ln)
        if m:
            v = hdrs.get(m.group(1).lower())
            if v is None or not re.search(m.group(2), v):
                raise Mismatch(f"header {m.group(1)}: {v!r} does not match {m.group(2)}")
            continue
        m = re.match(r"^body contains (.+)$", ln)
        if m:
            needle = json.loads(m.group(1))
            if needle not in body:
                raise Mismatch(f"the body does not contain {needle!r}")
            continue
        m = re.match(r"^body\.(\S+) (==|has|contains|is) (.+)$", ln)
        if m:
            path, op, rhs = m.groups()
            try:
                v = get_path(js(), path)
            except KeyError:
                raise Mismatch(f"no body.{path}")
            if op == "is":
                if rhs not in TYPES:
                    raise ParseError(f"unknown type {rhs!r}")
                if not TYPES[rhs](v):
                    raise Mismatch(f"body.{path} = {v!r} is not {rhs}")
                continue
            want = json.loads(rhs)
            if op == "==":
                ok = v == want and type(v) is type(want)
            elif op == "has":
                ok = isinstance(v, list) and want in v
            else:
                ok = isinstance(v, str) and want in v
            if not ok:
                raise Mismatch(f"body.{path} = {v!r}, expected {op} {want!r}")
            continue
        raise ParseError(f"cannot read response line {raw!r}")


def main():
    doc = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "docs", "api.md")
    base = os.environ.get("TUTTI_URL", "").rstrip("/")
    key = os.environ.get("TUTTI_ADMIN_KEY", "")
    if not base.startswith("http://") or not key:
        print("docs_examples: TUTTI_URL and TUTTI_ADMIN_KEY must be set", file=sys.stderr)
        return 2
    with open(doc, encoding="utf-8") as f:
        text = f.read()
    try:
        exs = examples(text)
    except ParseError as e:
        print(f"FAIL parse {doc}: {e}")
        return 2
    env = {"ADMIN_KEY": key}
    passed = 0
    seen = []
    for n, (req, resp, line) in enumerate(exs, 1):
        name = f"example {n} (line {line})"
        status = None
        try:
            method, path, headers, data = parse_request(req, env)
            seen.append((method, urllib.parse.urlsplit(path).path))
            needles = stream_needles(resp, env)
            status, hdrs, body = do_request(base, method, path, headers, data, needles)
            check_response(resp, status, hdrs, body, env)
        except (Mismatch, ParseError, OSError, http.client.HTTPException) as e:
            print(f"FAIL {name}: {e}")
            print("----- the example -----")
            print(req)
            print("----- expected -----")
            print(resp)
            if status is not None:
                print(f"----- got {status} -----")
                for k, v in hdrs.items():
                    print(f"{k}: {v}")
                print()
                print(body[:2000])
            print(f"{passed} passed, 1 failed")
            return 1
        first = req.split("\n", 1)[0]
        print(f"ok   {name}: {first} → {status}")
        passed += 1
    missing = [f"{m} {p}" for m, p in ENDPOINTS
               if not any(sm == m and re.search(p, sp) for sm, sp in seen)]
    ok = not missing
    print(("ok   " if ok else "FAIL ") + "every endpoint has an example"
          + (": missing " + ", ".join(missing) if missing else f": {len(exs)} examples"))
    passed += ok
    print(f"{passed} passed, {0 if ok else 1} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
