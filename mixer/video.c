/*
 * The video half of a room (see video.h): the layout, the canvases, one
 * VP8 encoder per tier (and one H.264 encoder where H.264 receivers need
 * it); what each receiver is sent of them is video_send.c, what senders
 * send video_in.c. Room thread only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "mixer/video_priv.h"

/* ---- set-up --------------------------------------------------------------- */

static int tier_init(struct tier *t, const struct mx_tier_cfg *c, unsigned fps)
{
	struct cx_vp8_enc_cfg ec;
	size_t ysz = (size_t)c->width * c->height;
	int err;

	t->w = c->width;
	t->h = c->height;
	t->kbps = c->kbps;
	t->cur_kbps = c->kbps;
	t->buf = malloc(ysz * 3 / 2);
	t->hist = calloc(HIST, sizeof(*t->hist));
	if (!t->buf || !t->hist)
		return ENOMEM;
	/* Black: Y 16, U and V 128 (studio range). */
	memset(t->buf, 16, ysz);
	memset(t->buf + ysz, 128, ysz / 2);
	t->canvas = (struct cx_picture){
		.plane = { t->buf, t->buf + ysz, t->buf + ysz + ysz / 4 },
		.stride = { c->width, c->width / 2, c->width / 2 },
		.width = c->width,
		.height = c->height,
	};
	cx_vp8_enc_cfg_init(&ec);
	ec.width = c->width;
	ec.height = c->height;
	ec.fps = (int)fps;
	ec.bitrate_kbps = c->kbps;
	ec.temporal_layers = 2;
	/* Fixed fastest realtime speed: about 2.7 times cheaper than the
	 * default for a similar size (measured: 720p 4.4 ms vs 11.7 ms). */
	ec.cpu_used = -16;
	err = cx_vp8_enc_new(&t->enc, &ec);
	if (!err)
		err = cx_vp8_pay_new(&t->pay, (uint16_t)(cm_random_u32() & 0x7fff));
	t->seq = (uint16_t)cm_random_u32();
	t->redraw = true;
	t->keyframe_wanted = true;
	return err;
}

/* A receiver of codec c on tier ti wants a keyframe (its PLI, a join). */
static void want_keyframe(struct mx_video *v, int ti, enum tp_codec c)
{
	struct tier *t;

	if (ti < 0 || (unsigned)ti >= v->n_tiers)
		return;
	t = &v->tiers[ti];
	if (c != TP_CODEC_H264)
		t->keyframe_wanted = true;
	else if (t->h264)
		t->h264->keyframe_wanted = true;
}

int mx_video_new(struct mx_video **out, const struct mx_room_cfg *cfg)
{
	struct mx_video *v = calloc(1, sizeof(*v));
	int err = 0;

	if (!v)
		return ENOMEM;
	mx_video_dsp_init(&v->dsp, mx_cpu_flags());
	v->dump_dir = getenv("TUTTI_TEST_CANVAS_DIR");
	v->n_tiers = cfg->n_tiers;
	v->fps = cfg->fps;
	v->max_tiles = cfg->max_tiles;
	v->layout = cfg->layout;
	v->cap = cfg->max_participants;
	/* One more source than participants: a shared screen. */
	v->src = calloc(v->cap + 1, sizeof(*v->src));
	v->src_in = calloc(v->cap + 1, sizeof(*v->src_in));
	v->src_w = calloc(v->cap + 1, sizeof(int));
	v->src_h = calloc(v->cap + 1, sizeof(int));
	v->frame_buf = malloc(MAX_FRAME_PKTS * PKT_CAP);
	v->frame_lens = malloc(MAX_FRAME_PKTS * sizeof(size_t));
	if (!v->src || !v->src_in || !v->src_w || !v->src_h || !v->frame_buf ||
	    !v->frame_lens)
		err = ENOMEM;
	for (unsigned i = 0; i < v->n_tiers && !err; i++)
		err = tier_init(&v->tiers[i], &cfg->tiers[i], cfg->fps);
	if (err) {
		mx_video_free(&v);
		return err;
	}
	*out = v;
	return 0;
}

