/*
 * libFuzzer target for the RTP header parser: parse, look up every
 * extension, read the audio level, and check that writing the parsed
 * header back and parsing it again gives the same fields.
 */
#include <stdlib.h>
#include <string.h>

#include "transport/rtp.h"

#define EXPECT(c)                                                                        \
	do {                                                                             \
		if (!(c))                                                                \
			abort();                                                         \
	} while (0)

static void round_trip(const struct tp_rtp_hdr *h, const uint8_t *data)
{
	static uint8_t out[70000];
	struct tp_rtp_hdr r;
	size_t n = 0;

	EXPECT(tp_rtp_write(out, sizeof(out), &n, h, data + h->hdr_len, h->payload_len) ==
	       0);
	EXPECT(tp_rtp_parse(&r, out, n) == 0);
	EXPECT(r.marker == h->marker && r.pt == h->pt && r.seq == h->seq);
	EXPECT(r.ts == h->ts && r.ssrc == h->ssrc && r.cc == h->cc);
	EXPECT(memcmp(r.csrc, h->csrc, sizeof(h->csrc[0]) * h->cc) == 0);
	EXPECT(r.n_ext == h->n_ext && r.payload_len == h->payload_len);
	for (size_t i = 0; i < h->n_ext; i++) {
		EXPECT(r.ext[i].id == h->ext[i].id && r.ext[i].len == h->ext[i].len);
		EXPECT(memcmp(r.ext[i].data, h->ext[i].data, h->ext[i].len) == 0);
	}
	EXPECT(memcmp(out + r.hdr_len, data + h->hdr_len, h->payload_len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tp_rtp_hdr h;

	(void)tp_rtp_is_rtcp(data, size);
	if (tp_rtp_parse(&h, data, size) != 0)
		return 0;
	EXPECT(h.hdr_len + h.payload_len + h.pad_len == size);
	EXPECT(h.n_ext <= TP_RTP_MAX_EXT);
	for (unsigned id = 1; id < 256; id++) {
		const struct tp_rtp_ext *e = tp_rtp_find_ext(&h, (uint8_t)id);
		bool voice;
		uint8_t level;

		if (!e)
			continue;
		EXPECT(e->data >= data && e->data + e->len <= data + size);
		if (tp_rtp_audio_level(e, &voice, &level) == 0)
			EXPECT(level <= 127);
	}
	round_trip(&h, data);
	return 0;
}
