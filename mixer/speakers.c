#include "common/common.h"
#include "mixer/speakers.h"

void mx_spk_update(struct mx_spk *s, int level, uint64_t now)
{
	float loud = level < 0 ? 0.f : 127.f - (float)CM_MIN(level, 127);

	/* Fast attack, release of ~0.5 dB per tick (25 dB/s). */
	if (loud >= s->loud)
		s->loud = loud;
	else
		s->loud = CM_MAX(loud, s->loud - 0.5f);
	if (level >= 0 && level < MX_SPK_VOICE_DBOV) {
		s->last_voice_us = now;
		s->has_voice = true;
	}
}

static bool active(const struct mx_spk *s, uint64_t now)
{
	return s->has_voice && now - s->last_voice_us < MX_SPK_HOLD_US;
}

bool mx_spk_speaking(const struct mx_spk *s, uint64_t now)
{
	return s->has_voice && now - s->last_voice_us < MX_SPK_SPEAKING_US;
}

size_t mx_spk_select(struct mx_spk *const *st, const bool *eligible, size_t n,
		     size_t k, uint64_t now, size_t *chosen)
{
	size_t m = 0;

	/* k is small (a handful): a selection by repeated maximum is
	 * simpler than sorting and linear in n per speaker. */
	for (size_t round = 0; round < k; round++) {
		float best = -1.f;
		size_t bi = n;

		for (size_t i = 0; i < n; i++) {
			bool taken = false;
			if (!eligible[i] || !active(st[i], now))
				continue;
			for (size_t j = 0; j < m && !taken; j++)
				taken = chosen[j] == i;
			if (taken)
				continue;
			float score = st[i]->loud + (st[i]->speaker ? MX_SPK_MARGIN_DB : 0);
			if (score > best) {
				best = score;
				bi = i;
			}
		}
		if (bi == n)
			break;
		chosen[m++] = bi;
	}
	for (size_t i = 0; i < n; i++)
		st[i]->speaker = false;
	for (size_t j = 0; j < m; j++)
		st[chosen[j]]->speaker = true;
	return m;
}