void mx_video_free(struct mx_video **pv)
{
	struct mx_video *v = pv ? *pv : NULL;

	if (!v)
		return;
	for (unsigned i = 0; i < MX_VIDEO_TIERS; i++) {
		mx_video_h264_free(&v->tiers[i].h264);
		cx_vp8_enc_free(&v->tiers[i].enc);
		cx_vp8_pay_free(&v->tiers[i].pay);
		free(v->tiers[i].buf);
		free(v->tiers[i].hist);
	}
	free(v->src);
	free(v->src_in);
	free(v->screen_copy);
	free(v->src_w);
	free(v->src_h);
	free(v->frame_buf);
	free(v->frame_lens);
	free(v);
	*pv = NULL;
}

void mx_video_set_layout(struct mx_video *v, enum mx_layout_kind kind)
{
	v->layout = kind;
	v->layout_changed = true;
}

int mx_video_part_init(struct mx_part *p)
{
	struct mx_vin *in;
	int err = mx_vin_new(&in);

	if (err)
		return err;
	p->vout.sent = malloc(MX_SENT_MAP * sizeof(*p->vout.sent));
	if (!p->vout.sent) {
		mx_vin_free(&in);
		return ENOMEM;
	}
	for (int i = 0; i < MX_SENT_MAP; i++)
		p->vout.sent[i].tier = -1;
	p->vin = in;
	in->codec = TP_CODEC_VP8;
	p->vout.codec = TP_CODEC_VP8;
	p->vout.tier = -1;
	p->vout.want = 1;
	p->vout.max_tid = CX_VP8_MAX_LAYERS - 1;
	return 0;
}

void mx_video_part_fini(struct mx_video *v, struct mx_part *p)
{
	if (!p->vin)
		return;
	if (v) {
		for (size_t i = 0; i < v->n_shown; i++)
			if (v->shown[i] == p) {
				v->shown[i] = NULL;
				v->shown_in[i] = NULL;
				v->layout_changed = true;
			}
		if (v->highlight == p)
			v->highlight = NULL;
	}
	mx_vin_free(&p->vin);
	mx_vin_free(&p->screen);
	free(p->vout.sent);
	p->vout.sent = NULL;
}

/* ---- layout ----------------------------------------------------------------- */

static struct mx_part *presenter_of(struct mx_room *r)
{
	for (size_t i = 0; i < r->n_parts; i++)
		if (r->parts[i]->role == MX_ROLE_PRESENTER && r->parts[i]->vin->ssrc)
			return r->parts[i];
	return NULL;
}

