"""udp_delay_relay: a UDP relay that delays every datagram (this kernel has no
netem). It listens on LISTEN (the address the server puts in its ICE
candidate, --public-ip) and relays each client's datagrams to TARGET (the
server's real media address) from a socket of its own per client, and the
answers back; each direction waits DELAY_MS. Only the test's own namespaces
are involved: it is started inside them by shaped_link.sh.

  udp_delay_relay.py LISTEN_IP PORT TARGET_IP DELAY_MS
"""

import heapq
import selectors
import socket
import sys
import time


def main():
    listen_ip, port, target_ip, delay_ms = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    delay = delay_ms / 1000.0
    target = (target_ip, port)
    front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    front.bind((listen_ip, port))
    front.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(front, selectors.EVENT_READ, None)
    back = {}          # client address -> its socket towards the server
    owner = {}         # that socket -> client address
    due = []           # (time, n, socket, data, address)
    n = 0
    print(f"relay {listen_ip}:{port} -> {target_ip}:{port}, {delay_ms:.0f} ms each way", flush=True)
    while True:
        now = time.monotonic()
        timeout = max(0.0, due[0][0] - now) if due else 0.5
        for key, _ev in sel.select(timeout):
            s = key.fileobj
            while True:
                try:
                    data, addr = s.recvfrom(65536)
                except BlockingIOError:
                    break
                t = time.monotonic() + delay
                if s is front:
                    b = back.get(addr)
                    if b is None:
                        b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                        b.bind((target_ip, 0))
                        b.setblocking(False)
                        sel.register(b, selectors.EVENT_READ, None)
                        back[addr] = b
                        owner[b] = addr
                    heapq.heappush(due, (t, n, b, data, target))
                else:
                    heapq.heappush(due, (t, n, front, data, owner[s]))
                n += 1
        now = time.monotonic()
        while due and due[0][0] <= now:
            _t, _n, s, data, addr = heapq.heappop(due)
            try:
                s.sendto(data, addr)
            except OSError:
                pass  # a full queue downstream drops it, as a link would


if __name__ == "__main__":
    main()
