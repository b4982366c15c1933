/*
 * One tutti-load participant: its SDP offer, ICE check, DTLS handshake and
 * SRTP contexts (or none: plain RTP), the media it sends on absolute
 * deadlines from the shared time zero, its answers to the server's RTCP
 * (PLI: the keyframe version of the next frame; NACK: the stored packet
 * again), and what it receives: decrypted, counted, and for a sample of
 * participants decoded to read the tone onsets and frame counters back.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"
#include "transport/dtls.h"
#include "transport/rtcp.h"
#include "transport/rtp.h"
#include "transport/sdp.h"
#include "transport/srtp.h"
#include "transport/stun.h"
#include "perf/load/load.h"

#define AUDIO_PT      111
#define VIDEO_PT      96
#define TICK_US       20000
#define FRAME_US      (1000000 / LG_FPS)
#define STUN_EVERY_US 5000000
#define RTCP_EVERY_US 5000000
#define MTU_PAYLOAD   1100
#define MAX_BEHIND    5 /* ticks or frames: later than that, skip, not burst */
#define BATCH         32

int lg_part_init(struct lg_part *p, unsigned idx)
{
	memset(p, 0, sizeof(*p));
	p->idx = idx;
	p->fd = -1;
	p->http_fd = -1;
	p->speaker = -1;
	p->tier = -1;
	cm_random_token(p->ufrag, 8);
	cm_random_token(p->pwd, 24);
	p->ssrc[0] = cm_random_u32() | 1;
	p->ssrc[1] = cm_random_u32() | 2;
	p->seq[0] = (uint16_t)cm_random_u32();
	p->seq[1] = (uint16_t)cm_random_u32();
	/* spread the participants' sending over the 20 ms tick */
	p->stagger_us = (idx * 7919u) % TICK_US;
	return 0;
}

