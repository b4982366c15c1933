/*
 * What each receiver is sent, from its bandwidth estimate (transport's
 * tp_sender_bwe; docs/bandwidth.md). Room thread only.
 *
 * A receiver is on one level of a ladder: 0 audio only; then for each
 * video tier t, 2t+1 its base temporal layer (half the room's frame rate)
 * and 2t+2 every frame. Each level needs the audio it carries (the
 * low-data Opus tier up to the smallest video tier, the normal one above)
 * plus the video, with the packets' overhead. Audio comes first: video
 * goes before the audio tier drops, and audio only is the floor.
 *
 * Hysteresis: down at once (the estimate drops at once on overuse), up
 * one tier at most per step and at most one step per 5 s; a step up that
 * had to be taken back within 5 s doubles the wait (up to 10 s), so a
 * link at its limit is not probed over and over.
 *
 * The smallest tier's encoder follows the receivers on it: down to 30 %
 * of its configured rate when their links need it (the others are on
 * larger tiers and never see it).
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "common/common.h"
#include "mixer/video_priv.h"

#define HOLD_US 5000000
#define HOLD_MAX_US 10000000
#define HOLD_RESET_US 20000000 /* this long without a change: back to 5 s */
/* Per audio packet: RTP 12, extensions 8, SRTP tag 16, UDP and IPv4 28. */
#define AUDIO_OVERHEAD_BPS (50 * 64 * 8)
#define AUDIO_LOW_BPS (16000 + AUDIO_OVERHEAD_BPS)
#define AUDIO_NORMAL_BPS (32000 + AUDIO_OVERHEAD_BPS)
#define VIDEO_OVERHEAD 1.08
#define BASE_LAYER_SHARE 0.6 /* of a tier's rate, 2 temporal layers */
#define TIER0_FLOOR 0.3 /* the smallest tier's encoder may go this low */
#define UP_MARGIN 1.1 /* a step up needs this much more than the level */
#define STAY_MARGIN 0.9 /* and staying on a level this much of it */
#define HEADROOM 0.70 /* of the estimate, for audio and the smallest tier's video */
#define RTX_SHARE 0.10 /* of the estimate, for retransmissions */
#define RTX_SHARE_MAX 0.30
#define RTX_SHARE_COPIES 0.50 /* every frame's copy, and the repairs */
#define HEAVY_LOSS 0.10 /* from this loss on, the smallest tier at most */
#define HEAVY_LOSS_OFF 0.07 /* until it is under this */
#define HEAVY_MIN_PKTS 100 /* judged over at least this many packets */
#define RTX_MIN_BPS 20000
#define RTX_DEPTH_S 0.25
#define PROBE_GAIN 1.5 /* a probe goes this much over what the step needs */
#define PROBE_FRESH_US 2000000 /* a probe's answer holds this long */
#define PROBE_THIN_US 1500000 /* the base temporal layer only, from a probe on */
/* Audio only: the link is probed at least this often (a failed step up
 * doubles the wait, up to 10 s, but video must come back soon after a
 * link recovers), with a cluster as large as the smallest tier's
 * keyframe, which a step up from audio only sends first: a smaller one
 * passes a shaper's burst for room. */
#define ALR_PROBE_MAX_WAIT_US 6000000
#define ALR_PROBE_BYTES 7000
#define PROBE_RETRY_US 1000000 /* a probe nobody answered: the next after this */
#define PINNED_PACE 2.5 /* a pinned tier's pacer: this multiple of what it needs */
#define RATE_TURNS_FROM 32 /* receivers: from more, each decided in turns */
#define RATE_TURNS 5
#define PACER_DOWN_GAP_US 1000000 /* a pacer's drops move a receiver down once per this */

static int max_level(const struct mx_room *r, const struct mx_part *p)
{
	if (p->cap == MX_CAP_AUDIO_ONLY || !p->sender ||
	    !tp_sender_media(p->sender, TP_SDP_VIDEO))
		return 0;
	/* The smallest tier on a lossy link: its frames are a packet or two,
	 * so fewer of them are broken and repairs cost little. */
	if (p->cap == MX_CAP_LOW || p->rate.heavy_loss)
		return 2;
	return 2 * (int)r->cfg.n_tiers;
}

static double audio_bps(int level)
{
	return level <= 2 ? AUDIO_LOW_BPS : AUDIO_NORMAL_BPS;
}

