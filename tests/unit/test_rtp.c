/*
 * RTP header parsing and writing: RFC 8285 extensions in both forms,
 * CSRCs, padding, the RFC 5761 demux, and malformed packets.
 */
#include <errno.h>

#include "common/common.h"
#include "transport/rtp.h"
#include "check.h"

/* A Chrome Opus packet, hand-assembled in the shape of a capture from
 * Chrome 120 (extmap 1 ssrc-audio-level, 2 abs-send-time, 3 transport-cc,
 * 4 sdes:mid): V=2 X=1, PT 111, one-byte extensions, a zero pad byte,
 * then the first bytes of a 20 ms Opus frame (TOC 0x78). */
static const uint8_t chrome_opus[] = {
    0x90, 0x6f, 0x5a, 0x3c,                         /* V=2 X=1, PT 111, seq 23100 */
    0x00, 0x01, 0xe2, 0x40,                         /* ts 123456 */
    0x2b, 0x9e, 0x4c, 0x71,                         /* ssrc */
    0xbe, 0xde, 0x00, 0x03,                         /* one-byte form, 3 words */
    0x10, 0xaa,                                     /* id 1 len 1: voice, -42 dBov */
    0x22, 0x2c, 0x3b, 0x6f,                         /* id 2 len 3: abs-send-time */
    0x31, 0x01, 0xc8,                               /* id 3 len 2: twcc seq 456 */
    0x40, 0x30,                                     /* id 4 len 1: mid "0" */
    0x00,                                           /* padding */
    0x78, 0x0b, 0xe4, 0xc1, 0x36, 0xec, 0xc5, 0x8d, /* Opus */
};

static void rtp_chrome_opus_packet_exposes_its_extensions(void)
{
	struct tp_rtp_hdr h;
	const struct tp_rtp_ext *e;
	bool voice = false;
	uint8_t level = 0;

	CHECK(!tp_rtp_is_rtcp(chrome_opus, sizeof(chrome_opus)));
	CHECK_EQ(tp_rtp_parse(&h, chrome_opus, sizeof(chrome_opus)), 0);
	CHECK_EQ(h.pt, 111);
	CHECK(!h.marker);
	CHECK_EQ(h.seq, 23100);
	CHECK_EQ(h.ts, 123456);
	CHECK_EQ(h.ssrc, 0x2b9e4c71);
	CHECK_EQ(h.cc, 0);
	CHECK(h.has_ext);
	CHECK_EQ(h.ext_profile, 0xbede);
	CHECK_EQ(h.n_ext, 4);
	CHECK_EQ(h.hdr_len, 28);
	CHECK_EQ(h.payload_len, 8);
	CHECK_EQ(h.pad_len, 0);

	e = tp_rtp_find_ext(&h, 1);
	CHECK(e && e->len == 1);
	CHECK_EQ(tp_rtp_audio_level(e, &voice, &level), 0);
	CHECK(voice);
	CHECK_EQ(level, 42);
	e = tp_rtp_find_ext(&h, 2);
	CHECK(e && e->len == 3 && cm_rd24(e->data) == 0x2c3b6f);
	e = tp_rtp_find_ext(&h, 3);
	CHECK(e && e->len == 2 && cm_rd16(e->data) == 456);
	e = tp_rtp_find_ext(&h, 4);
	CHECK(e && e->len == 1 && e->data[0] == '0');
	CHECK(tp_rtp_find_ext(&h, 5) == NULL);
	CHECK(tp_rtp_find_ext(&h, 0) == NULL);
}

static void rtp_truncated_at_every_length_fails_inside_the_header(void)
{
	for (size_t n = 0; n <= sizeof(chrome_opus); n++) {
		struct tp_rtp_hdr h;
		uint8_t *b = malloc(n ? n : 1); /* exact size, for ASan */
		int err;

		memcpy(b, chrome_opus, n);
		err = tp_rtp_parse(&h, b, n);
		if (n < 28) {
			CHECK_EQ(err, EBADMSG);
		} else {
			CHECK_EQ(err, 0);
			CHECK_EQ(h.payload_len, n - 28);
		}
		free(b);
	}
}

