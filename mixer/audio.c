/*
 * The audio half of a room's 20 ms tick.
 *
 * Per participant, packets wait in an adaptive jitter buffer. Each tick:
 * the loudness of every unmuted participant is read (the RFC 6464 level
 * its packets carry, or, for senders without it, measured on its decoded
 * audio); the loudest K are chosen (speakers.c); only they are decoded
 * (FEC or PLC for what is missing) and summed once into acc. Each
 * speaker gets acc minus its own voice, through its own limiter and
 * encoder; everyone else gets the common mix (acc through one limiter),
 * encoded once per audio tier in use. So the encodes per tick are
 * K + tiers, whatever the number of listeners. Every receiver has its own
 * sequence numbers and a timestamp derived from the room's tick, so
 * moving between the common stream and an own mix is seamless.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "mixer/internal.h"

static const int tier_bitrate[MX_AUDIO_TIERS] = {
	[MX_AUDIO_NORMAL] = 32000,
	[MX_AUDIO_LOW] = 16000,
};

struct slot {
	struct mx_part *part; /* NULL: free */
	struct cx_opus_enc *enc;
	struct mx_limiter lim;
	int loss_perc; /* what the encoder was told, -1 not yet */
};

struct mx_audio {
	struct mx_mix_dsp dsp;
	unsigned k;
	struct slot slots[MX_MAX_SPEAKERS];
	struct cx_opus_enc *tier_enc[MX_AUDIO_TIERS];
	int tier_loss[MX_AUDIO_TIERS]; /* what the encoders were told, -1 not yet */
	struct mx_limiter common_lim;
	int tier_len[MX_AUDIO_TIERS];
	uint8_t tier_pkt[MX_AUDIO_TIERS][CX_OPUS_MAX_PACKET];
	const int16_t *src[MX_MAX_SPEAKERS];
	int32_t acc[MX_FRAME];
	int16_t out[MX_FRAME];
	/* Scratch for the selection, sized for the room. */
	size_t cap;
	struct mx_spk **spk;
	bool *eligible;
	size_t *chosen;
};

static int new_encoder(struct cx_opus_enc **e, int bitrate)
{
	struct cx_opus_enc_cfg c;

	cx_opus_enc_cfg_init(&c);
	c.bitrate = bitrate;
	c.channels = 1;
	c.inband_fec = true;
	c.dtx = true;
	c.packet_loss_perc = 5;
	return cx_opus_enc_new(e, &c);
}

int mx_audio_new(struct mx_audio **out, const struct mx_room_cfg *cfg)
{
	struct mx_audio *a = calloc(1, sizeof(*a));
	int err = 0;

	if (!a)
		return ENOMEM;
	mx_mix_dsp_init(&a->dsp, mx_cpu_flags());
	a->k = cfg->speakers;
	a->cap = cfg->max_participants;
	a->spk = calloc(a->cap, sizeof(*a->spk));
	a->eligible = calloc(a->cap, sizeof(*a->eligible));
	a->chosen = calloc(a->k, sizeof(*a->chosen));
	if (!a->spk || !a->eligible || !a->chosen)
		err = ENOMEM;
	for (int t = 0; t < MX_AUDIO_TIERS && !err; t++) {
		err = new_encoder(&a->tier_enc[t], tier_bitrate[t]);
		a->tier_loss[t] = -1;
	}
	for (unsigned i = 0; i < a->k && !err; i++) {
		err = new_encoder(&a->slots[i].enc, tier_bitrate[MX_AUDIO_NORMAL]);
		mx_limiter_init(&a->slots[i].lim);
		a->slots[i].loss_perc = -1;
	}
	mx_limiter_init(&a->common_lim);
	if (err) {
		mx_audio_free(&a);
		return err;
	}
	*out = a;
	return 0;
}

