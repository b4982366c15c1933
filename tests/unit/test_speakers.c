/* Speaker selection: the loudest K unmuted voices, held and not flapping. */
#include "mixer/speakers.h"
#include "tests/unit/check.h"

#define TICK 20000

static struct mx_spk s[8];
static struct mx_spk *ps[8];
static bool eligible[8];

static void reset(void)
{
	for (int i = 0; i < 8; i++) {
		s[i] = (struct mx_spk){ 0 };
		ps[i] = &s[i];
		eligible[i] = true;
	}
}

static bool chosen_has(const size_t *c, size_t m, size_t i)
{
	for (size_t j = 0; j < m; j++)
		if (c[j] == i)
			return true;
	return false;
}

static void the_three_loudest_of_six_are_chosen(void)
{
	size_t c[3], m = 0;
	int levels[6] = { 30, 10, 45, 20, 40, 127 }; /* -dBov */

	reset();
	for (uint64_t t = 0; t < 50; t++) {
		for (int i = 0; i < 6; i++)
			mx_spk_update(&s[i], levels[i], t * TICK);
		m = mx_spk_select(ps, eligible, 6, 3, t * TICK, c);
	}
	CHECK_EQ(m, 3);
	CHECK(chosen_has(c, m, 1) && chosen_has(c, m, 3) && chosen_has(c, m, 0));
}

static void a_muted_participant_is_never_chosen(void)
{
	size_t c[3], m;

	reset();
	eligible[1] = false;
	for (int i = 0; i < 3; i++)
		mx_spk_update(&s[i], 10, 0);
	m = mx_spk_select(ps, eligible, 3, 3, 0, c);
	CHECK_EQ(m, 2);
	CHECK(!chosen_has(c, m, 1));
	CHECK(!s[1].speaker);
}

static void silence_chooses_nobody(void)
{
	size_t c[3];

	reset();
	for (int i = 0; i < 4; i++)
		mx_spk_update(&s[i], i == 0 ? -1 : 127, 0);
	CHECK_EQ(mx_spk_select(ps, eligible, 4, 3, 0, c), 0);
}

static void a_pause_between_words_keeps_the_speaker(void)
{
	size_t c[1], m;

	reset();
	mx_spk_update(&s[0], 20, 0);
	mx_spk_select(ps, eligible, 2, 1, 0, c);
	/* 400 ms of silence (DTX: no packets), then a quieter newcomer. */
	uint64_t t = 400000;
	mx_spk_update(&s[0], -1, t);
	mx_spk_update(&s[1], 40, t);
	m = mx_spk_select(ps, eligible, 2, 1, t, c);
	CHECK_EQ(m, 1);
	CHECK_EQ(c[0], 0);
	/* After the hold time the newcomer gets the floor. */
	t = 1000000;
	mx_spk_update(&s[0], -1, t);
	mx_spk_update(&s[1], 40, t);
	m = mx_spk_select(ps, eligible, 2, 1, t, c);
	CHECK_EQ(m, 1);
	CHECK_EQ(c[0], 1);
}

static void a_slightly_louder_newcomer_does_not_flap_the_speaker(void)
{
	size_t c[1];

	reset();
	for (uint64_t t = 0; t < 10; t++) {
		mx_spk_update(&s[0], 30, t * TICK);
		mx_spk_select(ps, eligible, 2, 1, t * TICK, c);
	}
	CHECK_EQ(c[0], 0);
	/* 3 dB louder is within the margin; 10 dB louder is not. */
	for (uint64_t t = 10; t < 20; t++) {
		mx_spk_update(&s[0], 30, t * TICK);
		mx_spk_update(&s[1], 27, t * TICK);
		mx_spk_select(ps, eligible, 2, 1, t * TICK, c);
		CHECK_EQ(c[0], 0);
	}
	mx_spk_update(&s[0], 30, 20 * TICK);
	mx_spk_update(&s[1], 20, 20 * TICK);
	mx_spk_select(ps, eligible, 2, 1, 20 * TICK, c);
	CHECK_EQ(c[0], 1);
}

static void speaking_indicator_follows_the_voice(void)
{
	reset();
	mx_spk_update(&s[0], 20, 0);
	CHECK(mx_spk_speaking(&s[0], 100000));
	CHECK(!mx_spk_speaking(&s[0], MX_SPK_SPEAKING_US + 1));
	CHECK(!mx_spk_speaking(&s[1], 0));
}

int main(void)
{
	RUN(the_three_loudest_of_six_are_chosen);
	RUN(a_muted_participant_is_never_chosen);
	RUN(silence_chooses_nobody);
	RUN(a_pause_between_words_keeps_the_speaker);
	RUN(a_slightly_louder_newcomer_does_not_flap_the_speaker);
	RUN(speaking_indicator_follows_the_voice);
	return check_report();
}
