/*
 * RTCP: compound and reduced-size walking, every feedback type tutti
 * reads, writer round trips, and lying lengths and counts.
 */
#include <errno.h>

#include "common/common.h"
#include "transport/rtcp.h"
#include "check.h"

/* Walks buf; stores up to max packets; returns the final status (ENOENT
 * after a clean walk) and the count in *n. */
static int walk(const uint8_t *buf, size_t len, struct tp_rtcp_pkt *p, size_t max,
		size_t *n)
{
	struct tp_rtcp_iter it;
	struct tp_rtcp_pkt tmp;
	int err;

	*n = 0;
	tp_rtcp_iter_init(&it, buf, len);
	while ((err = tp_rtcp_next(&it, *n < max ? &p[*n] : &tmp)) == 0)
		(*n)++;
	return err;
}

static const struct tp_rtcp_rb rb2[2] = {
    {0x11111111, 25, 1000, 0x00012345, 40, 0xaabbccdd, 65536},
    {0x22222222, 255, -3, 70000, 0, 0, 0}, /* duplicates: negative loss */
};

static void rtcp_sr_with_sdes_compound_gives_both_packets(void)
{
	uint8_t buf[256];
	size_t n = 0, m = 0, np;
	struct tp_rtcp_pkt p[3];

	CHECK_EQ(tp_rtcp_write_sr(buf, sizeof(buf), &n, 0xcafe0001, 0x0102030405060708ull,
				  90000, 10, 1200, rb2, 2),
		 0);
	CHECK_EQ(n, 28 + 48);
	CHECK_EQ(
	    tp_rtcp_write_sdes(buf + n, sizeof(buf) - n, &m, 0xcafe0001, "tutti-abc"), 0);
	CHECK_EQ(m % 4, 0);
	CHECK_EQ(walk(buf, n + m, p, 3, &np), ENOENT);
	CHECK_EQ(np, 2);
	CHECK_EQ(p[0].kind, TP_RTCP_K_SR);
	CHECK_EQ(p[0].sender_ssrc, 0xcafe0001);
	CHECK(p[0].u.sr.ntp == 0x0102030405060708ull);
	CHECK_EQ(p[0].u.sr.rtp_ts, 90000);
	CHECK_EQ(p[0].u.sr.pkt_count, 10);
	CHECK_EQ(p[0].u.sr.octet_count, 1200);
	CHECK_EQ(p[0].n_rb, 2);
	CHECK_EQ(p[0].rb[0].ssrc, rb2[0].ssrc);
	CHECK_EQ(p[0].rb[0].fraction_lost, rb2[0].fraction_lost);
	CHECK_EQ(p[0].rb[0].cum_lost, rb2[0].cum_lost);
	CHECK_EQ(p[0].rb[0].ext_high_seq, rb2[0].ext_high_seq);
	CHECK_EQ(p[0].rb[0].jitter, rb2[0].jitter);
	CHECK_EQ(p[0].rb[0].lsr, rb2[0].lsr);
	CHECK_EQ(p[0].rb[0].dlsr, rb2[0].dlsr);
	CHECK_EQ(p[0].rb[1].cum_lost, -3);
	CHECK_EQ(p[0].rb[1].fraction_lost, 255);
	CHECK_EQ(p[0].rb[1].ext_high_seq, 70000);
	CHECK_EQ(p[1].kind, TP_RTCP_K_SDES);
	CHECK_EQ(p[1].sender_ssrc, 0xcafe0001);
	/* the CNAME item is there, NUL-terminated list after it */
	CHECK_EQ(buf[n + 8], 1);
	CHECK_EQ(buf[n + 9], 9);
	CHECK(memcmp(buf + n + 10, "tutti-abc", 9) == 0);
	CHECK_EQ(buf[n + 19], 0);
}

