/*
 * Speaker selection (private to mixer/): from the loudness of each
 * participant every 20 ms tick (the RFC 6464 audio level its packets
 * carry, or the level measured on its decoded audio), choose the K
 * loudest unmuted ones to decode and mix. A voice is smoothed (fast
 * attack, slow release) and held for a while after it goes quiet, and a
 * current speaker keeps its place unless a newcomer is clearly louder,
 * so that nobody is cut mid-word and the mix does not flap.
 */
#ifndef TUTTI_MIXER_SPEAKERS_H
#define TUTTI_MIXER_SPEAKERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MX_SPK_VOICE_DBOV 50 /* louder than -50 dBov counts as voice */
#define MX_SPK_HOLD_US 800000 /* a voice stays active this long after it goes quiet */
#define MX_SPK_MARGIN_DB 6 /* a newcomer must beat a current speaker by this */
#define MX_SPK_SPEAKING_US 300000 /* "speaking" indicator hold for the roster */

/* Per participant; zero-initialised is "silent". */
struct mx_spk {
	float loud; /* smoothed loudness in dB above -127 dBov: 0 = silence */
	uint64_t last_voice_us;
	bool has_voice; /* ever */
	bool speaker; /* chosen at the last selection */
};

/* Feeds one tick: level is the loudest -dBov seen this tick (0 loudest,
 * 127 silence), or -1 when no audio arrived (DTX or loss). */
void mx_spk_update(struct mx_spk *s, int level, uint64_t now);

/* True while the participant spoke within MX_SPK_SPEAKING_US. */
bool mx_spk_speaking(const struct mx_spk *s, uint64_t now);

/* Chooses at most k speakers among n participants (st[i]; eligible[i]
 * false for muted ones, who are never chosen). Writes their indexes
 * to chosen (k entries of room), updates st[i]->speaker, returns how
 * many were chosen. */
size_t mx_spk_select(struct mx_spk *const *st, const bool *eligible, size_t n,
		     size_t k, uint64_t now, size_t *chosen);

#endif