/* Video senders in order of arrival; the layout on every tier. */
static void update_layout(struct mx_room *r, uint64_t now)
{
	struct mx_video *v = r->video;
	struct mx_layout_in li = { .speaker = -1, .presenter = -1, .max_tiles = v->max_tiles,
				   .strip = true };
	struct mx_part *pres = presenter_of(r), *shown[MX_LAYOUT_MAX_TILES];
	struct mx_vin *shown_in[MX_LAYOUT_MAX_TILES];
	size_t n = 0, n_shown = 0;

	for (size_t i = 0; i < r->n_parts; i++) {
		struct mx_part *p = r->parts[i];
		if (!p->vin->ssrc)
			continue;
		/* Insertion by join order: rooms are small enough per tick. */
		size_t j = n++;
		while (j > 0 && v->src[j - 1]->join_seq > p->join_seq) {
			v->src[j] = v->src[j - 1];
			j--;
		}
		v->src[j] = p;
	}
	for (size_t i = 0; i < n; i++)
		v->src_in[i] = v->src[i]->vin;
	/* A shared screen is one more source, after the cameras, from its
	 * first picture (mx_screen_ready): the layout does not go black
	 * while the sharer's browser starts its capture. */
	struct mx_vin *pending = NULL;
	if (r->sharer && r->sharer->screen && !mx_screen_ready(r, now))
		pending = r->sharer->screen;
	else if (r->sharer && r->sharer->screen) {
		li.sharing = true;
		li.screen = (int)n;
		li.sharer = -1;
		for (size_t i = 0; i < n; i++)
			if (v->src[i] == r->sharer)
				li.sharer = (int)i;
		v->src[n] = r->sharer;
		v->src_in[n++] = r->sharer->screen;
	}
	for (size_t i = 0; i < n; i++) {
		struct mx_part *p = v->src[i];
		const struct mx_vin *in = v->src_in[i];
		v->src_w[i] = in->has_pic ? in->pic.width : 0;
		v->src_h[i] = in->has_pic ? in->pic.height : 0;
		if (in != p->vin)
			continue;
		/* A spotlight overrides both the loudest voice and the
		 * presenter for the large tile. */
		if (p == (r->spotlight ? r->spotlight : r->active_speaker))
			li.speaker = (int)i;
		if (p == (r->spotlight ? r->spotlight : pres))
			li.presenter = (int)i;
	}
	li.n = n;
	li.width = v->src_w;
	li.height = v->src_h;
	for (unsigned t = 0; t < v->n_tiers; t++) {
		struct tier *tr = &v->tiers[t];
		tr->n_tiles = mx_layout_compute(v->layout, tr->w, tr->h, &li, tr->tiles);
	}
	/* Which sources are visible (same on every tier). */
	for (size_t i = 0; i < n; i++)
		v->src_in[i]->visible = false;
	for (size_t i = 0; i < r->n_parts; i++)
		if (r->parts[i]->screen)
			r->parts[i]->screen->visible = false;
	for (size_t k = 0; k < v->tiers[0].n_tiles; k++) {
		int si = v->tiers[0].tiles[k].source;
		struct mx_part *p = v->src[si];
		struct mx_vin *in = v->src_in[si];
		shown_in[n_shown] = in;
		shown[n_shown++] = p;
		if (!in->visible) {
			in->visible = true;
			if (!in->has_pic || in->need_keyframe)
				mx_video_ask_keyframe(p, in, now);
		}
	}
	/* A screen about to be shown is decoded already (and asked for a
	 * keyframe), so that it has a picture to show. */
	if (pending) {
		pending->visible = true;
		if (!pending->has_pic || pending->need_keyframe)
			mx_video_ask_keyframe(r->sharer, pending, now);
	}
	mx_video_content_mode(r, li.sharing, now);
	/* A change of who is where, of their picture size, or of the
	 * highlight redraws the whole canvas. */
	struct mx_part *hl = v->layout == MX_LAYOUT_GRID ? r->active_speaker : NULL;
	if (hl && !hl->vin->visible)
		hl = NULL;
	bool changed = v->layout_changed || n_shown != v->n_shown || hl != v->highlight ||
		       memcmp(shown, v->shown, n_shown * sizeof(*shown)) ||
		       memcmp(shown_in, v->shown_in, n_shown * sizeof(*shown_in));
	if (changed) {
		r->changed = true; /* the layout others see moved */
		for (unsigned t = 0; t < v->n_tiers; t++)
			v->tiers[t].redraw = true;
		memcpy(v->shown, shown, n_shown * sizeof(*shown));
		memcpy(v->shown_in, shown_in, n_shown * sizeof(*shown_in));
		v->n_shown = n_shown;
		v->highlight = hl;
		v->layout_changed = false;
	}
}

/* ---- compose and encode ------------------------------------------------------- */

/* Draws the tiles whose picture changed (all of them on a redraw). */
static bool compose(struct mx_video *v, struct tier *t)
{
	struct cx_picture *c = &t->canvas;
	bool drew = false;

	if (t->redraw) {
		v->dsp.fill(c->plane[0], c->stride[0], c->width, c->height, 16);
		v->dsp.fill(c->plane[1], c->stride[1], c->width / 2, c->height / 2, 128);
		v->dsp.fill(c->plane[2], c->stride[2], c->width / 2, c->height / 2, 128);
		drew = true;
	}
	for (size_t k = 0; k < t->n_tiles; k++) {
		struct mx_part *p = v->shown[k];
		const struct mx_vin *in = v->shown_in[k];
		const struct mx_tile *tl = &t->tiles[k];
		if (!p || !in || !in->has_pic)
			continue;
		/* The frame time's picture, kept if a newer one came since. */
		const struct cx_picture *s = &in->pic;
		uint32_t no = in->pic_no;
		if (in->snap_ok && no != in->frame_pic_no) {
			s = &in->snap;
			no = in->frame_pic_no;
		}
		if (!t->redraw && t->drawn_no[k] == no)
			continue;
		t->drawn_no[k] = no;
		mx_video_scale_i420(&v->dsp, c->plane, c->stride, tl->pic.x, tl->pic.y,
				    tl->pic.w, tl->pic.h, (const uint8_t *const *)s->plane,
				    s->stride, s->width, s->height);
		if (p == v->highlight && in == p->vin) {
			int th = CM_MAX(2, c->height / 90) & ~1;
			v->dsp.border(c->plane[0] + tl->cell.y * c->stride[0] + tl->cell.x,
				      c->stride[0], tl->cell.w, tl->cell.h, th, BORDER_Y);
			v->dsp.border(c->plane[1] + tl->cell.y / 2 * c->stride[1] + tl->cell.x / 2,
				      c->stride[1], tl->cell.w / 2, tl->cell.h / 2, th / 2, BORDER_U);
			v->dsp.border(c->plane[2] + tl->cell.y / 2 * c->stride[2] + tl->cell.x / 2,
				      c->stride[2], tl->cell.w / 2, tl->cell.h / 2, th / 2, BORDER_V);
		}
		drew = true;
	}
	t->redraw = false;
	return drew;
}