void lg_part_fini(struct lg_part *p)
{
	if (p->dtls)
		tp_dtls_close(p->dtls);
	tp_dtls_free(&p->dtls);
	tp_srtp_free(&p->tx);
	tp_srtp_free(&p->rx);
	cx_vp8_pay_free(&p->pay);
	cx_opus_dec_free(&p->adec);
	cx_vp8_asm_free(&p->asm_);
	cx_vp8_dec_free(&p->vdec);
	if (p->hist) {
		for (int i = 0; i < LG_HIST; i++)
			free(p->hist[i].buf);
		free(p->hist);
	}
	free(p->a_delay);
	free(p->v_delay);
	free(p->dst);
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

/* ---- SDP ---------------------------------------------------------------------- */

int lg_offer(struct lg_run *run, struct lg_part *p, char *out, size_t cap)
{
	const char *fp = tp_dtls_cert_fingerprint(run->cert);
	int n =
	    snprintf(out, cap,
		     "v=0\r\no=- %u 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
		     "a=group:BUNDLE 0%s\r\na=msid-semantic: WMS load\r\n"
		     "m=audio 9 UDP/TLS/RTP/SAVPF %u\r\nc=IN IP4 0.0.0.0\r\n"
		     "a=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:%s\r\na=ice-pwd:%s\r\n"
		     "a=fingerprint:sha-256 %s\r\na=setup:actpass\r\na=mid:0\r\n"
		     "a=extmap:%u " TP_EXT_AUDIO_LEVEL "\r\n"
		     "a=sendrecv\r\na=msid:load a%u\r\na=rtcp-mux\r\n"
		     "a=rtpmap:%u opus/48000/2\r\na=fmtp:%u "
		     "minptime=10;useinbandfec=1;usedtx=1\r\n"
		     "a=ssrc:%u cname:load%u\r\n",
		     p->idx, run->audio_only ? "" : " 1", AUDIO_PT, p->ufrag, p->pwd, fp,
		     run->audio_ext_id, p->idx, AUDIO_PT, AUDIO_PT, p->ssrc[0], p->idx);

	if (n <= 0 || (size_t)n >= cap)
		return ENOSPC;
	if (run->audio_only)
		return 0;
	int k = snprintf(
	    out + n, cap - (size_t)n,
	    "m=video 9 UDP/TLS/RTP/SAVPF %u\r\nc=IN IP4 0.0.0.0\r\n"
	    "a=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:%s\r\na=ice-pwd:%s\r\n"
	    "a=fingerprint:sha-256 %s\r\na=setup:actpass\r\na=mid:1\r\n"
	    "a=sendrecv\r\na=msid:load v%u\r\na=rtcp-mux\r\na=rtcp-rsize\r\n"
	    "a=rtpmap:%u VP8/90000\r\na=rtcp-fb:%u nack\r\na=rtcp-fb:%u nack pli\r\n"
	    "a=rtcp-fb:%u ccm fir\r\na=ssrc:%u cname:load%u\r\n",
	    VIDEO_PT, p->ufrag, p->pwd, fp, p->idx, VIDEO_PT, VIDEO_PT, VIDEO_PT,
	    VIDEO_PT, p->ssrc[1], p->idx);

	return k > 0 && (size_t)k < cap - (size_t)n ? 0 : ENOSPC;
}

int lg_answer(struct lg_part *p, const char *sdp, size_t len, struct sockaddr_in *media)
{
	struct lg_answer_info a;
	char err[128] = "";
	int e = lg_answer_parse(sdp, len, &a, err, sizeof(err));

	if (e)
		return e;
	snprintf(p->srv_ufrag, sizeof(p->srv_ufrag), "%s", a.ufrag);
	snprintf(p->srv_pwd, sizeof(p->srv_pwd), "%s", a.pwd);
	snprintf(p->srv_fp_alg, sizeof(p->srv_fp_alg), "%s", a.fp_alg);
	snprintf(p->srv_fp, sizeof(p->srv_fp), "%s", a.fp);
	*media = a.media;
	return 0;
}

/* ---- sending ------------------------------------------------------------------- */

/* A plain receive-only participant has nowhere to send (no dst). */
static void udp_send(struct lg_part *p, const uint8_t *buf, size_t len)
{
	if (p->dst)
		(void)sendto(p->fd, buf, len, 0, (const struct sockaddr *)p->dst,
			     sizeof(*p->dst));
}

static void dtls_send(void *arg, const uint8_t *buf, size_t len)
{
	udp_send(arg, buf, len);
}

void lg_send_stun(struct lg_part *p)
{
	char user[600];
	uint8_t buf[512];
	struct tp_stun_request req = {
	    .tid = p->tid,
	    .username = user,
	    .priority = 0x6e7f00ff,
	    .use_candidate = true,
	    .controlling = true,
	    .tiebreaker = 0x0123456789abcdefull,
	    .fingerprint = true,
	    .key = (const uint8_t *)p->srv_pwd,
	    .keylen = strlen(p->srv_pwd),
	};
	size_t n;

	cm_random(p->tid, 12);
	snprintf(user, sizeof(user), "%s:%s", p->srv_ufrag, p->ufrag);
	if (tp_stun_build_request(buf, sizeof(buf), &n, &req) == 0)
		udp_send(p, buf, n);
	p->stun_tries++;
}

/* Protects (unless plain) and sends an RTP packet built in buf. */
static int send_rtp(struct lg_part *p, uint8_t *buf, size_t *len)
{
	if (!p->plain && tp_srtp_protect(p->tx, buf, len, LG_PKT))
		return EIO;
	udp_send(p, buf, *len);
	return 0;
}

static void send_audio(struct lg_run *run, struct lg_part *p, uint64_t tick, uint64_t now)
{
	uint64_t slot = tick / (LG_SLOT_US / TICK_US);
	bool speaking = p->speaker >= 0 && run->n_speakers &&
			slot % run->n_speakers == (uint64_t)p->speaker;
	const struct lg_track *t = speaking ? &run->media.voice : &run->media.silence;
	size_t fi = speaking ? tick % (LG_SLOT_US / TICK_US) : tick % t->n;
	const struct lg_frame *fr = &t->f[fi % t->n];
	uint8_t buf[LG_PKT], lvl;
	struct tp_rtp_hdr h = {
	    .pt = AUDIO_PT,
	    .ts = (uint32_t)(tick * 960),
	    .ssrc = p->ssrc[0],
	};
	size_t len;

	if (fr->flags & LG_F_DTX) { /* RFC 7587 3.1.3: nothing is sent */
		p->after_dtx = true;
		return;
	}
	/* The tone's onset is its first packet sent: its first frame, or,
	 * when that tick was skipped (this process fell behind), the first
	 * one after it. Recorded only at the first frame, a tone whose start
	 * was skipped would be matched with the slot before's onset and read
	 * one slot (1 s) too late. */
	if (speaking && fi < LG_TONE_FRAMES && run->onset_slot[slot % 64] != slot + 1) {
		run->onset_us[slot % 64] = now;
		run->onset_slot[slot % 64] = slot + 1;
	}
	if (speaking && run->measuring) {
		uint64_t due = run->t0_us + tick * TICK_US + p->stagger_us;
		uint64_t ms = now > due ? (now - due) / 1000 : 0;
		run->late_hist[CM_MIN(ms, (uint64_t)LG_LATE_BINS - 1)]++;
	}
	h.marker = p->after_dtx;
	h.seq = p->seq[0]++;
	if (!p->plain) {
		lvl = (uint8_t)((fr->level < 127 ? 0x80 : 0) | fr->level);
		h.has_ext = true;
		h.n_ext = 1;
		h.ext[0] =
		    (struct tp_rtp_ext){.id = run->audio_ext_id, .len = 1, .data = &lvl};
	}
	if (tp_rtp_write(buf, LG_PKT - TP_SRTP_MAX_TRAILER, &len, &h, t->data + fr->off,
			 fr->len))
		return;
	if (send_rtp(p, buf, &len) == 0) {
		p->after_dtx = false;
		p->sent_pkts[0]++;
		p->sent_bytes[0] += (uint32_t)len;
	}
}

static void send_video(struct lg_run *run, struct lg_part *p, uint64_t g, uint64_t now)
{
	static uint8_t pay[512 * 1024];
	size_t lens[512], n = 0, off = 0;
	const struct lg_track *t =
	    p->want_key ? &run->media.videokey[p->vres] : &run->media.video[p->vres];
	const struct lg_frame *fr = &t->f[g % t->n];
	struct cx_vp8_frame f = {
	    .data = t->data + fr->off,
	    .len = fr->len,
	    .pts = g * (90000 / LG_FPS),
	    .keyframe = fr->flags & LG_F_KEY,
	};

	if (!fr->len)
		return;
	if (run->vsent_g[g % LG_COUNTER_MOD] != g || !run->vsent_us[g % LG_COUNTER_MOD]) {
		run->vsent_g[g % LG_COUNTER_MOD] = g;
		run->vsent_us[g % LG_COUNTER_MOD] = now;
	}
	if (cx_vp8_packetize(p->pay, &f, MTU_PAYLOAD, pay, sizeof(pay), lens, 512, &n))
		return;
	for (size_t i = 0; i < n; i++) {
		uint8_t buf[LG_PKT];
		struct tp_rtp_hdr h = {
		    .pt = VIDEO_PT,
		    .marker = i + 1 == n,
		    .seq = p->seq[1]++,
		    .ts = (uint32_t)f.pts,
		    .ssrc = p->ssrc[1],
		};
		size_t len;

		if (tp_rtp_write(buf, LG_PKT - TP_SRTP_MAX_TRAILER, &len, &h, pay + off,
				 lens[i]) == 0 &&
		    send_rtp(p, buf, &len) == 0) {
			p->sent_pkts[1]++;
			p->sent_bytes[1] += (uint32_t)len;
			if (p->hist) {
				unsigned k = h.seq % LG_HIST;
				memcpy(p->hist[k].buf, buf, len);
				p->hist[k].seq = h.seq;
				p->hist[k].len = (uint16_t)len;
			}
		}
		off += lens[i];
	}
	if (f.keyframe && p->want_key) {
		p->want_key = false;
		p->keyframes_sent++;
	}
}

static void send_rtcp_sr(struct lg_part *p)
{
	uint8_t buf[LG_PKT];
	size_t n = 0, k;
	char cname[32];

	snprintf(cname, sizeof(cname), "load%u", p->idx);
	if (tp_rtcp_write_sr(buf, sizeof(buf), &n, p->ssrc[0], cm_ntp_now(), 0,
			     p->sent_pkts[0], p->sent_bytes[0], NULL, 0) ||
	    tp_rtcp_write_sdes(buf + n, sizeof(buf) - n, &k, p->ssrc[0], cname))
		return;
	n += k;
	if (p->plain || tp_srtp_protect_rtcp(p->tx, buf, &n, sizeof(buf)) == 0)
		udp_send(p, buf, n);
}

/* A receiver's feedback to the server about its video (sample decoders). */
static void send_feedback(struct lg_part *p, uint32_t media_ssrc, bool pli,
			  const uint16_t *seqs, size_t n_seqs)
{
	uint8_t buf[LG_PKT];
	size_t n = 0;

	if (pli ? tp_rtcp_write_pli(buf, sizeof(buf), &n, p->ssrc[1], media_ssrc)
		: tp_rtcp_write_nack(buf, sizeof(buf), &n, p->ssrc[1], media_ssrc, seqs,
				     n_seqs))
		return;
	if (p->plain || tp_srtp_protect_rtcp(p->tx, buf, &n, sizeof(buf)) == 0)
		udp_send(p, buf, n);
}

static uint64_t audio_due(const struct lg_run *run, const struct lg_part *p)
{
	return run->t0_us + p->next_tick * TICK_US + p->stagger_us;
}

static uint64_t video_due(const struct lg_run *run, const struct lg_part *p)
{
	return run->t0_us + p->next_frame * 1000000 / LG_FPS + p->stagger_us % 8000;
}

void lg_part_send(struct lg_run *run, struct lg_part *p, uint64_t now)
{
	if (!p->ready)
		return;
	if (run->t0_us && p->send_audio) {
		if (now > audio_due(run, p) + MAX_BEHIND * TICK_US) {
			uint64_t to = (now - run->t0_us) / TICK_US;
			if (run->measuring && to > p->next_tick)
				p->audio_skipped += to - p->next_tick;
			p->next_tick = to;
		}
		while (audio_due(run, p) <= now)
			send_audio(run, p, p->next_tick++, now);
	}
	if (run->t0_us && p->send_video) {
		if (now > video_due(run, p) + MAX_BEHIND * FRAME_US)
			p->next_frame = (now - run->t0_us) * LG_FPS / 1000000;
		while (video_due(run, p) <= now)
			send_video(run, p, p->next_frame++, now);
	}
	if (!p->plain && now >= p->next_stun_us) {
		lg_send_stun(p);
		p->next_stun_us = now + STUN_EVERY_US;
	}
	if ((p->send_audio || !p->plain) && now >= p->next_rtcp_us) {
		send_rtcp_sr(p);
		p->next_rtcp_us = now + RTCP_EVERY_US;
	}
}

uint64_t lg_part_next(const struct lg_run *run, const struct lg_part *p)
{
	uint64_t t = UINT64_MAX;

	if (!p->ready) {
		if (!p->plain && !p->ice_ok && p->srv_pwd[0])
			t = p->next_stun_us;
		if (p->dtls && tp_dtls_timeout_in(p->dtls) != UINT64_MAX)
			t = CM_MIN(t, cm_now_us() + tp_dtls_timeout_in(p->dtls));
		return t;
	}
	if (run->t0_us && p->send_audio)
		t = CM_MIN(t, audio_due(run, p));
	if (run->t0_us && p->send_video)
		t = CM_MIN(t, video_due(run, p));
	if (!p->plain)
		t = CM_MIN(t, p->next_stun_us);
	if (p->send_audio || !p->plain)
		t = CM_MIN(t, p->next_rtcp_us);
	return t;
}

void lg_part_timers(struct lg_part *p, uint64_t now)
{
	if (p->ready || p->plain)
		return;
	if (!p->ice_ok && p->srv_pwd[0] && now >= p->next_stun_us &&
	    p->stun_tries < 100) {
		lg_send_stun(p);
		p->next_stun_us = now + 200000;
	}
	if (p->dtls && tp_dtls_timeout_in(p->dtls) == 0)
		(void)tp_dtls_timeout(p->dtls);
}

/* ---- receiving ----------------------------------------------------------------- */

static void add_sample(double **v, size_t *n, size_t *cap, double x)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 256;
		double *nv = realloc(*v, nc * sizeof(**v));
		if (!nv)
			return;
		*v = nv;
		*cap = nc;
	}
	(*v)[(*n)++] = x;
}