static void rtcp_rr_with_remb_compound_gives_both_packets(void)
{
	uint8_t buf[256];
	size_t n = 0, m = 0, np;
	uint32_t ssrcs[2] = {0xa1, 0xb2};
	struct tp_rtcp_pkt p[2];

	CHECK_EQ(tp_rtcp_write_rr(buf, sizeof(buf), &n, 0x5150, rb2, 1), 0);
	CHECK_EQ(n, 32);
	CHECK_EQ(
	    tp_rtcp_write_remb(buf + n, sizeof(buf) - n, &m, 0x5150, 1500000, ssrcs, 2),
	    0);
	CHECK_EQ(m, 28);
	CHECK_EQ(walk(buf, n + m, p, 2, &np), ENOENT);
	CHECK_EQ(np, 2);
	CHECK_EQ(p[0].kind, TP_RTCP_K_RR);
	CHECK_EQ(p[0].sender_ssrc, 0x5150);
	CHECK_EQ(p[0].n_rb, 1);
	CHECK_EQ(p[0].rb[0].dlsr, 65536);
	CHECK_EQ(p[1].kind, TP_RTCP_K_REMB);
	CHECK_EQ(p[1].pt, TP_RTCP_PSFB);
	CHECK_EQ(p[1].fmt, 15);
	CHECK_EQ(p[1].u.remb.bitrate, 1500000);
	CHECK_EQ(p[1].u.remb.n_ssrc, 2);
	CHECK_EQ(p[1].u.remb.ssrc[1], 0xb2);
}

static void rtcp_reduced_size_lone_pli_parses(void)
{
	uint8_t buf[12];
	size_t n = 0, np;
	struct tp_rtcp_pkt p;

	CHECK_EQ(tp_rtcp_write_pli(buf, sizeof(buf), &n, 1, 2), 0);
	CHECK_EQ(n, 12);
	CHECK_EQ(walk(buf, n, &p, 1, &np), ENOENT);
	CHECK_EQ(np, 1);
	CHECK_EQ(p.kind, TP_RTCP_K_PLI);
	CHECK_EQ(p.sender_ssrc, 1);
	CHECK_EQ(p.media_ssrc, 2);
	CHECK_EQ(tp_rtcp_write_pli(buf, 11, &n, 1, 2), ENOSPC);
}

static void rtcp_nack_round_trip_packs_nearby_seqs_into_one_entry(void)
{
	const uint16_t lost[] = {100, 101, 105, 116, 117, 200, 65535, 0, 3};
	uint16_t got[32];
	uint8_t buf[64];
	size_t n = 0, np, k;
	struct tp_rtcp_pkt p;

	CHECK_EQ(
	    tp_rtcp_write_nack(buf, sizeof(buf), &n, 7, 8, lost, CM_ARRAY_SIZE(lost)), 0);
	CHECK_EQ(walk(buf, n, &p, 1, &np), ENOENT);
	CHECK_EQ(p.kind, TP_RTCP_K_NACK);
	CHECK_EQ(p.media_ssrc, 8);
	/* 100 (+101,105,116), 117, 200, 65535 (+0, 3) */
	CHECK_EQ(p.u.nack.n_fci, 4);
	CHECK_EQ(cm_rd16(p.u.nack.fci), 100);
	CHECK_EQ(cm_rd16(p.u.nack.fci + 2), 0x8011); /* 101, 105, 116 */
	CHECK_EQ(cm_rd16(p.u.nack.fci + 4), 117);
	k = tp_rtcp_nack_seqs(&p, got, CM_ARRAY_SIZE(got));
	CHECK_EQ(k, CM_ARRAY_SIZE(lost));
	for (size_t i = 0; i < CM_ARRAY_SIZE(lost); i++) {
		bool found = false;

		for (size_t j = 0; j < k; j++)
			found |= got[j] == lost[i];
		CHECK(found);
	}
	/* bounded by cap */
	CHECK_EQ(tp_rtcp_nack_seqs(&p, got, 3), 3);
	CHECK_EQ(got[0], 100);
	CHECK_EQ(got[1], 101);
	CHECK_EQ(got[2], 105);
	CHECK_EQ(tp_rtcp_write_nack(buf, sizeof(buf), &n, 7, 8, lost, 0), EINVAL);
	CHECK_EQ(tp_rtcp_write_nack(buf, 20, &n, 7, 8, lost, CM_ARRAY_SIZE(lost)),
		 ENOSPC);
}