/* The least a level needs, in bit/s on the wire: what its tier really
 * sends when that is known (an encoder spends less than its target on a
 * still picture), else the tier's configured rate (the smallest tier's
 * lowest). */
static double need(const struct mx_room *r, int level, uint64_t now)
{
	if (level <= 0)
		return AUDIO_LOW_BPS;
	int t = (level - 1) / 2;
	bool full = (level - 1) % 2;
	double cfg = r->cfg.tiers[t].kbps * 1000.0;
	double v = mx_video_tier_bps(r->video, (unsigned)t, full, now);

	if (v <= 0) {
		/* Not sent now: as much of its target as the nearest tier that
		 * is measured spends of its own (the same pictures). */
		for (int d = 1; d < (int)r->cfg.n_tiers && v <= 0; d++)
			for (int k = t - d; k <= t + d; k += 2 * d) {
				if (k < 0 || k >= (int)r->cfg.n_tiers || k == 0)
					continue;
				double m = mx_video_tier_bps(r->video, (unsigned)k, full, now);
				if (m > 0) {
					v = cfg * CM_MIN(1.2, CM_MAX(0.6, m / (r->cfg.tiers[k].kbps *
										1000.0)));
					break;
				}
			}
	}
	if (t == 0) /* the smallest tier's encoder adapts down to its floor */
		v = v > 0 ? CM_MIN(v, TIER0_FLOOR * cfg * (full ? 1.0 : BASE_LAYER_SHARE) *
					      VIDEO_OVERHEAD)
			  : 0;
	if (v <= 0)
		v = (t == 0 ? TIER0_FLOOR : 1.0) * cfg * (full ? 1.0 : BASE_LAYER_SHARE) *
		    VIDEO_OVERHEAD;
	/* Never trust a measure far below the target: content changes. */
	v = CM_MAX(v, 0.5 * cfg * (t == 0 ? TIER0_FLOOR : 1.0) *
			      (full ? 1.0 : BASE_LAYER_SHARE));
	/* A level never needs less than the one below it. */
	return CM_MAX(audio_bps(level) + v, need(r, level - 1, now));
}

/* The level's media, applied to the receiver. */
static void apply(struct mx_room *r, struct mx_part *p, uint64_t now)
{
	struct mx_vout *o = &p->vout;
	int level = p->rate.level;

	/* A receiver of no video (audio-only offer, WHIP...) climbs no video
	 * ladder: it has the normal audio tier whenever its link takes it
	 * (or nothing says otherwise yet). */
	bool no_video = !p->sender || !tp_sender_media(p->sender, TP_SDP_VIDEO);
	bool normal_fits = !p->rate.estimate_bps ||
			   p->rate.estimate_bps >= AUDIO_NORMAL_BPS * UP_MARGIN;
	p->tier = p->cap == MX_CAP_AUTO && (level > 2 || (no_video && normal_fits))
			  ? MX_AUDIO_NORMAL
			  : MX_AUDIO_LOW;
	if (p->rate.pinned && p->cap != MX_CAP_AUDIO_ONLY) {
		/* The admin's tier, set by mx_video_set_tier, whatever the
		 * estimate: the pacer lets it through at its rate (a
		 * receiver without TWCC or REMB keeps its start estimate,
		 * and its pacer dropped a 720p keyframe's tail). */
		if (p->sender && o->want >= 0)
			tp_sender_set_pace_floor(p->sender, (uint32_t)(PINNED_PACE *
								       need(r, 2 * o->want + 2, now)));
		return;
	}
	if (p->sender)
		tp_sender_set_pace_floor(p->sender, 0);
	if (level == 0) {
		/* Nothing more is sent; it comes back from a keyframe. */
		o->want = -1;
		o->tier = -1; /* `started` stays: the stream resumes seamlessly */
		return;
	}
	int t = (level - 1) / 2;
	o->max_tid = (level - 1) % 2 ? CX_VP8_MAX_LAYERS - 1 : 0;
	/* Around a probe, the picture makes room for it: its upper temporal
	 * layer (frames nothing refers to) is left out for a moment, so that
	 * the probe adds little to what the link gets over any 2 s. */
	if (now < p->rate.thin_until_us)
		o->max_tid = 0;
	if (o->want != t) {
		o->want = t;
		r->video->tiers[t].keyframe_wanted = true;
	}
}

