/*
 * What each receiver is sent of a tier's video (see video.h): a frame's
 * packets rewritten for it (SSRC, sequence numbers, timestamps, picture
 * ids), sent twice to a lossy receiver, a tier switch at a keyframe, and
 * the retransmissions its NACKs ask for. The pictures themselves are
 * video.c's. Room thread only.
 */
#include <string.h>

#include "common/common.h"
#include "mixer/video_priv.h"

/* An early repair (TWCC's lost) stops once a packet went this often:
 * past that the receiver's jitter buffer has given its frame up. */
#define MX_EARLY_SENDS 4

/* One packet to one receiver, rewritten: its SSRC, payload type,
 * sequence number, timestamp, picture id and TL0PICIDX; as a
 * retransmission on the RTX stream when rtx is set. */
static void send_to(struct mx_room *r, struct mx_part *p, const uint8_t *pkt, size_t len,
		    uint16_t rseq, uint32_t rts, uint16_t rpic, uint8_t rtl0, bool rtx)
{
	const struct tp_sdp_neg_media *m = tp_sender_media(p->sender, TP_SDP_VIDEO);
	uint8_t buf[PKT_CAP];

	if (!m || len > sizeof(buf) || len < TP_RTP_HEADER_LEN)
		return;
	memcpy(buf, pkt, len);
	buf[1] = (uint8_t)((buf[1] & 0x80) | (m->pt & 0x7f));
	cm_wr16(buf + 2, rseq);
	cm_wr32(buf + 4, rts);
	cm_wr32(buf + 8, tp_sender_ssrc(p->sender, TP_SDP_VIDEO));
	if (p->vout.codec != TP_CODEC_H264)
		cx_vp8_rewrite_picture_id(buf + TP_RTP_HEADER_LEN,
					  len - TP_RTP_HEADER_LEN, rpic, rtl0);
	if (rtx)
		tp_sender_send_rtx(p->sender, r->batch, buf, len);
	else
		tp_sender_send_rtp(p->sender, r->batch, buf, len);
}

/* A receiver's packet history on a tier: VP8's, or the tier's H.264
 * stream's (NULL when it has none). */
static const struct hist_pkt *hist_of(const struct tier *t, enum tp_codec c)
{
	if (c != TP_CODEC_H264)
		return t->hist;
	return t->h264 ? t->h264->hist : NULL;
}

/* A tier's frame (its n packets from first, in hist) to one receiver. To
 * a receiver on a lossy link, a keyframe and every frame of the smallest
 * tier (the only one it gets then: rate.c) go twice, the copy on the RTX
 * stream, within the repair budget: at 15 % loss a keyframe of a few
 * packets then arrives whole nine times in ten instead of half the time,
 * and a frame of one or two packets 96-98 times in 100 instead of 72-85;
 * the repair rounds (NACK, retransmission, lost again, a new keyframe)
 * were what froze the picture for a second. The copy follows at once:
 * against random loss, not a burst that takes both. */
static void send_frame(struct mx_room *r, struct mx_part *p, const struct hist_pkt *hist,
		       int ti, uint16_t first, size_t n, bool key, uint64_t now)
{
	struct mx_vout *o = &p->vout;
	uint16_t rpic = o->next_pic++ & 0x7fff;
	bool twice = (key || ti == 0) && mx_rate_copies(p);

	for (size_t i = 0; i < n; i++) {
		const struct hist_pkt *hp = &hist[(uint16_t)(first + i) % HIST];
		struct cx_vp8_desc d = {0};
		if (!hp->len || (o->codec != TP_CODEC_H264 &&
				 cx_vp8_parse_desc(hp->data + TP_RTP_HEADER_LEN,
						   hp->len - TP_RTP_HEADER_LEN, &d)))
			continue;
		uint16_t rseq = o->next_seq++;
		o->last_ts = cm_rd32(hp->data + 4) + o->ts_off;
		o->last_tl0 = (uint8_t)(d.tl0picidx + o->tl0_off);
		o->sent[rseq % MX_SENT_MAP] = (struct mx_sent){
		    .rseq = rseq,
		    .tseq = hp->seq,
		    .rpic = rpic,
		    .rtl0 = o->last_tl0,
		    .tier = (int8_t)ti,
		    .sends = 1,
		};
		send_to(r, p, hp->data, hp->len, rseq, o->last_ts, rpic, o->last_tl0,
			false);
		if (twice && mx_rate_rtx_allowed(p, hp->len, now)) {
			send_to(r, p, hp->data, hp->len, rseq, o->last_ts, rpic,
				o->last_tl0, true);
			o->sent[rseq % MX_SENT_MAP].sends++;
		}
	}
	o->frames_sent++;
}