/* Whether tier t can be the largest tier's canvas scaled down: that was
 * composed for this frame time, and t is exactly a half or a quarter of
 * it. The layout the API gives is the largest tier's; scaled down, the
 * tiles keep exactly its proportions. */
static bool derivable(const struct mx_video *v, const struct tier *t)
{
	const struct tier *top = &v->tiers[v->n_tiers - 1];

	if (!v->top_ready || t == top)
		return false;
	for (int f = 2; f <= 4; f += 2)
		if (top->w == f * t->w && top->h == f * t->h)
			return true;
	return false;
}

/* The largest tier's canvas scaled down into t's (box: every source
 * pixel counts). Its tiles are read once per frame at the largest size,
 * not once per tier from every sender's picture. Returns whether the
 * canvas changed. */
static bool derive(struct mx_video *v, struct tier *t)
{
	const struct tier *top = &v->tiers[v->n_tiers - 1];
	struct cx_picture *c = &t->canvas;
	bool drew = v->top_drew || !t->derived;

	if (drew)
		mx_video_scale_i420(&v->dsp, c->plane, c->stride, 0, 0, c->width, c->height,
				    (const uint8_t *const *)top->canvas.plane, top->canvas.stride,
				    top->w, top->h);
	t->derived = true;
	t->redraw = true; /* composed again later: from a clean canvas */
	return drew;
}

#define DUMP_MAX 300

static void dump_canvas(struct mx_video *v, unsigned ti)
{
	const struct tier *t = &v->tiers[ti];
	char path[4096];
	FILE *f;

	if (v->dumped[ti] >= DUMP_MAX)
		return;
	snprintf(path, sizeof(path), "%s/t%u-%04u.i420", v->dump_dir, ti, v->dumped[ti]++);
	f = fopen(path, "wb");
	if (!f)
		return;
	fwrite(t->buf, 1, (size_t)t->w * t->h * 3 / 2, f);
	fclose(f);
}

#define MEASURE_US 2000000

void mx_video_measure(struct tier *t, uint8_t tid, size_t bytes, uint64_t now)
{
	if (!t->win_start_us || now - t->win_start_us > 2 * MEASURE_US) {
		t->win_start_us = now;
		t->win_bytes[0] = t->win_bytes[1] = 0;
	}
	if (tid == 0)
		t->win_bytes[0] += bytes;
	t->win_bytes[1] += bytes;
	if (now - t->win_start_us >= MEASURE_US) {
		double dt = (double)(now - t->win_start_us) / 1e6;
		for (int k = 0; k < 2; k++) {
			double b = (double)t->win_bytes[k] * 8 / dt;
			/* Rises at once (a keyframe's cost counts), falls slowly. */
			t->bps[k] = b > t->bps[k] || !t->bps[k] ? b : 0.7 * t->bps[k] + 0.3 * b;
			t->win_bytes[k] = 0;
		}
		t->win_start_us = now;
		t->measured_us = now;
	}
}

double mx_video_tier_bps(const struct mx_video *v, unsigned tier, bool full, uint64_t now)
{
	const struct tier *t = tier < v->n_tiers ? &v->tiers[tier] : NULL;

	if (!t || !t->measured_us || now - t->measured_us > 3 * MEASURE_US)
		return 0;
	return t->bps[full ? 1 : 0];
}