static void rtp_extension_length_that_lies_is_rejected(void)
{
	uint8_t b[sizeof(chrome_opus)];
	struct tp_rtp_hdr h;

	memcpy(b, chrome_opus, sizeof(b));
	cm_wr16(b + 14, 0x0005); /* 20 bytes of extensions: 8 too many */
	CHECK_EQ(tp_rtp_parse(&h, b, sizeof(b)), EBADMSG);
	cm_wr16(b + 14, 0xffff);
	CHECK_EQ(tp_rtp_parse(&h, b, sizeof(b)), EBADMSG);
	/* an element claiming more bytes than the block holds */
	memcpy(b, chrome_opus, sizeof(b));
	b[25] = 0x4f; /* id 4 len 16, block ends 2 bytes later */
	CHECK_EQ(tp_rtp_parse(&h, b, sizeof(b)), EBADMSG);
}

static void rtp_csrc_count_that_lies_is_rejected(void)
{
	uint8_t b[16] = {0x8f, 0x60, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4};
	struct tp_rtp_hdr h;

	CHECK_EQ(tp_rtp_parse(&h, b, sizeof(b)), EBADMSG); /* 15 CSRCs, room for 1 */
	b[0] = 0x81;
	CHECK_EQ(tp_rtp_parse(&h, b, sizeof(b)), 0);
	CHECK_EQ(h.cc, 1);
	CHECK_EQ(h.csrc[0], 4);
	CHECK_EQ(h.payload_len, 0);
}

static void rtp_version_other_than_2_is_rejected(void)
{
	uint8_t b[sizeof(chrome_opus)];
	struct tp_rtp_hdr h;

	memcpy(b, chrome_opus, sizeof(b));
	b[0] = 0x50; /* V=1 */
	CHECK_EQ(tp_rtp_parse(&h, b, sizeof(b)), EBADMSG);
	b[0] = 0xd0; /* V=3 */
	CHECK_EQ(tp_rtp_parse(&h, b, sizeof(b)), EBADMSG);
}

static void rtp_one_byte_id_15_stops_parsing_and_id_0_is_padding(void)
{
	const uint8_t b[] = {
	    0x90, 0x60, 0,    1,    0,    0,    0,    2,    0,    0, 0,
	    3,    0xbe, 0xde, 0x00, 0x02, 0x00, 0x00, 0x10, 0x7f, /* pad, pad, id 1 len 1
								   */
	    0xf0, 0x20, 0x11, 0x22, /* id 15: stop; the rest is not read */
	    0xaa,
	};
	struct tp_rtp_hdr h;

	CHECK_EQ(tp_rtp_parse(&h, b, sizeof(b)), 0);
	CHECK_EQ(h.n_ext, 1);
	CHECK_EQ(h.ext[0].id, 1);
	CHECK_EQ(h.ext[0].data[0], 0x7f);
	CHECK(tp_rtp_find_ext(&h, 2) == NULL);
	CHECK_EQ(h.hdr_len, 24);
	CHECK_EQ(h.payload_len, 1);
}

static void rtp_two_byte_extensions_parse_with_empty_and_long_elements(void)
{
	uint8_t b[12 + 4 + 24] = {0x90, 0x60, 0, 1, 0,    0,    0,    2,
				  0,    0,    0, 3, 0x10, 0x00, 0x00, 0x06};
	uint8_t *d = b + 16;
	struct tp_rtp_hdr h;
	const struct tp_rtp_ext *e;

	d[0] = 0;   /* padding */
	d[1] = 200; /* id 200, empty */
	d[2] = 0;
	d[3] = 7; /* id 7, 17 bytes */
	d[4] = 17;
	for (int i = 0; i < 17; i++)
		d[5 + i] = (uint8_t)i;
	CHECK_EQ(tp_rtp_parse(&h, b, sizeof(b)), 0);
	CHECK_EQ(h.ext_profile, 0x1000);
	CHECK_EQ(h.n_ext, 2);
	e = tp_rtp_find_ext(&h, 200);
	CHECK(e && e->len == 0);
	e = tp_rtp_find_ext(&h, 7);
	CHECK(e && e->len == 17 && e->data[16] == 16);
	/* a length byte that runs past the block */
	d[4] = 20;
	CHECK_EQ(tp_rtp_parse(&h, b, sizeof(b)), EBADMSG);
	/* an id byte with no room for its length byte */
	memset(d, 0, 24);
	d[23] = 5;
	CHECK_EQ(tp_rtp_parse(&h, b, sizeof(b)), EBADMSG);
}

