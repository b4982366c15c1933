/*
 * transport/srtp_tx.c (outbound SRTP with OpenSSL) against libsrtp2:
 * for both profiles, over sequence number wraps, CSRCs and header
 * extensions, retransmissions of older packets and several SSRCs, the
 * packet tutti writes is byte for byte the packet libsrtp2 writes with
 * the same key, and libsrtp2 takes it back.
 */
#include "tests/unit/check.h"

#include <errno.h>
#include <stdint.h>

#include <srtp2/srtp.h>

#include "transport/srtp.h"
#include "transport/srtp_tx.h"
#include "tests/unit/srtp_ref.h"

struct ref {
	srtp_t out, in; /* libsrtp2: protects like tutti does; unprotects */
	struct tp_srtp_tx *tx;
};

static int ref_new(struct ref *r, enum tp_srtp_profile prof, unsigned seed)
{
	uint8_t key[TP_SRTP_MAX_KEY_LEN];
	size_t n = tp_srtp_key_len(prof);

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 31 + seed * 7 + 1);
	memset(r, 0, sizeof(*r));
	CHECK_EQ(tp_srtp_init(), 0);
	if (ref_srtp_new(&r->out, prof, key, false) ||
	    ref_srtp_new(&r->in, prof, key, true))
		return -1;
	return tp_srtp_tx_new(&r->tx, prof, key, n);
}

static void ref_free(struct ref *r)
{
	if (r->out)
		srtp_dealloc(r->out);
	if (r->in)
		srtp_dealloc(r->in);
	tp_srtp_tx_free(&r->tx);
	CHECK(r->tx == NULL);
}

/* An RTP packet with cc CSRCs, and a one-byte-header extension of ext
 * words when ext > 0. */
static size_t make(uint8_t *b, uint32_t ssrc, uint16_t seq, unsigned cc, unsigned ext,
		   size_t payload)
{
	size_t n = 12;

	b[0] = (uint8_t)(0x80 | (ext ? 0x10 : 0) | cc);
	b[1] = 96;
	b[2] = (uint8_t)(seq >> 8);
	b[3] = (uint8_t)seq;
	memcpy(b + 4, "\x12\x34\x56\x78", 4);
	b[8] = (uint8_t)(ssrc >> 24);
	b[9] = (uint8_t)(ssrc >> 16);
	b[10] = (uint8_t)(ssrc >> 8);
	b[11] = (uint8_t)ssrc;
	for (unsigned i = 0; i < cc; i++, n += 4)
		memcpy(b + n, "\xaa\xbb\xcc\x01", 4);
	if (ext) {
		b[n++] = 0xbe;
		b[n++] = 0xde;
		b[n++] = 0;
		b[n++] = (uint8_t)ext;
		for (unsigned i = 0; i < ext * 4; i++)
			b[n++] = (uint8_t)(0x10 + i);
	}
	for (size_t i = 0; i < payload; i++)
		b[n++] = (uint8_t)(i * 13 + seq);
	return n;
}

/* Protects one packet both ways; 1 when they agree and libsrtp2 takes
 * tutti's back, 0 otherwise. */
static int same(struct ref *r, const uint8_t *pkt, size_t n)
{
	uint8_t a[1600], b[1600];
	size_t alen = n;
	int blen = (int)n, ok;

	memcpy(a, pkt, n);
	memcpy(b, pkt, n);
	if (tp_srtp_tx_protect(r->tx, a, &alen, sizeof(a)) ||
	    srtp_protect(r->out, b, &blen) != srtp_err_status_ok)
		return 0;
	ok = alen == (size_t)blen && memcmp(a, b, alen) == 0;
	if (!ok)
		fprintf(stderr, "  differs: seq %u, %zu vs %d bytes\n",
			pkt[2] << 8 | pkt[3], alen, blen);
	blen = (int)alen;
	/* libsrtp refuses a replay: only the first copy of a packet. */
	srtp_err_status_t st = srtp_unprotect(r->in, a, &blen);
	return ok && (st == srtp_err_status_ok || st == srtp_err_status_replay_fail ||
		      st == srtp_err_status_replay_old);
}

