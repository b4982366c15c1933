/*
 * The participant of tp_badinput (badinput.c): a WebRTC peer built from
 * tutti's own protocol pieces (STUN, DTLS, SRTP, RTP, RTCP, SDP) that
 * joins a room, connects, sends its media on absolute deadlines and
 * checks what the room sends back.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/common.h"
#include "transport/rtcp.h"
#include "transport/rtp.h"
#include "transport/stun.h"
#include "perf/load/load.h"
#include "tests/interop/badinput.h"

int bi_failures;

void bi_report(bool ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("%s %s", ok ? "ok  " : "FAIL", name);
	if (fmt) {
		printf(" (");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf(")");
	}
	printf("\n");
	fflush(stdout);
	if (!ok)
		bi_failures++;
}

/* ---- HTTP: tutti-load's client (perf/load/http.c) ---- */

int bi_http_do(const struct http_target *t, const char *method, const char *path,
	       const char *ctype, const char *body, struct lg_http_resp *r)
{
	return lg_http(t->host, t->port, NULL, method, path, NULL, ctype, body, r);
}

/* ---- SDP ---- */

static int make_offer(struct peer *p, char *out, size_t cap)
{
	int n = snprintf(out, cap,
			 "v=0\r\n"
			 "o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n"
			 "s=-\r\n"
			 "t=0 0\r\n"
			 "a=group:BUNDLE 0 1\r\n"
			 "a=msid-semantic: WMS badinput\r\n"
			 "m=audio 9 UDP/TLS/RTP/SAVPF %u\r\n"
			 "c=IN IP4 0.0.0.0\r\n"
			 "a=rtcp:9 IN IP4 0.0.0.0\r\n"
			 "a=ice-ufrag:%s\r\n"
			 "a=ice-pwd:%s\r\n"
			 "a=fingerprint:sha-256 %s\r\n"
			 "a=setup:actpass\r\n"
			 "a=mid:0\r\n"
			 "a=sendrecv\r\n"
			 "a=msid:badinput audio0\r\n"
			 "a=rtcp-mux\r\n"
			 "a=rtpmap:%u opus/48000/2\r\n"
			 "a=fmtp:%u minptime=10;useinbandfec=1\r\n"
			 "a=ssrc:%u cname:badinput\r\n"
			 "m=video 9 UDP/TLS/RTP/SAVPF %u\r\n"
			 "c=IN IP4 0.0.0.0\r\n"
			 "a=rtcp:9 IN IP4 0.0.0.0\r\n"
			 "a=ice-ufrag:%s\r\n"
			 "a=ice-pwd:%s\r\n"
			 "a=fingerprint:sha-256 %s\r\n"
			 "a=setup:actpass\r\n"
			 "a=mid:1\r\n"
			 "a=sendrecv\r\n"
			 "a=msid:badinput video0\r\n"
			 "a=rtcp-mux\r\n"
			 "a=rtcp-rsize\r\n"
			 "a=rtpmap:%u VP8/90000\r\n"
			 "a=rtcp-fb:%u nack\r\n"
			 "a=rtcp-fb:%u nack pli\r\n"
			 "a=rtcp-fb:%u ccm fir\r\n"
			 "a=ssrc:%u cname:badinput\r\n",
			 AUDIO_PT, p->ufrag, p->pwd, tp_dtls_cert_fingerprint(p->cert),
			 AUDIO_PT, AUDIO_PT, AUDIO_SSRC, VIDEO_PT, p->ufrag, p->pwd,
			 tp_dtls_cert_fingerprint(p->cert), VIDEO_PT, VIDEO_PT, VIDEO_PT,
			 VIDEO_PT, VIDEO_SSRC);

	return n > 0 && (size_t)n < cap ? 0 : ENOSPC;
}