/* Counts a packet; returns how many were lost before it (0 for a dup or
 * a late one: then *fresh is false). */
static uint16_t rx_count(struct lg_rx *r, const struct tp_rtp_hdr *h, size_t len,
			 uint64_t now, bool measuring, uint32_t ts_step, bool *fresh)
{
	uint16_t d = (uint16_t)(h->seq - r->last_seq), lost = 0;

	*fresh = true;
	if (r->init && (d == 0 || d >= 0x8000)) {
		*fresh = false;
		return 0;
	}
	if (r->init && measuring) {
		lost = (uint16_t)(d - 1);
		r->lost += lost;
		uint64_t gap = now > r->last_us ? now - r->last_us : 0;
		if (gap > r->max_gap_us && (!ts_step || h->ts != r->last_ts))
			r->max_gap_us = gap;
		if (ts_step && d == 1 && h->ts - r->last_ts == ts_step && gap > 60000)
			r->stalls++;
		if (ts_step) {
			/* RTP time the d steps did not cover: the sender's DTX */
			uint64_t span = (uint64_t)(uint32_t)(h->ts - r->last_ts) *
					TICK_US / ts_step,
				 dtx = span > d * (uint64_t)TICK_US ? span - d * TICK_US
								    : 0;
			uint64_t agap = gap > dtx ? gap - dtx : 0;
			if (agap > r->max_agap_us)
				r->max_agap_us = agap;
		}
	}
	if (measuring) {
		r->pkts++;
		r->bytes += len;
		if (h->marker && ts_step == 0)
			r->frames++;
	}
	r->init = true;
	r->last_seq = h->seq;
	if (!ts_step || h->ts != r->last_ts)
		r->last_us = now;
	r->last_ts = h->ts;
	return lost;
}