void mx_audio_free(struct mx_audio **pa)
{
	struct mx_audio *a = pa ? *pa : NULL;

	if (!a)
		return;
	for (int t = 0; t < MX_AUDIO_TIERS; t++)
		cx_opus_enc_free(&a->tier_enc[t]);
	for (unsigned i = 0; i < MX_MAX_SPEAKERS; i++)
		cx_opus_enc_free(&a->slots[i].enc);
	free(a->spk);
	free(a->eligible);
	free(a->chosen);
	free(a);
	*pa = NULL;
}

int mx_audio_part_init(struct mx_part *p)
{
	int err = mx_jb_new(&p->jb);

	if (!err)
		err = cx_opus_dec_new(&p->dec, 1);
	if (err) {
		mx_jb_free(&p->jb);
		return err;
	}
	p->level_now = -1;
	return 0;
}

void mx_audio_part_fini(struct mx_audio *a, struct mx_part *p)
{
	if (p->slot >= 0 && a)
		a->slots[p->slot].part = NULL;
	mx_jb_free(&p->jb);
	cx_opus_dec_free(&p->dec);
}

void mx_audio_input(struct mx_part *p, const uint8_t *pkt, size_t len,
		    const struct tp_rtp_hdr *h, uint64_t arrival_us)
{
	const struct tp_rtp_ext *e = p->level_ext ? tp_rtp_find_ext(h, p->level_ext) : NULL;
	uint8_t level = MX_JB_LEVEL_NONE;
	bool voice;

	if (e && tp_rtp_audio_level(e, &voice, &level) == 0) {
		if (p->level_now < 0 || level < p->level_now)
			p->level_now = level;
	} else {
		level = MX_JB_LEVEL_NONE;
	}
	mx_jb_put(p->jb, h->seq, h->ts, arrival_us, pkt + h->hdr_len, h->payload_len,
		  level);
}

/* Decodes this tick's frame of p into p->pcm (FEC or PLC for a loss). */
static void decode(struct mx_room *r, struct mx_part *p, const struct mx_jb_frame *f)
{
	uint64_t t0 = cm_now_us();
	int n = -1;

	switch (f->kind) {
	case MX_JB_PACKET:
		n = cx_opus_decode(p->dec, f->data, f->len, p->pcm, MX_FRAME);
		break;
	case MX_JB_LOST_FEC:
		n = cx_opus_decode_fec(p->dec, f->data, f->len, p->pcm, MX_FRAME);
		break;
	case MX_JB_LOST:
		n = cx_opus_conceal(p->dec, p->pcm, MX_FRAME);
		break;
	default:
		break;
	}
	p->has_pcm = n > 0;
	if (p->has_pcm) {
		/* Packets shorter than 20 ms leave the rest silent. */
		if (n < MX_FRAME)
			memset(p->pcm + n, 0, (MX_FRAME - (size_t)n) * sizeof(int16_t));
		__atomic_add_fetch(&r->ctr.audio_decodes, 1, __ATOMIC_RELAXED);
	}
	__atomic_add_fetch(&r->ctr.audio_decode_us, cm_now_us() - t0, __ATOMIC_RELAXED);
}

/* -dBov of a decoded frame, 127 for silence (RFC 6464 scale). */
static int measure_level(const struct mx_mix_dsp *dsp, const int16_t *pcm)
{
	double ms = (double)dsp->energy(pcm, MX_FRAME) / MX_FRAME;
	double dbov = ms > 0 ? 10.0 * log10(ms / (32768.0 * 32768.0)) : -127.0;

	return (int)CM_MIN(127.0, CM_MAX(0.0, -dbov));
}

static int encode(struct mx_room *r, struct cx_opus_enc *enc, const int16_t *pcm,
		  uint8_t *out)
{
	uint64_t t0 = cm_now_us();
	int n = cx_opus_encode(enc, pcm, MX_FRAME, out, CX_OPUS_MAX_PACKET);

	__atomic_add_fetch(&r->ctr.audio_encode_us, cm_now_us() - t0, __ATOMIC_RELAXED);
	__atomic_add_fetch(&r->ctr.audio_encodes, 1, __ATOMIC_RELAXED);
	return n;
}