static void encode_vp8(struct mx_room *r, unsigned ti, uint64_t now)
{
	struct mx_video *v = r->video;
	struct tier *t = &v->tiers[ti];
	struct cx_vp8_frame f;
	bool force = false;
	size_t n = 0;

	/* The smallest tier's keyframes are small (a few packets), and its
	 * receivers are the lossy ones: their requests wait half as long. */
	uint64_t gap = ti == 0 ? KEYFRAME_INTERVAL_US / 2 : KEYFRAME_INTERVAL_US;
	if (t->keyframe_wanted && now - t->last_keyframe_us >= gap)
		force = true;
	uint64_t t0 = cm_now_us();
	int err = cx_vp8_encode(t->enc, &t->canvas, (now - v->t0_us) * 9 / 100, force, &f);

	__atomic_add_fetch(&r->ctr.video_encode_us, cm_now_us() - t0, __ATOMIC_RELAXED);
	if (err)
		return;
	t->last_encode_us = now;
	__atomic_add_fetch(&r->ctr.video_encodes, 1, __ATOMIC_RELAXED);
	if (v->dump_dir)
		dump_canvas(v, ti);
	if (r->rec && ti == v->n_tiers - 1)
		mx_rec_video(r->rec, f.data, f.len, f.keyframe, now);
	if (f.keyframe) {
		t->keyframe_wanted = false;
		t->last_keyframe_us = now;
		__atomic_add_fetch(&r->ctr.video_keyframes, 1, __ATOMIC_RELAXED);
	}
	if (cx_vp8_packetize(t->pay, &f, MTU_PAYLOAD, v->frame_buf, MAX_FRAME_PKTS * PKT_CAP,
			     v->frame_lens, MAX_FRAME_PKTS, &n) || !n)
		return;
	mx_video_measure(t, f.tid, mx_video_wire_bytes(v, n), now);
	mx_video_store_packets(v, t->hist, &t->seq, n, (uint32_t)f.pts);
	mx_video_fan_out(r, ti, TP_CODEC_VP8, t->hist, t->seq, n, f.keyframe, f.tid, now);
}

/* ---- the tick --------------------------------------------------------------------- */

/* A receiver of codec c is on (or joins) tier ti this frame. */
static void mark_used(struct mx_video *v, int ti, enum tp_codec c)
{
	struct tier *t = &v->tiers[ti];

	if (c != TP_CODEC_H264) {
		t->used = true;
		return;
	}
	if (mx_video_h264_get(t, v->fps))
		t->h264->used = true;
}

/* Composes and encodes up to n of the frame time's tiers still to do,
 * the largest first. */
static void do_tiers(struct mx_room *r, uint64_t now, unsigned n)
{
	struct mx_video *v = r->video;

	for (unsigned t = v->n_tiers; t-- > 0 && v->stagger && n;) {
		struct tier *tr = &v->tiers[t];
		if (!(v->stagger & (1u << t)))
			continue;
		v->stagger &= ~(1u << t);
		bool h264 = tr->h264 && tr->h264->used;
		if (!tr->used && !h264) {
			tr->redraw = true; /* when used again, start clean */
			tr->derived = false; /* ... or derive it afresh */
			tr->work_us = 0;
			continue;
		}
		n--;
		uint64_t t0 = cm_now_us();
		bool drew;
		if (derivable(v, tr)) {
			drew = derive(v, tr);
		} else {
			drew = compose(v, tr);
			tr->derived = false;
			if (t == v->n_tiers - 1) {
				v->top_ready = true;
				v->top_drew = drew;
			}
		}
		__atomic_add_fetch(&r->ctr.video_compose_us, cm_now_us() - t0, __ATOMIC_RELAXED);
		uint64_t aside = mx_room_audio_due(r); /* not the tier's work */
		/* New content goes to every encoder of the tier at once (a
		 * static screen leaves frames out); keyframes and the idle
		 * refresh each encoder by itself. */
		tr->pending |= drew;
		bool fresh = tr->pending && !mx_video_screen_skip(r, t, now);
		if (fresh)
			tr->pending = false;
		if (tr->used &&
		    (fresh || tr->keyframe_wanted || now - tr->last_encode_us >= IDLE_FRAME_US)) {
			encode_vp8(r, t, now);
			aside += mx_room_audio_due(r);
		}
		if (h264 && (fresh || tr->h264->keyframe_wanted ||
			     now - tr->h264->last_encode_us >= IDLE_FRAME_US))
			mx_video_h264_encode(r, t, now);
		aside += mx_room_audio_due(r);
		tr->work_us = cm_now_us() - t0 - aside;
	}
	v->keep_pics = false;
	for (unsigned t = 0; t < v->n_tiers; t++)
		if ((v->stagger & (1u << t)) && !derivable(v, &v->tiers[t]))
			v->keep_pics = true;
}

