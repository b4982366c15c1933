/*
 * DTLS handshakes between two endpoints in one process (datagrams
 * shuttled through queues here), SRTP key export, and SRTP/SRTCP
 * protect/unprotect with both profiles.
 */
#include "tests/unit/check.h"

#include <errno.h>
#include <stdint.h>
#include <time.h>

#include "transport/dtls.h"
#include "transport/srtp.h"

#define Q_MAX 32

/* Datagrams one endpoint sent and the other has not read yet. */
struct queue {
	uint8_t buf[Q_MAX][1500];
	size_t len[Q_MAX];
	int n;
	int overflow;
	size_t biggest;
};

struct ep {
	struct tp_dtls_cert *cert;
	struct tp_dtls *d;
	struct queue out;
	int input_errors;
};

static void q_send(void *arg, const uint8_t *buf, size_t len)
{
	struct queue *q = arg;

	if (len > q->biggest)
		q->biggest = len;
	if (q->n == Q_MAX || len > sizeof(q->buf[0])) {
		q->overflow++;
		return;
	}
	memcpy(q->buf[q->n], buf, len);
	q->len[q->n++] = len;
}

/* Hands everything in from->out to `to`, in order. */
static void deliver(struct ep *from, struct ep *to)
{
	struct queue q = from->out; /* input may queue new datagrams */
	int i;

	from->out.n = 0;
	for (i = 0; i < q.n; i++)
		if (tp_dtls_input(to->d, q.buf[i], q.len[i]))
			to->input_errors++;
}

/* Moves datagrams both ways until nobody has anything to say. */
static void pump(struct ep *a, struct ep *b)
{
	int rounds;

	for (rounds = 0; rounds < 20 && (a->out.n || b->out.n); rounds++) {
		deliver(a, b);
		deliver(b, a);
	}
}

/* Two endpoints with their own certificates; each expects the other's
 * fingerprint unless a wrong one is given. */
static void pair_new(struct ep *srv, struct ep *cli, const char *srv_expects,
		     const char *cli_expects)
{
	memset(srv, 0, sizeof(*srv));
	memset(cli, 0, sizeof(*cli));
	CHECK_EQ(tp_dtls_cert_new(&srv->cert), 0);
	CHECK_EQ(tp_dtls_cert_new(&cli->cert), 0);
	if (!srv->cert || !cli->cert)
		return;
	CHECK_EQ(
	    tp_dtls_new(&srv->d, srv->cert, TP_DTLS_SERVER, "sha-256",
			srv_expects ? srv_expects : tp_dtls_cert_fingerprint(cli->cert),
			q_send, &srv->out),
	    0);
	CHECK_EQ(
	    tp_dtls_new(&cli->d, cli->cert, TP_DTLS_CLIENT, "sha-256",
			cli_expects ? cli_expects : tp_dtls_cert_fingerprint(srv->cert),
			q_send, &cli->out),
	    0);
}

static void pair_free(struct ep *srv, struct ep *cli)
{
	tp_dtls_free(&srv->d);
	tp_dtls_free(&cli->d);
	tp_dtls_cert_free(&srv->cert);
	tp_dtls_cert_free(&cli->cert);
}

