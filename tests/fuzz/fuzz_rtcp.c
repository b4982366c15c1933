/*
 * libFuzzer target for the RTCP walker: every packet of the input is
 * parsed, NACKs expanded and TWCC feedback decoded (with a canary past
 * cap), and each kind tutti writes is written back and parsed again.
 */
#include <stdlib.h>
#include <string.h>

#include "transport/rtcp.h"

#define EXPECT(c)                                                                        \
	do {                                                                             \
		if (!(c))                                                                \
			abort();                                                         \
	} while (0)

static uint8_t out[300000];

/* Parses the single packet just written into *r. */
static void reparse(size_t n, struct tp_rtcp_pkt *r, enum tp_rtcp_kind kind)
{
	struct tp_rtcp_iter it;

	tp_rtcp_iter_init(&it, out, n);
	EXPECT(tp_rtcp_next(&it, r) == 0);
	EXPECT(r->kind == kind);
	EXPECT(it.off == n);
}

static void check_twcc(const struct tp_rtcp_pkt *p)
{
	static struct tp_twcc_status st[65536 + 1], st2[65536];
	static bool rx[65536];
	static int32_t d[65536];
	struct tp_rtcp_pkt r;
	size_t n = 0;
	int k;

	/* a small cap must never be overrun */
	memset(&st[7], 0xa5, sizeof(st[7]));
	k = tp_rtcp_twcc_decode(p, st, 7);
	EXPECT(k <= 7);
	EXPECT(st[7].seq == 0xa5a5 && st[7].delta_us == (int32_t)0xa5a5a5a5);

	k = tp_rtcp_twcc_decode(p, st, 65536);
	if (k <= 0)
		return;
	EXPECT(k == p->u.twcc.status_count);
	for (int i = 0; i < k; i++) {
		rx[i] = st[i].received;
		d[i] = st[i].delta_us;
	}
	EXPECT(tp_rtcp_write_twcc(out, sizeof(out), &n, p->sender_ssrc, p->media_ssrc,
				  p->u.twcc.base_seq, p->u.twcc.ref_time,
				  p->u.twcc.fb_count, rx, d, (size_t)k) == 0);
	reparse(n, &r, TP_RTCP_K_TWCC);
	EXPECT(r.u.twcc.ref_time == p->u.twcc.ref_time);
	EXPECT(tp_rtcp_twcc_decode(&r, st2, 65536) == k);
	for (int i = 0; i < k; i++)
		EXPECT(st2[i].received == rx[i] && st2[i].delta_us == d[i] &&
		       st2[i].seq == st[i].seq);
}

static void check_nack(const struct tp_rtcp_pkt *p)
{
	static uint16_t seqs[512], seqs2[512];
	struct tp_rtcp_pkt r;
	size_t k, k2, n = 0;

	EXPECT(tp_rtcp_nack_seqs(p, seqs, 5) <= 5);
	k = tp_rtcp_nack_seqs(p, seqs, 512); /* keeps the O(n²) packing cheap */
	EXPECT(k <= 512 && k >= 1);
	EXPECT(tp_rtcp_write_nack(out, sizeof(out), &n, p->sender_ssrc, p->media_ssrc,
				  seqs, k) == 0);
	reparse(n, &r, TP_RTCP_K_NACK);
	k2 = tp_rtcp_nack_seqs(&r, seqs2, 512);
	EXPECT(k2 <= k);
	/* every sequence number comes back (duplicates merge) */
	for (size_t i = 0; i < k; i += 1 + k / 64) {
		bool found = false;

		for (size_t j = 0; j < k2 && !found; j++)
			found = seqs2[j] == seqs[i];
		EXPECT(found);
	}
}

static void check_rewrite(const struct tp_rtcp_pkt *p)
{
	struct tp_rtcp_pkt r;
	size_t n = 0;

	switch (p->kind) {
	case TP_RTCP_K_SR:
		EXPECT(tp_rtcp_write_sr(out, sizeof(out), &n, p->sender_ssrc, p->u.sr.ntp,
					p->u.sr.rtp_ts, p->u.sr.pkt_count,
					p->u.sr.octet_count, p->rb, p->n_rb) == 0);
		reparse(n, &r, TP_RTCP_K_SR);
		EXPECT(r.u.sr.ntp == p->u.sr.ntp && r.n_rb == p->n_rb);
		for (size_t i = 0; i < r.n_rb; i++)
			EXPECT(r.rb[i].cum_lost == p->rb[i].cum_lost &&
			       r.rb[i].dlsr == p->rb[i].dlsr);
		break;
	case TP_RTCP_K_RR:
		EXPECT(tp_rtcp_write_rr(out, sizeof(out), &n, p->sender_ssrc, p->rb,
					p->n_rb) == 0);
		reparse(n, &r, TP_RTCP_K_RR);
		EXPECT(r.n_rb == p->n_rb && r.sender_ssrc == p->sender_ssrc);
		break;
	case TP_RTCP_K_BYE:
		EXPECT(tp_rtcp_write_bye(out, sizeof(out), &n, p->u.bye.ssrc,
					 p->u.bye.n_ssrc) == 0);
		reparse(n, &r, TP_RTCP_K_BYE);
		EXPECT(r.u.bye.n_ssrc == p->u.bye.n_ssrc);
		break;
	case TP_RTCP_K_FIR:
		EXPECT(tp_rtcp_write_fir(out, sizeof(out), &n, p->sender_ssrc,
					 p->u.fir.ssrc[0], p->u.fir.seq[0]) == 0);
		reparse(n, &r, TP_RTCP_K_FIR);
		EXPECT(r.u.fir.ssrc[0] == p->u.fir.ssrc[0] &&
		       r.u.fir.seq[0] == p->u.fir.seq[0]);
		break;
	case TP_RTCP_K_REMB: {
		size_t ns = p->u.remb.n_ssrc < TP_RTCP_MAX_REMB_SSRC
				? p->u.remb.n_ssrc
				: TP_RTCP_MAX_REMB_SSRC;

		EXPECT(tp_rtcp_write_remb(out, sizeof(out), &n, p->sender_ssrc,
					  p->u.remb.bitrate, p->u.remb.ssrc, ns) == 0);
		reparse(n, &r, TP_RTCP_K_REMB);
		EXPECT(r.u.remb.bitrate <= p->u.remb.bitrate && r.u.remb.n_ssrc == ns);
		break;
	}
	case TP_RTCP_K_NACK:
		check_nack(p);
		break;
	case TP_RTCP_K_TWCC:
		check_twcc(p);
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tp_rtcp_iter it;
	struct tp_rtcp_pkt p;
	size_t guard = 0;

	tp_rtcp_iter_init(&it, data, size);
	while (tp_rtcp_next(&it, &p) == 0) {
		EXPECT(it.off <= size && ++guard <= size / 4);
		check_rewrite(&p);
	}
	return 0;
}
