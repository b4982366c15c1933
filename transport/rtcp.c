/*
 * RTCP (RFC 3550, 4585, 5104), REMB and transport-wide CC feedback:
 * a walker over compound packets, the FCI decoders, and the writers.
 * Each packet's own length must fit what is left of the buffer; every
 * count inside a packet must fit that packet.
 */
#include <errno.h>
#include <string.h>

#include "common/common.h"
#include "transport/rtcp.h"

#define RB_LEN          24
#define SENDER_INFO_LEN 20
#define FB_HDR_LEN      8 /* sender SSRC + media SSRC */
#define TWCC_FIXED_LEN  8 /* base seq, count, ref time, fb count */
#define MAX_PKT_LEN     (4 * 65536)

/* TWCC symbols (draft-holmer-rmcat-transport-wide-cc-extensions 3.1.1) */
#define TWCC_NOT_RECEIVED 0
#define TWCC_SMALL        1
#define TWCC_LARGE        2
#define TWCC_RESERVED     3

/* 24-bit two's complement to int32. */
static int32_t sext24(uint32_t v)
{
	return (v & 0x800000) ? (int32_t)v - 0x1000000 : (int32_t)v;
}

void tp_rtcp_iter_init(struct tp_rtcp_iter *it, const uint8_t *buf, size_t len)
{
	if (!it)
		return;
	it->buf = buf;
	it->len = buf ? len : 0;
	it->off = 0;
}

/* Report blocks of an SR or RR: rc of them at b, which has n bytes. */
static int parse_rbs(struct tp_rtcp_pkt *p, unsigned rc, const uint8_t *b, size_t n)
{
	if ((size_t)rc * RB_LEN > n)
		return EBADMSG;
	p->n_rb = CM_MIN(rc, TP_RTCP_MAX_RB);
	for (size_t i = 0; i < p->n_rb; i++, b += RB_LEN) {
		struct tp_rtcp_rb *rb = &p->rb[i];

		rb->ssrc = cm_rd32(b);
		rb->fraction_lost = b[4];
		rb->cum_lost = sext24(cm_rd24(b + 5));
		rb->ext_high_seq = cm_rd32(b + 8);
		rb->jitter = cm_rd32(b + 12);
		rb->lsr = cm_rd32(b + 16);
		rb->dlsr = cm_rd32(b + 20);
	}
	return 0;
}

/* BYE: sc SSRCs, then an optional length-prefixed reason. */
static int parse_bye(struct tp_rtcp_pkt *p, unsigned sc, const uint8_t *b, size_t n)
{
	size_t rest;

	if ((size_t)sc * 4 > n)
		return EBADMSG;
	p->u.bye.n_ssrc = CM_MIN(sc, TP_RTCP_MAX_BYE_SSRC);
	for (size_t i = 0; i < p->u.bye.n_ssrc; i++)
		p->u.bye.ssrc[i] = cm_rd32(b + 4 * i);
	if (sc)
		p->sender_ssrc = p->u.bye.ssrc[0];
	rest = n - (size_t)sc * 4;
	if (rest && (size_t)b[sc * 4] + 1 > rest)
		return EBADMSG;
	return 0;
}

/* Transport-layer feedback: NACK (fmt 1) and TWCC (fmt 15). b/n is the
 * FCI, after the two SSRCs. */
static int parse_rtpfb(struct tp_rtcp_pkt *p, const uint8_t *b, size_t n)
{
	switch (p->fmt) {
	case 1:
		if (n < 4)
			return EBADMSG;
		p->kind = TP_RTCP_K_NACK;
		p->u.nack.fci = b;
		p->u.nack.n_fci = n / 4;
		return 0;
	case 15:
		if (n < TWCC_FIXED_LEN)
			return EBADMSG;
		p->kind = TP_RTCP_K_TWCC;
		p->u.twcc.base_seq = cm_rd16(b);
		p->u.twcc.status_count = cm_rd16(b + 2);
		p->u.twcc.ref_time = sext24(cm_rd24(b + 4));
		p->u.twcc.fb_count = b[7];
		p->u.twcc.chunks = b + TWCC_FIXED_LEN;
		p->u.twcc.chunks_len = n - TWCC_FIXED_LEN;
		return 0;
	default:
		return 0; /* stays TP_RTCP_K_OTHER */
	}
}

/* REMB (draft-alvestrand-rmcat-remb): "REMB", num SSRC, 6-bit exponent,
 * 18-bit mantissa, then the SSRCs, which the packet must hold. */