static void rtcp_nack_with_lying_length_is_rejected(void)
{
	const uint16_t lost[] = {10, 11};
	uint8_t buf[16];
	size_t n = 0, np;
	struct tp_rtcp_pkt p;

	CHECK_EQ(tp_rtcp_write_nack(buf, sizeof(buf), &n, 7, 8, lost, 2), 0);
	cm_wr16(buf + 2, 4); /* 20 bytes claimed, 16 given */
	CHECK_EQ(walk(buf, n, &p, 1, &np), EBADMSG);
	CHECK_EQ(np, 0);
	cm_wr16(buf + 2, 2); /* 12 bytes: no FCI at all */
	CHECK_EQ(walk(buf, 12, &p, 1, &np), EBADMSG);
}

static void rtcp_second_packet_longer_than_the_rest_stops_the_walk(void)
{
	uint8_t buf[64] = {0};
	size_t n = 0, m = 0, np;
	struct tp_rtcp_pkt p[2];

	CHECK_EQ(tp_rtcp_write_rr(buf, sizeof(buf), &n, 1, NULL, 0), 0);
	CHECK_EQ(tp_rtcp_write_pli(buf + n, sizeof(buf) - n, &m, 1, 2), 0);
	cm_wr16(buf + n + 2, 3);
	CHECK_EQ(walk(buf, n + m, p, 2, &np), EBADMSG);
	CHECK_EQ(np, 1);
	CHECK_EQ(p[0].kind, TP_RTCP_K_RR);
	/* trailing bytes shorter than a header */
	cm_wr16(buf + n + 2, 2);
	CHECK_EQ(walk(buf, n + m + 2, p, 2, &np), EBADMSG);
	CHECK_EQ(np, 2);
}

static void rtcp_version_other_than_2_is_rejected(void)
{
	uint8_t buf[12];
	size_t n = 0, np;
	struct tp_rtcp_pkt p;

	CHECK_EQ(tp_rtcp_write_pli(buf, sizeof(buf), &n, 1, 2), 0);
	buf[0] = (buf[0] & 0x3f) | 0x40;
	CHECK_EQ(walk(buf, n, &p, 1, &np), EBADMSG);
	buf[0] = (buf[0] & 0x3f);
	CHECK_EQ(walk(buf, n, &p, 1, &np), EBADMSG);
}

static void rtcp_padding_is_skipped_and_bad_padding_rejected(void)
{
	/* RR without blocks, 4 bytes of padding */
	uint8_t buf[12] = {0xa0, 201, 0, 2, 0, 0, 0, 9, 0, 0, 0, 4};
	size_t np;
	struct tp_rtcp_pkt p;

	CHECK_EQ(walk(buf, sizeof(buf), &p, 1, &np), ENOENT);
	CHECK_EQ(p.kind, TP_RTCP_K_RR);
	CHECK_EQ(p.sender_ssrc, 9);
	buf[11] = 0;
	CHECK_EQ(walk(buf, sizeof(buf), &p, 1, &np), EBADMSG);
	buf[11] = 9; /* more than the body */
	CHECK_EQ(walk(buf, sizeof(buf), &p, 1, &np), EBADMSG);
	buf[11] = 8; /* eats the SSRC: too short for an RR */
	CHECK_EQ(walk(buf, sizeof(buf), &p, 1, &np), EBADMSG);
}

static void rtcp_report_count_beyond_the_length_is_rejected(void)
{
	uint8_t buf[128];
	size_t n = 0, np;
	struct tp_rtcp_pkt p;

	CHECK_EQ(tp_rtcp_write_sr(buf, sizeof(buf), &n, 1, 2, 3, 4, 5, rb2, 2), 0);
	buf[0] = (buf[0] & 0xe0) | 3; /* claims 3 blocks, holds 2 */
	CHECK_EQ(walk(buf, n, &p, 1, &np), EBADMSG);
	CHECK_EQ(tp_rtcp_write_rr(buf, sizeof(buf), &n, 1, rb2, 1), 0);
	buf[0] = (buf[0] & 0xe0) | 31;
	CHECK_EQ(walk(buf, n, &p, 1, &np), EBADMSG);
	CHECK_EQ(tp_rtcp_write_rr(buf, sizeof(buf), &n, 1, rb2, 32), EINVAL);
}