static int read_answer(struct peer *p, const char *text, size_t len)
{
	struct lg_answer_info a;
	char err[128] = "";
	int e = lg_answer_parse(text, len, &a, err, sizeof(err));

	bi_report(e != EBADMSG, "answer_parses", e == EBADMSG ? "%s" : NULL, err);
	if (e == EBADMSG)
		return e;
	snprintf(p->srv_ufrag, sizeof(p->srv_ufrag), "%s", a.ufrag);
	snprintf(p->srv_pwd, sizeof(p->srv_pwd), "%s", a.pwd);
	snprintf(p->srv_fp_alg, sizeof(p->srv_fp_alg), "%s", a.fp_alg);
	snprintf(p->srv_fp, sizeof(p->srv_fp), "%s", a.fp);
	memcpy(p->srv_ssrc, a.ssrc, sizeof(p->srv_ssrc));
	bi_report(!a.bad_setup[0], "answer_setup_passive", "a=setup:%s",
		  a.bad_setup[0] ? a.bad_setup : "passive");
	bi_report(true, "answer_has_ice_credentials", NULL);
	bi_report(!strcasecmp(p->srv_fp_alg, "sha-256") && strlen(p->srv_fp) == 95,
		  "answer_has_sha256_fingerprint", "%s %s", p->srv_fp_alg, p->srv_fp);
	bi_report(p->srv_ssrc[0] && p->srv_ssrc[1], "answer_has_server_ssrcs",
		  "audio %u video %u", p->srv_ssrc[0], p->srv_ssrc[1]);
	bi_report(!e, "answer_has_udp_candidate", "%s:%u", inet_ntoa(a.media.sin_addr),
		  ntohs(a.media.sin_port));
	p->media = a.media;
	return e;
}

/* ---- datagrams ---- */

void bi_udp_send(int fd, const struct sockaddr_in *to, const uint8_t *buf, size_t len)
{
	(void)sendto(fd, buf, len, 0, (const struct sockaddr *)to, sizeof(*to));
}

static void dtls_send(void *arg, const uint8_t *buf, size_t len)
{
	struct peer *p = arg;

	bi_udp_send(p->fd, &p->media, buf, len);
}

void bi_dtls2_send(void *arg, const uint8_t *buf, size_t len)
{
	struct peer *p = arg;

	bi_udp_send(p->fd2, &p->media, buf, len);
}

/* A binding request with the given password (NULL: the right one). */
void bi_send_stun(struct peer *p, const char *pwd, bool fingerprint)
{
	char user[600];
	uint8_t buf[512], *tid = p->tids[p->n_tid++ % N_TIDS];
	struct tp_stun_request req = {
	    .tid = tid,
	    .username = user,
	    .priority = 0x6e7f00ff,
	    .use_candidate = true,
	    .controlling = true,
	    .tiebreaker = 0x0123456789abcdefull,
	    .fingerprint = fingerprint,
	};
	size_t n;

	pwd = pwd ? pwd : p->srv_pwd;
	req.key = (const uint8_t *)pwd;
	req.keylen = strlen(pwd);
	cm_random(tid, 12);
	snprintf(user, sizeof(user), "%s:%s", p->srv_ufrag, p->ufrag);
	if (tp_stun_build_request(buf, sizeof(buf), &n, &req) == 0)
		bi_udp_send(p->fd, &p->media, buf, n);
}

static void on_stun(struct peer *p, const uint8_t *buf, size_t len)
{
	struct tp_stun_msg m;
	unsigned i;

	if (tp_stun_parse(&m, buf, len) || m.type != TP_STUN_BINDING_SUCCESS) {
		p->stun_other++;
		return;
	}
	for (i = 0; i < N_TIDS; i++)
		if (!memcmp(p->tids[i], m.tid, 12))
			break;
	/* The server signs its answer with its own password. */
	if (i == N_TIDS || !m.has_fingerprint ||
	    tp_stun_check_integrity(&m, buf, len, (const uint8_t *)p->srv_pwd,
				    strlen(p->srv_pwd))) {
		p->stun_other++;
		return;
	}
	p->stun_ok++;
}

/* Payload bytes: a kind byte, the counter, then bytes derived from it,
 * so an echo can be checked whole. */
