/*
 * libFuzzer target for a participant's audio path in the room, as the
 * mixer runs it: packets (any sequence numbers, timestamps, arrival times,
 * levels and Opus payloads) go into the jitter buffer; every 20 ms tick
 * takes a frame and decodes it the way mixer/audio.c does (the packet,
 * FEC from the next packet, or concealment). Nothing may read or write
 * out of bounds; a tick yields at most 20 ms of audio; the buffer's
 * figures stay within its bounds.
 *
 * Input: records of [flags][seq step][ts step][arrival step][level][len]
 * [len bytes]; flags bit 0: run a tick after this packet, bit 1: reset.
 * Steps are signed, so packets repeat, reorder, jump and arrive late.
 */
#include <stdlib.h>
#include <string.h>

#include "codecs/codecs.h"
#include "mixer/jitter.h"

#define EXPECT(c)                                                                        \
	do {                                                                             \
		if (!(c))                                                                \
			abort();                                                         \
	} while (0)

#define FRAME 960

static void tick(struct mx_jb *jb, struct cx_opus_dec *dec, uint64_t now)
{
	static int16_t pcm[CX_OPUS_MAX_SAMPLES];
	struct mx_jb_frame f;
	int n = 0;

	mx_jb_get(jb, now, &f);
	switch (f.kind) {
	case MX_JB_PACKET:
		EXPECT(f.data && f.len > 0 && f.len <= MX_JB_SLOT_BYTES);
		n = cx_opus_decode(dec, f.data, f.len, pcm, FRAME);
		break;
	case MX_JB_LOST_FEC:
		EXPECT(f.data && f.len > 0);
		EXPECT(f.samples > 0 && f.samples <= CX_OPUS_MAX_SAMPLES);
		n = cx_opus_decode_fec(dec, f.data, f.len, pcm, FRAME);
		break;
	case MX_JB_LOST:
		n = cx_opus_conceal(dec, pcm, FRAME);
		break;
	default:
		EXPECT(!f.data);
		break;
	}
	EXPECT(n <= FRAME);
	struct mx_jb_stats st;
	mx_jb_get_stats(jb, &st);
	EXPECT(st.depth_ms <= MX_JB_SLOTS * (CX_OPUS_MAX_SAMPLES / 48));
	EXPECT(st.target_ms >= 20 && st.target_ms <= 1000);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mx_jb *jb = NULL;
	struct cx_opus_dec *dec = NULL;
	uint16_t seq = 1000;
	uint32_t ts = 48000;
	uint64_t arrival = 1000000, now = 1000000;
	size_t off = 0;

	EXPECT(mx_jb_new(&jb) == 0 && cx_opus_dec_new(&dec, 1) == 0);
	while (off + 6 <= size) {
		const uint8_t *r = data + off;
		size_t len = r[5];
		off += 6;
		if (len > size - off)
			len = size - off;
		seq = (uint16_t)(seq + (int8_t)r[1]);
		ts += (uint32_t)((int32_t)(int8_t)r[2] * 120);
		arrival += (uint64_t)((int64_t)(int8_t)r[3] * 1000 + 20000);
		if (r[0] & 2)
			mx_jb_reset(jb);
		(void)mx_jb_put(jb, seq, ts, arrival, data + off, len, r[4]);
		off += len;
		if (r[0] & 1) {
			/* the room's tick runs on its own time, 20 ms apart */
			now = (arrival > now ? arrival : now) + 20000;
			tick(jb, dec, now);
		}
	}
	for (int i = 0; i < 80; i++)
		tick(jb, dec, now += 20000);
	mx_jb_free(&jb);
	cx_opus_dec_free(&dec);
	return 0;
}