void mx_video_tick(struct mx_room *r, uint64_t now)
{
	struct mx_video *v = r->video;
	uint64_t interval = 1000000ull * (v->fps_div ? v->fps_div : 1) / v->fps;

	if (!v->t0_us)
		v->t0_us = now;
	for (size_t i = 0; i < r->n_parts; i++) {
		struct mx_part *p = r->parts[i];
		mx_video_repair(p, p->vin, now);
		if (p->screen)
			mx_video_repair(p, p->screen, now);
		mx_video_remb(v, p, now);
	}
	/* What waited for the decode budget, from a different sender each
	 * tick, so that none waits for good. */
	for (size_t k = 0, n = r->n_parts; k < n; k++) {
		struct mx_part *p = r->parts[(v->decode_rr + k) % n];
		mx_vin_decode_later(r, p, p->vin, now);
		if (p->screen)
			mx_vin_decode_later(r, p, p->screen, now);
	}
	if (r->n_parts)
		v->decode_rr = (v->decode_rr + 1) % r->n_parts;
	/* A frame follows the shown senders' pictures, at the room's rate on
	 * average (frame_clock.h). */
	bool fresh = false;
	for (size_t k = 0; k < v->n_shown && !fresh; k++)
		fresh = v->shown_in[k] && v->shown_in[k]->new_pic;
	if (!mx_frame_clock_due(&v->clock, now, interval, MX_TICK_US, fresh)) {
		do_tiers(r, now, 1);
		return;
	}
	do_tiers(r, now, v->n_tiers); /* the last frame time's, before this one's */

	update_layout(r, now);
	/* The pictures this frame shows, on every tier (see snap). */
	for (size_t i = 0; i < r->n_parts; i++) {
		struct mx_vin *ins[2] = { r->parts[i]->vin, r->parts[i]->screen };
		for (int k = 0; k < 2; k++)
			if (ins[k]) {
				ins[k]->frame_pic_no = ins[k]->pic_no;
				ins[k]->snap_ok = false;
			}
	}
	for (unsigned t = 0; t < v->n_tiers; t++) {
		v->tiers[t].used = false;
		if (v->tiers[t].h264)
			v->tiers[t].h264->used = false;
	}
	for (size_t i = 0; i < r->n_parts; i++) {
		struct mx_vout *o = &r->parts[i]->vout;
		if (!r->parts[i]->sender)
			continue;
		if (o->started && o->tier >= 0)
			mark_used(v, o->tier, o->codec);
		if (o->want >= 0 && o->want != o->tier) {
			/* Waiting to (re)join a tier: it needs a keyframe. */
			mark_used(v, o->want, o->codec);
			want_keyframe(v, o->want, o->codec);
		}
	}
	if (r->rec) /* the recording takes the largest tier */
		v->tiers[v->n_tiers - 1].used = true;
	uint64_t receivers[MX_VIDEO_TIERS] = { 0 };
	for (size_t i = 0; i < r->n_parts; i++)
		if (r->parts[i]->vout.started && r->parts[i]->vout.tier >= 0)
			receivers[r->parts[i]->vout.tier]++;
	for (unsigned t = 0; t < MX_VIDEO_TIERS; t++)
		__atomic_store_n(&r->ctr.video_receivers[t], receivers[t], __ATOMIC_RELAXED);
	/* A room whose tiers take long (many tiles to decode and draw, many
	 * receivers to send to) composes and encodes one tier per tick, the
	 * largest first: a frame's work in one tick made the next audio
	 * tick late (meeting of 25: 14 ms of compose and encode per frame
	 * time, beside 18 ms of decodes). A light room does all at once. */
	uint64_t work = 0;
	for (unsigned t = 0; t < v->n_tiers; t++)
		work += v->tiers[t].work_us;
	v->stagger = (1u << v->n_tiers) - 1;
	v->top_ready = false;
	do_tiers(r, now, work >= STAGGER_FROM_US ? 1 : v->n_tiers);
	v->frame_no++;
	for (size_t i = 0; i < r->n_parts; i++) {
		r->parts[i]->vin->new_pic = false;
		if (r->parts[i]->screen)
			r->parts[i]->screen->new_pic = false;
	}
}

/* ---- feedback from receivers -------------------------------------------------------- */

