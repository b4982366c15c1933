/*
 * Screen sharing in a room (room thread only). A participant whose offer
 * had a second video m-line (transport: tp_sdp_neg_media.screen) sends a
 * shared screen on it; its packets come here, to a second inbound video
 * source of that participant (its own SSRC, assembler and decoder).
 *
 * One participant shares at a time: r->sharer, set by mx_set_screen (the
 * participant's PATCH {"screen": true}) as the room's screen_share
 * allows. While a screen is shared every layout shows it large, with
 * the sharer's camera small beside it (layout.c), from the screen's first
 * decoded picture (the layout stays as it was while the browser starts
 * its capture; black after SCREEN_WAIT_US without one); the largest tier's
 * encoder is tuned for text (codecs: CX_VP8_SCREEN) and, while the
 * screen's picture does not change, encodes fewer frames. A share ends
 * with PATCH {"screen": false}, when the sharer leaves, when the room's
 * setting no longer allows it, or when its media stopped for
 * SCREEN_MEDIA_TIMEOUT_US (a client that vanished without saying so).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "mixer/video_priv.h"

/* No screen packet for this long: the share ends. */
#define SCREEN_MEDIA_TIMEOUT_US 10000000ull
/* A share shows black after this long without a picture. */
#define SCREEN_WAIT_US 3000000ull
/* Unchanged this long, the screen is static: every 3rd frame (5 fps of 15). */
#define STATIC_AFTER_US  1000000ull
#define STATIC_FRAME_DIV 3
/* Screen packets of someone who may not share: the setting is read again
 * after this long. */
#define REFUSED_RECHECK_US 1000000ull

/* p's screen source, in the codec of its connection (the camera's). */
static int new_screen(struct mx_part *p)
{
	int err = mx_vin_new(&p->screen);

	if (!err)
		err = mx_video_in_codec(p, p->vin->codec);
	if (err)
		mx_vin_free(&p->screen);
	return err;
}

static bool allowed(struct mx_room *r, const struct mx_part *p)
{
	enum mx_screen_share pol;

	pthread_mutex_lock(mx_engine_lock(r->engine));
	pol = r->cfg.screen_share;
	pthread_mutex_unlock(mx_engine_lock(r->engine));
	return pol == MX_SCREEN_EVERYONE ||
	       (pol == MX_SCREEN_PRESENTERS && p->role == MX_ROLE_PRESENTER);
}

static void stop(struct mx_room *r, const char *why)
{
	if (!r->sharer)
		return;
	cm_info("mixer", "room %s: %s stops sharing its screen (%s)", r->name,
		r->sharer->id, why);
	r->sharer = NULL;
	r->changed = true;
}

int mx_screen_set(struct mx_room *r, struct mx_part *p, bool on, bool by_self)
{
	int err;

	if (!on) {
		if (r->sharer == p)
			stop(r, "asked to");
		return 0;
	}
	if (!allowed(r, p))
		return EPERM;
	/* A presenter (or an admin acting for p) may take the screen over;
	 * anyone else waits for the current share to end. */
	if (r->sharer && r->sharer != p && by_self && p->role != MX_ROLE_PRESENTER)
		return EBUSY;
	if (!p->screen && (err = new_screen(p)))
		return err;
	if (r->sharer != p) {
		if (r->sharer)
			stop(r, "taken over");
		r->sharer = p;
		/* Not the last picture of an earlier share: black until the
		 * keyframe that becoming visible asks for. */
		p->screen->has_pic = false;
		p->screen->need_keyframe = true;
		/* Its media has this long to start (or to go on). */
		p->screen_rx_us = cm_now_us();
		r->share_since_us = p->screen_rx_us;
		r->share_shown = false;
		cm_info("mixer", "room %s: %s shares its screen", r->name, p->id);
	}
	return 0;
}

void mx_screen_policy(struct mx_room *r)
{
	if (r->sharer && !allowed(r, r->sharer))
		stop(r, "the room's screen_share no longer allows it");
}