static void rtcp_fir_round_trip_and_multiple_entries(void)
{
	uint8_t buf[64];
	size_t n = 0, np;
	struct tp_rtcp_pkt p;

	CHECK_EQ(tp_rtcp_write_fir(buf, sizeof(buf), &n, 0x10, 0x20, 7), 0);
	CHECK_EQ(n, 20);
	CHECK_EQ(walk(buf, n, &p, 1, &np), ENOENT);
	CHECK_EQ(p.kind, TP_RTCP_K_FIR);
	CHECK_EQ(p.sender_ssrc, 0x10);
	CHECK_EQ(p.u.fir.n, 1);
	CHECK_EQ(p.u.fir.ssrc[0], 0x20);
	CHECK_EQ(p.u.fir.seq[0], 7);
	/* a second entry appended by hand */
	cm_wr32(buf + 20, 0x30);
	cm_wr32(buf + 24, 0x09000000);
	cm_wr16(buf + 2, 6);
	CHECK_EQ(walk(buf, 28, &p, 1, &np), ENOENT);
	CHECK_EQ(p.u.fir.n, 2);
	CHECK_EQ(p.u.fir.ssrc[1], 0x30);
	CHECK_EQ(p.u.fir.seq[1], 9);
	/* no entry at all */
	cm_wr16(buf + 2, 2);
	CHECK_EQ(walk(buf, 12, &p, 1, &np), EBADMSG);
}

static void rtcp_remb_round_trip_keeps_18_bits_of_precision(void)
{
	const uint64_t rates[] = {0,       1,       300000,     0x3ffff,
				  0x40000, 2500000, 1000000000, (uint64_t)1 << 40};
	uint8_t buf[64];
	size_t n = 0, np;
	struct tp_rtcp_pkt p;

	for (size_t i = 0; i < CM_ARRAY_SIZE(rates); i++) {
		uint64_t r;

		CHECK_EQ(tp_rtcp_write_remb(buf, sizeof(buf), &n, 1, rates[i], NULL, 0),
			 0);
		CHECK_EQ(walk(buf, n, &p, 1, &np), ENOENT);
		CHECK_EQ(p.kind, TP_RTCP_K_REMB);
		r = p.u.remb.bitrate;
		CHECK(r <= rates[i] && rates[i] - r <= rates[i] / (1 << 17));
	}
}

static void rtcp_remb_saturates_and_bounds_ssrcs(void)
{
	uint32_t ssrcs[20];
	uint8_t buf[128];
	size_t n = 0, np;
	struct tp_rtcp_pkt p;

	for (uint32_t i = 0; i < 20; i++)
		ssrcs[i] = 1000 + i;
	CHECK_EQ(tp_rtcp_write_remb(buf, sizeof(buf), &n, 1, 5000, ssrcs, 20), 0);
	CHECK_EQ(walk(buf, n, &p, 1, &np), ENOENT);
	CHECK_EQ(p.u.remb.n_ssrc, 20);
	CHECK_EQ(p.u.remb.ssrc[15], 1015);
	/* exponent 63, full mantissa: saturated, not wrapped */
	buf[17] = 0xff;
	buf[18] = 0xff;
	buf[19] = 0xff;
	CHECK_EQ(walk(buf, n, &p, 1, &np), ENOENT);
	CHECK(p.u.remb.bitrate == UINT64_MAX);
	/* 21 SSRCs announced, 20 present */
	buf[16] = 21;
	CHECK_EQ(walk(buf, n, &p, 1, &np), EBADMSG);
	/* the identifier without the rest */
	cm_wr16(buf + 2, 3);
	CHECK_EQ(walk(buf, 16, &p, 1, &np), EBADMSG);
}