/* One receiver's packet: its own sequence number, and a timestamp from
 * the room's tick, whichever encoder made the payload. */
static void send_audio(struct mx_room *r, struct mx_part *p, const uint8_t *payload,
		       int len)
{
	const struct tp_sdp_neg_media *m = tp_sender_media(p->sender, TP_SDP_AUDIO);
	uint8_t buf[CX_OPUS_MAX_PACKET + 64];
	struct tp_rtp_hdr h = { 0 };
	size_t n;

	if (!m)
		return;
	if (len <= 0 || cx_opus_is_dtx((size_t)len)) {
		/* DTX: nothing goes out; the next packet starts a talkspurt. */
		p->a_marker = true;
		return;
	}
	h.marker = p->a_marker;
	h.pt = (uint8_t)m->pt;
	h.seq = p->a_seq++;
	h.ts = p->a_ts_base + (uint32_t)(r->tick * MX_FRAME);
	h.ssrc = tp_sender_ssrc(p->sender, TP_SDP_AUDIO);
	if (tp_rtp_write(buf, sizeof(buf), &n, &h, payload, (size_t)len) == 0 &&
	    tp_sender_send_rtp(p->sender, r->batch, buf, n) == 0)
		p->a_marker = false;
}

/* Gives the chosen speakers a slot (and so an encoder), freeing the
 * slots of those no longer chosen. */
static void assign_slots(struct mx_audio *a, struct mx_part **parts, size_t m)
{
	for (unsigned i = 0; i < a->k; i++) {
		struct mx_part *p = a->slots[i].part;
		if (p && !p->spk.speaker) {
			p->slot = -1;
			a->slots[i].part = NULL;
		}
	}
	for (size_t j = 0; j < m; j++) {
		struct mx_part *p = parts[a->chosen[j]];
		if (p->slot >= 0)
			continue;
		for (unsigned i = 0; i < a->k; i++) {
			if (!a->slots[i].part) {
				a->slots[i].part = p;
				p->slot = (int)i;
				p->a_marker = true;
				mx_limiter_init(&a->slots[i].lim);
				a->slots[i].loss_perc = -1; /* told again for p */
				cx_opus_enc_set_bitrate(a->slots[i].enc, tier_bitrate[p->tier]);
				break;
			}
		}
	}
}

/* Tells an encoder the loss its listeners see: in-band FEC on when they
 * lose packets (it costs bits), and the expected loss, which sets how
 * much of the bitrate the redundancy takes. */
static void set_loss(struct cx_opus_enc *e, int *told, double loss)
{
	int perc = (int)CM_MIN(30.0, ceil(loss * 100.0));

	if (perc == *told)
		return;
	cx_opus_enc_set_fec(e, perc > 0);
	cx_opus_enc_set_loss_perc(e, perc);
	*told = perc;
}

void mx_audio_adapt(struct mx_room *r)
{
	struct mx_audio *a = r->audio;
	double loss[MX_AUDIO_TIERS] = { 0 };

	for (size_t i = 0; i < r->n_parts; i++) {
		struct mx_part *p = r->parts[i];
		if (p->sender && p->slot < 0)
			loss[p->tier] = CM_MAX(loss[p->tier], p->rate.loss);
	}
	for (int t = 0; t < MX_AUDIO_TIERS; t++)
		set_loss(a->tier_enc[t], &a->tier_loss[t], loss[t]);
	for (unsigned i = 0; i < a->k; i++) {
		struct slot *s = &a->slots[i];
		if (s->part)
			set_loss(s->enc, &s->loss_perc, s->part->rate.loss);
	}
}