/* A receiver joins a tier's stream at its keyframe: the TL0PICIDX offset
 * makes the new stream continue where the last one stopped (sequence
 * numbers and picture ids simply run on). */
static void switch_tier(struct mx_part *p, int tier, const uint8_t *first, size_t len)
{
	struct mx_vout *o = &p->vout;
	struct cx_vp8_desc d = {0};

	if (o->codec != TP_CODEC_H264)
		cx_vp8_parse_desc(first + TP_RTP_HEADER_LEN, len - TP_RTP_HEADER_LEN, &d);
	if (!o->started) {
		o->next_seq = (uint16_t)cm_random_u32();
		o->next_pic = (uint16_t)cm_random_u32();
		o->ts_off = cm_random_u32();
		o->tl0_off = (uint8_t)cm_random_u32();
	} else {
		/* Every tier's clock is the room's (90 kHz since t0): the
		 * timestamp offset stays, so time runs on across switches
		 * and pauses. */
		o->tl0_off = (uint8_t)(o->last_tl0 + 1 - d.tl0picidx);
	}
	o->tier = tier;
	o->started = true;
}

/* Stores a frame's payloads (v->frame_buf, v->frame_lens) as RTP packets
 * with the tier's sequence numbers and the timestamp in hist, for the
 * receivers and their NACKs. */
void mx_video_store_packets(struct mx_video *v, struct hist_pkt *hist, uint16_t *seq,
			    size_t n, uint32_t ts)
{
	const uint8_t *payload = v->frame_buf;

	for (size_t i = 0; i < n; payload += v->frame_lens[i++]) {
		struct hist_pkt *hp = &hist[*seq % HIST];
		struct tp_rtp_hdr h = {.marker = i == n - 1, .seq = (*seq)++, .ts = ts};
		size_t len;
		if (tp_rtp_write(hp->data, sizeof(hp->data), &len, &h, payload,
				 v->frame_lens[i])) {
			hp->len = 0;
			continue;
		}
		hp->seq = h.seq;
		hp->len = (uint16_t)len;
	}
}

/* A tier's frame of codec c (its n packets up to seq, in hist) to each of
 * the tier's receivers of that codec, and to those that join the tier at
 * this keyframe. */
void mx_video_fan_out(struct mx_room *r, unsigned ti, enum tp_codec c,
		      const struct hist_pkt *hist, uint16_t seq, size_t n, bool keyframe,
		      uint8_t tid, uint64_t now)
{
	uint16_t first = (uint16_t)(seq - n);

	for (size_t k = 0; k < r->n_parts; k++) {
		struct mx_part *p = r->parts[k];
		if (!p->sender || p->vout.codec != c ||
		    !tp_sender_media(p->sender, TP_SDP_VIDEO))
			continue;
		bool mine = p->vout.started && p->vout.tier == (int)ti;
		bool joins = p->vout.want == (int)ti && keyframe &&
			     (!p->vout.started || p->vout.tier != (int)ti);
		if (!mine && !joins)
			continue;
		/* A receiver switching tiers keeps this one until its new
		 * tier sends a keyframe (then "joins" is true there). A
		 * receiver held to a lower frame rate skips the frames of
		 * the temporal layers above its own. */
		if (!joins && !keyframe && tid > p->vout.max_tid)
			continue;
		if (joins)
			switch_tier(p, (int)ti, hist[first % HIST].data,
				    hist[first % HIST].len);
		send_frame(r, p, hist, (int)ti, first, n, keyframe, now);
	}
}