static void sleep_us(uint64_t us)
{
	struct timespec ts = {(time_t)(us / 1000000u), (long)(us % 1000000u) * 1000};

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* A wrong but well-formed sha-256 fingerprint. */
static const char wrong_fp[] = "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
			       "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF";

static void certificate_fingerprint_is_uppercase_sha256_with_colons(void)
{
	struct tp_dtls_cert *a = NULL, *b = NULL;
	const char *fp;
	size_t i;

	CHECK_EQ(tp_dtls_cert_new(&a), 0);
	CHECK_EQ(tp_dtls_cert_new(&b), 0);
	fp = tp_dtls_cert_fingerprint(a);
	CHECK(fp != NULL);
	if (fp) {
		CHECK_EQ(strlen(fp), 95);
		for (i = 0; i < strlen(fp); i++) {
			if (i % 3 == 2)
				CHECK(fp[i] == ':');
			else
				CHECK((fp[i] >= '0' && fp[i] <= '9') ||
				      (fp[i] >= 'A' && fp[i] <= 'F'));
		}
		/* Fresh key each time. */
		CHECK(strcmp(fp, tp_dtls_cert_fingerprint(b)) != 0);
	}
	tp_dtls_cert_free(&a);
	tp_dtls_cert_free(&b);
	CHECK(a == NULL);
}

/* A load generator makes one per simulated participant. */
static void hundreds_of_certificates_can_be_made(void)
{
	struct tp_dtls_cert *c = NULL;
	struct queue q = {.n = 0};
	struct tp_dtls *d = NULL;
	int i, fails = 0;

	for (i = 0; i < 300; i++) {
		if (tp_dtls_cert_new(&c) ||
		    tp_dtls_new(&d, c, TP_DTLS_CLIENT, "sha-256", wrong_fp, q_send, &q))
			fails++;
		tp_dtls_free(&d);
		tp_dtls_cert_free(&c);
	}
	CHECK_EQ(fails, 0);
}

static void endpoint_refuses_bad_fingerprint_or_algorithm(void)
{
	struct tp_dtls_cert *c = NULL;
	struct queue q = {.n = 0};
	struct tp_dtls *d = NULL;

	CHECK_EQ(tp_dtls_cert_new(&c), 0);
	CHECK_EQ(tp_dtls_new(&d, c, TP_DTLS_SERVER, "md5", wrong_fp, q_send, &q), EINVAL);
	CHECK_EQ(tp_dtls_new(&d, c, TP_DTLS_SERVER, "sha-1", wrong_fp, q_send, &q),
		 EINVAL);
	CHECK_EQ(tp_dtls_new(&d, c, TP_DTLS_SERVER, "sha-256", "AB:CD", q_send, &q),
		 EINVAL);
	CHECK(d == NULL);
	/* Algorithm names and hex digits are case-insensitive. */
	CHECK_EQ(tp_dtls_new(&d, c, TP_DTLS_SERVER, "SHA-256",
			     "ab:cd:ef:00:11:22:33:44:"
			     "55:66:77:88:99:aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:"
			     "88:99:aa:bb:cc",
			     q_send, &q),
		 0);
	tp_dtls_free(&d);
	tp_dtls_cert_free(&c);
}

static void handshake_completes_and_keys_match_crosswise(void)
{
	uint8_t cl[TP_SRTP_MAX_KEY_LEN], cr[TP_SRTP_MAX_KEY_LEN];
	uint8_t sl[TP_SRTP_MAX_KEY_LEN], sr[TP_SRTP_MAX_KEY_LEN];
	enum tp_srtp_profile cp = 0, sp = 0;
	size_t ckl = 0, skl = 0;
	struct ep srv, cli;

	pair_new(&srv, &cli, NULL, NULL);
	if (!srv.d || !cli.d)
		goto out;
	/* No keys before the handshake. */
	CHECK_EQ(tp_dtls_srtp_keys(cli.d, &cp, cl, cr, &ckl), EINVAL);
	CHECK_EQ(tp_dtls_connect(srv.d), EINVAL);
	CHECK_EQ(tp_dtls_connect(cli.d), 0);
	CHECK(cli.out.n > 0);
	CHECK(tp_dtls_timeout_in(cli.d) != UINT64_MAX);
	pump(&cli, &srv);

	CHECK_EQ(tp_dtls_state(cli.d), TP_DTLS_CONNECTED);
	CHECK_EQ(tp_dtls_state(srv.d), TP_DTLS_CONNECTED);
	CHECK_EQ(cli.input_errors + srv.input_errors, 0);
	CHECK_EQ(cli.out.overflow + srv.out.overflow, 0);
	/* Each datagram fits the 1200-byte MTU. */
	CHECK(srv.out.biggest <= 1200 && cli.out.biggest <= 1200);

	CHECK_EQ(tp_dtls_srtp_keys(cli.d, &cp, cl, cr, &ckl), 0);
	CHECK_EQ(tp_dtls_srtp_keys(srv.d, &sp, sl, sr, &skl), 0);
	CHECK_EQ(cp, TP_SRTP_AEAD_AES_128_GCM);
	CHECK_EQ(sp, TP_SRTP_AEAD_AES_128_GCM);
	CHECK_EQ(ckl, 28);
	CHECK_EQ(skl, 28);
	CHECK(memcmp(cl, sr, 28) == 0);
	CHECK(memcmp(cr, sl, 28) == 0);
	/* Each direction has its own key and its own salt. */
	CHECK(memcmp(cl, cr, 16) != 0);
	CHECK(memcmp(cl + 16, cr + 16, 12) != 0);
out:
	pair_free(&srv, &cli);
}

static void client_refuses_server_with_wrong_fingerprint(void)
{
	struct ep srv, cli;

	pair_new(&srv, &cli, NULL, wrong_fp);
	if (!srv.d || !cli.d)
		goto out;
	CHECK_EQ(tp_dtls_connect(cli.d), 0);
	pump(&cli, &srv);
	CHECK_EQ(tp_dtls_state(cli.d), TP_DTLS_FAILED);
	CHECK(cli.input_errors > 0);
	/* The client's alert ends the server's handshake too. */
	CHECK(tp_dtls_state(srv.d) != TP_DTLS_CONNECTED);
out:
	pair_free(&srv, &cli);
}

static void server_refuses_client_with_wrong_fingerprint(void)
{
	uint8_t l[TP_SRTP_MAX_KEY_LEN], r[TP_SRTP_MAX_KEY_LEN];
	enum tp_srtp_profile p;
	struct ep srv, cli;
	size_t kl;

	pair_new(&srv, &cli, wrong_fp, NULL);
	if (!srv.d || !cli.d)
		goto out;
	CHECK_EQ(tp_dtls_connect(cli.d), 0);
	pump(&cli, &srv);
	CHECK_EQ(tp_dtls_state(srv.d), TP_DTLS_FAILED);
	CHECK(tp_dtls_state(cli.d) != TP_DTLS_CONNECTED);
	CHECK_EQ(tp_dtls_srtp_keys(srv.d, &p, l, r, &kl), EINVAL);
	/* A failed endpoint stays failed. */
	CHECK_EQ(tp_dtls_input(srv.d, (const uint8_t *)"\x16\xfe\xfd", 3), EPROTO);
out:
	pair_free(&srv, &cli);
}

static void dropped_server_flight_is_retransmitted(void)
{
	struct ep srv, cli;
	uint64_t wait;
	int tries;

	pair_new(&srv, &cli, NULL, NULL);
	if (!srv.d || !cli.d)
		goto out;
	CHECK_EQ(tp_dtls_connect(cli.d), 0);
	deliver(&cli, &srv);  /* ClientHello */
	CHECK(srv.out.n > 0); /* ServerHello ... ServerHelloDone */
	srv.out.n = 0;        /* lost */
	deliver(&srv, &cli);
	CHECK_EQ(tp_dtls_state(cli.d), TP_DTLS_HANDSHAKING);

	for (tries = 0; tries < 6 && (tp_dtls_state(cli.d) != TP_DTLS_CONNECTED ||
				      tp_dtls_state(srv.d) != TP_DTLS_CONNECTED);
	     tries++) {
		wait = tp_dtls_timeout_in(srv.d);
		if (tp_dtls_timeout_in(cli.d) < wait)
			wait = tp_dtls_timeout_in(cli.d);
		CHECK(wait != UINT64_MAX);
		if (wait == UINT64_MAX || wait > 5000000u)
			break;
		sleep_us(wait + 1000);
		CHECK_EQ(tp_dtls_timeout(srv.d), 0);
		CHECK_EQ(tp_dtls_timeout(cli.d), 0);
		pump(&cli, &srv);
	}
	CHECK_EQ(tp_dtls_state(cli.d), TP_DTLS_CONNECTED);
	CHECK_EQ(tp_dtls_state(srv.d), TP_DTLS_CONNECTED);
out:
	pair_free(&srv, &cli);
}

static void garbage_during_handshake_is_ignored(void)
{
	static const uint8_t junk[] = {0x16, 0xfe, 0xfd, 0,    0,    0, 0, 0, 0, 0,
				       0,    0,    0,    0x00, 0x05, 1, 2, 3, 4, 5};
	struct ep srv, cli;

	pair_new(&srv, &cli, NULL, NULL);
	if (!srv.d || !cli.d)
		goto out;
	CHECK_EQ(tp_dtls_input(srv.d, junk, sizeof(junk)), 0);
	CHECK_EQ(tp_dtls_state(srv.d), TP_DTLS_HANDSHAKING);
	CHECK_EQ(tp_dtls_connect(cli.d), 0);
	deliver(&cli, &srv);
	CHECK_EQ(tp_dtls_input(cli.d, junk, sizeof(junk)), 0);
	pump(&cli, &srv);
	CHECK_EQ(tp_dtls_state(cli.d), TP_DTLS_CONNECTED);
	CHECK_EQ(tp_dtls_state(srv.d), TP_DTLS_CONNECTED);
out:
	pair_free(&srv, &cli);
}

static void close_notify_closes_the_peer(void)
{
	struct ep srv, cli;

	pair_new(&srv, &cli, NULL, NULL);
	if (!srv.d || !cli.d)
		goto out;
	CHECK_EQ(tp_dtls_connect(cli.d), 0);
	pump(&cli, &srv);
	CHECK_EQ(tp_dtls_state(srv.d), TP_DTLS_CONNECTED);
	tp_dtls_close(cli.d);
	CHECK(cli.out.n > 0);
	deliver(&cli, &srv);
	CHECK_EQ(tp_dtls_state(srv.d), TP_DTLS_CLOSED);
out:
	pair_free(&srv, &cli);
}

/* ---- SRTP ---- */

static const enum tp_srtp_profile profiles[] = {TP_SRTP_AEAD_AES_128_GCM,
						TP_SRTP_AES128_CM_SHA1_80};

struct srtp_pair {
	struct tp_srtp *tx, *rx;
	size_t tag;
};

static void srtp_pair_new(struct srtp_pair *p, enum tp_srtp_profile prof)
{
	uint8_t key[TP_SRTP_MAX_KEY_LEN];
	size_t i, n = tp_srtp_key_len(prof);

	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 7 + 3);
	memset(p, 0, sizeof(*p));
	p->tag = prof == TP_SRTP_AEAD_AES_128_GCM ? 16 : 10;
	CHECK_EQ(tp_srtp_new(&p->tx, prof, key, n, false), 0);
	CHECK_EQ(tp_srtp_new(&p->rx, prof, key, n, true), 0);
}

