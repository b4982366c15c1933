#include <errno.h>
#include <string.h>

#include "mixer/layout.h"
#include "common/common.h"
#include "mixer/mixer.h"

#define STRIP_MAX 6 /* small tiles in a speaker/presenter strip */

static int even(int v)
{
	return v & ~1;
}

/* The largest rectangle of the source's aspect that fits the cell,
 * centred: letterbox or pillarbox bars are the background. */
static struct mx_rect fit(struct mx_rect cell, int sw, int sh)
{
	struct mx_rect r = cell;

	if (sw <= 0 || sh <= 0) {
		sw = 16;
		sh = 9;
	}
	if ((long)cell.w * sh > (long)cell.h * sw) {
		r.w = even((int)((long)cell.h * sw / sh));
		r.x = even(cell.x + (cell.w - r.w) / 2);
	} else {
		r.h = even((int)((long)cell.w * sh / sw));
		r.y = even(cell.y + (cell.h - r.h) / 2);
	}
	if (r.w < 2)
		r.w = 2;
	if (r.h < 2)
		r.h = 2;
	return r;
}

static void put(struct mx_tile *t, const struct mx_layout_in *in, int src,
		struct mx_rect cell, bool large)
{
	t->source = src;
	t->cell = cell;
	t->pic = fit(cell, in->width ? in->width[src] : 0, in->height ? in->height[src] : 0);
	t->large = large;
}

/* Lays n sources (from the list src) out in a cols x rows grid in area. */
static size_t grid(struct mx_rect area, const struct mx_layout_in *in, const int *src,
		   size_t n, struct mx_tile *tiles)
{
	size_t cols = 1, rows;

	if (!n)
		return 0;
	while (cols * cols < n)
		cols++;
	rows = (n + cols - 1) / cols;
	for (size_t i = 0; i < n; i++) {
		size_t r = i / cols, c = i % cols;
		/* The last row, if short, is centred. */
		size_t in_row = r == rows - 1 ? n - r * cols : cols;
		int cw = even(area.w / (int)cols), ch = even(area.h / (int)rows);
		int off = (int)(cols - in_row) * cw / 2;
		struct mx_rect cell = { even(area.x + off + (int)c * cw),
					even(area.y + (int)r * ch), cw, ch };
		put(&tiles[i], in, src[i], cell, false);
	}
	return n;
}

/* One large tile on top, a strip of small ones below (if any). */
static size_t large_and_strip(int cw, int ch, const struct mx_layout_in *in, int big,
			      bool strip, struct mx_tile *tiles)
{
	int others[STRIP_MAX];
	size_t n_others = 0, n;
	int strip_h = strip ? even(ch / 4) : 0;

	for (size_t i = 0; i < in->n && strip && n_others < STRIP_MAX; i++)
		if ((int)i != big)
			others[n_others++] = (int)i;
	if (!n_others)
		strip_h = 0;
	put(&tiles[0], in, big, (struct mx_rect){ 0, 0, even(cw), even(ch - strip_h) }, true);
	n = 1;
	if (n_others) {
		int w = even(cw / STRIP_MAX);
		int x0 = even((cw - w * (int)n_others) / 2);
		for (size_t i = 0; i < n_others; i++)
			put(&tiles[n++], in, others[i],
			    (struct mx_rect){ x0 + (int)i * w, even(ch - strip_h), w, strip_h },
			    false);
	}
	return n;
}

/* A shared screen: as large as the canvas allows beside a column of
 * small 16:9 tiles on the right (the sharer's camera on top, then the
 * others in order), so that the whole slide stays visible (nothing is
 * laid over it). Without cameras the screen takes the whole canvas. */
static size_t screen_and_column(int cw, int ch, const struct mx_layout_in *in,
				struct mx_tile *tiles)
{
	int col_w = even(cw / 6), tile_h = even(col_w * 9 / 16);
	int rows = tile_h > 0 ? CM_MIN(ch / tile_h, STRIP_MAX) : 0;
	int others[STRIP_MAX];
	size_t n_others = 0, n = 1;

	if (in->sharer >= 0 && (size_t)in->sharer < in->n && in->sharer != in->screen)
		others[n_others++] = in->sharer;
	for (size_t i = 0; i < in->n && (int)n_others < rows; i++)
		if ((int)i != in->screen && (int)i != in->sharer)
			others[n_others++] = (int)i;
	if (!n_others)
		col_w = 0;
	put(&tiles[0], in, in->screen, (struct mx_rect){ 0, 0, even(cw - col_w), even(ch) },
	    true);
	int y0 = even((ch - tile_h * (int)n_others) / 2);
	for (size_t i = 0; i < n_others; i++)
		put(&tiles[n++], in, others[i],
		    (struct mx_rect){ even(cw - col_w), y0 + (int)i * tile_h, col_w, tile_h },
		    false);
	return n;
}

size_t mx_layout_compute(enum mx_layout_kind kind, int cw, int ch,
			 const struct mx_layout_in *in, struct mx_tile *tiles)
{
	int src[MX_LAYOUT_MAX_TILES];
	size_t max = in->max_tiles ? in->max_tiles : MX_LAYOUT_MAX_TILES, n;

	if (!in->n || cw < 2 || ch < 2)
		return 0;
	if (max > MX_LAYOUT_MAX_TILES)
		max = MX_LAYOUT_MAX_TILES;
	if (in->sharing && in->screen >= 0 && (size_t)in->screen < in->n)
		return screen_and_column(cw, ch, in, tiles);
	if (kind == MX_LAYOUT_SPEAKER && in->n > 1) {
		int big = in->speaker >= 0 && (size_t)in->speaker < in->n ? in->speaker : 0;
		return large_and_strip(cw, ch, in, big, true, tiles);
	}
	if (kind == MX_LAYOUT_PRESENTER) {
		int big = in->presenter >= 0 && (size_t)in->presenter < in->n ? in->presenter
		                                                               : -1;
		if (big < 0 && in->speaker >= 0 && (size_t)in->speaker < in->n)
			big = in->speaker;
		if (big >= 0)
			return large_and_strip(cw, ch, in, big, in->strip, tiles);
	}
	n = in->n < max ? in->n : max;
	for (size_t i = 0; i < n; i++)
		src[i] = (int)i;
	return grid((struct mx_rect){ 0, 0, even(cw), even(ch) }, in, src, n, tiles);
}

static const char *const names[] = {
	[MX_LAYOUT_GRID] = "grid",
	[MX_LAYOUT_SPEAKER] = "speaker",
	[MX_LAYOUT_PRESENTER] = "presenter",
};

int mx_layout_parse(const char *name, enum mx_layout_kind *out)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (name && !strcmp(name, names[i])) {
			*out = (enum mx_layout_kind)i;
			return 0;
		}
	}
	return EINVAL;
}

const char *mx_layout_name(enum mx_layout_kind kind)
{
	return (unsigned)kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "grid";
}