/* What a frame costs a receiver (payload, RTP, extensions, SRTP, UDP/IP). */
size_t mx_video_wire_bytes(const struct mx_video *v, size_t n)
{
	size_t wire = 0;

	for (size_t i = 0; i < n; i++)
		wire += v->frame_lens[i] + 12 + 8 + 16 + 28;
	return wire;
}

/* Packets again, from the tier's history: on the RTX stream when the
 * receiver negotiated one (RFC 4588), else as they were; within a budget
 * of the receiver's estimate (rate.c), so that repairs do not take the
 * bandwidth the stream itself needs. For its NACKs; and early, for the
 * packets its TWCC feedback reported lost, which comes at every frame's
 * end: a receiver may NACK only with its regular RTCP, later than its
 * jitter buffer waits (GStreamer's: some 200-350 ms after the loss, and
 * it gave the frame up at 200 ms and asked for a keyframe). An early
 * repair goes when every copy sent so far was reported lost (a lossy
 * receiver's copy of each frame is one: at 15 % loss both go one time in
 * 45, and that was a frozen picture until the next keyframe), until the
 * packet went MX_EARLY_SENDS times; a NACK is answered whatever went. */
static void resend(struct mx_room *r, struct mx_part *p, const uint16_t *seqs, size_t n,
		   bool early, uint64_t now)
{
	bool rtx = tp_sender_rtx_pt(p->sender) > 0;
	struct mx_vout *o = &p->vout;

	if (!o->started)
		return;
	for (size_t i = 0; i < n; i++) {
		struct mx_sent *e = &o->sent[seqs[i] % MX_SENT_MAP];
		if (e->tier < 0 || e->rseq != seqs[i])
			continue;
		if (early && (++e->lost < e->sends || e->sends >= MX_EARLY_SENDS))
			continue;
		const struct tier *t = &r->video->tiers[(int)e->tier];
		const struct hist_pkt *hist = hist_of(t, o->codec);
		if (!hist)
			continue;
		const struct hist_pkt *hp = &hist[e->tseq % HIST];
		if (!hp->len || hp->seq != e->tseq)
			continue; /* too old: gone from the history */
		uint32_t ts = cm_rd32(hp->data + 4) + o->ts_off;
		if (e->tier != o->tier)
			continue; /* sent before a switch: its timestamp base is gone */
		/* Still in its pacer: the packet is on its way (a receiver
		 * behind a slow link sees the gap before it arrives); a copy
		 * would only take its link's bytes, or arrive twice. */
		if (tp_sender_video_queued(p->sender, e->rseq)) {
			__atomic_add_fetch(&r->ctr.video_nacks_queued, 1,
					   __ATOMIC_RELAXED);
			continue;
		}
		if (!mx_rate_rtx_allowed(p, hp->len, now))
			continue;
		send_to(r, p, hp->data, hp->len, e->rseq, ts, e->rpic, e->rtl0, rtx);
		if (e->sends < UINT8_MAX)
			e->sends++;
		__atomic_add_fetch(&r->ctr.video_retransmits, 1, __ATOMIC_RELAXED);
		if (early)
			__atomic_add_fetch(&r->ctr.video_repairs_early, 1, __ATOMIC_RELAXED);
	}
}

void mx_video_retransmit(struct mx_room *r, struct mx_part *p,
			 const struct tp_rtcp_pkt *pk, uint64_t now)
{
	uint16_t seqs[128];
	size_t n = tp_rtcp_nack_seqs(pk, seqs, CM_ARRAY_SIZE(seqs));

	resend(r, p, seqs, n, false, now);
}

void mx_video_repair_lost(struct mx_room *r, struct mx_part *p, uint64_t now)
{
	uint16_t seqs[TP_SENDER_LOST_MAX];
	size_t n;

	if (!p->sender)
		return;
	n = tp_sender_take_lost_video(p->sender, seqs, CM_ARRAY_SIZE(seqs));
	resend(r, p, seqs, n, true, now);
}