void mx_audio_tick(struct mx_room *r, uint64_t now)
{
	struct mx_audio *a = r->audio;
	bool tier_used[MX_AUDIO_TIERS] = { false };
	size_t n = r->n_parts, m;

	if (!n)
		return;
	/* 1. Levels: from the extension, or measured on decoded audio. */
	for (size_t i = 0; i < n; i++) {
		struct mx_part *p = r->parts[i];
		mx_jb_get(p->jb, now, &p->frame);
		p->has_pcm = false;
		if (!p->level_ext && !p->muted && p->frame.kind != MX_JB_EMPTY) {
			decode(r, p, &p->frame);
			p->level_now = p->has_pcm ? measure_level(&a->dsp, p->pcm) : -1;
		}
		mx_spk_update(&p->spk, p->muted ? -1 : p->level_now, now);
		p->level_now = -1;
		a->spk[i] = &p->spk;
		a->eligible[i] = !p->muted;
	}
	/* Who is speaking, for the roster: news only when it changes. */
	uint64_t sig = 0;
	for (size_t i = 0; i < n; i++)
		if (mx_spk_speaking(&r->parts[i]->spk, now))
			sig = sig * 1099511628211ull + r->parts[i]->join_seq + 1;
	if (sig != r->speaking_sig) {
		r->speaking_sig = sig;
		r->changed = true;
	}
	/* 2. The loudest K; only they are decoded and mixed. */
	m = mx_spk_select(a->spk, a->eligible, n, a->k, now, a->chosen);
	assign_slots(a, r->parts, m);
	/* The loudest drives the speaker layout; silence keeps the last. */
	if (m)
		r->active_speaker = r->parts[a->chosen[0]];
	size_t n_src = 0;
	for (size_t j = 0; j < m; j++) {
		struct mx_part *p = r->parts[a->chosen[j]];
		if (!p->has_pcm)
			decode(r, p, &p->frame);
		if (p->has_pcm)
			a->src[n_src++] = p->pcm;
	}
	/* Summed once, acc kept in registers across the sources. */
	memset(a->acc, 0, sizeof(a->acc));
	a->dsp.accumulate_many(a->acc, a->src, n_src, MX_FRAME);
	/* 3. The common mix, once per tier that has listeners. */
	for (size_t i = 0; i < n; i++) {
		struct mx_part *p = r->parts[i];
		if (p->slot < 0 && p->sender)
			tier_used[p->tier] = true;
	}
	if (r->rec) /* the recording takes the common mix */
		tier_used[MX_AUDIO_NORMAL] = true;
	if (tier_used[MX_AUDIO_NORMAL] || tier_used[MX_AUDIO_LOW])
		mx_limiter_run(&a->common_lim, &a->dsp, a->out, a->acc, NULL, MX_FRAME);
	for (int t = 0; t < MX_AUDIO_TIERS; t++)
		a->tier_len[t] = tier_used[t] ? encode(r, a->tier_enc[t], a->out,
						       a->tier_pkt[t])
					      : 0;
	if (r->rec && a->tier_len[MX_AUDIO_NORMAL] > 0)
		mx_rec_audio(r->rec, a->tier_pkt[MX_AUDIO_NORMAL],
			     (size_t)a->tier_len[MX_AUDIO_NORMAL], now);
	/* 4. Each speaker: the mix minus its own voice, for it alone. */
	for (unsigned i = 0; i < a->k; i++) {
		struct slot *s = &a->slots[i];
		uint8_t pkt[CX_OPUS_MAX_PACKET];
		int len;
		if (!s->part || !s->part->sender)
			continue;
		mx_limiter_run(&s->lim, &a->dsp, a->out, a->acc,
			       s->part->has_pcm ? s->part->pcm : NULL, MX_FRAME);
		len = encode(r, s->enc, a->out, pkt);
		send_audio(r, s->part, pkt, len);
	}
	/* 5. Everyone else: the common packet of its tier. */
	for (size_t i = 0; i < n; i++) {
		struct mx_part *p = r->parts[i];
		if (p->slot < 0 && p->sender)
			send_audio(r, p, a->tier_pkt[p->tier], a->tier_len[p->tier]);
	}
}
