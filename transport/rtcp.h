/*
 * RTCP (RFC 3550, 4585, 5104, 5506) parsing and building: SR, RR, SDES
 * (skipped), BYE, generic NACK, PLI, FIR, REMB, transport-wide CC feedback.
 * Compound and reduced-size packets are both read by walking the packets
 * one by one. Part of transport.h; pure functions, no allocation.
 */
#ifndef TUTTI_TRANSPORT_RTCP_H
#define TUTTI_TRANSPORT_RTCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TP_RTCP_SR 200
#define TP_RTCP_RR 201
#define TP_RTCP_SDES 202
#define TP_RTCP_BYE 203
#define TP_RTCP_APP 204
#define TP_RTCP_RTPFB 205 /* FMT 1 NACK, 15 TWCC */
#define TP_RTCP_PSFB 206 /* FMT 1 PLI, 4 FIR, 15 AFB (REMB) */

#define TP_RTCP_MAX_RB 31
#define TP_RTCP_MAX_REMB_SSRC 16
#define TP_RTCP_MAX_BYE_SSRC 31
#define TP_RTCP_MAX_FIR 16

struct tp_rtcp_rb {
	uint32_t ssrc;
	uint8_t fraction_lost;
	int32_t cum_lost; /* 24-bit signed */
	uint32_t ext_high_seq;
	uint32_t jitter;
	uint32_t lsr;
	uint32_t dlsr;
};

enum tp_rtcp_kind {
	TP_RTCP_K_SR,
	TP_RTCP_K_RR,
	TP_RTCP_K_SDES,
	TP_RTCP_K_BYE,
	TP_RTCP_K_NACK,
	TP_RTCP_K_PLI,
	TP_RTCP_K_FIR,
	TP_RTCP_K_REMB,
	TP_RTCP_K_TWCC,
	TP_RTCP_K_OTHER, /* APP, XR, unknown feedback: skipped */
};

/* One packet of a compound. All pointers point into the parsed buffer. */
struct tp_rtcp_pkt {
	enum tp_rtcp_kind kind;
	uint8_t pt, fmt;
	uint32_t sender_ssrc; /* SR/RR/feedback sender; first SSRC of BYE */
	uint32_t media_ssrc; /* feedback: the media source */
	union {
		struct {
			uint64_t ntp;
			uint32_t rtp_ts;
			uint32_t pkt_count;
			uint32_t octet_count;
		} sr;
		struct {
			size_t n_ssrc;
			uint32_t ssrc[TP_RTCP_MAX_BYE_SSRC];
		} bye;
		struct {
			/* FCI entries of 4 bytes: PID (16) + BLP (16). */
			const uint8_t *fci;
			size_t n_fci;
		} nack;
		struct {
			size_t n;
			uint32_t ssrc[TP_RTCP_MAX_FIR];
			uint8_t seq[TP_RTCP_MAX_FIR];
		} fir;
		struct {
			uint64_t bitrate; /* bit/s, mantissa << exp, saturated */
			size_t n_ssrc; /* as stated in the packet (<= 255) */
			uint32_t ssrc[TP_RTCP_MAX_REMB_SSRC]; /* first ones kept */
		} remb;
		struct {
			uint16_t base_seq;
			uint16_t status_count;
			int32_t ref_time; /* 24-bit signed, units of 64 ms */
			uint8_t fb_count;
			const uint8_t *chunks; /* packet chunks then deltas */
			size_t chunks_len;
		} twcc;
	} u;
	/* SR and RR report blocks. */
	size_t n_rb;
	struct tp_rtcp_rb rb[TP_RTCP_MAX_RB];
};

/* Walks a compound (or single, or reduced-size) RTCP packet. */
struct tp_rtcp_iter {
	const uint8_t *buf;
	size_t len;
	size_t off;
};

void tp_rtcp_iter_init(struct tp_rtcp_iter *it, const uint8_t *buf, size_t len);
/* Parses the next packet into *p. Returns 0, ENOENT at the end, or
 * EBADMSG when the remaining bytes are malformed (stop walking then). */
int tp_rtcp_next(struct tp_rtcp_iter *it, struct tp_rtcp_pkt *p);

/* Expands a NACK's FCI into lost sequence numbers, at most cap of them.
 * Returns how many were written. */
size_t tp_rtcp_nack_seqs(const struct tp_rtcp_pkt *p, uint16_t *seqs, size_t cap);

/* One packet's fate in a TWCC feedback. */
struct tp_twcc_status {
	uint16_t seq;
	bool received;
	int32_t delta_us; /* receive delta in µs (250 µs units), if received */
};
/* Decodes a TWCC packet's chunks and deltas, at most cap entries.
 * Returns the count written, or -1 if the chunks/deltas are malformed. */
int tp_rtcp_twcc_decode(const struct tp_rtcp_pkt *p, struct tp_twcc_status *out,
			size_t cap);

/* ---- building: each appends one packet at out, returns 0 and *outlen
 * (bytes written), or ENOSPC/EINVAL. Concatenate for a compound. ---- */

int tp_rtcp_write_sr(uint8_t *out, size_t cap, size_t *outlen, uint32_t ssrc,
		     uint64_t ntp, uint32_t rtp_ts, uint32_t pkt_count,
		     uint32_t octet_count, const struct tp_rtcp_rb *rb, size_t n_rb);
int tp_rtcp_write_rr(uint8_t *out, size_t cap, size_t *outlen, uint32_t ssrc,
		     const struct tp_rtcp_rb *rb, size_t n_rb);
/* SDES with one CNAME item. */
int tp_rtcp_write_sdes(uint8_t *out, size_t cap, size_t *outlen, uint32_t ssrc,
		       const char *cname);
int tp_rtcp_write_bye(uint8_t *out, size_t cap, size_t *outlen,
		      const uint32_t *ssrc, size_t n_ssrc);
/* Generic NACK for the given lost sequence numbers (packed into PID/BLP). */
int tp_rtcp_write_nack(uint8_t *out, size_t cap, size_t *outlen, uint32_t sender,
		       uint32_t media, const uint16_t *seqs, size_t n_seqs);
int tp_rtcp_write_pli(uint8_t *out, size_t cap, size_t *outlen, uint32_t sender,
		      uint32_t media);
int tp_rtcp_write_fir(uint8_t *out, size_t cap, size_t *outlen, uint32_t sender,
		      uint32_t media, uint8_t seq);
int tp_rtcp_write_remb(uint8_t *out, size_t cap, size_t *outlen, uint32_t sender,
		       uint64_t bitrate, const uint32_t *ssrc, size_t n_ssrc);
/* TWCC feedback for n consecutive sequence numbers from base_seq:
 * received[i] says whether base_seq+i arrived, and if so delta_us[i]
 * is its arrival delta (from ref_time for the first, from the previous
 * received packet after). Deltas are rounded to 250 µs units. */
int tp_rtcp_write_twcc(uint8_t *out, size_t cap, size_t *outlen, uint32_t sender,
		       uint32_t media, uint16_t base_seq, int32_t ref_time,
		       uint8_t fb_count, const bool *received,
		       const int32_t *delta_us, size_t n);

#endif