static void srtp_pair_free(struct srtp_pair *p)
{
	tp_srtp_free(&p->tx);
	tp_srtp_free(&p->rx);
	CHECK(p->tx == NULL && p->rx == NULL);
}

/* An RTP packet: V=2, PT 111, the given seq, SSRC 0x11223344. */
static size_t make_rtp(uint8_t *buf, uint16_t seq, size_t payload)
{
	size_t i;

	buf[0] = 0x80;
	buf[1] = 111;
	buf[2] = (uint8_t)(seq >> 8);
	buf[3] = (uint8_t)seq;
	memcpy(buf + 4, "\x00\x00\x03\xc0\x11\x22\x33\x44", 8);
	for (i = 0; i < payload; i++)
		buf[12 + i] = (uint8_t)(i + seq);
	return 12 + payload;
}

/* An RTCP receiver report with no blocks from SSRC 0x55667788. */
static size_t make_rtcp(uint8_t *buf)
{
	memcpy(buf, "\x80\xc9\x00\x01\x55\x66\x77\x88", 8);
	return 8;
}

static void srtp_key_lengths_follow_the_profile(void)
{
	uint8_t key[TP_SRTP_MAX_KEY_LEN] = {0};
	struct tp_srtp *s = NULL;

	CHECK_EQ(tp_srtp_init(), 0);
	CHECK_EQ(tp_srtp_init(), 0);
	CHECK_EQ(tp_srtp_key_len(TP_SRTP_AES128_CM_SHA1_80), 30);
	CHECK_EQ(tp_srtp_key_len(TP_SRTP_AEAD_AES_128_GCM), 28);
	CHECK_EQ(tp_srtp_key_len((enum tp_srtp_profile)2), 0);
	CHECK_EQ(tp_srtp_new(&s, TP_SRTP_AEAD_AES_128_GCM, key, 30, true), EINVAL);
	CHECK(s == NULL);
}