void mx_rate_part_init(struct mx_room *r, struct mx_part *p, uint64_t now)
{
	memset(&p->rate, 0, sizeof(p->rate));
	p->rate.hold_us = HOLD_US;
	p->rate.last_change_us = now;
	/* Until the first feedback: the level the starting estimate allows. */
	int top = 2 * (int)r->cfg.n_tiers, level = 0;
	for (int l = 1; l <= top; l++)
		if (need(r, l, now) <= TP_BWE_START_BPS)
			level = l;
	p->rate.level = level;
	p->rate.estimate_bps = TP_BWE_START_BPS;
}

void mx_rate_apply(struct mx_room *r, struct mx_part *p, uint64_t now)
{
	int top = max_level(r, p);

	if (p->rate.level > top) {
		p->rate.level = top;
		p->rate.last_change_us = now;
	}
	apply(r, p, now);
}

/* The receiver's loss, smoothed: a new report counts at once when it is
 * worse, and old loss fades by half every 5 s (for Opus FEC). And whether
 * the link is lossy (the smallest tier, frames twice): from the loss over
 * the last 300 packets or so, on at 10 %, off under 7 %. The last TWCC
 * window alone (40 packets) read 10 % at 5 % loss one time in seven:
 * every such reading sent the receiver to the smallest tier and back,
 * two keyframes over a lossy link, and froze its picture. */
static void track_loss(struct mx_part *p, const struct tp_bwe_state *st, uint64_t now)
{
	struct tp_sender_stats ss;
	double l;

	tp_sender_get_stats(p->sender, &ss);
	if (st->loss_avg_pkts >= HEAVY_MIN_PKTS) {
		if (st->loss_avg >= HEAVY_LOSS)
			p->rate.heavy_loss = true;
		else if (st->loss_avg < HEAVY_LOSS_OFF)
			p->rate.heavy_loss = false;
	}
	l = CM_MAX(ss.loss, st->has_twcc ? st->loss : 0.0);
	if (p->rate.loss_us) {
		double dt = (double)(now - p->rate.loss_us) / 1e6;
		p->rate.loss *= pow(0.5, dt / 5.0);
	}
	p->rate.loss_us = now;
	if (l > p->rate.loss)
		p->rate.loss = l;
}

/* Whether the link has room for level `to`: a probe cluster (padding at
 * a little more than the level needs, a few kB in 60-200 ms) must have
 * got through at that rate without building a queue. Starts one when
 * none runs; 0 until its feedback says yes, then the level it proved
 * room for (`to` at most). A probe is judged for the level it was sent
 * for: the estimate may grow while its feedback comes, and make the step
 * a larger one, which the probe never went fast enough to prove (judged
 * by the larger level's need, such a probe counted as failed and doubled
 * the wait: 64 kbit/s lifted to 2 Mbit/s, the largest tier came back 29-33
 * s later instead of 15-19). Without RTX or TWCC (no probe possible) the
 * step itself is the probe, as it always was. */
static int probe_says_room(struct mx_room *r, struct mx_part *p, int to, uint32_t min_bytes,
			   uint64_t now)
{
	struct mx_rate *rt = &p->rate;
	double want = need(r, to, now) * UP_MARGIN;
	struct tp_probe_result pr;
	uint32_t id;

	if (rt->probe_id) {
		tp_sender_probe_result(p->sender, &pr);
		bool ours = pr.id == rt->probe_id;
		if (ours && !pr.done)
			return 0; /* its feedback is not in yet */
		rt->probe_id = 0;
		if (ours && !pr.answered) {
			/* Its feedback never covered it: no sign either way.
			 * Ask again in a while, without a longer wait. */
			rt->probe_retry_us = now + PROBE_RETRY_US;
			return 0;
		}
		if (ours && now - pr.done_us <= PROBE_FRESH_US) {
			bool room = pr.ok && pr.recv_bps >= rt->probe_want;
			cm_debug("mixer", "room %s: %s probe for level %d (%.0f bit/s): received "
				 "%u bit/s, delay +%d ms, %u of %u reported packets: %s",
				 r->name, p->id, rt->probe_level, rt->probe_want, pr.recv_bps,
				 pr.delay_growth_ms, pr.received, pr.reported,
				 room ? "room" : "no room");
			if (room) {
				rt->probes_ok++;
				return CM_MIN(rt->probe_level, to);
			}
			/* No room: wait longer before the next, as after a step
			 * up that had to be taken back. */
			rt->probes_failed++;
			rt->hold_us = CM_MIN(rt->hold_us * 2, (uint64_t)HOLD_MAX_US);
			rt->last_change_us = now;
			return 0;
		}
		/* A stale answer (the level fell meanwhile): probe again. */
	}
	if (now < rt->probe_retry_us)
		return 0;
	int err = tp_sender_probe(p->sender, (uint32_t)(PROBE_GAIN * want), min_bytes, now, &id);
	if (err == ENOTSUP)
		return to;
	if (!err) {
		rt->probe_id = id;
		rt->probe_level = to;
		rt->probe_want = want;
		/* On the smallest tier (a slow link, where a probe's few kB
		 * count), the picture makes room for it. Not above: less
		 * media would lower what got through, and with it the
		 * estimate the step needs. */
		if (rt->level <= 2)
			rt->thin_until_us = now + PROBE_THIN_US;
	}
	return 0;
}