static void rtcp_bye_round_trip_and_reason(void)
{
	const uint32_t ssrcs[3] = {5, 6, 7};
	uint8_t buf[64];
	size_t n = 0, np;
	struct tp_rtcp_pkt p;

	CHECK_EQ(tp_rtcp_write_bye(buf, sizeof(buf), &n, ssrcs, 3), 0);
	CHECK_EQ(walk(buf, n, &p, 1, &np), ENOENT);
	CHECK_EQ(p.kind, TP_RTCP_K_BYE);
	CHECK_EQ(p.u.bye.n_ssrc, 3);
	CHECK_EQ(p.sender_ssrc, 5);
	CHECK_EQ(p.u.bye.ssrc[2], 7);
	/* one SSRC and the reason "gone" */
	memcpy(buf,
	       (uint8_t[]){0x81, 203, 0, 3, 0, 0, 0, 5, 4, 'g', 'o', 'n', 'e', 0, 0, 0},
	       16);
	CHECK_EQ(walk(buf, 16, &p, 1, &np), ENOENT);
	CHECK_EQ(p.u.bye.n_ssrc, 1);
	buf[8] = 8; /* reason longer than the packet */
	CHECK_EQ(walk(buf, 16, &p, 1, &np), EBADMSG);
	buf[0] = 0x84; /* 4 SSRCs in 3 words */
	buf[8] = 0;
	CHECK_EQ(walk(buf, 16, &p, 1, &np), EBADMSG);
}

static void rtcp_unknown_types_are_other_and_skipped(void)
{
	uint8_t buf[64] = {
	    0x80, 204, 0, 2, 0, 0, 0, 1, 'n', 'a', 'm', 'e', /* APP */
	    0x80, 207, 0, 1, 0, 0, 0, 1,                     /* XR */
	    0x83, 205, 0, 2, 0, 0, 0, 1, 0,   0,   0,   2,   /* RTPFB fmt 3 */
	    0x8f, 206, 0, 3, 0, 0, 0, 1, 0,   0,   0,   2,   'A', 'B', 'C', 'D', /* AFB */
	};
	size_t n = 0, np;
	struct tp_rtcp_pkt p[5];

	CHECK_EQ(tp_rtcp_write_rr(buf + 48, 16, &n, 3, NULL, 0), 0);
	CHECK_EQ(walk(buf, 48 + n, p, 5, &np), ENOENT);
	CHECK_EQ(np, 5);
	for (size_t i = 0; i < 4; i++)
		CHECK_EQ(p[i].kind, TP_RTCP_K_OTHER);
	CHECK_EQ(p[0].pt, 204);
	CHECK_EQ(p[1].pt, 207);
	CHECK_EQ(p[4].kind, TP_RTCP_K_RR);
	CHECK_EQ(p[4].sender_ssrc, 3);
}

/* Writes, parses and decodes a TWCC feedback; checks flags and deltas. */
static void twcc_round_trip(const bool *rx, const int32_t *d, size_t n)
{
	static uint8_t buf[32768];
	static struct tp_twcc_status st[20000];
	size_t len = 0, np;
	struct tp_rtcp_pkt p;
	int k;

	CHECK_EQ(tp_rtcp_write_twcc(buf, sizeof(buf), &len, 1, 2, 65530, -5, 9, rx, d, n),
		 0);
	CHECK_EQ(len % 4, 0);
	CHECK_EQ(walk(buf, len, &p, 1, &np), ENOENT);
	CHECK_EQ(p.kind, TP_RTCP_K_TWCC);
	CHECK_EQ(p.u.twcc.base_seq, 65530);
	CHECK_EQ(p.u.twcc.status_count, n);
	CHECK_EQ(p.u.twcc.ref_time, -5);
	CHECK_EQ(p.u.twcc.fb_count, 9);
	k = tp_rtcp_twcc_decode(&p, st, CM_ARRAY_SIZE(st));
	CHECK_EQ(k, n);
	for (size_t i = 0; i < n && (int)i < k; i++) {
		CHECK_EQ(st[i].seq, (uint16_t)(65530 + i));
		CHECK_EQ(st[i].received, rx[i]);
		if (rx[i] &&
		    (st[i].delta_us - d[i] > 125 || d[i] - st[i].delta_us > 125)) {
			fprintf(stderr, "status %zu: delta %d, want %d\n", i,
				st[i].delta_us, d[i]);
			CHECK(0);
		}
	}
}