static void rtp_comes_back_byte_for_byte_with_both_profiles(void)
{
	uint8_t pkt[1500], orig[1500];
	struct srtp_pair p;
	size_t i, n, len;

	for (i = 0; i < 2; i++) {
		srtp_pair_new(&p, profiles[i]);
		if (!p.tx || !p.rx)
			goto next;
		n = make_rtp(orig, 1000, 160);
		memcpy(pkt, orig, n);
		len = n;
		CHECK_EQ(tp_srtp_protect(p.tx, pkt, &len, sizeof(pkt)), 0);
		CHECK_EQ(len, n + p.tag);
		CHECK(memcmp(pkt + 12, orig + 12, n - 12) != 0); /* encrypted */
		CHECK_EQ(tp_srtp_unprotect(p.rx, pkt, &len), 0);
		CHECK_EQ(len, n);
		CHECK(memcmp(pkt, orig, n) == 0);
	next:
		srtp_pair_free(&p);
	}
}

static void rtcp_comes_back_byte_for_byte_with_both_profiles(void)
{
	uint8_t pkt[256], orig[256];
	struct srtp_pair p;
	size_t i, n, len;

	for (i = 0; i < 2; i++) {
		srtp_pair_new(&p, profiles[i]);
		if (!p.tx || !p.rx)
			goto next;
		n = make_rtcp(orig);
		memcpy(pkt, orig, n);
		len = n;
		CHECK_EQ(tp_srtp_protect_rtcp(p.tx, pkt, &len, sizeof(pkt)), 0);
		CHECK_EQ(len, n + p.tag + 4);
		CHECK_EQ(tp_srtp_unprotect_rtcp(p.rx, pkt, &len), 0);
		CHECK_EQ(len, n);
		CHECK(memcmp(pkt, orig, n) == 0);
	next:
		srtp_pair_free(&p);
	}
}