static int parse_remb(struct tp_rtcp_pkt *p, const uint8_t *b, size_t n)
{
	unsigned num, exp;
	uint64_t mant;

	if (n < 4 || memcmp(b, "REMB", 4) != 0)
		return 0; /* another application-layer feedback: skipped */
	if (n < 8)
		return EBADMSG;
	num = b[4];
	exp = b[5] >> 2;
	mant = ((uint64_t)(b[5] & 3) << 16) | cm_rd16(b + 6);
	if ((size_t)num * 4 > n - 8)
		return EBADMSG;
	p->kind = TP_RTCP_K_REMB;
	p->u.remb.bitrate = mant > (UINT64_MAX >> exp) ? UINT64_MAX : mant << exp;
	p->u.remb.n_ssrc = num;
	for (size_t i = 0; i < num && i < TP_RTCP_MAX_REMB_SSRC; i++)
		p->u.remb.ssrc[i] = cm_rd32(b + 8 + 4 * i);
	return 0;
}

/* Payload-specific feedback: PLI (fmt 1), FIR (fmt 4), AFB/REMB (15). */
static int parse_psfb(struct tp_rtcp_pkt *p, const uint8_t *b, size_t n)
{
	switch (p->fmt) {
	case 1:
		p->kind = TP_RTCP_K_PLI;
		return 0;
	case 4:
		if (n < 8)
			return EBADMSG;
		p->kind = TP_RTCP_K_FIR;
		p->u.fir.n = CM_MIN(n / 8, (size_t)TP_RTCP_MAX_FIR);
		for (size_t i = 0; i < p->u.fir.n; i++) {
			p->u.fir.ssrc[i] = cm_rd32(b + 8 * i);
			p->u.fir.seq[i] = b[8 * i + 4];
		}
		return 0;
	case 15:
		return parse_remb(p, b, n);
	default:
		return 0;
	}
}

/* Parses one packet's body (b, n bytes without header and padding). */
static int parse_body(struct tp_rtcp_pkt *p, unsigned count, const uint8_t *b, size_t n)
{
	switch (p->pt) {
	case TP_RTCP_SR:
		if (n < 4 + SENDER_INFO_LEN)
			return EBADMSG;
		p->kind = TP_RTCP_K_SR;
		p->sender_ssrc = cm_rd32(b);
		p->u.sr.ntp = cm_rd64(b + 4);
		p->u.sr.rtp_ts = cm_rd32(b + 12);
		p->u.sr.pkt_count = cm_rd32(b + 16);
		p->u.sr.octet_count = cm_rd32(b + 20);
		return parse_rbs(p, count, b + 24, n - 24);
	case TP_RTCP_RR:
		if (n < 4)
			return EBADMSG;
		p->kind = TP_RTCP_K_RR;
		p->sender_ssrc = cm_rd32(b);
		return parse_rbs(p, count, b + 4, n - 4);
	case TP_RTCP_SDES:
		p->kind = TP_RTCP_K_SDES;
		if (count && n >= 4)
			p->sender_ssrc = cm_rd32(b);
		return 0;
	case TP_RTCP_BYE:
		p->kind = TP_RTCP_K_BYE;
		return parse_bye(p, count, b, n);
	case TP_RTCP_RTPFB:
	case TP_RTCP_PSFB:
		if (n < FB_HDR_LEN)
			return EBADMSG;
		p->sender_ssrc = cm_rd32(b);
		p->media_ssrc = cm_rd32(b + 4);
		if (p->pt == TP_RTCP_RTPFB)
			return parse_rtpfb(p, b + FB_HDR_LEN, n - FB_HDR_LEN);
		return parse_psfb(p, b + FB_HDR_LEN, n - FB_HDR_LEN);
	default:
		return 0; /* APP, XR, unknown: TP_RTCP_K_OTHER */
	}
}

int tp_rtcp_next(struct tp_rtcp_iter *it, struct tp_rtcp_pkt *p)
{
	const uint8_t *b;
	size_t rem, plen, body;
	int err;

	if (!it || !p)
		return EINVAL;
	if (it->off >= it->len)
		return ENOENT;
	b = it->buf + it->off;
	rem = it->len - it->off;
	/* whatever happens, do not look at these bytes again */
	it->off = it->len;
	if (rem < 4 || (b[0] >> 6) != 2)
		return EBADMSG;
	plen = ((size_t)cm_rd16(b + 2) + 1) * 4;
	if (plen > rem)
		return EBADMSG;
	body = plen - 4;
	if (b[0] & 0x20) {
		/* the last byte counts the padding, itself included */
		uint8_t pad = b[plen - 1];

		if (pad == 0 || pad > body)
			return EBADMSG;
		body -= pad;
	}

	memset(p, 0, sizeof(*p));
	p->kind = TP_RTCP_K_OTHER;
	p->pt = b[1];
	p->fmt = b[0] & 0x1f;
	err = parse_body(p, p->fmt, b + 4, body);
	if (err)
		return err;
	it->off = (size_t)(b - it->buf) + plen;
	return 0;
}

