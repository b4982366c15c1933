/*
 * libFuzzer target for the VP8 RTP payload: a packet sequence from one
 * sender goes into an assembler; every frame that comes out is decoded.
 * Each payload's descriptor is also parsed and, when it has a 15-bit
 * PictureID, rewritten on a copy, which must change nothing else.
 *
 * Input: records of [flags][seq step][len][len bytes of payload], with
 * flags bit 0 the marker, bit 1 "next timestamp", bit 2 "give up the
 * waiting frame", bit 3 "ask what is missing"; the seq step is signed, so
 * records repeat, reorder and jump.
 */
#include <stdlib.h>
#include <string.h>

#include "codecs/codecs.h"

#define EXPECT(c)                                                                        \
	do {                                                                             \
		if (!(c))                                                                \
			abort();                                                         \
	} while (0)

static void check_rewrite(const uint8_t *p, size_t len)
{
	static uint8_t copy[256];
	struct cx_vp8_desc d, r;

	if (cx_vp8_parse_desc(p, len, &d) != 0) {
		EXPECT(cx_vp8_rewrite_picture_id(memcpy(copy, p, len), len, 1, 1) != 0);
		return;
	}
	EXPECT(d.len >= 1 && d.len < len && d.len <= CX_VP8_DESC_LEN);
	memcpy(copy, p, len);
	if (cx_vp8_rewrite_picture_id(copy, len, 0x2345, 0x67) != 0) {
		EXPECT(!d.has_picture_id || !d.long_picture_id);
		EXPECT(memcmp(copy, p, len) == 0);
		return;
	}
	EXPECT(cx_vp8_parse_desc(copy, len, &r) == 0);
	EXPECT(r.picture_id == 0x2345 && r.len == d.len && r.start == d.start);
	EXPECT(r.tl0picidx == (d.has_tl0picidx ? 0x67 : d.tl0picidx));
	EXPECT(r.tid == d.tid && r.layer_sync == d.layer_sync && r.keyidx == d.keyidx);
	EXPECT(memcmp(copy + d.len, p + d.len, len - d.len) == 0);
}

/* Keyframe sizes are the 14 bits after the start code: decode only small
 * ones, to keep the fuzzer fast (the decoder's own limit is 4K). */
static bool small_enough(const struct cx_vp8_assembled *f)
{
	if (!f->keyframe)
		return true;
	if (f->len < 10)
		return true;
	return (f->data[6] | (f->data[7] & 0x3f) << 8) <= 512 &&
	       (f->data[8] | (f->data[9] & 0x3f) << 8) <= 512;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Made once: a fresh assembler per input costs more than the input. */
	static struct cx_vp8_dec *dec;
	static struct cx_vp8_asm *a;
	struct cx_vp8_assembled f;
	uint16_t seq = 1000, miss[CX_VP8_ASM_WINDOW];
	uint32_t ts = 90000;
	size_t i = 0;

	if (!dec)
		EXPECT(cx_vp8_dec_new(&dec) == 0);
	if (!a)
		EXPECT(cx_vp8_asm_new(&a) == 0);
	cx_vp8_asm_reset(a);
	while (i + 3 <= size) {
		uint8_t flags = data[i];
		int8_t step = (int8_t)data[i + 1];
		size_t len = data[i + 2];
		const uint8_t *p = data + i + 3;
		struct cx_picture pic;

		if (i + 3 + len > size)
			len = size - i - 3;
		i += 3 + len;
		seq = (uint16_t)(seq + step);
		if (flags & 2)
			ts += 3000;
		check_rewrite(p, len);
		(void)cx_vp8_asm_put(a, seq, ts, flags & 1, p, len);
		if (flags & 8) {
			size_t n = cx_vp8_asm_missing(a, miss, CX_VP8_ASM_WINDOW);
			EXPECT(n <= CX_VP8_ASM_WINDOW);
		}
		if (flags & 4)
			cx_vp8_asm_drop_incomplete(a);
		while (cx_vp8_asm_get(a, &f) == 0) {
			EXPECT(f.data && f.len > 0 && f.len <= CX_VP8_ASM_MAX_FRAME);
			EXPECT(!cx_vp8_asm_need_keyframe(a));
			if (small_enough(&f))
				(void)cx_vp8_decode(dec, f.data, f.len, &pic);
		}
	}
	return 0;
}