static void rtcp_twcc_round_trip_all_received(void)
{
	static bool rx[10000];
	static int32_t d[10000];

	for (size_t i = 0; i < 10000; i++) {
		rx[i] = true;
		d[i] = (int32_t)(i % 5) * 1000;
	}
	twcc_round_trip(rx, d, 20); /* vectors */
	for (size_t i = 0; i < 10000; i++)
		d[i] = 2000;
	twcc_round_trip(rx, d, 10000); /* runs longer than 8191 */
}

static void rtcp_twcc_round_trip_all_lost(void)
{
	static bool rx[300];
	static int32_t d[300];

	twcc_round_trip(rx, d, 300);
	twcc_round_trip(rx, d, 1);
}

static void rtcp_twcc_round_trip_mixed_with_large_and_negative_deltas(void)
{
	bool rx[40];
	int32_t d[40];

	for (size_t i = 0; i < 40; i++) {
		rx[i] = i % 3 != 1;
		d[i] = (int32_t)i * 170; /* rounding to 250 µs */
	}
	d[0] = 100000;   /* 100 ms: large */
	d[3] = -1000;    /* reordered: negative */
	d[5] = -8000000; /* most negative that fits: about -8.19 s */
	d[6] = 63750;    /* the largest small delta */
	d[7] = 64000;    /* the smallest large one */
	twcc_round_trip(rx, d, 40);
	twcc_round_trip(rx, d, 7);
	d[9] = 9000000; /* beyond 16-bit in 250 µs units */
	CHECK_EQ(tp_rtcp_write_twcc((uint8_t[64]){0}, 64, &(size_t){0}, 1, 2, 0, 0, 0, rx,
				    d, 40),
		 EINVAL);
}

static void rtcp_twcc_writer_uses_run_length_chunks_for_long_runs(void)
{
	static bool rx[300];
	static int32_t d[300];
	uint8_t buf[128];
	size_t n = 0;

	/* 300 lost: one run chunk, no deltas, 2 bytes of padding */
	CHECK_EQ(tp_rtcp_write_twcc(buf, sizeof(buf), &n, 1, 2, 0, 0, 0, rx, d, 300), 0);
	CHECK_EQ(n, 24);
	CHECK_EQ(cm_rd16(buf + 20), 300);
	/* 20 received 1 ms apart: a run chunk and 20 one-byte deltas */
	for (size_t i = 0; i < 20; i++) {
		rx[i] = true;
		d[i] = 1000;
	}
	CHECK_EQ(tp_rtcp_write_twcc(buf, sizeof(buf), &n, 1, 2, 0, 0, 0, rx, d, 20), 0);
	CHECK_EQ(n, 44);
	CHECK_EQ(cm_rd16(buf + 20), 0x2000 | 20);
}

/* Hand-built: base 10, 8 statuses. A run of 3 small, then a 2-bit vector
 * [large, lost, small, lost, lost, (lost, lost past the count)]. */
static const uint8_t twcc_pkt[] = {
    0x8f, 205,  0,    7,    0,    0,    0,    1,    0,    0,
    0,    2,    0x00, 0x0a, 0x00, 0x08, 0x00, 0x00, 0x01, 0x03, /* base, count, ref, fb */
    0x20, 0x03, 0xe1, 0x00,                         /* run: small x3; vector */
    0x04, 0x08, 0x00, 0xff, 0xfc, 0x01, 0x00, 0x00, /* deltas, pad */
};