size_t tp_rtcp_nack_seqs(const struct tp_rtcp_pkt *p, uint16_t *seqs, size_t cap)
{
	size_t n = 0;

	if (!p || !seqs || p->kind != TP_RTCP_K_NACK || !p->u.nack.fci)
		return 0;
	for (size_t i = 0; i < p->u.nack.n_fci && n < cap; i++) {
		const uint8_t *f = p->u.nack.fci + 4 * i;
		uint16_t pid = cm_rd16(f), blp = cm_rd16(f + 2);

		seqs[n++] = pid;
		for (unsigned bit = 0; bit < 16 && n < cap; bit++)
			if (blp & (1u << bit))
				seqs[n++] = (uint16_t)(pid + bit + 1);
	}
	return n;
}

/* ---- TWCC decoding ----------------------------------------------------- */

/* Reads the symbols of the TWCC packet chunks one status at a time. */
struct twcc_reader {
	const uint8_t *b;
	size_t len, off; /* bytes of chunks, next chunk */
	uint16_t chunk;  /* current chunk */
	unsigned left;   /* statuses left in the current chunk */
	unsigned pos;    /* index inside a status vector chunk */
};

/* Loads the next chunk. Returns -1 when the bytes run out. */
static int twcc_load(struct twcc_reader *r)
{
	if (r->len - r->off < 2)
		return -1;
	r->chunk = cm_rd16(r->b + r->off);
	r->off += 2;
	r->pos = 0;
	if (!(r->chunk & 0x8000))
		r->left = r->chunk & 0x1fff; /* run length */
	else if (!(r->chunk & 0x4000))
		r->left = 14; /* 1-bit symbols */
	else
		r->left = 7; /* 2-bit symbols */
	return 0;
}

/* The next status symbol, or -1 when malformed. */
static int twcc_symbol(struct twcc_reader *r)
{
	int sym;

	while (r->left == 0)
		if (twcc_load(r))
			return -1;
	r->left--;
	if (!(r->chunk & 0x8000))
		sym = (r->chunk >> 13) & 3;
	else if (!(r->chunk & 0x4000))
		sym = (r->chunk >> (13 - r->pos)) & 1;
	else
		sym = (r->chunk >> (12 - 2 * r->pos)) & 3;
	r->pos++;
	return sym == TWCC_RESERVED ? -1 : sym;
}

/* First pass: finds where the deltas start and how many bytes they take,
 * without storing symbols, so a huge status count costs only the chunks
 * that back it. Run-length chunks are consumed whole. */
static int twcc_scan(const uint8_t *b, size_t len, unsigned count, size_t *deltas_off,
		     size_t *deltas_len)
{
	struct twcc_reader r = {b, len, 0, 0, 0, 0};
	size_t dl = 0;

	while (count) {
		int sym;

		if (r.left == 0 && twcc_load(&r))
			return -1;
		if (!(r.chunk & 0x8000) && r.left) {
			unsigned run = CM_MIN(r.left, count);

			sym = (r.chunk >> 13) & 3;
			if (sym == TWCC_RESERVED)
				return -1;
			dl += (size_t)run * (sym == TWCC_LARGE ? 2 : sym);
			count -= run;
			r.left -= run;
			continue;
		}
		if (r.left == 0)
			continue; /* a run of zero: next chunk */
		sym = twcc_symbol(&r);
		if (sym < 0)
			return -1;
		dl += sym == TWCC_LARGE ? 2 : (size_t)sym;
		count--;
	}
	*deltas_off = r.off;
	*deltas_len = dl;
	return 0;
}

