/* Layouts: tiles cover the canvas without overlap, keep the aspect, and
 * put the speaker or presenter large. */
#include "mixer/layout.h"
#include "tests/unit/check.h"

static struct mx_tile t[MX_LAYOUT_MAX_TILES];

static bool inside(struct mx_rect in, struct mx_rect out)
{
	return in.x >= out.x && in.y >= out.y && in.x + in.w <= out.x + out.w &&
	       in.y + in.h <= out.y + out.h;
}

static bool overlap(struct mx_rect a, struct mx_rect b)
{
	return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

static bool even(struct mx_rect r)
{
	return !(r.x & 1) && !(r.y & 1) && !(r.w & 1) && !(r.h & 1);
}

static void check_sane(size_t n, int cw, int ch)
{
	struct mx_rect canvas = { 0, 0, cw, ch };

	for (size_t i = 0; i < n; i++) {
		CHECK(inside(t[i].cell, canvas));
		CHECK(inside(t[i].pic, t[i].cell));
		CHECK(even(t[i].cell) && even(t[i].pic));
		for (size_t j = 0; j < i; j++)
			CHECK(!overlap(t[i].cell, t[j].cell));
	}
}

static void grid_of_nine_is_three_by_three(void)
{
	struct mx_layout_in in = { .n = 9, .speaker = -1, .presenter = -1 };
	size_t n = mx_layout_compute(MX_LAYOUT_GRID, 640, 360, &in, t);

	CHECK_EQ(n, 9);
	check_sane(n, 640, 360);
	/* Cells are a third of the canvas each way. */
	CHECK_EQ(t[4].cell.w, 212);
	CHECK_EQ(t[4].cell.h, 120);
	for (size_t i = 0; i < n; i++)
		CHECK_EQ(t[i].source, (int)i);
}

static void grid_keeps_aspect_with_letterbox(void)
{
	int w[1] = { 640 }, h[1] = { 480 }; /* 4:3 into a 16:9 canvas */
	struct mx_layout_in in = { .n = 1, .width = w, .height = h, .speaker = -1,
				   .presenter = -1 };
	size_t n = mx_layout_compute(MX_LAYOUT_GRID, 1280, 720, &in, t);

	CHECK_EQ(n, 1);
	CHECK_EQ(t[0].pic.h, 720);
	CHECK_EQ(t[0].pic.w, 960);
	CHECK_EQ(t[0].pic.x, 160); /* pillarboxed, centred */
}

static void grid_shows_at_most_max_tiles(void)
{
	struct mx_layout_in in = { .n = 9, .speaker = -1, .presenter = -1, .max_tiles = 4 };
	size_t n = mx_layout_compute(MX_LAYOUT_GRID, 640, 360, &in, t);

	CHECK_EQ(n, 4);
	check_sane(n, 640, 360);
	in.n = 30;
	in.max_tiles = 0;
	n = mx_layout_compute(MX_LAYOUT_GRID, 1280, 720, &in, t);
	CHECK_EQ(n, MX_LAYOUT_MAX_TILES);
	check_sane(n, 1280, 720);
}

static void every_grid_size_up_to_25_is_sane(void)
{
	for (size_t k = 1; k <= 25; k++) {
		struct mx_layout_in in = { .n = k, .speaker = -1, .presenter = -1 };
		size_t n = mx_layout_compute(MX_LAYOUT_GRID, 320, 180, &in, t);
		CHECK_EQ(n, k);
		check_sane(n, 320, 180);
	}
}

static void speaker_layout_puts_the_speaker_large(void)
{
	struct mx_layout_in in = { .n = 5, .speaker = 3, .presenter = -1 };
	size_t n = mx_layout_compute(MX_LAYOUT_SPEAKER, 640, 360, &in, t);

	CHECK_EQ(n, 5);
	check_sane(n, 640, 360);
	CHECK_EQ(t[0].source, 3);
	CHECK(t[0].large);
	for (size_t i = 1; i < n; i++) {
		CHECK(!t[i].large);
		CHECK(t[i].source != 3);
		CHECK(t[i].cell.w * t[i].cell.h < t[0].cell.w * t[0].cell.h / 4);
	}
}

static void presenter_layout_can_hide_the_others(void)
{
	struct mx_layout_in in = { .n = 4, .speaker = 1, .presenter = 2, .strip = false };
	size_t n = mx_layout_compute(MX_LAYOUT_PRESENTER, 1280, 720, &in, t);

	CHECK_EQ(n, 1);
	CHECK_EQ(t[0].source, 2);
	CHECK_EQ(t[0].cell.w, 1280);
	CHECK_EQ(t[0].cell.h, 720);
	in.strip = true;
	n = mx_layout_compute(MX_LAYOUT_PRESENTER, 1280, 720, &in, t);
	CHECK_EQ(n, 4);
	CHECK_EQ(t[0].source, 2);
	check_sane(n, 1280, 720);
}

/* While a screen is shared, every kind shows it large on the left and
 * the sharer's camera first in a small column on the right. */
static void a_shared_screen_is_large_and_its_sharer_small(void)
{
	/* Sources: cameras 0, 1, 2 (1 shares), and the screen, 3. */
	struct mx_layout_in in = { .n = 4, .speaker = 2, .presenter = 0, .sharing = true,
				   .screen = 3, .sharer = 1, .strip = true };
	const enum mx_layout_kind kinds[] = { MX_LAYOUT_GRID, MX_LAYOUT_SPEAKER,
					      MX_LAYOUT_PRESENTER };

	for (size_t k = 0; k < 3; k++) {
		size_t n = mx_layout_compute(kinds[k], 1280, 720, &in, t);
		CHECK_EQ(n, 4);
		check_sane(n, 1280, 720);
		CHECK_EQ(t[0].source, 3);
		CHECK(t[0].large);
		CHECK_EQ(t[1].source, 1);
		CHECK(!t[1].large);
		/* The screen keeps 16:9 at 1068x600: 83 % of a 1280x720 slide. */
		CHECK_EQ(t[0].pic.w, 1068);
		CHECK_EQ(t[0].pic.h, 600);
		CHECK(t[1].cell.x >= t[0].cell.x + t[0].cell.w);
		CHECK(t[1].cell.w * 5 < t[0].pic.w);
		CHECK(t[2].source == 0 && t[3].source == 2);
	}
	/* Only the screen: it takes the whole canvas. */
	struct mx_layout_in alone = { .n = 1, .speaker = -1, .presenter = -1, .sharing = true,
				      .screen = 0, .sharer = -1 };
	CHECK_EQ(mx_layout_compute(MX_LAYOUT_PRESENTER, 1280, 720, &alone, t), 1);
	CHECK_EQ(t[0].pic.w, 1280);
	CHECK_EQ(t[0].pic.h, 720);
	/* Not sharing: the sources are laid out as before. */
	in.sharing = false;
	CHECK_EQ(mx_layout_compute(MX_LAYOUT_GRID, 1280, 720, &in, t), 4);
	CHECK(!t[0].large);
}

static void names_round_trip(void)
{
	enum mx_layout_kind k;

	CHECK_EQ(mx_layout_parse("speaker", &k), 0);
	CHECK_EQ(k, MX_LAYOUT_SPEAKER);
	CHECK(mx_layout_parse("mosaic", &k) != 0);
	CHECK(!strcmp(mx_layout_name(MX_LAYOUT_PRESENTER), "presenter"));
}

int main(void)
{
	RUN(grid_of_nine_is_three_by_three);
	RUN(grid_keeps_aspect_with_letterbox);
	RUN(grid_shows_at_most_max_tiles);
	RUN(every_grid_size_up_to_25_is_sane);
	RUN(speaker_layout_puts_the_speaker_large);
	RUN(presenter_layout_can_hide_the_others);
	RUN(a_shared_screen_is_large_and_its_sharer_small);
	RUN(names_round_trip);
	return check_report();
}