static void on_audio(struct lg_run *run, struct lg_part *p, const struct tp_rtp_hdr *h,
		     const uint8_t *pkt, size_t len, uint64_t now)
{
	static int16_t pcm[CX_OPUS_MAX_SAMPLES];
	bool fresh;
	uint16_t lost = rx_count(&p->rx_a, h, len, now, run->measuring, 960, &fresh);
	int n, on;

	if (!p->sample || !fresh || !p->adec)
		return;
	if (lost && lost < 5)
		for (unsigned i = 0; i < lost; i++)
			(void)cx_opus_conceal(p->adec, pcm, CX_OPUS_FRAME_20MS);
	n = cx_opus_decode(p->adec, pkt + h->hdr_len, h->payload_len, pcm,
			   CX_OPUS_MAX_SAMPLES);
	if (n <= 0) {
		p->dec_errors++;
		return;
	}
	if (run->measuring)
		p->dec_audio++;
	on = lg_tone_onset(pcm, (size_t)n);
	if (on < 0)
		return;
	if (now > p->loud_until_us && run->measuring) {
		/* an onset: the newest tone sent before now */
		uint64_t best = 0;
		for (int k = 0; k < 64; k++)
			if (run->onset_us[k] <= now && run->onset_us[k] > best)
				best = run->onset_us[k];
		if (best && now - best < 2000000)
			add_sample(&p->a_delay, &p->n_a_delay, &p->cap_a_delay,
				   (double)(now - best) / 1000.0 + on - run->media.tone_onset_ms);
	}
	p->loud_until_us = now + 200000;
}

