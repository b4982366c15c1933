#!/usr/bin/env python3
"""Writes the hand-made bad-input cases of tests/badinput/<target>/, one
file per case, in the input format of tests/fuzz/fuzz_<target>.c (see
each target's header). The files are committed; this script documents how
each was made and remakes them:  python3 tests/badinput/make_cases.py

Crashes a fuzzer finds are added to the same folders (as crash-<sha1>),
so every one stays a regression case. ctest badinput_<target> replays
a folder through the target's checks under the build's sanitizers."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
MAGIC = 0x2112A442


def put(target, name, data):
    d = os.path.join(HERE, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data if isinstance(data, bytes) else data.encode('latin-1'))


# ---- STUN (raw datagrams) ----------------------------------------------------
def stun(mtype, attrs, length=None):
    body = b''.join(attrs)
    n = len(body) if length is None else length
    return struct.pack('!HHI', mtype, n, MAGIC) + b'T' * 12 + body


def attr(t, v, length=None):
    n = len(v) if length is None else length
    return struct.pack('!HH', t, n) + v + b'\0' * ((4 - len(v) % 4) % 4)


put('stun', 'truncated-header', stun(0x0001, [])[:12])
put('stun', 'length-beyond-datagram', stun(0x0001, [attr(0x0006, b'a:b')], length=400))
put('stun', 'attribute-length-lies', stun(0x0001, [attr(0x0006, b'ab', length=0xfff0)]))
put('stun', 'integrity-too-short', stun(0x0001, [attr(0x0006, b'a:b'), attr(0x0008, b'\1' * 4)]))
put('stun', 'attribute-after-fingerprint',
    stun(0x0001, [attr(0x8028, b'\0\0\0\0'), attr(0x0006, b'a:b')]))
put('stun', 'many-attributes', stun(0x0001, [attr(0x8022, b'x') for _ in range(2000)]))
put('stun', 'username-4k', stun(0x0001, [attr(0x0006, b'u' * 4000)]))
put('stun', 'xor-address-bad-family',
    stun(0x0101, [attr(0x0020, b'\0\x07\0\0' + b'\1' * 4)]))
put('stun', 'error-code-short', stun(0x0111, [attr(0x0009, b'\0\0')]))

# ---- DTLS (records: [len16][datagram]) -------------------------------------------
def dgram(*parts):
    return b''.join(struct.pack('!H', len(p)) + p for p in parts)


def record(ctype, body, length=None, epoch=0, seq=0, version=0xfefd):
    n = len(body) if length is None else length
    return struct.pack('!BHH', ctype, version, epoch) + seq.to_bytes(6, 'big') + \
        struct.pack('!H', n) + body


def handshake(mtype, body, length=None, mseq=0, foff=0, flen=None):
    n = len(body) if length is None else length
    fl = len(body) if flen is None else flen
    return bytes([mtype]) + n.to_bytes(3, 'big') + struct.pack('!H', mseq) + \
        foff.to_bytes(3, 'big') + fl.to_bytes(3, 'big') + body


hello = struct.pack('!H', 0xfefd) + b'R' * 32 + b'\0' + b'\0' + \
    struct.pack('!H', 2) + b'\xc0\x2b' + b'\x01\x00'
put('dtls', 'record-length-beyond-datagram', dgram(record(22, handshake(1, hello), length=3000)))
put('dtls', 'zero-length-records', dgram(record(22, b'') * 40))
put('dtls', 'fragment-past-message', dgram(record(22, handshake(1, hello, length=10, foff=5))))
put('dtls', 'fragment-length-huge', dgram(record(22, handshake(1, hello, length=0xffffff, flen=0xffffff))))
put('dtls', 'truncated-record-header', dgram(record(22, handshake(1, hello))[:7]))
put('dtls', 'app-data-before-handshake', dgram(record(23, b'\x55' * 64, epoch=1)))
put('dtls', 'ccs-and-alert-first', dgram(record(20, b'\1'), record(21, b'\2\x28')))
put('dtls', 'old-version', dgram(record(22, handshake(1, hello), version=0x0300)))
put('dtls', 'hello-garbage-body', dgram(record(22, handshake(1, bytes(range(256)) * 2))))
put('dtls', 'many-datagrams-and-timers',
    dgram(*[record(22, handshake(1, hello, mseq=i)) for i in range(30)]) + b'\0\0' * 8)

# ---- RTP (raw packets) -------------------------------------------------------------
def rtp(first=0x80, pt=111, ext=b'', payload=b'\x78\1\2', pad=None):
    h = bytes([first, pt]) + struct.pack('!HII', 1, 960, 0x1234)
    return h + ext + payload + (b'' if pad is None else pad)


put('rtp', 'csrc-count-beyond-packet', rtp(first=0x8f, payload=b''))
put('rtp', 'extension-length-lies', rtp(first=0x90, ext=struct.pack('!HH', 0xBEDE, 0x4000)))
put('rtp', 'padding-bigger-than-payload', rtp(first=0xa0, pad=b'\0\0\xff'))
put('rtp', 'padding-zero', rtp(first=0xa0, pad=b'\0'))
put('rtp', 'version-0', rtp(first=0x00))
put('rtp', 'one-byte-ext-id15-stops', rtp(first=0x90, ext=struct.pack('!HH', 0xBEDE, 1) + b'\xf0\1\2\3'))
put('rtp', 'two-byte-ext-zero-lengths', rtp(first=0x90, ext=struct.pack('!HH', 0x1000, 2) + b'\1\0\2\0\3\0\0\0'))
put('rtp', 'level-ext-empty', rtp(first=0x90, ext=struct.pack('!HH', 0xBEDE, 1) + b'\x10\0\0\0'))
put('rtp', 'header-only', rtp(payload=b''))

# ---- RTCP (raw compound packets) ----------------------------------------------------
def rtcp(count, pt, body, words=None):
    n = (len(body) // 4) if words is None else words
    return bytes([0x80 | count, pt]) + struct.pack('!H', n) + body


SSRC = struct.pack('!II', 1, 2)
put('rtcp', 'zero-length', rtcp(0, 201, b'', words=0))
put('rtcp', 'length-lies', rtcp(0, 200, b'\0' * 24, words=200))
put('rtcp', 'sr-31-blocks-short', rtcp(31, 200, b'\0' * 24))
put('rtcp', 'compound-zero-words-loop', rtcp(0, 201, b'\0\0\0\1') + rtcp(0, 202, b'', words=0) * 50)
put('rtcp', 'nack-huge-list', rtcp(1, 205, SSRC + b'\x00\x01\xff\xff' * 4000))
put('rtcp', 'twcc-absurd-count', rtcp(15, 205, SSRC + struct.pack('!HH', 0, 0xffff) + b'\0\0\1\1' + b'\x20\xff'))
put('rtcp', 'twcc-run-of-large-deltas',
    rtcp(15, 205, SSRC + struct.pack('!HH', 65530, 200) + b'\0\0\1\1' + b'\x40\xc8' + b'\x7f\xff' * 200))
put('rtcp', 'remb-many-ssrcs', rtcp(15, 206, SSRC + b'REMB' + b'\xff\xff\xff\xff' + b'\0\0\0\1' * 255))
put('rtcp', 'remb-count-lies', rtcp(15, 206, SSRC + b'REMB' + b'\xff\xff\xff\xff'))
put('rtcp', 'bye-reason-lies', rtcp(1, 203, b'\0\0\0\1' + b'\xff' + b'abc'))
put('rtcp', 'fir-empty', rtcp(4, 206, SSRC))
put('rtcp', 'padding-bit-lies', bytes([0xa0, 201]) + struct.pack('!H', 1) + b'\0\0\0\xff')

# ---- SDP (text) -----------------------------------------------------------------------
base = ('v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n'
        'm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n'
        'a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n'
        'a=fingerprint:sha-256 ' + ':'.join(['AB'] * 32) + '\r\na=setup:actpass\r\n'
        'a=sendrecv\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n')
put('sdp', 'huge', base + 'a=x-filler:' + 'y' * 200000 + '\r\n')
put('sdp', 'repeated-rtpmap', base + ''.join('a=rtpmap:%d opus/48000/2\r\n' % (i % 128) for i in range(8000)))
put('sdp', 'repeated-m-lines', base + ''.join('m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:%d\r\n' % i for i in range(500)))
put('sdp', 'no-m-line', 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n')
put('sdp', 'no-ice-credentials', base.replace('a=ice-ufrag:abcd\r\n', '').replace('a=ice-pwd:abcdefghijklmnopqrstuvwx\r\n', ''))
put('sdp', 'nul-bytes-and-bom', '\ufeff'.encode('utf-8').decode('latin-1') + base.replace('a=mid:0', 'a=mid:\0\0'))
put('sdp', 'latin1-and-lone-cr', base.replace('\r\n', '\r').replace('s=-', 's=\xe9\xff'))
put('sdp', 'rtpmap-numbers-overflow', base + 'a=rtpmap:99999999999999999999 opus/4294967296/99\r\na=fmtp:-1 x\r\n')
put('sdp', 'lines-without-equals', base + 'a\r\nm\r\n=\r\n==\r\n')

# ---- VP8 over RTP (records: [flags][seq step][len][payload]) -------------------------
def vp8rec(flags, step, payload):
    return bytes([flags, step & 0xff, len(payload)]) + payload


def key_header(w, h, first_part):
    tag = (first_part << 5) | 0x10  # keyframe (bit 0 = 0), show_frame
    return tag.to_bytes(3, 'little') + b'\x9d\x01\x2a' + struct.pack('<HH', w, h)


put('vp8_rtp', 'keyframe-huge-size', vp8rec(3, 1, b'\x10' + key_header(16383, 16383, 100) + b'\0' * 20))
put('vp8_rtp', 'keyframe-truncated-partition', vp8rec(3, 1, b'\x10' + key_header(64, 64, 5000) + b'\x55' * 40))
put('vp8_rtp', 'keyframe-zero-partition', vp8rec(3, 1, b'\x10' + key_header(64, 64, 0)))
put('vp8_rtp', 'descriptor-x-bit-then-end', vp8rec(1, 1, b'\x90') + vp8rec(1, 1, b'\x90\x80'))
put('vp8_rtp', 'middle-missing',
    vp8rec(2, 1, b'\x10' + key_header(64, 64, 200) + b'\1' * 100) + vp8rec(0, 2, b'\x00' + b'\2' * 100) +
    vp8rec(1, 1, b'\x00' + b'\3' * 100))
put('vp8_rtp', 'interframe-first', vp8rec(3, 1, b'\x10\x01\x02\x03' + b'\x44' * 50))
put('vp8_rtp', 'seq-backwards-repeats', b''.join(vp8rec(1 | (i % 2) * 2, -3 if i % 3 else 1, b'\x10' + key_header(32, 32, 30) + b'\7' * 30) for i in range(40)))
put('vp8_rtp', 'bad-start-code', vp8rec(3, 1, b'\x10' + b'\x50\x00\x00' + b'\x9d\x01\x2b' + b'\x40\0\x40\0' + b'\0' * 30))

# ---- H.264 RTP (records: [flags][seq step][len16][payload]; flags 1 marker, 2 next ts) ----
def h264rec(flags, step, payload):
    return bytes([flags, step & 0xff]) + struct.pack('!H', len(payload)) + payload


SPS = b'\x67\x42\xc0\x1f\xda\x01\x40\x16\xe8\x06\xd0\xa1\x35'
PPS = b'\x68\xce\x06\xe2'


def stap_a(*nals):
    return b'\x18' + b''.join(struct.pack('!H', len(n)) + n for n in nals)


put('h264_rtp', 'fu-a-truncated', h264rec(2, 1, stap_a(SPS, PPS)) +
    h264rec(0, 1, b'\x7c\x85') + h264rec(1, 1, b'\x7c'))
put('h264_rtp', 'fu-a-without-start', h264rec(2, 1, stap_a(SPS, PPS)) +
    h264rec(0, 1, b'\x7c\x05' + b'\x11' * 200) + h264rec(1, 1, b'\x7c\x45' + b'\x22' * 50))
put('h264_rtp', 'fu-a-start-and-end', h264rec(3, 1, b'\x7c\xc5' + b'\x33' * 40))
put('h264_rtp', 'fu-a-two-starts', h264rec(2, 1, b'\x7c\x85' + b'\x44' * 100) +
    h264rec(0, 1, b'\x7c\x85' + b'\x55' * 100) + h264rec(1, 1, b'\x7c\x45' + b'\x66' * 10))
put('h264_rtp', 'stap-a-length-lies', h264rec(3, 1, b'\x18\x00\x0d' + SPS + b'\xff\xf0' + PPS))
put('h264_rtp', 'stap-a-zero-length', h264rec(3, 1, b'\x18\x00\x00\x00\x04' + PPS))
put('h264_rtp', 'stap-a-half-length', h264rec(3, 1, stap_a(SPS) + b'\x00'))
put('h264_rtp', 'stap-a-nested', h264rec(3, 1, stap_a(stap_a(SPS, PPS))))
put('h264_rtp', 'payload-over-mtu', h264rec(3, 1, b'\x65' + b'\x77' * 4000))
put('h264_rtp', 'huge-nal', h264rec(2, 1, stap_a(SPS, PPS)) + h264rec(0, 1, b'\x7c\x85' + b'\x88' * 1400) +
    b''.join(h264rec(0, 1, b'\x7c\x05' + bytes([1 + i % 250]) * 1400) for i in range(300)) +
    h264rec(1, 1, b'\x7c\x45' + b'\x99' * 1400))
put('h264_rtp', 'sps-huge-picture', h264rec(3, 1, stap_a(b'\x67\x42\xc0\x33\xff\xff\xff\xff\xff\xf0', PPS,
                                                      b'\x65\x88\x84' + b'\x00\x11' * 30)))
put('h264_rtp', 'reserved-types', b''.join(h264rec(3, 1, bytes([t]) + b'\x01\x02\x03') for t in (0, 25, 26, 27, 29, 30, 31)))
put('h264_rtp', 'forbidden-bit', h264rec(3, 1, b'\xe5\x01\x02'))
put('h264_rtp', 'seq-backwards-repeats', b''.join(
    h264rec(1 | (i % 2) * 2, -3 if i % 3 else 1, stap_a(SPS, PPS, b'\x65\x88' + bytes([i]) * 30))
    for i in range(40)))

# ---- Opus through the jitter buffer (records: [flags][seq][ts][arr][level][len][payload])
def arec(flags, dseq, dts, darr, level, payload):
    return bytes([flags, dseq & 0xff, dts & 0xff, darr & 0xff, level, len(payload)]) + payload


put('audio', 'code3-count-lies', arec(1, 1, 8, 0, 0xff, b'\x7b\xff\xff\xff') * 10)
put('audio', 'code3-120ms', arec(1, 1, 8, 0, 0x20, b'\x0b\x06' + b'\x55' * 60) * 10)
put('audio', 'code2-length-lies', arec(1, 1, 8, 0, 0x20, b'\x7a\xfc\xff' + b'\1' * 10) * 10)
put('audio', 'padding-lies', arec(1, 1, 8, 0, 0x20, b'\x7b\x41\xff\xff\xff\x01') * 10)
put('audio', 'dtx-and-empty', arec(1, 1, 8, 0, 0x7f, b'\xf8') + arec(1, 1, 8, 0, 0x7f, b'') * 5)
put('audio', 'max-size-0xff', arec(1, 1, 8, 0, 0, b'\xff' * 255) * 4)
put('audio', 'seq-and-ts-jumps', b''.join(arec(i % 2, (-60, 100, 1, -1, 127)[i % 5], (-128, 127, 8, 0)[i % 4], (i * 37) % 256, i % 256, b'\x78' + bytes([i]) * 20) for i in range(200)))
put('audio', 'resets-between', b''.join(arec(3 if i % 7 == 0 else 1, 1, 8, 0, 0x30, b'\x78\x01\x02') for i in range(60)))
put('audio', 'arrival-bursts', b''.join(arec(1 if i % 10 == 9 else 0, 1, 8, -20, 0x30, b'\x78' + b'\x33' * 40) for i in range(120)))

# ---- HTTP bodies (raw) -----------------------------------------------------------------
put('body', 'deep-nesting', '{"name":' + '[' * 5000 + ']' * 5000 + '}')
put('body', 'huge-numbers', '{"name":"r1","max_participants":1e400,"fps":-9223372036854775809}')
put('body', 'invalid-utf8', b'{"name":"\xff\xfe\xc0\xaf"}')
put('body', 'nul-in-string', b'{"name":"ab\\u0000cd","layout":"grid\x00"}')
put('body', 'duplicate-keys', '{"name":"a","name":"b","tiers":[{"width":2,"height":2,"kbps":1}],"tiers":5}')
put('body', 'not-an-object', '[1,2,3]')
put('body', 'tiers-absurd', '{"name":"big","tiers":[{"width":100000,"height":100000,"kbps":-5}]}')
put('body', 'trailing-garbage', '{"name":"x"}garbage')

# ---- JWT (first byte even: the token as is) ---------------------------------------------
import base64


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b'=')


def tok(header, payload, sig=b'A' * 43):
    return b'\0' + b64(header) + b'.' + b64(payload) + b'.' + sig


put('jwt', 'alg-none', tok(b'{"alg":"none","typ":"JWT"}', b'{"room":"r","exp":9999999999}', b''))
put('jwt', 'huge-header', tok(b'{"alg":"HS256","x":"' + b'a' * 20000 + b'"}', b'{}'))
put('jwt', 'bad-base64', b'\0' + b'!!!.@@@.###')
put('jwt', 'short-signature', tok(b'{"alg":"HS256","typ":"JWT"}', b'{"room":"r"}', b'AAAA'))
put('jwt', 'too-many-dots', b'\0a.b.c.d.e')
put('jwt', 'claims-wrong-types', b'\1' + b'{"room":5,"exp":"soon","role":["presenter"],"name":null}')
put('jwt', 'claims-huge-exp', b'\1' + b'{"room":"r","exp":1e308,"iat":-1e308,"role":"presenter"}')
put('jwt', 'claims-nul-room', b'\1' + b'{"room":"r\\u0000oom","exp":9999999999,"role":"attendee"}')
print('bad-input cases written under', HERE)
