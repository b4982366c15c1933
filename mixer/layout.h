/*
 * Video layouts (private to mixer/): where each visible sender goes on a
 * canvas. Pure geometry, the same for every tier (computed per canvas
 * size). Pictures keep their aspect ratio and are letterboxed in their
 * cell; every rectangle has even coordinates and sizes (I420 chroma).
 */
#ifndef TUTTI_MIXER_LAYOUT_H
#define TUTTI_MIXER_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>

#include "mixer/mixer.h"

#define MX_LAYOUT_MAX_TILES MX_MAX_TILES


struct mx_rect {
	int x, y, w, h;
};

struct mx_tile {
	int source; /* index into the layout's sources */
	struct mx_rect cell; /* the tile's area on the canvas */
	struct mx_rect pic; /* where the picture goes inside it */
	bool large; /* the big tile of speaker/presenter */
};

struct mx_layout_in {
	size_t n; /* video sources, in the order the room prefers them */
	const int *width; /* each source's picture size; 0: unknown (16:9) */
	const int *height;
	int speaker; /* the active speaker's index, or -1 */
	int presenter; /* the presenter's index, or -1 */
	unsigned max_tiles; /* 1..MX_LAYOUT_MAX_TILES */
	bool strip; /* presenter layout: show the others in a strip */
	/* A shared screen (source `screen`) is shown large, whatever the
	 * kind, with its sharer's camera (source `sharer`, or -1) first in
	 * a column beside it, then the others. */
	bool sharing;
	int screen, sharer;
};

/* Fills tiles (room for MX_LAYOUT_MAX_TILES) for a canvas of cw x ch and
 * returns how many there are. Sources not in a tile are not visible. */
size_t mx_layout_compute(enum mx_layout_kind kind, int cw, int ch,
			 const struct mx_layout_in *in, struct mx_tile *tiles);


#endif