static void flipped_tag_byte_is_refused_as_unauthentic(void)
{
	uint8_t pkt[1500];
	struct srtp_pair p;
	size_t i, len;

	for (i = 0; i < 2; i++) {
		srtp_pair_new(&p, profiles[i]);
		if (!p.tx || !p.rx)
			goto next;
		len = make_rtp(pkt, 7, 100);
		CHECK_EQ(tp_srtp_protect(p.tx, pkt, &len, sizeof(pkt)), 0);
		pkt[len - 1] ^= 0x01;
		CHECK_EQ(tp_srtp_unprotect(p.rx, pkt, &len), EACCES);

		len = make_rtcp(pkt);
		CHECK_EQ(tp_srtp_protect_rtcp(p.tx, pkt, &len, sizeof(pkt)), 0);
		pkt[len - 1] ^= 0x80;
		CHECK_EQ(tp_srtp_unprotect_rtcp(p.rx, pkt, &len), EACCES);
	next:
		srtp_pair_free(&p);
	}
}

static void replayed_packet_is_refused_as_replay(void)
{
	uint8_t pkt[1500], copy[1500];
	struct srtp_pair p;
	size_t i, len, clen;

	for (i = 0; i < 2; i++) {
		srtp_pair_new(&p, profiles[i]);
		if (!p.tx || !p.rx)
			goto next;
		len = make_rtp(pkt, 42, 100);
		CHECK_EQ(tp_srtp_protect(p.tx, pkt, &len, sizeof(pkt)), 0);
		memcpy(copy, pkt, len);
		clen = len;
		CHECK_EQ(tp_srtp_unprotect(p.rx, pkt, &len), 0);
		CHECK_EQ(tp_srtp_unprotect(p.rx, copy, &clen), EALREADY);

		len = make_rtcp(pkt);
		CHECK_EQ(tp_srtp_protect_rtcp(p.tx, pkt, &len, sizeof(pkt)), 0);
		memcpy(copy, pkt, len);
		clen = len;
		CHECK_EQ(tp_srtp_unprotect_rtcp(p.rx, pkt, &len), 0);
		CHECK_EQ(tp_srtp_unprotect_rtcp(p.rx, copy, &clen), EALREADY);
	next:
		srtp_pair_free(&p);
	}
}