static void on_video(struct lg_run *run, struct lg_part *p, const struct tp_rtp_hdr *h,
		     const uint8_t *pkt, size_t len, uint64_t now)
{
	struct cx_vp8_assembled fr;
	struct cx_picture pic;
	bool fresh;
	uint16_t miss[64];
	size_t nm;

	rx_count(&p->rx_v, h, len, now, run->measuring, 0, &fresh);
	if (!p->sample || !p->asm_)
		return;
	(void)cx_vp8_asm_put(p->asm_, h->seq, h->ts, h->marker, pkt + h->hdr_len,
			     h->payload_len);
	while (cx_vp8_asm_get(p->asm_, &fr) == 0) {
		int err = cx_vp8_decode(p->vdec, fr.data, fr.len, &pic);
		if (err == EBADMSG) {
			p->dec_errors++;
			continue;
		}
		if (err || !run->measuring)
			continue;
		p->dec_frames++;
		if (!run->have_tile)
			continue;
		int c = lg_read_counter(&pic, (int)(run->tile[0] * pic.width),
					(int)(run->tile[1] * pic.height),
					(int)(run->tile[2] * pic.width),
					(int)(run->tile[3] * pic.height));
		if (c < 0)
			continue;
		p->counters_read++;
		uint64_t sent = run->vsent_us[c];
		if (sent && sent <= now && now - sent < 3000000)
			add_sample(&p->v_delay, &p->n_v_delay, &p->cap_v_delay,
				   (double)(now - sent) / 1000.0);
	}
	if (cx_vp8_asm_need_keyframe(p->asm_) && now >= p->next_pli_us) {
		send_feedback(p, h->ssrc, true, NULL, 0);
		p->next_pli_us = now + 300000;
	}
	nm = cx_vp8_asm_missing(p->asm_, miss, 64);
	if (nm)
		send_feedback(p, h->ssrc, false, miss, nm);
}