static void rtcp_twcc_decodes_run_and_two_bit_vector_chunks(void)
{
	struct tp_twcc_status st[10];
	const int32_t want[] = {1000, 2000, 0, -1000, 0, 250, 0, 0};
	const bool want_rx[] = {1, 1, 1, 1, 0, 1, 0, 0};
	size_t np;
	struct tp_rtcp_pkt p;

	CHECK_EQ(walk(twcc_pkt, sizeof(twcc_pkt), &p, 1, &np), ENOENT);
	CHECK_EQ(p.u.twcc.ref_time, 1);
	CHECK_EQ(tp_rtcp_twcc_decode(&p, st, 10), 8);
	for (size_t i = 0; i < 8; i++) {
		CHECK_EQ(st[i].seq, 10 + i);
		CHECK_EQ(st[i].received, want_rx[i]);
		CHECK_EQ(st[i].delta_us, want[i]);
	}
	/* never more than cap */
	memset(st, 0xee, sizeof(st));
	CHECK_EQ(tp_rtcp_twcc_decode(&p, st, 3), 3);
	CHECK_EQ(st[3].seq, 0xeeee);
}

static void rtcp_twcc_with_status_count_not_backed_by_bytes_is_rejected(void)
{
	uint8_t b[sizeof(twcc_pkt)];
	struct tp_twcc_status st[16];
	size_t np;
	struct tp_rtcp_pkt p;

	memcpy(b, twcc_pkt, sizeof(b));
	cm_wr16(b + 14, 0xffff); /* 65535 statuses, two chunks */
	CHECK_EQ(walk(b, sizeof(b), &p, 1, &np), ENOENT);
	CHECK_EQ(tp_rtcp_twcc_decode(&p, st, 16), -1);
	/* a reserved 2-bit symbol */
	memcpy(b, twcc_pkt, sizeof(b));
	b[22] = 0xf1;
	CHECK_EQ(walk(b, sizeof(b), &p, 1, &np), ENOENT);
	CHECK_EQ(tp_rtcp_twcc_decode(&p, st, 16), -1);
	/* a run of one small instead of the vector: 4 statuses, backed */
	memcpy(b, twcc_pkt, sizeof(b));
	cm_wr16(b + 22, 0x2001);
	cm_wr16(b + 14, 4);
	CHECK_EQ(walk(b, sizeof(b), &p, 1, &np), ENOENT);
	CHECK_EQ(tp_rtcp_twcc_decode(&p, st, 16), 4);
	cm_wr16(b + 20, 0x3fff); /* a run of 8191 small: 8191 delta bytes */
	cm_wr16(b + 14, 8191);
	CHECK_EQ(walk(b, sizeof(b), &p, 1, &np), ENOENT);
	CHECK_EQ(tp_rtcp_twcc_decode(&p, st, 16), -1);
	/* the fixed part is missing */
	memcpy(b, twcc_pkt, sizeof(b));
	cm_wr16(b + 2, 3);
	CHECK_EQ(walk(b, 16, &p, 1, &np), EBADMSG);
}

static void rtcp_compound_truncated_at_every_length_fails_cleanly(void)
{
	static const bool rx[5] = {1, 0, 1, 1, 1};
	static const int32_t d[5] = {250, 0, 500, 100000, -250};
	const uint16_t lost[2] = {1, 2};
	uint8_t buf[256];
	size_t n = 0, m, bounds[8], nb = 0;

	tp_rtcp_write_sr(buf, sizeof(buf), &m, 1, 2, 3, 4, 5, rb2, 1);
	bounds[nb++] = n += m;
	tp_rtcp_write_sdes(buf + n, sizeof(buf) - n, &m, 1, "c");
	bounds[nb++] = n += m;
	tp_rtcp_write_nack(buf + n, sizeof(buf) - n, &m, 1, 2, lost, 2);
	bounds[nb++] = n += m;
	tp_rtcp_write_twcc(buf + n, sizeof(buf) - n, &m, 1, 2, 0, 0, 0, rx, d, 5);
	bounds[nb++] = n += m;

	for (size_t cut = 0; cut <= n; cut++) {
		uint8_t *b = malloc(cut ? cut : 1);
		struct tp_rtcp_pkt p;
		struct tp_twcc_status st[8];
		uint16_t seqs[8];
		size_t np = 0;
		bool boundary = cut == 0;
		struct tp_rtcp_iter it;
		int err;

		memcpy(b, buf, cut);
		for (size_t i = 0; i < nb; i++)
			boundary |= cut == bounds[i];
		tp_rtcp_iter_init(&it, b, cut);
		while ((err = tp_rtcp_next(&it, &p)) == 0) {
			np++;
			tp_rtcp_nack_seqs(&p, seqs, 8);
			tp_rtcp_twcc_decode(&p, st, 8);
		}
		CHECK_EQ(err, boundary ? ENOENT : EBADMSG);
		free(b);
	}
}