int tp_rtcp_twcc_decode(const struct tp_rtcp_pkt *p, struct tp_twcc_status *out,
			size_t cap)
{
	struct twcc_reader r;
	const uint8_t *b;
	size_t len, doff, dlen, n;

	if (!p || p->kind != TP_RTCP_K_TWCC || !p->u.twcc.chunks || (!out && cap))
		return -1;
	b = p->u.twcc.chunks;
	len = p->u.twcc.chunks_len;
	if (twcc_scan(b, len, p->u.twcc.status_count, &doff, &dlen) || dlen > len - doff)
		return -1;

	memset(&r, 0, sizeof(r));
	r.b = b;
	r.len = doff;
	n = CM_MIN((size_t)p->u.twcc.status_count, cap);
	for (size_t i = 0; i < n; i++) {
		int sym = twcc_symbol(&r);

		if (sym < 0)
			return -1; /* cannot happen after the scan */
		out[i].seq = (uint16_t)(p->u.twcc.base_seq + i);
		out[i].received = sym != TWCC_NOT_RECEIVED;
		out[i].delta_us = 0;
		if (sym == TWCC_SMALL) {
			out[i].delta_us = b[doff] * 250;
			doff += 1;
		} else if (sym == TWCC_LARGE) {
			out[i].delta_us = (int16_t)cm_rd16(b + doff) * 250;
			doff += 2;
		}
	}
	return (int)n;
}

/* ---- writers ----------------------------------------------------------- */

/* The common header; len is the packet's total length (a multiple of 4). */
static void wr_hdr(uint8_t *out, bool padding, unsigned count, uint8_t pt, size_t len)
{
	out[0] = (uint8_t)(0x80 | (padding ? 0x20 : 0) | (count & 0x1f));
	out[1] = pt;
	cm_wr16(out + 2, (uint16_t)(len / 4 - 1));
}

static void wr_rbs(uint8_t *b, const struct tp_rtcp_rb *rb, size_t n)
{
	for (size_t i = 0; i < n; i++, b += RB_LEN) {
		cm_wr32(b, rb[i].ssrc);
		b[4] = rb[i].fraction_lost;
		cm_wr24(b + 5, (uint32_t)rb[i].cum_lost & 0xffffff);
		cm_wr32(b + 8, rb[i].ext_high_seq);
		cm_wr32(b + 12, rb[i].jitter);
		cm_wr32(b + 16, rb[i].lsr);
		cm_wr32(b + 20, rb[i].dlsr);
	}
}

int tp_rtcp_write_sr(uint8_t *out, size_t cap, size_t *outlen, uint32_t ssrc,
		     uint64_t ntp, uint32_t rtp_ts, uint32_t pkt_count,
		     uint32_t octet_count, const struct tp_rtcp_rb *rb, size_t n_rb)
{
	size_t len = 4 + 4 + SENDER_INFO_LEN + n_rb * RB_LEN;

	if (!out || !outlen || n_rb > TP_RTCP_MAX_RB || (n_rb && !rb))
		return EINVAL;
	if (len > cap)
		return ENOSPC;
	wr_hdr(out, false, (unsigned)n_rb, TP_RTCP_SR, len);
	cm_wr32(out + 4, ssrc);
	cm_wr64(out + 8, ntp);
	cm_wr32(out + 16, rtp_ts);
	cm_wr32(out + 20, pkt_count);
	cm_wr32(out + 24, octet_count);
	wr_rbs(out + 28, rb, n_rb);
	*outlen = len;
	return 0;
}

int tp_rtcp_write_rr(uint8_t *out, size_t cap, size_t *outlen, uint32_t ssrc,
		     const struct tp_rtcp_rb *rb, size_t n_rb)
{
	size_t len = 8 + n_rb * RB_LEN;

	if (!out || !outlen || n_rb > TP_RTCP_MAX_RB || (n_rb && !rb))
		return EINVAL;
	if (len > cap)
		return ENOSPC;
	wr_hdr(out, false, (unsigned)n_rb, TP_RTCP_RR, len);
	cm_wr32(out + 4, ssrc);
	wr_rbs(out + 8, rb, n_rb);
	*outlen = len;
	return 0;
}

/* One chunk: SSRC, CNAME item (type 1), then a null item ending the list,
 * with zeros up to the next 32-bit boundary (RFC 3550 6.5). */
int tp_rtcp_write_sdes(uint8_t *out, size_t cap, size_t *outlen, uint32_t ssrc,
		       const char *cname)
{
	size_t n, len;

	if (!out || !outlen || !cname)
		return EINVAL;
	n = strlen(cname);
	if (n > 255)
		return EINVAL;
	len = 4 + ((4 + 2 + n + 1 + 3) & ~(size_t)3);
	if (len > cap)
		return ENOSPC;
	memset(out, 0, len);
	wr_hdr(out, false, 1, TP_RTCP_SDES, len);
	cm_wr32(out + 4, ssrc);
	out[8] = 1;
	out[9] = (uint8_t)n;
	memcpy(out + 10, cname, n);
	*outlen = len;
	return 0;
}