static void rtp_unknown_extension_profile_is_skipped(void)
{
	const uint8_t b[] = {0x90, 0x60, 0,    1,    0,    0,    0,    2,    0,    0,   0,
			     3,    0x12, 0x34, 0x00, 0x01, 0x10, 0x01, 0x02, 0x03, 0xee};
	struct tp_rtp_hdr h;

	CHECK_EQ(tp_rtp_parse(&h, b, sizeof(b)), 0);
	CHECK_EQ(h.ext_profile, 0x1234);
	CHECK_EQ(h.n_ext, 0);
	CHECK_EQ(h.hdr_len, 20);
	CHECK_EQ(h.payload_len, 1);
}

static void rtp_padding_is_removed_and_bad_counts_rejected(void)
{
	uint8_t b[12 + 6] = {0xa0, 0x60, 0, 1,    0,    0,    0, 2, 0,
			     0,    0,    3, 0x11, 0x22, 0x33, 0, 0, 3};
	struct tp_rtp_hdr h;

	CHECK_EQ(tp_rtp_parse(&h, b, sizeof(b)), 0);
	CHECK_EQ(h.pad_len, 3);
	CHECK_EQ(h.payload_len, 3);
	b[17] = 6; /* all padding */
	CHECK_EQ(tp_rtp_parse(&h, b, sizeof(b)), 0);
	CHECK_EQ(h.payload_len, 0);
	b[17] = 0;
	CHECK_EQ(tp_rtp_parse(&h, b, sizeof(b)), EBADMSG);
	b[17] = 7; /* more than the payload */
	CHECK_EQ(tp_rtp_parse(&h, b, sizeof(b)), EBADMSG);
	b[17] = 255;
	CHECK_EQ(tp_rtp_parse(&h, b, sizeof(b)), EBADMSG);
	/* P set but no byte after the header */
	CHECK_EQ(tp_rtp_parse(&h, b, 12), EBADMSG);
}

static void rtp_is_rtcp_follows_rfc5761_payload_type_ranges(void)
{
	uint8_t b[8] = {0x80, 0, 0, 1};

	for (int pt = 0; pt < 256; pt++) {
		b[1] = (uint8_t)pt;
		CHECK_EQ(tp_rtp_is_rtcp(b, sizeof(b)), pt >= 192 && pt <= 223);
	}
	b[1] = 200;
	CHECK(!tp_rtp_is_rtcp(b, 1));
	b[1] = 0x80 | 111; /* Opus with marker: 239 */
	CHECK(!tp_rtp_is_rtcp(b, sizeof(b)));
}

static void rtp_write_then_parse_gives_the_same_fields_one_byte_form(void)
{
	static const uint8_t lvl = 0x85, ast[3] = {1, 2, 3}, tw[2] = {0x12, 0x34};
	static const uint8_t payload[5] = {9, 8, 7, 6, 5};
	struct tp_rtp_hdr in = {.marker = true,
				.pt = 96,
				.seq = 65535,
				.ts = 0xdeadbeef,
				.ssrc = 0x01020304,
				.cc = 2,
				.csrc = {11, 22},
				.n_ext = 3};
	struct tp_rtp_hdr out;
	uint8_t buf[128];
	size_t n = 0;

	in.ext[0] = (struct tp_rtp_ext){1, 1, &lvl};
	in.ext[1] = (struct tp_rtp_ext){2, 3, ast};
	in.ext[2] = (struct tp_rtp_ext){14, 2, tw};
	CHECK_EQ(tp_rtp_write(buf, sizeof(buf), &n, &in, payload, sizeof(payload)), 0);
	CHECK_EQ(n, 12 + 8 + 4 + 12 + 5);
	CHECK_EQ(tp_rtp_parse(&out, buf, n), 0);
	CHECK(out.marker);
	CHECK_EQ(out.pt, 96);
	CHECK_EQ(out.seq, 65535);
	CHECK_EQ(out.ts, 0xdeadbeef);
	CHECK_EQ(out.ssrc, 0x01020304);
	CHECK_EQ(out.cc, 2);
	CHECK_EQ(out.csrc[1], 22);
	CHECK_EQ(out.ext_profile, 0xbede);
	CHECK_EQ(out.n_ext, 3);
	for (size_t i = 0; i < 3; i++) {
		CHECK_EQ(out.ext[i].id, in.ext[i].id);
		CHECK_EQ(out.ext[i].len, in.ext[i].len);
		CHECK(memcmp(out.ext[i].data, in.ext[i].data, in.ext[i].len) == 0);
	}
	CHECK_EQ(out.payload_len, 5);
	CHECK(memcmp(buf + out.hdr_len, payload, 5) == 0);
	for (size_t cap = 0; cap < n; cap++)
		CHECK_EQ(tp_rtp_write(buf, cap, &n, &in, payload, sizeof(payload)),
			 ENOSPC);
}

