/*
 * libFuzzer target for the H.264 RTP payload (RFC 6184): a packet
 * sequence from one sender goes into an assembler; every access unit that
 * comes out is packetized again (every payload within the MTU, as many as
 * counted) and, when small, decoded.
 *
 * Input: records of [flags][seq step][len hi][len lo][len bytes of
 * payload], with flags bit 0 the marker, bit 1 "next timestamp", bit 2
 * "give up the waiting frame", bit 3 "ask what is missing"; the seq step
 * is signed, so records repeat, reorder and jump; a length past the
 * input's end takes what is left.
 */
#include <stdlib.h>
#include <string.h>

#include "codecs/codecs.h"

#define EXPECT(c)                                                                        \
	do {                                                                             \
		if (!(c))                                                                \
			abort();                                                         \
	} while (0)

#define MTU      200
#define MAX_PKTS 8192

/* The assembled access unit through the packetizer: within the MTU, and
 * the count agrees with what is written. */
static void repacketize(const struct cx_h264_assembled *f)
{
	static uint8_t buf[MAX_PKTS * MTU];
	static size_t lens[MAX_PKTS];
	size_t n = 0, total = 0, count = cx_h264_packet_count(f->data, f->len, MTU);

	if (cx_h264_packetize(f->data, f->len, MTU, buf, sizeof(buf), lens, MAX_PKTS, &n))
		return; /* ENOSPC: more packets than the scratch holds */
	EXPECT(n == count);
	for (size_t i = 0; i < n; i++) {
		EXPECT(lens[i] > 0 && lens[i] <= MTU);
		total += lens[i];
	}
	EXPECT(total <= sizeof(buf));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Made once: a fresh assembler per input costs more than the input. */
	static struct cx_h264_dec *dec;
	static struct cx_h264_asm *a;
	struct cx_h264_assembled f;
	uint16_t seq = 1000, miss[CX_H264_ASM_WINDOW];
	uint32_t ts = 90000;
	size_t i = 0;

	if (!dec)
		EXPECT(cx_h264_dec_new(&dec) == 0);
	if (!a)
		EXPECT(cx_h264_asm_new(&a) == 0);
	cx_h264_asm_reset(a);
	while (i + 4 <= size) {
		uint8_t flags = data[i];
		int8_t step = (int8_t)data[i + 1];
		size_t len = (size_t)data[i + 2] << 8 | data[i + 3];
		const uint8_t *p = data + i + 4;
		struct cx_picture pic;

		if (i + 4 + len > size)
			len = size - i - 4;
		i += 4 + len;
		seq = (uint16_t)(seq + step);
		if (flags & 2)
			ts += 3000;
		(void)cx_h264_asm_put(a, seq, ts, flags & 1, p, len);
		if (flags & 8) {
			size_t n = cx_h264_asm_missing(a, miss, CX_H264_ASM_WINDOW);
			EXPECT(n <= CX_H264_ASM_WINDOW);
		}
		if (flags & 4)
			cx_h264_asm_drop_incomplete(a);
		while (cx_h264_asm_get(a, &f) == 0) {
			EXPECT(f.data && f.len > 4 && f.len <= CX_H264_ASM_MAX_FRAME);
			EXPECT(!memcmp(f.data, "\0\0\0\1", 4));
			EXPECT(!cx_h264_asm_need_keyframe(a));
			repacketize(&f);
			if (f.len <= 4096)
				(void)cx_h264_decode(dec, f.data, f.len, &pic);
		}
	}
	return 0;
}
