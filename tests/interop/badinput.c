/*
 * tp_badinput: a WebRTC participant built from tutti's own protocol
 * pieces (STUN, DTLS, SRTP, RTP, RTCP, SDP) that joins a room, checks that
 * the room sends it media (its mix and the composite), then throws bad datagrams at the
 * media port and checks through GET /metrics that each one was dropped
 * and counted under the right reason, and that the session survived.
 *
 *   tp_badinput --http 127.0.0.1:PORT [--room demo]
 *
 * Without --http it reads TUTTI_URL (http://127.0.0.1:PORT), as set by
 * run_with_server.sh. Prints one line per check; exits 0 only if all pass.
 *
 * This file holds the bad inputs, the drop counters they must move and
 * the order of the checks; the participant itself is badinput_peer.c.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"
#include "transport/rtp.h"
#include "perf/load/load.h"
#include "tests/interop/badinput.h"

static const char *const drop_names[] = {
    "unknown_kind",      "stun_malformed",     "stun_not_request",    "stun_unknown_user",
    "stun_no_integrity", "stun_bad_integrity", "stun_no_fingerprint", "unknown_addr",
    "dtls_error",        "not_ready",          "srtp_auth",           "srtp_replay",
    "srtp_other",        "rtp_malformed",      "rtcp_malformed",      "unknown_pt",
    "unknown_ssrc",
};
#define N_DROPS (sizeof(drop_names) / sizeof(drop_names[0]))

/* Every drop counter from GET /metrics; an absent one counts as 0.
 * Returns 0, or -1 if /metrics did not answer 200. */
static int read_drops(const struct http_target *t, double *v)
{
	static struct lg_http_resp r;
	char key[128];
	const char *p;
	size_t i;

	if (bi_http_do(t, "GET", "/metrics", NULL, NULL, &r) || r.status != 200)
		return -1;
	for (i = 0; i < N_DROPS; i++) {
		snprintf(key, sizeof(key), METRIC_PREFIX "%s\"}", drop_names[i]);
		v[i] = 0;
		for (p = r.body; (p = strstr(p, key)); p += strlen(key))
			if (p == r.body || p[-1] == '\n') {
				v[i] = strtod(p + strlen(key), NULL);
				break;
			}
	}
	return 0;
}

static size_t drop_index(const char *name)
{
	size_t i;

	for (i = 0; i < N_DROPS && strcmp(drop_names[i], name); i++)
		;
	return i;
}

/* ---- the bad inputs ---- */

typedef void(bad_fn)(struct peer *p);

/*
 * Sends a bad input and waits (up to 2 s, media flowing) until one of
 * the reasons (NULL-terminated) counts more than before; no other drop
 * counter may move meanwhile (the good media must not be dropped).
 */
static void expect_drop(struct peer *p, const char *name, bad_fn *send_bad,
			const char *const *reasons)
{
	double before[N_DROPS], after[N_DROPS];
	char others[256] = "";
	uint64_t end;
	size_t i, k, o = 0;
	int grew = -1;

	if (read_drops(&p->http, before)) {
		bi_report(false, name, "GET /metrics failed");
		return;
	}
	send_bad(p);
	end = cm_now_us() + 2000000;
	while (grew < 0 && cm_now_us() < end) {
		bi_run(p, 100000, true, NULL);
		if (read_drops(&p->http, after))
			continue;
		for (i = 0; reasons[i] && grew < 0; i++) {
			k = drop_index(reasons[i]);
			if (k < N_DROPS && after[k] > before[k])
				grew = (int)k;
		}
	}
	if (grew < 0) {
		k = drop_index(reasons[0]);
		bi_report(false, name, "%s stayed at %.0f", reasons[0],
			  k < N_DROPS ? before[k] : -1.0);
		return;
	}
	for (i = 0; i < N_DROPS; i++)
		if ((int)i != grew && after[i] != before[i] && o < sizeof(others) - 40)
			o += (size_t)snprintf(others + o, sizeof(others) - o,
					      " %s %.0f -> %.0f", drop_names[i],
					      before[i], after[i]);
	bi_report(!others[0], name, "%s %.0f -> %.0f%s%s", drop_names[grew], before[grew],
		  after[grew], others[0] ? "; also moved:" : "", others);
}

static void bad_garbage(struct peer *p)
{
	uint8_t buf[64];

	memset(buf, 0xff, sizeof(buf));
	bi_udp_send(p->fd, &p->media, buf, sizeof(buf));
}

static void bad_short_rtp(struct peer *p)
{
	uint8_t buf[7];

	cm_random(buf, sizeof(buf));
	buf[0] = 0x80;
	buf[1] = AUDIO_PT;
	bi_udp_send(p->fd, &p->media, buf, sizeof(buf));
}

static void bad_stun_password(struct peer *p)
{
	bi_send_stun(p, "not-the-server-password", true);
}

static void bad_stun_no_fingerprint(struct peer *p)
{
	bi_send_stun(p, NULL, false);
}

static void bad_dtls_stranger(struct peer *p)
{
	tp_dtls_free(&p->dtls2);
	if (tp_dtls_new(&p->dtls2, p->cert, TP_DTLS_CLIENT, p->srv_fp_alg, p->srv_fp,
			bi_dtls2_send, p) == 0)
		(void)tp_dtls_connect(p->dtls2); /* the ClientHello */
}