void mx_video_feedback(struct mx_room *r, struct mx_part *p, const struct tp_rtcp_pkt *pk,
		       uint64_t now)
{
	uint32_t ours;

	if (!p->sender)
		return;
	ours = tp_sender_ssrc(p->sender, TP_SDP_VIDEO);
	if (pk->media_ssrc != ours && pk->kind != TP_RTCP_K_FIR)
		return;
	if (pk->kind == TP_RTCP_K_PLI || pk->kind == TP_RTCP_K_FIR) {
		int t = p->vout.started ? p->vout.tier : p->vout.want;
		want_keyframe(r->video, t, p->vout.codec);
	} else if (pk->kind == TP_RTCP_K_NACK) {
		mx_video_retransmit(r, p, pk, now);
	}
}

void mx_video_part_connected(struct mx_room *r, struct mx_part *p)
{
	const struct tp_sdp_neg_media *m = tp_sender_media(p->sender, TP_SDP_VIDEO);
	enum tp_codec in = tp_sender_codec(p->sender, TP_SDP_VIDEO);
	int err;

	/* What it sends and what it is sent are the one negotiated codec. */
	if (m && m->codec_id == TP_CODEC_H264)
		p->vout.codec = TP_CODEC_H264;
	err = mx_video_in_codec(p, in);
	if (err)
		cm_error("mixer", "room %s: %s's H.264 video cannot be decoded: %s", r->name,
			 p->id, strerror(err));
	want_keyframe(r->video, p->vout.want, p->vout.codec);
}

void mx_video_set_tier_kbps(struct mx_video *v, unsigned tier, int kbps)
{
	struct tier *t;

	if (tier >= v->n_tiers)
		return;
	t = &v->tiers[tier];
	kbps = CM_MAX(16, CM_MIN(kbps, t->kbps));
	if (kbps == t->cur_kbps ||
	    (abs(kbps - t->cur_kbps) * 10 < t->cur_kbps && kbps != t->kbps))
		return;
	if (cx_vp8_enc_set_bitrate(t->enc, kbps) == 0)
		t->cur_kbps = kbps;
}

void mx_video_record_size(const struct mx_video *v, int *w, int *h)
{
	*w = v->tiers[v->n_tiers - 1].w;
	*h = v->tiers[v->n_tiers - 1].h;
}

void mx_video_record_start(struct mx_video *v)
{
	v->tiers[v->n_tiers - 1].keyframe_wanted = true;
	v->tiers[v->n_tiers - 1].redraw = true;
}

void mx_video_set_fps_div(struct mx_video *v, unsigned div)
{
	v->fps_div = div ? div : 1;
}

int mx_video_set_tier(struct mx_room *r, struct mx_part *p, int tier)
{
	if (tier < 0 || (unsigned)tier >= r->video->n_tiers)
		return EINVAL;
	if (p->cap == MX_CAP_AUDIO_ONLY)
		return 0; /* its own choice wins */
	p->vout.want = tier;
	/* The admin's tier at its full frame rate: the estimate no longer
	 * moves it (rate.c), so nor may the temporal layer it last chose. */
	p->vout.max_tid = CX_VP8_MAX_LAYERS - 1;
	want_keyframe(r->video, tier, p->vout.codec);
	return 0;
}

void mx_video_layout_info(struct mx_room *r, struct mx_layout_info *out)
{
	struct mx_video *v = r->video;
	const struct tier *t = &v->tiers[v->n_tiers - 1];

	memset(out, 0, sizeof(*out));
	out->kind = v->layout;
	out->width = t->w;
	out->height = t->h;
	if (r->sharer)
		memcpy(out->screen_by, r->sharer->id, sizeof(out->screen_by));
	for (size_t k = 0; k < t->n_tiles && k < v->n_shown; k++) {
		if (!v->shown[k])
			continue;
		out->tiles[out->n].screen =
			v->shown_in[k] && v->shown_in[k] != v->shown[k]->vin;
		memcpy(out->tiles[out->n].id, v->shown[k]->id, sizeof(out->tiles[0].id));
		out->tiles[out->n].x = t->tiles[k].pic.x;
		out->tiles[out->n].y = t->tiles[k].pic.y;
		out->tiles[out->n].w = t->tiles[k].pic.w;
		out->tiles[out->n].h = t->tiles[k].pic.h;
		out->tiles[out->n].large = t->tiles[k].large;
		out->n++;
	}
}