static void nack_retransmission_of_the_same_packet_can_be_protected(void)
{
	uint8_t pkt[1500];
	struct srtp_pair p;
	size_t len;

	srtp_pair_new(&p, TP_SRTP_AEAD_AES_128_GCM);
	if (!p.tx || !p.rx)
		goto out;
	len = make_rtp(pkt, 500, 50);
	CHECK_EQ(tp_srtp_protect(p.tx, pkt, &len, sizeof(pkt)), 0);
	CHECK_EQ(tp_srtp_unprotect(p.rx, pkt, &len), 0);
	/* Sent again after a NACK: protecting it again works. */
	len = make_rtp(pkt, 500, 50);
	CHECK_EQ(tp_srtp_protect(p.tx, pkt, &len, sizeof(pkt)), 0);
out:
	srtp_pair_free(&p);
}

static void too_small_buffer_is_refused(void)
{
	uint8_t pkt[1500];
	struct srtp_pair p;
	size_t i, n, len;

	for (i = 0; i < 2; i++) {
		srtp_pair_new(&p, profiles[i]);
		if (!p.tx || !p.rx)
			goto next;
		n = make_rtp(pkt, 9, 100);
		len = n;
		CHECK_EQ(tp_srtp_protect(p.tx, pkt, &len, n + p.tag - 1), ENOSPC);
		CHECK_EQ(len, n);
		CHECK_EQ(tp_srtp_protect(p.tx, pkt, &len, n + p.tag), 0);

		n = make_rtcp(pkt);
		len = n;
		CHECK_EQ(tp_srtp_protect_rtcp(p.tx, pkt, &len, n + p.tag + 3), ENOSPC);
		CHECK_EQ(tp_srtp_protect_rtcp(p.tx, pkt, &len, n + p.tag + 4), 0);
	next:
		srtp_pair_free(&p);
	}
}

static void short_or_misdirected_packets_are_refused(void)
{
	uint8_t pkt[64];
	struct srtp_pair p;
	size_t len;

	srtp_pair_new(&p, TP_SRTP_AEAD_AES_128_GCM);
	if (!p.tx || !p.rx)
		goto out;
	len = make_rtp(pkt, 1, 4);
	CHECK_EQ(tp_srtp_unprotect(p.rx, pkt, &len), EBADMSG);
	len = 5;
	CHECK_EQ(tp_srtp_unprotect_rtcp(p.rx, pkt, &len), EBADMSG);
	/* Protecting with an inbound context is a caller bug. */
	len = make_rtp(pkt, 1, 4);
	CHECK_EQ(tp_srtp_protect(p.rx, pkt, &len, sizeof(pkt)), EINVAL);
out:
	srtp_pair_free(&p);
}