int tp_rtcp_write_bye(uint8_t *out, size_t cap, size_t *outlen, const uint32_t *ssrc,
		      size_t n_ssrc)
{
	size_t len = 4 + 4 * n_ssrc;

	if (!out || !outlen || n_ssrc > TP_RTCP_MAX_BYE_SSRC || (n_ssrc && !ssrc))
		return EINVAL;
	if (len > cap)
		return ENOSPC;
	wr_hdr(out, false, (unsigned)n_ssrc, TP_RTCP_BYE, len);
	for (size_t i = 0; i < n_ssrc; i++)
		cm_wr32(out + 4 + 4 * i, ssrc[i]);
	*outlen = len;
	return 0;
}

static int wr_fb(uint8_t *out, size_t cap, size_t len, unsigned fmt, uint8_t pt,
		 uint32_t sender, uint32_t media)
{
	if (len > cap)
		return ENOSPC;
	wr_hdr(out, false, fmt, pt, len);
	cm_wr32(out + 4, sender);
	cm_wr32(out + 8, media);
	return 0;
}

/* Packs seqs into PID/BLP entries in the order given: a seq joins the
 * first entry whose PID is at most 16 before it, else opens a new one. */
int tp_rtcp_write_nack(uint8_t *out, size_t cap, size_t *outlen, uint32_t sender,
		       uint32_t media, const uint16_t *seqs, size_t n_seqs)
{
	uint8_t *fci = out + 12;
	size_t n = 0;

	if (!out || !outlen || !seqs || n_seqs == 0)
		return EINVAL;
	if (cap < 16)
		return ENOSPC;
	for (size_t i = 0; i < n_seqs; i++) {
		size_t j;

		for (j = 0; j < n; j++) {
			uint16_t d = (uint16_t)(seqs[i] - cm_rd16(fci + 4 * j));

			if (d == 0)
				break;
			if (d <= 16) {
				cm_wr16(
				    fci + 4 * j + 2,
				    (uint16_t)(cm_rd16(fci + 4 * j + 2) | 1u << (d - 1)));
				break;
			}
		}
		if (j < n)
			continue;
		if (cap - 12 < 4 * (n + 1) || 12 + 4 * (n + 1) > MAX_PKT_LEN)
			return ENOSPC;
		cm_wr16(fci + 4 * n, seqs[i]);
		cm_wr16(fci + 4 * n + 2, 0);
		n++;
	}
	wr_fb(out, cap, 12 + 4 * n, 1, TP_RTCP_RTPFB, sender, media);
	*outlen = 12 + 4 * n;
	return 0;
}

int tp_rtcp_write_pli(uint8_t *out, size_t cap, size_t *outlen, uint32_t sender,
		      uint32_t media)
{
	if (!out || !outlen)
		return EINVAL;
	if (wr_fb(out, cap, 12, 1, TP_RTCP_PSFB, sender, media))
		return ENOSPC;
	*outlen = 12;
	return 0;
}

/* RFC 5104 4.3.1: the media SSRC field is 0; the target is in the FCI. */
int tp_rtcp_write_fir(uint8_t *out, size_t cap, size_t *outlen, uint32_t sender,
		      uint32_t media, uint8_t seq)
{
	if (!out || !outlen)
		return EINVAL;
	if (wr_fb(out, cap, 20, 4, TP_RTCP_PSFB, sender, 0))
		return ENOSPC;
	cm_wr32(out + 12, media);
	out[16] = seq;
	out[17] = out[18] = out[19] = 0;
	*outlen = 20;
	return 0;
}

int tp_rtcp_write_remb(uint8_t *out, size_t cap, size_t *outlen, uint32_t sender,
		       uint64_t bitrate, const uint32_t *ssrc, size_t n_ssrc)
{
	size_t len = 20 + 4 * n_ssrc;
	unsigned exp = 0;

	if (!out || !outlen || n_ssrc > 255 || (n_ssrc && !ssrc))
		return EINVAL;
	if (wr_fb(out, cap, len, 15, TP_RTCP_PSFB, sender, 0))
		return ENOSPC;
	while ((bitrate >> exp) > 0x3ffff)
		exp++;
	memcpy(out + 12, "REMB", 4);
	out[16] = (uint8_t)n_ssrc;
	cm_wr24(out + 17, (uint32_t)(exp << 18) | (uint32_t)(bitrate >> exp));
	for (size_t i = 0; i < n_ssrc; i++)
		cm_wr32(out + 20 + 4 * i, ssrc[i]);
	*outlen = len;
	return 0;
}