static void rtcp_writers_report_enospc_for_small_buffers(void)
{
	static const bool rx[3] = {1, 1, 1};
	static const int32_t d[3] = {0, 0, 0};
	const uint32_t s = 1;
	uint8_t buf[128];
	size_t n;

	for (size_t cap = 0; cap < 20; cap++) {
		CHECK_EQ(tp_rtcp_write_fir(buf, cap, &n, 1, 2, 3), ENOSPC);
		CHECK_EQ(tp_rtcp_write_remb(buf, cap, &n, 1, 2, &s, 1), ENOSPC);
		CHECK_EQ(tp_rtcp_write_twcc(buf, cap, &n, 1, 2, 0, 0, 0, rx, d, 3),
			 ENOSPC);
		CHECK_EQ(tp_rtcp_write_sdes(buf, cap, &n, 1, "some-cname"), ENOSPC);
		CHECK_EQ(tp_rtcp_write_sr(buf, cap, &n, 1, 2, 3, 4, 5, NULL, 0), ENOSPC);
		CHECK_EQ(tp_rtcp_write_bye(buf, cap / 5, &n, &s, 1), ENOSPC);
	}
	/* 20 fixed, one chunk, three 1-byte deltas, padded to 28 */
	CHECK_EQ(tp_rtcp_write_twcc(buf, 27, &n, 1, 2, 0, 0, 0, rx, d, 3), ENOSPC);
	CHECK_EQ(tp_rtcp_write_twcc(buf, 28, &n, 1, 2, 0, 0, 0, rx, d, 3), 0);
	CHECK_EQ(n, 28);
}

int main(void)
{
	RUN(rtcp_sr_with_sdes_compound_gives_both_packets);
	RUN(rtcp_rr_with_remb_compound_gives_both_packets);
	RUN(rtcp_reduced_size_lone_pli_parses);
	RUN(rtcp_nack_round_trip_packs_nearby_seqs_into_one_entry);
	RUN(rtcp_nack_with_lying_length_is_rejected);
	RUN(rtcp_second_packet_longer_than_the_rest_stops_the_walk);
	RUN(rtcp_version_other_than_2_is_rejected);
	RUN(rtcp_padding_is_skipped_and_bad_padding_rejected);
	RUN(rtcp_report_count_beyond_the_length_is_rejected);
	RUN(rtcp_fir_round_trip_and_multiple_entries);
	RUN(rtcp_remb_round_trip_keeps_18_bits_of_precision);
	RUN(rtcp_remb_saturates_and_bounds_ssrcs);
	RUN(rtcp_bye_round_trip_and_reason);
	RUN(rtcp_unknown_types_are_other_and_skipped);
	RUN(rtcp_twcc_round_trip_all_received);
	RUN(rtcp_twcc_round_trip_all_lost);
	RUN(rtcp_twcc_round_trip_mixed_with_large_and_negative_deltas);
	RUN(rtcp_twcc_writer_uses_run_length_chunks_for_long_runs);
	RUN(rtcp_twcc_decodes_run_and_two_bit_vector_chunks);
	RUN(rtcp_twcc_with_status_count_not_backed_by_bytes_is_rejected);
	RUN(rtcp_compound_truncated_at_every_length_fails_cleanly);
	RUN(rtcp_writers_report_enospc_for_small_buffers);
	return check_report();
}