static void rtp_write_uses_two_byte_form_for_big_ids_or_empty_data(void)
{
	static uint8_t big[40];
	struct tp_rtp_hdr in = {.pt = 100, .seq = 1, .ssrc = 7, .n_ext = 3};
	struct tp_rtp_hdr out;
	uint8_t buf[128];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 3);
	in.ext[0] = (struct tp_rtp_ext){1, 1, big};
	in.ext[1] = (struct tp_rtp_ext){20, 0, NULL};
	in.ext[2] = (struct tp_rtp_ext){3, 40, big};
	CHECK_EQ(tp_rtp_write(buf, sizeof(buf), &n, &in, NULL, 0), 0);
	CHECK_EQ(tp_rtp_parse(&out, buf, n), 0);
	CHECK_EQ(out.ext_profile, 0x1000);
	CHECK_EQ(out.n_ext, 3);
	CHECK_EQ(out.ext[1].id, 20);
	CHECK_EQ(out.ext[1].len, 0);
	CHECK_EQ(out.ext[2].len, 40);
	CHECK(memcmp(out.ext[2].data, big, 40) == 0);
	CHECK_EQ(out.payload_len, 0);
	in.ext[1].id = 0;
	CHECK_EQ(tp_rtp_write(buf, sizeof(buf), &n, &in, NULL, 0), EINVAL);
	in.ext[1].id = 20;
	in.cc = 16;
	CHECK_EQ(tp_rtp_write(buf, sizeof(buf), &n, &in, NULL, 0), EINVAL);
}

static void rtp_audio_level_reads_voice_flag_and_level(void)
{
	uint8_t d = 0x7f;
	struct tp_rtp_ext e = {1, 1, &d};
	bool voice = true;
	uint8_t level = 0;

	CHECK_EQ(tp_rtp_audio_level(&e, &voice, &level), 0);
	CHECK(!voice);
	CHECK_EQ(level, 127);
	e.len = 0;
	CHECK_EQ(tp_rtp_audio_level(&e, &voice, &level), EBADMSG);
}

static void rtp_abs_send_time_is_6_18_fixed_point_wrapping_at_64s(void)
{
	CHECK_EQ(tp_rtp_abs_send_time(0), 0);
	CHECK_EQ(tp_rtp_abs_send_time(1500000), (1u << 18) | (1u << 17));
	CHECK_EQ(tp_rtp_abs_send_time(64000000), 0);
	CHECK_EQ(tp_rtp_abs_send_time(64250000), 1u << 16);
	CHECK_EQ(tp_rtp_abs_send_time(63999999), 0xffffff);
	/* years of uptime: still in range, no overflow */
	CHECK(tp_rtp_abs_send_time(UINT64_MAX) <= 0xffffff);
}

int main(void)
{
	RUN(rtp_chrome_opus_packet_exposes_its_extensions);
	RUN(rtp_truncated_at_every_length_fails_inside_the_header);
	RUN(rtp_extension_length_that_lies_is_rejected);
	RUN(rtp_csrc_count_that_lies_is_rejected);
	RUN(rtp_version_other_than_2_is_rejected);
	RUN(rtp_one_byte_id_15_stops_parsing_and_id_0_is_padding);
	RUN(rtp_two_byte_extensions_parse_with_empty_and_long_elements);
	RUN(rtp_unknown_extension_profile_is_skipped);
	RUN(rtp_padding_is_removed_and_bad_counts_rejected);
	RUN(rtp_is_rtcp_follows_rfc5761_payload_type_ranges);
	RUN(rtp_write_then_parse_gives_the_same_fields_one_byte_form);
	RUN(rtp_write_uses_two_byte_form_for_big_ids_or_empty_data);
	RUN(rtp_audio_level_reads_voice_flag_and_level);
	RUN(rtp_abs_send_time_is_6_18_fixed_point_wrapping_at_64s);
	return check_report();
}