static void decide(struct mx_room *r, struct mx_part *p, uint64_t now)
{
	struct mx_rate *rt = &p->rate;
	struct tp_bwe_state st;
	int top = max_level(r, p), fit = 0, cur = rt->level;
	/* The last change was a step up, and it held. */
	bool held = rt->last_up_us && rt->last_up_us == rt->last_change_us;

	tp_sender_bwe(p->sender, now, &st);
	rt->estimate_bps = st.estimate_bps;
	rt->acked_bps = st.acked_bps;
	track_loss(p, &st, now);
	/* A band around each level's need: staying takes 90 % of it (what a
	 * tier sends wobbles with its pictures and keyframes; an overuse
	 * drops the estimate well below), going up 110 %. */
	for (int l = 1; l <= top; l++)
		if (need(r, l, now) * (l > cur ? UP_MARGIN : STAY_MARGIN) <= st.estimate_bps)
			fit = l;
	if (st.last_overuse_us > rt->seen_overuse_us)
		rt->seen_overuse_us = st.last_overuse_us;
	/* Its pacer had to drop video (its queue was full, or a packet waited
	 * 500 ms): what this level sends does not get out (a full link, a
	 * receiver that does not read). Down a level at once, as on overuse,
	 * and once per second at most (what is still queued from before may
	 * be dropped too); the new level starts from a keyframe. */
	struct tp_pacer_stats ps;
	tp_sender_pacer_stats(p->sender, now, &ps);
	bool behind = ps.dropped_video_pkts > rt->pacer_drops_seen &&
		      now - rt->pacer_down_us >= PACER_DOWN_GAP_US;
	rt->pacer_drops_seen = ps.dropped_video_pkts;
	if (behind && cur > 0 && fit >= cur) {
		fit = cur - 1;
		rt->pacer_down_us = now;
	}
	if (fit < cur) {
		/* Down at once; a step up taken back this soon was a failed
		 * probe: wait longer before the next. */
		if (rt->last_up_us && now - rt->last_up_us < HOLD_US)
			rt->hold_us = CM_MIN(rt->hold_us * 2, (uint64_t)HOLD_MAX_US);
		rt->level = fit;
		rt->last_change_us = now;
	} else if ((fit > cur && now - rt->last_change_us >= (held ? HOLD_US : rt->hold_us)) ||
		   (cur == 0 && fit == 0 && top > 0 && tp_sender_can_probe(p->sender) &&
		    now - CM_MAX(rt->last_change_us, rt->seen_overuse_us) >=
			CM_MIN(rt->hold_us, (uint64_t)ALR_PROBE_MAX_WAIT_US))) {
		/* Up one tier at most: to the best level of the next tier. A
		 * step up that held proves the link: the wait is 5 s again.
		 * From audio only, the first step is the smallest tier's base
		 * layer: the cheapest to take back on a link that only had
		 * room for a probe's burst. And audio only is probed for it
		 * even when the estimate does not reach it: too little is
		 * sent for the estimate to grow (and a receiver may send its
		 * feedback only every few seconds then); a probe that gets
		 * through raises the estimate to what it measured. (Without
		 * RTX or TWCC there is no probe: such a receiver waits for
		 * its estimate, as before.) */
		int to = cur == 0 ? 1 : CM_MIN(fit, 2 * ((cur - 1) / 2 + 1) + 2);
		int got = probe_says_room(r, p, to, cur == 0 ? ALR_PROBE_BYTES : 0, now);
		if (got > cur) {
			if (held)
				rt->hold_us = HOLD_US;
			rt->level = got;
			rt->last_change_us = rt->last_up_us = now;
		}
	} else if (now - rt->last_change_us >= HOLD_RESET_US) {
		rt->hold_us = HOLD_US;
	}
	if (rt->level != cur)
		cm_debug("mixer", "room %s: %s level %d -> %d (estimate %u bit/s)", r->name, p->id,
			 cur, rt->level, st.estimate_bps);
	apply(r, p, now);
}