static void bad_srtp_tag(struct peer *p)
{
	uint8_t buf[PKT_CAP];
	size_t len;

	if (bi_build_media(p, 0, buf, &len))
		return;
	buf[len - 1] ^= 0x5a;
	bi_udp_send(p->fd, &p->media, buf, len);
}

/* A correctly protected packet, but with an SSRC the offer did not
 * announce (as if smuggling a second stream into the room). */
static void bad_foreign_ssrc(struct peer *p)
{
	uint8_t payload[AUDIO_LEN + 8], buf[PKT_CAP];
	struct tp_rtp_hdr h = {
	    .pt = AUDIO_PT, .seq = 777, .ts = 4242, .ssrc = 0x0badcafe};
	size_t len, plen = bi_make_payload(payload, 0, 99);

	if (tp_rtp_write(buf, PKT_CAP, &len, &h, payload, plen) ||
	    tp_srtp_protect(p->tx, buf, &len, PKT_CAP))
		return;
	bi_udp_send(p->fd, &p->media, buf, len);
}

static void bad_srtp_replay(struct peer *p)
{
	if (p->replay_len)
		bi_udp_send(p->fd, &p->media, p->replay, p->replay_len);
}

int main(int argc, char **argv)
{
	static const char *const r_kind[] = {"unknown_kind", NULL};
	static const char *const r_short[] = {"srtp_other", "rtp_malformed", NULL};
	static const char *const r_pwd[] = {"stun_bad_integrity", NULL};
	static const char *const r_fp[] = {"stun_no_fingerprint", NULL};
	static const char *const r_addr[] = {"unknown_addr", NULL};
	static const char *const r_auth[] = {"srtp_auth", NULL};
	static const char *const r_replay[] = {"srtp_replay", NULL};
	static const char *const r_ssrc[] = {"unknown_ssrc", NULL};
	static struct peer peer;
	struct peer *p = &peer;
	const char *http = getenv("TUTTI_URL"), *room = "demo";
	unsigned stun_before;
	int i;

	for (i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--http"))
			http = argv[i + 1];
		else if (!strcmp(argv[i], "--room"))
			room = argv[i + 1];
		else
			break;
	}
	if (i != argc || !http || bi_parse_http(http, &p->http)) {
		fprintf(stderr, "usage: %s --http 127.0.0.1:PORT [--room demo]\n",
			argv[0]);
		return 2;
	}
	p->fd = p->fd2 = -1;
	cm_random_token(p->ufrag, 8);
	cm_random_token(p->pwd, 24);
	if (tp_srtp_init() || tp_dtls_cert_new(&p->cert)) {
		fprintf(stderr, "badinput: cannot make a certificate\n");
		return 2;
	}
	if (bi_join(p, room) || bi_connect_media(p)) {
		if (!bi_failures)
			bi_report(false, "setup", NULL);
		goto out;
	}

	bi_check_media(p, "room_media_arrives", 2000000);

	expect_drop(p, "garbage_datagram_counts_unknown_kind", bad_garbage, r_kind);
	expect_drop(p, "short_rtp_counts_srtp_other_or_rtp_malformed", bad_short_rtp,
		    r_short);
	expect_drop(p, "stun_wrong_password_counts_bad_integrity", bad_stun_password,
		    r_pwd);
	expect_drop(p, "stun_without_fingerprint_counts_no_fingerprint",
		    bad_stun_no_fingerprint, r_fp);
	expect_drop(p, "dtls_from_stranger_counts_unknown_addr", bad_dtls_stranger,
		    r_addr);
	expect_drop(p, "srtp_flipped_tag_counts_srtp_auth", bad_srtp_tag, r_auth);
	expect_drop(p, "srtp_replay_counts_srtp_replay", bad_srtp_replay, r_replay);
	expect_drop(p, "unannounced_ssrc_counts_unknown_ssrc", bad_foreign_ssrc, r_ssrc);

	bi_check_media(p, "room_media_survives_bad_input", 1500000);
	stun_before = p->stun_ok;
	p->next_stun_us = cm_now_us();
	bi_run(p, 1000000, true, NULL);
	bi_report(p->stun_ok > stun_before, "consent_checks_still_succeed", "%u answers",
		  p->stun_ok - stun_before);
	bi_report(tp_dtls_state(p->dtls) == TP_DTLS_CONNECTED, "dtls_still_connected",
		  NULL);
	printf("info %u RTCP packets from the server, %u foreign RTP, %u other STUN\n",
	       p->rtcp_in, p->echo_foreign, p->stun_other);
out:
	bi_leave(p);
	if (p->dtls)
		tp_dtls_close(p->dtls);
	tp_dtls_free(&p->dtls);
	tp_dtls_free(&p->dtls2);
	tp_srtp_free(&p->tx);
	tp_srtp_free(&p->rx);
	tp_dtls_cert_free(&p->cert);
	if (p->fd >= 0)
		close(p->fd);
	if (p->fd2 >= 0)
		close(p->fd2);
	printf("%s\n", bi_failures ? "badinput: FAILED" : "badinput: all checks passed");
	return bi_failures ? 1 : 0;
}
