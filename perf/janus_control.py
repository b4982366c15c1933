#!/usr/bin/python3
"""Sets up a Janus AudioBridge room with N plain-RTP participants for
perf/run audio, over Janus's HTTP API (loopback only), and writes the
tutti-load --plain file: one 'audio LOCAL_PORT JANUS_PORT' line each.

  janus_control.py JANUS_URL N FIRST_LOCAL_PORT PLAIN_FILE

Each participant is its own handle that joins with "rtp": {ip, port,
payload_type}; Janus answers with the port it sends from and expects
packets on (its socket is connected to the address given). The session
lives on after this script exits (session_timeout = 0 in the config).
"""
import json
import random
import sys
import urllib.request

ROOM = 4242


def call(url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


def tx():
    return "%016x" % random.getrandbits(64)


def main():
    base, n, first, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    s = call(base, {"janus": "create", "transaction": tx()})["data"]["id"]
    surl = "%s/%d" % (base, s)

    def attach():
        r = call(surl, {"janus": "attach", "plugin": "janus.plugin.audiobridge",
                        "transaction": tx()})
        return r["data"]["id"]

    h0 = attach()
    r = call("%s/%d" % (surl, h0), {"janus": "message", "transaction": tx(), "body": {
        "request": "create", "room": ROOM, "sampling_rate": 48000,
        "allow_rtp_participants": True, "permanent": False, "record": False}})
    pd = r.get("plugindata", {}).get("data", {})
    if pd.get("audiobridge") != "created":
        sys.exit("janus_control: room not created: %s" % json.dumps(r))

    handles = {}
    for i in range(n):
        h = attach()
        handles[h] = first + i
        call("%s/%d" % (surl, h), {"janus": "message", "transaction": tx(), "body": {
            "request": "join", "room": ROOM, "display": "load%d" % i,
            "rtp": {"ip": "127.0.0.1", "port": first + i, "payload_type": 111}}})
    ports = {}
    for _ in range(20 * n + 100):
        if len(ports) == n:
            break
        evs = call("%s?maxev=50" % surl)
        for ev in evs if isinstance(evs, list) else [evs]:
            d = ev.get("plugindata", {}).get("data", {})
            if d.get("audiobridge") == "joined" and "rtp" in d and ev.get("sender") in handles:
                ports[ev["sender"]] = d["rtp"]["port"]
            elif d.get("error"):
                sys.exit("janus_control: %s" % json.dumps(d))
    if len(ports) != n:
        sys.exit("janus_control: %d of %d joined" % (len(ports), n))
    with open(out, "w") as f:
        for h, lp in sorted(handles.items(), key=lambda kv: kv[1]):
            f.write("audio %d %d\n" % (lp, ports[h]))
    print("janus_control: %d RTP participants in room %d" % (n, ROOM))


if __name__ == "__main__":
    main()