void mx_screen_input(struct mx_room *r, struct mx_part *p, const uint8_t *pkt, size_t len,
		     const struct tp_rtp_hdr *h, uint64_t now)
{
	/* Kept ready (SSRC, assembler) for whoever may share, so that a
	 * share shows at the first keyframe; others' screens are dropped
	 * (the setting is looked at again at most once a second). */
	if (!p->screen) {
		if (p->screen_refused_us &&
		    now - p->screen_refused_us < REFUSED_RECHECK_US)
			return;
		if (!allowed(r, p) || new_screen(p)) {
			p->screen_refused_us = now ? now : 1;
			return;
		}
	}
	p->screen_rx_us = now;
	mx_vin_input(r, p, p->screen, pkt, len, h, now);
}

void mx_screen_tick(struct mx_room *r, uint64_t now)
{
	struct mx_part *p = r->sharer;

	if (p && now > p->screen_rx_us && now - p->screen_rx_us > SCREEN_MEDIA_TIMEOUT_US)
		stop(r, "its screen's media stopped");
}

bool mx_screen_ready(struct mx_room *r, uint64_t now)
{
	const struct mx_part *p = r->sharer;

	return p && p->screen &&
	       (p->screen->has_pic ||
		now - CM_MIN(now, r->share_since_us) >= SCREEN_WAIT_US);
}

void mx_screen_part_gone(struct mx_room *r, struct mx_part *p)
{
	if (r->sharer == p)
		stop(r, "it left");
}

/* ---- the largest tier while a screen is shown ------------------------------- */

/* Whether the screen's picture changed: its luma against the last one. */
static void watch_screen(struct mx_video *v, const struct mx_vin *in, uint64_t now)
{
	const struct cx_picture *pic = &in->pic;
	size_t need = (size_t)pic->width * pic->height;
	bool same = pic->width == v->screen_copy_w && pic->height == v->screen_copy_h;

	if (!in->new_pic || !in->has_pic)
		return;
	if (need > v->screen_copy_cap) {
		uint8_t *b = realloc(v->screen_copy, need);
		if (!b)
			return;
		v->screen_copy = b;
		v->screen_copy_cap = need;
		same = false;
	}
	for (int y = 0; y < pic->height; y++) {
		uint8_t *row = v->screen_copy + (size_t)y * pic->width;
		const uint8_t *src = pic->plane[0] + (size_t)y * pic->stride[0];
		if (same && memcmp(row, src, (size_t)pic->width)) {
			same = false;
			v->screen_changed_us = now;
		}
		if (!same)
			memcpy(row, src, (size_t)pic->width);
	}
	if (pic->width != v->screen_copy_w || pic->height != v->screen_copy_h)
		v->screen_changed_us = now;
	v->screen_copy_w = pic->width;
	v->screen_copy_h = pic->height;
}

void mx_video_content_mode(struct mx_room *r, bool screen, uint64_t now)
{
	struct mx_video *v = r->video;
	struct tier *top = &v->tiers[v->n_tiers - 1];

	if (screen && r->sharer && r->sharer->screen) {
		watch_screen(v, r->sharer->screen, now);
		if (!r->share_shown && r->sharer->screen->has_pic) {
			r->share_shown = true;
			cm_info(
			    "mixer",
			    "room %s: %s's screen shown %llu ms after the share started",
			    r->name, r->sharer->id,
			    (unsigned long long)(now - CM_MIN(now, r->share_since_us)) /
				1000);
		}
	}
	if (screen == v->content_mode)
		return;
	if (cx_vp8_enc_set_content(top->enc, screen ? CX_VP8_SCREEN : CX_VP8_CAMERA) ==
	    0) {
		v->content_mode = screen;
		v->screen_changed_us = now;
		cm_info("mixer", "room %s: largest tier tuned for %s", r->name,
			screen ? "screen content" : "camera pictures");
	}
}

bool mx_video_screen_skip(struct mx_room *r, unsigned t, uint64_t now)
{
	struct mx_video *v = r->video;

	if (!v->content_mode || t != v->n_tiers - 1 ||
	    now - v->screen_changed_us < STATIC_AFTER_US)
		return false;
	return v->frame_no % STATIC_FRAME_DIV != 0;
}