/* End to end: the keys DTLS exports drive SRTP in both directions. */
static void dtls_keys_protect_media_both_ways(void)
{
	uint8_t cl[TP_SRTP_MAX_KEY_LEN], cr[TP_SRTP_MAX_KEY_LEN];
	uint8_t sl[TP_SRTP_MAX_KEY_LEN], sr[TP_SRTP_MAX_KEY_LEN];
	struct tp_srtp *ctx = NULL, *crx = NULL, *stx = NULL, *srx = NULL;
	enum tp_srtp_profile cp = 0, sp = 0;
	uint8_t pkt[1500], orig[1500];
	size_t kl = 0, n, len;
	struct ep srv, cli;

	pair_new(&srv, &cli, NULL, NULL);
	if (!srv.d || !cli.d)
		goto out;
	CHECK_EQ(tp_dtls_connect(cli.d), 0);
	pump(&cli, &srv);
	if (tp_dtls_srtp_keys(cli.d, &cp, cl, cr, &kl) ||
	    tp_dtls_srtp_keys(srv.d, &sp, sl, sr, &kl)) {
		CHECK(0);
		goto out;
	}
	CHECK_EQ(tp_srtp_new(&ctx, cp, cl, kl, false), 0);
	CHECK_EQ(tp_srtp_new(&crx, cp, cr, kl, true), 0);
	CHECK_EQ(tp_srtp_new(&stx, sp, sl, kl, false), 0);
	CHECK_EQ(tp_srtp_new(&srx, sp, sr, kl, true), 0);
	if (!ctx || !crx || !stx || !srx)
		goto out;

	n = make_rtp(orig, 3, 200);
	memcpy(pkt, orig, n);
	len = n;
	CHECK_EQ(tp_srtp_protect(ctx, pkt, &len, sizeof(pkt)), 0);
	CHECK_EQ(tp_srtp_unprotect(srx, pkt, &len), 0);
	CHECK(len == n && memcmp(pkt, orig, n) == 0);

	memcpy(pkt, orig, n);
	len = n;
	CHECK_EQ(tp_srtp_protect(stx, pkt, &len, sizeof(pkt)), 0);
	CHECK_EQ(tp_srtp_unprotect(crx, pkt, &len), 0);
	CHECK(len == n && memcmp(pkt, orig, n) == 0);
out:
	tp_srtp_free(&ctx);
	tp_srtp_free(&crx);
	tp_srtp_free(&stx);
	tp_srtp_free(&srx);
	pair_free(&srv, &cli);
}

int main(void)
{
	RUN(certificate_fingerprint_is_uppercase_sha256_with_colons);
	RUN(hundreds_of_certificates_can_be_made);
	RUN(endpoint_refuses_bad_fingerprint_or_algorithm);
	RUN(handshake_completes_and_keys_match_crosswise);
	RUN(client_refuses_server_with_wrong_fingerprint);
	RUN(server_refuses_client_with_wrong_fingerprint);
	RUN(dropped_server_flight_is_retransmitted);
	RUN(garbage_during_handshake_is_ignored);
	RUN(close_notify_closes_the_peer);
	RUN(srtp_key_lengths_follow_the_profile);
	RUN(rtp_comes_back_byte_for_byte_with_both_profiles);
	RUN(rtcp_comes_back_byte_for_byte_with_both_profiles);
	RUN(flipped_tag_byte_is_refused_as_unauthentic);
	RUN(replayed_packet_is_refused_as_replay);
	RUN(nack_retransmission_of_the_same_packet_can_be_protected);
	RUN(too_small_buffer_is_refused);
	RUN(short_or_misdirected_packets_are_refused);
	RUN(dtls_keys_protect_media_both_ways);
	return check_report();
}