static void on_rtcp(struct lg_part *p, const uint8_t *buf, size_t len)
{
	struct tp_rtcp_iter it;
	struct tp_rtcp_pkt pk;
	uint16_t seqs[256];

	p->rtcp_in++;
	tp_rtcp_iter_init(&it, buf, len);
	while (tp_rtcp_next(&it, &pk) == 0) {
		if ((pk.kind == TP_RTCP_K_PLI || pk.kind == TP_RTCP_K_FIR) &&
		    p->send_video) {
			p->plis_in++;
			p->want_key = true;
		} else if (pk.kind == TP_RTCP_K_NACK && pk.media_ssrc == p->ssrc[1] &&
			   p->hist) {
			size_t n = tp_rtcp_nack_seqs(&pk, seqs, 256);
			p->nacks_in += n;
			for (size_t i = 0; i < n; i++) {
				unsigned k = seqs[i] % LG_HIST;
				if (p->hist[k].len && p->hist[k].seq == seqs[i]) {
					udp_send(p, p->hist[k].buf, p->hist[k].len);
					p->retransmits++;
				}
			}
		}
	}
}

static void on_stun(struct lg_part *p, const uint8_t *buf, size_t len)
{
	struct tp_stun_msg m;

	if (tp_stun_parse(&m, buf, len) || m.type != TP_STUN_BINDING_SUCCESS ||
	    memcmp(m.tid, p->tid, 12) ||
	    tp_stun_check_integrity(&m, buf, len, (const uint8_t *)p->srv_pwd,
				    strlen(p->srv_pwd)))
		return;
	p->ice_ok = true;
}

static void dtls_progress(struct lg_run *run, struct lg_part *p, uint64_t now)
{
	uint8_t local[TP_SRTP_MAX_KEY_LEN], remote[TP_SRTP_MAX_KEY_LEN];
	enum tp_srtp_profile prof = 0;
	size_t klen = 0;

	if (p->ice_ok && !p->dtls_started) {
		p->dtls_started = true;
		if (tp_dtls_new(&p->dtls, run->cert, TP_DTLS_CLIENT, p->srv_fp_alg,
				p->srv_fp, dtls_send, p) == 0)
			(void)tp_dtls_connect(p->dtls);
	}
	if (p->dtls && !p->ready && tp_dtls_state(p->dtls) == TP_DTLS_CONNECTED &&
	    tp_dtls_srtp_keys(p->dtls, &prof, local, remote, &klen) == 0 &&
	    tp_srtp_new(&p->tx, prof, local, klen, false) == 0 &&
	    tp_srtp_new(&p->rx, prof, remote, klen, true) == 0) {
		p->ready = true;
		p->t_ready_us = now;
		p->next_stun_us = now + STUN_EVERY_US;
		p->next_rtcp_us = now + RTCP_EVERY_US * (p->idx % 97) / 97;
	}
}

/* A packet that did not decrypt: counted; the first few said (which
 * error, which stream). A replay is no failure: a plain retransmission
 * (this generator offers no RTX) of a packet that was only late — held
 * in the server's pacer when the NACK went out — arrives twice, as RTP
 * allows; SRTP drops the second copy. */