size_t bi_make_payload(uint8_t *out, int kind, uint32_t counter)
{
	size_t i, n = kind ? VIDEO_LEN : AUDIO_LEN;

	out[0] = kind ? 0x10 : 0xfc; /* VP8 descriptor S bit / an Opus TOC */
	cm_wr32(out + 1, counter);
	for (i = 5; i < n; i++)
		out[i] = (uint8_t)(counter * 31u + i * 7u);
	return n;
}

/* Builds and protects the next packet of kind (0 audio, 1 video). */
int bi_build_media(struct peer *p, int kind, uint8_t *buf, size_t *len)
{
	uint8_t payload[VIDEO_LEN];
	struct tp_rtp_hdr h = {
	    .marker = kind == 1,
	    .pt = kind ? VIDEO_PT : AUDIO_PT,
	    .seq = p->seq[kind]++,
	    .ts = p->sent[kind] * (kind ? 6000u : 960u),
	    .ssrc = kind ? VIDEO_SSRC : AUDIO_SSRC,
	};
	size_t plen = bi_make_payload(payload, kind, p->counter++);

	if (tp_rtp_write(buf, PKT_CAP, len, &h, payload, plen))
		return EINVAL;
	return tp_srtp_protect(p->tx, buf, len, PKT_CAP);
}

static void send_media(struct peer *p, int kind)
{
	uint8_t buf[PKT_CAP];
	size_t len;

	if (bi_build_media(p, kind, buf, &len))
		return;
	bi_udp_send(p->fd, &p->media, buf, len);
	p->sent[kind]++;
	if (kind == 0) {
		memcpy(p->replay, buf, len);
		p->replay_len = len;
	}
}

static void send_rtcp(struct peer *p)
{
	uint8_t buf[PKT_CAP];
	size_t n = 0, k;

	if (tp_rtcp_write_sr(buf, sizeof(buf), &n, AUDIO_SSRC, cm_ntp_now(),
			     p->sent[0] * 960u, p->sent[0], p->sent[0] * AUDIO_LEN, NULL,
			     0) ||
	    tp_rtcp_write_sdes(buf + n, sizeof(buf) - n, &k, AUDIO_SSRC, "badinput"))
		return;
	n += k;
	if (tp_srtp_protect_rtcp(p->tx, buf, &n, sizeof(buf)) == 0)
		bi_udp_send(p->fd, &p->media, buf, n);
}

static void on_srtp(struct peer *p, uint8_t *buf, size_t len)
{
	struct tp_rtp_hdr h;
	size_t n = len;
	int kind;

	if (tp_rtp_is_rtcp(buf, len)) {
		if (tp_srtp_unprotect_rtcp(p->rx, buf, &n))
			p->srtp_fail++;
		else
			p->rtcp_in++;
		return;
	}
	if (tp_srtp_unprotect(p->rx, buf, &n)) {
		p->srtp_fail++;
		return;
	}
	if (tp_rtp_parse(&h, buf, n) ||
	    (h.ssrc != p->srv_ssrc[0] && h.ssrc != p->srv_ssrc[1])) {
		p->echo_foreign++;
		return;
	}
	/* The room sends its own media (the mix, the composite): check
	 * that it decrypts and carries the negotiated payload types. */
	kind = h.ssrc == p->srv_ssrc[1];
	if (!h.payload_len || h.pt != (kind ? VIDEO_PT : AUDIO_PT)) {
		p->echo_bad++;
		return;
	}
	p->echo_ok[kind]++;
}

static void on_datagram(struct peer *p, uint8_t *buf, size_t len)
{
	if (!len)
		return;
	if (buf[0] <= 3)
		on_stun(p, buf, len);
	else if (buf[0] >= 20 && buf[0] <= 63)
		(void)tp_dtls_input(p->dtls, buf, len);
	else if (buf[0] >= 128 && buf[0] <= 191 && p->rx)
		on_srtp(p, buf, len);
}