/* The smallest tier's encoder: as much as its weakest automatic receiver
 * can take (a lossy one its frames twice), within [30 %, 100 %] of its
 * configured rate. */
static void tier0_rate(struct mx_room *r)
{
	double cfg = r->cfg.tiers[0].kbps, target = cfg;

	for (size_t i = 0; i < r->n_parts; i++) {
		const struct mx_part *p = r->parts[i];
		const struct mx_vout *o = &p->vout;
		if (!p->sender || p->rate.pinned || (o->want != 0 && o->tier != 0))
			continue;
		int level = p->rate.level;
		if (level < 1)
			continue;
		/* Bytes on the wire per bit of the encoder's rate: its base
		 * layer only at an odd level; each frame twice to a lossy link. */
		double scale = VIDEO_OVERHEAD * ((level - 1) % 2 ? 1.0 : BASE_LAYER_SHARE) *
			       (mx_rate_copies(p) ? 2 : 1);
		/* Never much more than what got through (the estimate may be
		 * probing upwards). HEADROOM of that too: where it is the
		 * bound, the rate sinks towards the floor (perf/RESULTS.md,
		 * 15 % loss): a margin that the 128 kbit/s link needs while
		 * its estimate runs above the link. */
		double est = p->rate.estimate_bps;
		if (p->rate.acked_bps)
			est = CM_MIN(est, 1.05 * p->rate.acked_bps + 5000);
		double v = (HEADROOM * est - audio_bps(level)) / scale / 1000.0;
		target = CM_MIN(target, v);
	}
	target = CM_MAX(target, cfg * TIER0_FLOOR);
	mx_video_set_tier_kbps(r->video, 0, (int)target);
}

void mx_rate_tick(struct mx_room *r, uint64_t now)
{
	/* A room of hundreds looks at each receiver every 5th tick (100 ms,
	 * in turns): reading its estimate and pacer, and the ladder's
	 * needs, for 1000 receivers every 20 ms took some 8 % of a
	 * lecture's room thread (perf/RESULTS.md). */
	bool in_turns = r->n_parts > RATE_TURNS_FROM;

	for (size_t i = 0; i < r->n_parts; i++) {
		struct mx_part *p = r->parts[i];
		if (in_turns && (r->tick + p->join_seq) % RATE_TURNS != 0)
			continue;
		/* A data cap is a ceiling: within it, the estimate decides. */
		if (p->sender)
			decide(r, p, now);
	}
	tier0_rate(r);
	mx_audio_adapt(r);
}

bool mx_rate_rtx_allowed(struct mx_part *p, size_t len, uint64_t now)
{
	struct mx_rate *rt = &p->rate;
	/* A lossy link needs more repairs: twice its loss, within 10-30 %;
	 * one sent every frame twice, the copies too (the smallest tier's
	 * encoder leaves them room: tier0_rate). */
	double share = mx_rate_copies(p) ? RTX_SHARE_COPIES
					 : CM_MIN(RTX_SHARE_MAX, CM_MAX(RTX_SHARE, 2 * rt->loss));
	double rate = CM_MAX(share * rt->estimate_bps, (double)RTX_MIN_BPS) / 8.0;

	if (rt->rtx_refill_us)
		rt->rtx_tokens += rate * (double)(now - rt->rtx_refill_us) / 1e6;
	rt->rtx_refill_us = now;
	rt->rtx_tokens = CM_MIN(rt->rtx_tokens, CM_MAX(rate * RTX_DEPTH_S, 2.0 * PKT_CAP));
	if (rt->rtx_tokens < (double)len) {
		rt->rtx_dropped++;
		return false;
	}
	rt->rtx_tokens -= (double)len;
	rt->rtx_sent++;
	return true;
}

bool mx_rate_copies(const struct mx_part *p)
{
	return p->rate.heavy_loss && p->sender && tp_sender_rtx_pt(p->sender) > 0;
}

unsigned mx_rate_fps(const struct mx_room *r, const struct mx_part *p)
{
	if (!p->vout.started || p->vout.tier < 0)
		return 0;
	/* H.264 has no temporal layers: its receivers get every frame. */
	return p->vout.max_tid || p->vout.codec == TP_CODEC_H264 ? r->cfg.fps
								 : (r->cfg.fps + 1) / 2;
}