static void packets_match_libsrtp_byte_for_byte(void)
{
	static const enum tp_srtp_profile profs[] = {TP_SRTP_AEAD_AES_128_GCM,
						     TP_SRTP_AES128_CM_SHA1_80};
	uint8_t pkt[1600];
	struct ref r;
	int bad = 0, total = 0;

	for (unsigned p = 0; p < 2; p++) {
		if (ref_new(&r, profs[p], p)) {
			CHECK(!"libsrtp2 or srtp_tx set-up failed");
			ref_free(&r);
			continue;
		}
		/* Across a wrap (ROC 0 -> 1 -> 2) with sizes 0..1200. */
		for (uint32_t i = 0; i < 140000; i += 7) {
			uint16_t seq = (uint16_t)(65000 + i);
			size_t n =
			    make(pkt, 0x01020304, seq, i % 3, i % 4, (i * 37) % 1201);
			bad += !same(&r, pkt, n);
			total++;
			/* Now and then a second SSRC and a retransmission. */
			if (i % 301 == 0) {
				n = make(pkt, 0xdeadbeef, (uint16_t)(i / 7), 0, 1, 100);
				bad += !same(&r, pkt, n);
				n = make(pkt, 0x01020304, (uint16_t)(seq - 200), 0, 0,
					 50);
				bad += !same(&r, pkt, n);
				total += 2;
			}
		}
		ref_free(&r);
	}
	printf("  %d packets, %d differ\n", total, bad);
	CHECK_EQ(bad, 0);
	CHECK(total > 40000);
}

static void bad_arguments_and_too_many_ssrcs_are_refused(void)
{
	uint8_t key[TP_SRTP_MAX_KEY_LEN] = {1}, pkt[256];
	struct tp_srtp_tx *t = NULL;
	size_t len;
	int err = 0;

	CHECK_EQ(tp_srtp_tx_new(&t, TP_SRTP_AEAD_AES_128_GCM, key, 30), EINVAL);
	CHECK_EQ(tp_srtp_tx_new(&t, TP_SRTP_AEAD_AES_128_GCM, key, 28), 0);
	if (!t)
		return;
	len = make(pkt, 1, 1, 0, 0, 10);
	CHECK_EQ(tp_srtp_tx_protect(t, pkt, &len, len + 15), ENOSPC);
	pkt[0] = 0x40; /* version 1 */
	CHECK_EQ(tp_srtp_tx_protect(t, pkt, &len, sizeof(pkt)), EINVAL);
	len = make(pkt, 1, 1, 15, 0, 0); /* 15 CSRCs claimed, none there */
	len = 20;
	CHECK_EQ(tp_srtp_tx_protect(t, pkt, &len, sizeof(pkt)), EINVAL);
	/* Each SSRC keeps its own rollover counter; a sender has a few. */
	for (uint32_t ssrc = 1; ssrc <= 17 && !err; ssrc++) {
		len = make(pkt, ssrc, 5, 0, 0, 10);
		err = tp_srtp_tx_protect(t, pkt, &len, sizeof(pkt));
	}
	CHECK_EQ(err, EIO);
	/* A packet from before the first of its SSRC has no index. */
	len = make(pkt, 2, (uint16_t)(5 - 1000), 0, 0, 10);
	CHECK_EQ(tp_srtp_tx_protect(t, pkt, &len, sizeof(pkt)), EIO);
	tp_srtp_tx_free(&t);
	tp_srtp_tx_free(&t);
	CHECK(t == NULL);
}

int main(void)
{
	RUN(packets_match_libsrtp_byte_for_byte);
	RUN(bad_arguments_and_too_many_ssrcs_are_refused);
	return check_report();
}