static void drain(struct peer *p)
{
	uint8_t buf[PKT_CAP];
	struct sockaddr_in from;
	socklen_t fl;
	ssize_t n;

	for (;;) {
		fl = sizeof(from);
		n = recvfrom(p->fd, buf, sizeof(buf), MSG_DONTWAIT,
			     (struct sockaddr *)&from, &fl);
		if (n < 0)
			break;
		if (from.sin_port == p->media.sin_port &&
		    from.sin_addr.s_addr == p->media.sin_addr.s_addr)
			on_datagram(p, buf, (size_t)n);
	}
	/* The intruder socket gets nothing it needs. */
	while (p->fd2 >= 0 && recv(p->fd2, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		;
}

/*
 * Runs the participant for dur_us: media on absolute deadlines (once
 * media is on), consent checks, DTLS timers, and everything that
 * arrives. until (optional) ends it early when it returns true.
 */
void bi_run(struct peer *p, uint64_t dur_us, bool media, bool (*until)(struct peer *p))
{
	uint64_t now = cm_now_us(), end = now + dur_us, next;
	struct pollfd pfd[2] = {{.fd = p->fd, .events = POLLIN},
				{.fd = p->fd2, .events = POLLIN}};
	int k;

	while ((now = cm_now_us()) < end) {
		if (until && until(p))
			return;
		if (media && p->tx) {
			for (k = 0; k < 2; k++) {
				if (!p->next_us[k])
					p->next_us[k] = now;
				while (p->next_us[k] <= now) {
					send_media(p, k);
					p->next_us[k] +=
					    k ? VIDEO_PERIOD_US : AUDIO_PERIOD_US;
				}
			}
			if (p->next_rtcp_us <= now) {
				send_rtcp(p);
				p->next_rtcp_us = now + RTCP_PERIOD_US;
			}
		}
		if (p->next_stun_us && p->next_stun_us <= now) {
			bi_send_stun(p, NULL, true);
			p->next_stun_us = now + STUN_PERIOD_US;
		}
		if (p->dtls && tp_dtls_timeout_in(p->dtls) == 0)
			(void)tp_dtls_timeout(p->dtls);

		next = end;
		if (media && p->tx)
			next = CM_MIN(next, CM_MIN(p->next_us[0], p->next_us[1]));
		if (p->next_stun_us)
			next = CM_MIN(next, p->next_stun_us);
		if (p->dtls && tp_dtls_timeout_in(p->dtls) != UINT64_MAX)
			next = CM_MIN(next, now + tp_dtls_timeout_in(p->dtls));
		next = CM_MIN(next, now + 20000); /* re-check `until` */
		if (poll(pfd, p->fd2 >= 0 ? 2 : 1,
			 next > now ? (int)((next - now + 999) / 1000) : 0) > 0)
			drain(p);
	}
}

static bool stun_answered(struct peer *p)
{
	return p->stun_ok > 0;
}

static bool dtls_done(struct peer *p)
{
	return tp_dtls_state(p->dtls) != TP_DTLS_HANDSHAKING;
}

/* ---- setup ---- */

int bi_parse_http(const char *s, struct http_target *t)
{
	const char *colon;
	size_t n;
	unsigned port;

	if (!strncmp(s, "http://", 7))
		s += 7;
	colon = strrchr(s, ':');
	if (!colon || (n = (size_t)(colon - s)) == 0 || n >= sizeof(t->host) ||
	    sscanf(colon + 1, "%u", &port) != 1 || !port || port > 65535)
		return EINVAL;
	memcpy(t->host, s, n);
	t->host[n] = '\0';
	t->port = (uint16_t)port;
	return 0;
}

static int udp_socket(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int bi_join(struct peer *p, const char *room)
{
	static struct lg_http_resp r;
	static char offer[8192];
	char path[256];

	if (make_offer(p, offer, sizeof(offer)))
		return ENOSPC;
	snprintf(path, sizeof(path), "/api/v1/rooms/%s/join", room);
	if (bi_http_do(&p->http, "POST", path, "application/sdp", offer, &r)) {
		bi_report(false, "join_answers_201", "no HTTP answer from %s:%u",
			  p->http.host, p->http.port);
		return EIO;
	}
	bi_report(r.status == 201, "join_answers_201", "status %d", r.status);
	bi_report(r.location[0] != '\0', "join_gives_location", "%s", r.location);
	snprintf(p->location, sizeof(p->location), "%s", r.location);
	if (r.status != 201)
		return EPROTO;
	return read_answer(p, r.body, r.body_len);
}

int bi_connect_media(struct peer *p)
{
	uint8_t local[TP_SRTP_MAX_KEY_LEN], remote[TP_SRTP_MAX_KEY_LEN];
	enum tp_srtp_profile prof = 0;
	size_t klen = 0;
	int err, i;

	p->fd = udp_socket();
	p->fd2 = udp_socket();
	if (p->fd < 0 || p->fd2 < 0)
		return EIO;

	/* Retransmit the first check quickly; consent checks come later. */
	for (i = 0; i < 15 && !p->stun_ok; i++) {
		bi_send_stun(p, NULL, true);
		bi_run(p, 200000, false, stun_answered);
	}
	p->next_stun_us = cm_now_us() + STUN_PERIOD_US;
	bi_report(p->stun_ok > 0, "stun_binding_succeeds", "%u answers", p->stun_ok);
	if (!p->stun_ok)
		return EPROTO;

	err = tp_dtls_new(&p->dtls, p->cert, TP_DTLS_CLIENT, p->srv_fp_alg, p->srv_fp,
			  dtls_send, p);
	if (!err)
		err = tp_dtls_connect(p->dtls);
	if (!err)
		bi_run(p, 5000000, false, dtls_done);
	bi_report(!err && tp_dtls_state(p->dtls) == TP_DTLS_CONNECTED,
		  "dtls_handshake_completes", "state %d",
		  p->dtls ? (int)tp_dtls_state(p->dtls) : -1);
	if (err || tp_dtls_state(p->dtls) != TP_DTLS_CONNECTED)
		return EPROTO;

	err = tp_dtls_srtp_keys(p->dtls, &prof, local, remote, &klen);
	if (!err)
		err = tp_srtp_new(&p->tx, prof, local, klen, false);
	if (!err)
		err = tp_srtp_new(&p->rx, prof, remote, klen, true);
	bi_report(!err, "srtp_keys_exported",
		  prof == TP_SRTP_AEAD_AES_128_GCM ? "AEAD_AES_128_GCM"
						   : "AES128_CM_SHA1_80");
	return err;
}

/* Media for dur_us; reports whether the room's media keeps coming and
 * decrypting. Alone in a room, the audio is this peer's N-1 mix (silence,
 * mostly DTX) and the video the composite (sent at least twice a second),
 * so it is the video that must flow. */
void bi_check_media(struct peer *p, const char *name, uint64_t dur_us)
{
	unsigned a = p->echo_ok[0], v = p->echo_ok[1], bad = p->echo_bad;
	unsigned fail = p->srtp_fail;

	bi_run(p, dur_us, true, NULL);
	a = p->echo_ok[0] - a;
	v = p->echo_ok[1] - v;
	bi_report(
	    v > 0 && p->echo_bad == bad && p->srtp_fail == fail, name,
	    "audio %u video %u packets from the room, %u wrong, %u srtp bi_failures", a,
	    v, p->echo_bad - bad, p->srtp_fail - fail);
}

/* DELETE the participant URL; informative only (not a check). */
void bi_leave(struct peer *p)
{
	static struct lg_http_resp r;
	const char *path = p->location, *slash;

	if (!path[0])
		return;
	if (!strncmp(path, "http://", 7) || !strncmp(path, "https://", 8)) {
		slash = strchr(strstr(path, "//") + 2, '/');
		if (!slash)
			return;
		path = slash;
	}
	if (bi_http_do(&p->http, "DELETE", path, NULL, NULL, &r))
		printf("info leave: DELETE %s got no answer\n", path);
	else
		printf("info leave: DELETE %s -> %d\n", path, r.status);
}