/* ---- TWCC writing ------------------------------------------------------ */

/* A delta in 250 µs units, rounded to nearest. */
static int64_t twcc_units(int32_t us)
{
	int64_t v = us;

	return v >= 0 ? (v + 125) / 250 : -((-v + 125) / 250);
}

static int twcc_sym(const bool *received, const int32_t *delta_us, size_t i)
{
	int64_t u;

	if (!received[i])
		return TWCC_NOT_RECEIVED;
	u = twcc_units(delta_us[i]);
	if (u >= 0 && u <= 255)
		return TWCC_SMALL;
	if (u >= INT16_MIN && u <= INT16_MAX)
		return TWCC_LARGE;
	return -1;
}

/* Chooses the next chunk at i: a run when 7 or more symbols repeat, else
 * a 1-bit vector of 14 when they are all 0/1, else a 2-bit vector of 7.
 * Returns the chunk and how many statuses it covers in *used. */
static uint16_t twcc_chunk(const bool *rx, const int32_t *d, size_t i, size_t n,
			   size_t *used)
{
	int s0 = twcc_sym(rx, d, i);
	size_t run = 1, k;
	uint16_t c;
	bool one_bit = true;

	while (i + run < n && run < 0x1fff && twcc_sym(rx, d, i + run) == s0)
		run++;
	if (run >= 7) {
		*used = run;
		return (uint16_t)(s0 << 13 | run);
	}
	for (k = 0; k < 14 && i + k < n; k++)
		if (twcc_sym(rx, d, i + k) == TWCC_LARGE)
			one_bit = false;
	if (one_bit) {
		c = 0x8000;
		for (k = 0; k < 14 && i + k < n; k++)
			c |= (uint16_t)(twcc_sym(rx, d, i + k) << (13 - k));
	} else {
		c = 0xc000;
		for (k = 0; k < 7 && i + k < n; k++)
			c |= (uint16_t)(twcc_sym(rx, d, i + k) << (12 - 2 * k));
	}
	*used = k;
	return c;
}

int tp_rtcp_write_twcc(uint8_t *out, size_t cap, size_t *outlen, uint32_t sender,
		       uint32_t media, uint16_t base_seq, int32_t ref_time,
		       uint8_t fb_count, const bool *received, const int32_t *delta_us,
		       size_t n)
{
	size_t off = 20, pad;

	if (!out || !outlen || !received || !delta_us || n == 0 || n > 0xffff)
		return EINVAL;
	for (size_t i = 0; i < n; i++)
		if (twcc_sym(received, delta_us, i) < 0)
			return EINVAL; /* delta beyond ±8.19 s */
	if (cap < off)
		return ENOSPC;

	cm_wr16(out + 12, base_seq);
	cm_wr16(out + 14, (uint16_t)n);
	cm_wr24(out + 16, (uint32_t)ref_time & 0xffffff);
	out[19] = fb_count;
	for (size_t i = 0, used; i < n; i += used) {
		uint16_t c = twcc_chunk(received, delta_us, i, n, &used);

		if (cap - off < 2)
			return ENOSPC;
		cm_wr16(out + off, c);
		off += 2;
	}
	for (size_t i = 0; i < n; i++) {
		int64_t u;

		if (!received[i])
			continue;
		u = twcc_units(delta_us[i]);
		if (u >= 0 && u <= 255) {
			if (cap - off < 1)
				return ENOSPC;
			out[off++] = (uint8_t)u;
		} else {
			if (cap - off < 2)
				return ENOSPC;
			cm_wr16(out + off, (uint16_t)(int16_t)u);
			off += 2;
		}
	}
	/* pad to 32 bits with RTCP padding, as libwebrtc does */
	pad = (4 - (off & 3)) & 3;
	if (cap - off < pad)
		return ENOSPC;
	if (off + pad > MAX_PKT_LEN)
		return EINVAL;
	if (pad) {
		memset(out + off, 0, pad);
		off += pad;
		out[off - 1] = (uint8_t)pad;
	}
	wr_fb(out, cap, off, 15, TP_RTCP_RTPFB, sender, media);
	out[0] |= pad ? 0x20 : 0;
	*outlen = off;
	return 0;
}