static void srtp_failed(struct lg_part *p, const char *what, int err, const uint8_t *buf,
			size_t len)
{
	static unsigned told;

	if (err == EALREADY)
		return;
	p->srtp_fail++;
	if (told++ < 10)
		fprintf(stderr,
			"tutti-load: participant %u: %s packet of %zu bytes not decrypted (%s): "
			"pt %u seq %u ssrc %u\n",
			p->idx, what, len, strerror(err), buf[1] & 0x7f,
			len >= 4 ? (unsigned)(buf[2] << 8 | buf[3]) : 0,
			len >= 12 ? (unsigned)cm_rd32(buf + 8) : 0);
}

static void on_datagram(struct lg_run *run, struct lg_part *p, uint8_t *buf, size_t len,
			uint64_t now)
{
	struct tp_rtp_hdr h;
	size_t n = len;

	if (!len)
		return;
	if (!p->plain && buf[0] <= 3) {
		on_stun(p, buf, len);
		dtls_progress(run, p, now);
	} else if (!p->plain && buf[0] >= 20 && buf[0] <= 63) {
		if (p->dtls)
			(void)tp_dtls_input(p->dtls, buf, len);
		dtls_progress(run, p, now);
	} else if (buf[0] >= 128 && buf[0] <= 191 && (p->plain || p->rx)) {
		int e;
		if (tp_rtp_is_rtcp(buf, len)) {
			if (!p->plain && (e = tp_srtp_unprotect_rtcp(p->rx, buf, &n))) {
				srtp_failed(p, "SRTCP", e, buf, len);
				return;
			}
			on_rtcp(p, buf, n);
			return;
		}
		if (!p->plain && (e = tp_srtp_unprotect(p->rx, buf, &n))) {
			srtp_failed(p, "SRTP", e, buf, len);
			return;
		}
		if (tp_rtp_parse(&h, buf, n))
			return;
		if (h.pt == VIDEO_PT)
			on_video(run, p, &h, buf, n, now);
		else
			on_audio(run, p, &h, buf, n, now);
	}
}

/* The kernel's receive time of a datagram on cm_now_us()'s clock (off:
 * realtime minus monotonic), or now when it has none. */
static uint64_t arrival(const struct msghdr *m, int64_t off, uint64_t now)
{
	for (const struct cmsghdr *c = CMSG_FIRSTHDR(m); c;
	     c = CMSG_NXTHDR((struct msghdr *)m, (struct cmsghdr *)c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec ts;
			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			int64_t t =
			    (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - off;
			return t > 0 && (uint64_t)t < now ? (uint64_t)t : now;
		}
	return now;
}

void lg_part_input(struct lg_run *run, struct lg_part *p, uint64_t now)
{
	static uint8_t bufs[BATCH][LG_PKT];
	static union {
		struct cmsghdr align;
		uint8_t b[CMSG_SPACE(sizeof(struct timespec))];
	} ctl[BATCH];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct timespec rt, mt;
	int got;

	/* arrival times from the kernel (SO_TIMESTAMPNS, CLOCK_REALTIME) on
	 * the monotonic clock: a busy loop here must not look like a gap */
	clock_gettime(CLOCK_MONOTONIC, &mt);
	clock_gettime(CLOCK_REALTIME, &rt);
	now = (uint64_t)mt.tv_sec * 1000000 + (uint64_t)mt.tv_nsec / 1000;
	int64_t off = (int64_t)rt.tv_sec * 1000000 + rt.tv_nsec / 1000 -
		      ((int64_t)mt.tv_sec * 1000000 + mt.tv_nsec / 1000);
	for (;;) {
		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){.iov_base = bufs[i], .iov_len = LG_PKT};
			msgs[i] = (struct mmsghdr){
			    .msg_hdr = {.msg_iov = &iov[i],
					.msg_iovlen = 1,
					.msg_control = ctl[i].b,
					.msg_controllen = sizeof(ctl[i].b)}};
		}
		got = recvmmsg(p->fd, msgs, BATCH, MSG_DONTWAIT, NULL);
		if (got <= 0)
			return;
		for (int i = 0; i < got; i++)
			on_datagram(run, p, bufs[i], msgs[i].msg_len,
				    arrival(&msgs[i].msg_hdr, off, now));
		if (got < BATCH)
			return;
	}
}
