/*
 * VP8 RTP payload (RFC 7741): real encoded frames cut into many small
 * packets come back whole through the assembler in order, shuffled,
 * duplicated, across a sequence-number wrap and after a retransmission;
 * a frame given up makes it wait for a keyframe; lying descriptors are
 * refused; the PictureID rewrite touches nothing else.
 */
#include <errno.h>
#include <stdint.h>

#include "check.h"
#include "codecs/codecs.h"

#define MTU     100 /* small, so that frames span many packets */
#define NFRAMES 6
#define MAXPKT  160
#define TICKS   3000
#define W       320
#define H       180

struct pkt {
	uint16_t seq;
	uint32_t ts;
	bool marker;
	size_t len;
	uint8_t data[MTU];
};

struct frame {
	uint8_t bits[65536];
	size_t len;
	bool key;
	uint8_t tid;
	struct pkt pkts[MAXPKT];
	size_t n;
};

static struct frame frames[NFRAMES + 1];

/* Encodes NFRAMES frames of 180p texture (the first and, when key_last,
 * the last a keyframe) and packetizes them from seq first_seq on. */
static void make_stream(uint16_t first_seq, bool key_last)
{
	struct cx_vp8_enc_cfg cfg;
	struct cx_vp8_enc *e = NULL;
	struct cx_vp8_pay *pay = NULL;
	static uint8_t img[W * H * 3 / 2], buf[MAXPKT * MTU];
	struct cx_picture pic = {
	    .plane = {img, img + W * H, img + W * H * 5 / 4},
	    .stride = {W, W / 2, W / 2},
	    .width = W,
	    .height = H,
	};
	uint16_t seq = first_seq;
	size_t lens[MAXPKT];

	cx_vp8_enc_cfg_init(&cfg);
	cfg.width = W;
	cfg.height = H;
	cfg.bitrate_kbps = 300;
	CHECK_EQ(cx_vp8_enc_new(&e, &cfg), 0);
	CHECK_EQ(cx_vp8_pay_new(&pay, 0x7ffe), 0);
	for (int i = 0; e && pay && i < NFRAMES; i++) {
		struct frame *fr = &frames[i];
		struct cx_vp8_frame f;
		size_t off = 0;

		/* A moving ramp with some grain. */
		for (size_t j = 0; j < sizeof(img); j++)
			img[j] = (uint8_t)((j % W + j / W + (size_t)i * 4) / 2 +
					   (j * 2654435761u >> 20) % 12);
		CHECK_EQ(cx_vp8_encode(e, &pic, (uint64_t)i * TICKS,
				       key_last && i == NFRAMES - 1, &f),
			 0);
		CHECK(f.len <= sizeof(fr->bits));
		memcpy(fr->bits, f.data, f.len);
		fr->len = f.len;
		fr->key = f.keyframe;
		fr->tid = f.tid;
		CHECK_EQ(cx_vp8_packetize(pay, &f, MTU, buf, sizeof(buf), lens, MAXPKT,
					  &fr->n),
			 0);
		CHECK_EQ(fr->n, cx_vp8_packet_count(f.len, MTU));
		for (size_t k = 0; k < fr->n; k++) {
			struct pkt *p = &fr->pkts[k];

			CHECK(lens[k] <= MTU);
			p->seq = seq++;
			p->ts = (uint32_t)i * TICKS;
			p->marker = k == fr->n - 1;
			p->len = lens[k];
			memcpy(p->data, buf + off, lens[k]);
			off += lens[k];
		}
	}
	cx_vp8_pay_free(&pay);
	cx_vp8_enc_free(&e);
}

static int put(struct cx_vp8_asm *a, const struct pkt *p)
{
	return cx_vp8_asm_put(a, p->seq, p->ts, p->marker, p->data, p->len);
}

static void put_frame(struct cx_vp8_asm *a, int i)
{
	for (size_t k = 0; k < frames[i].n; k++)
		CHECK_EQ(put(a, &frames[i].pkts[k]), 0);
}

static void expect_frame(struct cx_vp8_asm *a, int i)
{
	struct cx_vp8_assembled out;

	CHECK_EQ(cx_vp8_asm_get(a, &out), 0);
	CHECK_EQ(out.len, frames[i].len);
	CHECK(out.len == frames[i].len && memcmp(out.data, frames[i].bits, out.len) == 0);
	CHECK_EQ(out.keyframe, frames[i].key);
	CHECK_EQ(out.tid, frames[i].tid);
	CHECK_EQ(out.ts, (uint32_t)i * TICKS);
	CHECK_EQ(out.picture_id, (0x7ffe + i) & 0x7fff);
}

static void test_packets_fit_the_mtu_and_carry_the_descriptor(void)
{
	struct cx_vp8_desc d;
	int tl0 = -1;

	make_stream(100, false);
	CHECK(frames[0].key && frames[0].n > 15);
	for (int i = 0; i < NFRAMES; i++) {
		CHECK(frames[i].n > 1);
		for (size_t k = 0; k < frames[i].n; k++) {
			const struct pkt *p = &frames[i].pkts[k];

			CHECK_EQ(cx_vp8_parse_desc(p->data, p->len, &d), 0);
			CHECK_EQ(d.len, CX_VP8_DESC_LEN);
			CHECK_EQ(d.start, k == 0);
			CHECK_EQ(d.pid, 0);
			CHECK(d.has_picture_id && d.long_picture_id && d.has_tl0picidx);
			CHECK(d.has_tid && !d.has_keyidx);
			/* PictureID wraps from 0x7fff to 0 at frame 2. */
			CHECK_EQ(d.picture_id, (0x7ffe + i) & 0x7fff);
			CHECK_EQ(d.tid, frames[i].tid);
			if (k == 0 && d.tid == 0)
				CHECK_EQ(d.tl0picidx, (uint8_t)(tl0 + 1));
			if (k == 0 && d.tid == 0)
				tl0 = d.tl0picidx;
			CHECK_EQ(d.tl0picidx, tl0);
		}
	}
}

static void test_in_order_gives_back_the_exact_bitstreams(void)
{
	struct cx_vp8_asm *a = NULL;
	struct cx_vp8_assembled out;
	uint16_t miss[8];

	make_stream(100, false);
	CHECK_EQ(cx_vp8_asm_new(&a), 0);
	CHECK(cx_vp8_asm_need_keyframe(a));
	for (int i = 0; i < NFRAMES; i++) {
		for (size_t k = 0; k < frames[i].n; k++) {
			CHECK_EQ(cx_vp8_asm_get(a, &out), EAGAIN);
			CHECK_EQ(put(a, &frames[i].pkts[k]), 0);
		}
		expect_frame(a, i);
		CHECK(!cx_vp8_asm_need_keyframe(a));
		CHECK_EQ(cx_vp8_asm_missing(a, miss, 8), 0);
	}
	CHECK_EQ(cx_vp8_asm_get(a, &out), EAGAIN);
	/* A packet of a frame already given is too late. */
	CHECK_EQ(put(a, &frames[2].pkts[1]), EALREADY);
	cx_vp8_asm_free(&a);
	CHECK(a == NULL);
}

/* A fixed shuffle: a permutation of 0..n-1 by a multiplier prime to n. */
static size_t shuffled(size_t k, size_t n)
{
	size_t m = 7, a, b, t;

	for (;; m += 2) {
		for (a = m, b = n; b; t = a % b, a = b, b = t)
			;
		if (a == 1)
			return (k * m + 3) % n;
	}
}

static void test_shuffled_packets_assemble(void)
{
	struct cx_vp8_asm *a = NULL;
	struct cx_vp8_assembled out;

	make_stream(100, false);
	CHECK_EQ(cx_vp8_asm_new(&a), 0);
	for (int i = 0; i < NFRAMES; i++) {
		size_t n = frames[i].n;

		for (size_t k = 0; k < n; k++) {
			CHECK_EQ(cx_vp8_asm_get(a, &out), EAGAIN);
			CHECK_EQ(put(a, &frames[i].pkts[shuffled(k, n)]), 0);
		}
		expect_frame(a, i);
	}
	cx_vp8_asm_free(&a);
}

static void test_missing_packet_is_reported_and_retransmission_completes(void)
{
	struct cx_vp8_asm *a = NULL;
	struct cx_vp8_assembled out;
	uint16_t miss[8];

	make_stream(100, false);
	CHECK_EQ(cx_vp8_asm_new(&a), 0);
	put_frame(a, 0);
	expect_frame(a, 0);
	for (size_t k = 0; k < frames[1].n; k++)
		if (k != 3)
			CHECK_EQ(put(a, &frames[1].pkts[k]), 0);
	put_frame(a, 2);
	CHECK_EQ(cx_vp8_asm_get(a, &out), EAGAIN);
	CHECK_EQ(cx_vp8_asm_missing(a, miss, 8), 1);
	CHECK_EQ(miss[0], frames[1].pkts[3].seq);
	CHECK(!cx_vp8_asm_need_keyframe(a));
	CHECK_EQ(put(a, &frames[1].pkts[3]), 0); /* the retransmission */
	expect_frame(a, 1);
	expect_frame(a, 2);
	CHECK_EQ(cx_vp8_asm_missing(a, miss, 8), 0);
	cx_vp8_asm_free(&a);
}

static void test_duplicates_are_ignored(void)
{
	struct cx_vp8_asm *a = NULL;
	struct cx_vp8_asm_stats st;

	make_stream(100, false);
	CHECK_EQ(cx_vp8_asm_new(&a), 0);
	for (int i = 0; i < 3; i++) {
		for (size_t k = 0; k < frames[i].n; k++) {
			CHECK_EQ(put(a, &frames[i].pkts[k]), 0);
			CHECK_EQ(put(a, &frames[i].pkts[k]), EALREADY);
		}
		expect_frame(a, i);
	}
	cx_vp8_asm_get_stats(a, &st);
	CHECK_EQ(st.duplicates, frames[0].n + frames[1].n + frames[2].n);
	CHECK_EQ(st.frames, 3);
	CHECK_EQ(st.keyframes, 1);
	cx_vp8_asm_free(&a);
}

static void test_given_up_frame_refuses_deltas_until_a_keyframe(void)
{
	struct cx_vp8_asm *a = NULL;
	struct cx_vp8_assembled out;
	struct cx_vp8_asm_stats st;
	uint16_t miss[8];
	int last = NFRAMES - 1;

	make_stream(100, true);
	CHECK(frames[last].key);
	CHECK_EQ(cx_vp8_asm_new(&a), 0);
	put_frame(a, 0);
	expect_frame(a, 0);
	for (size_t k = 1; k < frames[1].n; k++) /* its first packet is lost */
		CHECK_EQ(put(a, &frames[1].pkts[k]), 0);
	put_frame(a, 2);
	CHECK_EQ(cx_vp8_asm_missing(a, miss, 8), 1);
	CHECK_EQ(cx_vp8_asm_get(a, &out), EAGAIN);
	cx_vp8_asm_drop_incomplete(a);
	CHECK(cx_vp8_asm_need_keyframe(a));
	/* Frame 2 is whole but refers to frame 1: refused. */
	CHECK_EQ(cx_vp8_asm_get(a, &out), EAGAIN);
	put_frame(a, 3);
	CHECK_EQ(cx_vp8_asm_get(a, &out), EAGAIN);
	CHECK_EQ(put(a, &frames[1].pkts[0]), EALREADY); /* too late now */
	CHECK(cx_vp8_asm_need_keyframe(a));
	for (int i = 4; i <= last; i++)
		put_frame(a, i);
	expect_frame(a, last);
	CHECK(!cx_vp8_asm_need_keyframe(a));
	cx_vp8_asm_get_stats(a, &st);
	CHECK_EQ(st.dropped, 1);
	CHECK_EQ(st.refused, 3);
	cx_vp8_asm_free(&a);
}

static void test_stream_joined_midway_waits_for_a_keyframe(void)
{
	struct cx_vp8_asm *a = NULL;
	struct cx_vp8_assembled out;
	int last = NFRAMES - 1;

	make_stream(100, true);
	CHECK_EQ(cx_vp8_asm_new(&a), 0);
	for (size_t k = 2; k < frames[1].n; k++) /* joined inside frame 1 */
		CHECK_EQ(put(a, &frames[1].pkts[k]), 0);
	put_frame(a, 2);
	CHECK_EQ(cx_vp8_asm_get(a, &out), EAGAIN);
	CHECK(cx_vp8_asm_need_keyframe(a));
	put_frame(a, last);
	/* The keyframe skips the gap of frames 3 and 4 it does not need. */
	expect_frame(a, last);
	cx_vp8_asm_free(&a);
}

static void test_whole_keyframe_skips_an_incomplete_frame(void)
{
	struct cx_vp8_asm *a = NULL;
	struct cx_vp8_asm_stats st;
	int last = NFRAMES - 1;

	make_stream(100, true);
	CHECK_EQ(cx_vp8_asm_new(&a), 0);
	put_frame(a, 0);
	expect_frame(a, 0);
	for (size_t k = 0; k + 1 < frames[1].n; k++) /* its marker is lost */
		CHECK_EQ(put(a, &frames[1].pkts[k]), 0);
	for (int i = 2; i <= last; i++)
		put_frame(a, i);
	/* No waiting for a retransmission the keyframe makes useless. */
	expect_frame(a, last);
	cx_vp8_asm_get_stats(a, &st);
	CHECK_EQ(st.dropped, 1);
	CHECK(!cx_vp8_asm_need_keyframe(a));
	cx_vp8_asm_free(&a);
}

static void test_stray_old_packet_is_late_but_a_restarted_stream_is_followed(void)
{
	struct cx_vp8_asm *a = NULL;
	struct cx_vp8_asm_stats st;
	struct pkt p;
	size_t n;

	make_stream(100, false);
	n = frames[0].n;
	CHECK(n >= 16);
	CHECK_EQ(cx_vp8_asm_new(&a), 0);
	put_frame(a, 0);
	expect_frame(a, 0);
	p = frames[0].pkts[0];
	p.seq -= 1000;
	CHECK_EQ(put(a, &p), EALREADY);
	CHECK(!cx_vp8_asm_need_keyframe(a));
	put_frame(a, 1);
	expect_frame(a, 1);
	/* The sender restarted 1000 lower: after 16 packets, follow it. */
	for (size_t k = 0; k < n; k++) {
		p = frames[0].pkts[k];
		p.seq -= 1000;
		CHECK_EQ(put(a, &p), k + 1 < 16 ? EALREADY : 0);
	}
	CHECK(cx_vp8_asm_need_keyframe(a));
	/* Its first packets come again (retransmitted): the frame completes. */
	for (size_t k = 0; k < n; k++) {
		p = frames[0].pkts[k];
		p.seq -= 1000;
		CHECK_EQ(put(a, &p), k + 1 < 16 ? 0 : EALREADY);
	}
	expect_frame(a, 0);
	cx_vp8_asm_get_stats(a, &st);
	CHECK_EQ(st.late, 16);
	cx_vp8_asm_free(&a);
}

static void test_sequence_wrap_inside_a_frame(void)
{
	struct cx_vp8_asm *a = NULL;
	uint16_t miss[8];

	make_stream(65530, false); /* frame 0 spans 65530 .. past 0 */
	CHECK(frames[0].pkts[frames[0].n - 1].seq < 100);
	CHECK_EQ(cx_vp8_asm_new(&a), 0);
	for (size_t k = 0; k < frames[0].n; k++) {
		const struct pkt *p = &frames[0].pkts[shuffled(k, frames[0].n)];

		if (p->seq != 65535 && p->seq != 0)
			CHECK_EQ(put(a, p), 0);
	}
	CHECK_EQ(cx_vp8_asm_missing(a, miss, 8), 2);
	CHECK_EQ(miss[0], 65535);
	CHECK_EQ(miss[1], 0);
	cx_vp8_asm_free(&a);

	CHECK_EQ(cx_vp8_asm_new(&a), 0);
	for (size_t k = 0; k < frames[0].n; k++)
		CHECK_EQ(put(a, &frames[0].pkts[shuffled(k, frames[0].n)]), 0);
	expect_frame(a, 0);
	put_frame(a, 1);
	expect_frame(a, 1);
	cx_vp8_asm_free(&a);
}

static void test_truncated_and_lying_descriptors_are_rejected(void)
{
	static const struct {
		uint8_t b[6];
		size_t len;
	} bad[] = {
	    {{0}, 0},                            /* empty */
	    {{0x10}, 1},                         /* descriptor, no data */
	    {{0x90}, 1},                         /* X, no X byte */
	    {{0x90, 0x80}, 2},                   /* I, no PictureID */
	    {{0x90, 0x80, 0x81}, 3},             /* M, one of two bytes */
	    {{0x90, 0x80, 0x81, 0x02}, 4},       /* 15-bit id, no data */
	    {{0x90, 0x40}, 2},                   /* L, no TL0PICIDX */
	    {{0x90, 0x20}, 2},                   /* T, no TID byte */
	    {{0x90, 0x10}, 2},                   /* K, no KEYIDX byte */
	    {{0x90, 0xe0, 0x85, 0x00, 0x07}, 5}, /* I M L T, TID byte cut */
	};
	struct cx_vp8_asm *a = NULL;
	struct cx_vp8_desc d;
	struct cx_vp8_asm_stats st;
	const uint8_t short_id[] = {0x90, 0xd0, 0x05, 0x09, 0x13, 0x9d};

	CHECK_EQ(cx_vp8_asm_new(&a), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* Exactly sized, so that a read past the end trips ASan. */
		uint8_t *b = malloc(bad[i].len ? bad[i].len : 1);

		memcpy(b, bad[i].b, bad[i].len);
		CHECK_EQ(cx_vp8_parse_desc(b, bad[i].len, &d), EBADMSG);
		CHECK_EQ(cx_vp8_asm_put(a, (uint16_t)i, 0, true, b, bad[i].len), EBADMSG);
		free(b);
	}
	cx_vp8_asm_get_stats(a, &st);
	CHECK_EQ(st.bad, sizeof(bad) / sizeof(bad[0]));
	/* A 7-bit PictureID, L and K (no T): all parsed, data after them. */
	CHECK_EQ(cx_vp8_parse_desc(short_id, sizeof(short_id), &d), 0);
	CHECK(d.has_picture_id && !d.long_picture_id && d.picture_id == 5);
	CHECK(d.has_tl0picidx && d.tl0picidx == 9);
	CHECK(!d.has_tid && d.has_keyidx && d.keyidx == 0x13);
	CHECK_EQ(d.len, 5);
	cx_vp8_asm_free(&a);
}

static void test_rewrite_picture_id_changes_only_the_id(void)
{
	uint8_t p[MTU], orig[MTU];
	struct cx_vp8_desc d0, d1;
	const uint8_t short_id[] = {0x90, 0x80, 0x05, 0x9d};
	const uint8_t no_id[] = {0x90, 0x20, 0x40, 0x9d};
	const uint8_t id_only[] = {0x90, 0x80, 0x81, 0x02, 0x9d, 0x01};
	uint8_t tmp[6];
	size_t len;

	make_stream(100, false);
	len = frames[3].pkts[0].len;
	memcpy(p, frames[3].pkts[0].data, len);
	memcpy(orig, p, len);
	CHECK_EQ(cx_vp8_parse_desc(orig, len, &d0), 0);
	CHECK_EQ(cx_vp8_rewrite_picture_id(p, len, 0x1234, 77), 0);
	CHECK_EQ(cx_vp8_parse_desc(p, len, &d1), 0);
	CHECK_EQ(d1.picture_id, 0x1234);
	CHECK_EQ(d1.tl0picidx, 77);
	CHECK(d1.start == d0.start && d1.tid == d0.tid && d1.layer_sync == d0.layer_sync);
	CHECK(d1.non_ref == d0.non_ref && d1.len == d0.len);
	CHECK(memcmp(p, orig, 2) == 0 && memcmp(p + 5, orig + 5, len - 5) == 0);
	/* Only 15 bits fit. */
	CHECK_EQ(cx_vp8_rewrite_picture_id(p, len, 0xffff, 0), 0);
	CHECK_EQ(cx_vp8_parse_desc(p, len, &d1), 0);
	CHECK_EQ(d1.picture_id, 0x7fff);
	memcpy(tmp, short_id, 4);
	CHECK_EQ(cx_vp8_rewrite_picture_id(tmp, 4, 1, 1), EINVAL);
	CHECK(memcmp(tmp, short_id, 4) == 0);
	memcpy(tmp, no_id, 4);
	CHECK_EQ(cx_vp8_rewrite_picture_id(tmp, 4, 1, 1), EINVAL);
	CHECK_EQ(cx_vp8_rewrite_picture_id(p, 3, 1, 1), EBADMSG);
	/* Without L, the byte after the PictureID is VP8 data: untouched. */
	memcpy(tmp, id_only, 6);
	CHECK_EQ(cx_vp8_rewrite_picture_id(tmp, 6, 0x0203, 0x55), 0);
	CHECK(tmp[2] == 0x82 && tmp[3] == 0x03 && memcmp(tmp + 4, id_only + 4, 2) == 0);
}

static void test_packetize_refuses_small_buffers(void)
{
	struct cx_vp8_pay *pay = NULL;
	uint8_t data[1000] = {0}, buf[2000];
	size_t lens[16], n = 99;
	struct cx_vp8_frame f = {.data = data, .len = sizeof(data)};
	struct cx_vp8_desc d;

	CHECK_EQ(cx_vp8_pay_new(&pay, 5), 0);
	CHECK_EQ(cx_vp8_packet_count(1000, 106), 10);
	CHECK_EQ(cx_vp8_packet_count(1000, 6), 0);
	CHECK_EQ(cx_vp8_packetize(pay, &f, 106, buf, sizeof(buf), lens, 9, &n), ENOSPC);
	CHECK_EQ(cx_vp8_packetize(pay, &f, 106, buf, 1059, lens, 16, &n), ENOSPC);
	CHECK_EQ(cx_vp8_packetize(pay, &f, 6, buf, sizeof(buf), lens, 16, &n), EINVAL);
	CHECK_EQ(n, 99);
	/* The failures used no PictureID: this frame still gets 5. */
	CHECK_EQ(cx_vp8_packetize(pay, &f, 106, buf, 1060, lens, 16, &n), 0);
	CHECK_EQ(n, 10);
	CHECK_EQ(cx_vp8_parse_desc(buf, lens[0], &d), 0);
	CHECK_EQ(d.picture_id, 5);
	for (size_t i = 0; i < n; i++)
		CHECK_EQ(lens[i], 106);
	cx_vp8_pay_free(&pay);
	CHECK(pay == NULL);
}

static void test_window_overflow_wants_a_keyframe_and_reset_forgets(void)
{
	struct cx_vp8_asm *a = NULL;
	struct cx_vp8_asm_stats st;
	struct pkt far;

	make_stream(100, false);
	CHECK_EQ(cx_vp8_asm_new(&a), 0);
	put_frame(a, 0);
	expect_frame(a, 0);
	CHECK_EQ(put(a, &frames[1].pkts[1]), 0); /* frame 1 waits for its start */
	far = frames[1].pkts[2];
	far.seq = (uint16_t)(frames[1].pkts[1].seq + CX_VP8_ASM_WINDOW + 5);
	CHECK_EQ(put(a, &far), 0);
	CHECK(cx_vp8_asm_need_keyframe(a));
	/* After a reset it is as new: the same stream assembles again. */
	cx_vp8_asm_reset(a);
	cx_vp8_asm_get_stats(a, &st);
	CHECK_EQ(st.frames + st.dropped + st.late, 0);
	put_frame(a, 0);
	expect_frame(a, 0);
	put_frame(a, 1);
	expect_frame(a, 1);
	cx_vp8_asm_free(&a);
}

int main(void)
{
	RUN(test_packets_fit_the_mtu_and_carry_the_descriptor);
	RUN(test_in_order_gives_back_the_exact_bitstreams);
	RUN(test_shuffled_packets_assemble);
	RUN(test_missing_packet_is_reported_and_retransmission_completes);
	RUN(test_duplicates_are_ignored);
	RUN(test_given_up_frame_refuses_deltas_until_a_keyframe);
	RUN(test_stream_joined_midway_waits_for_a_keyframe);
	RUN(test_whole_keyframe_skips_an_incomplete_frame);
	RUN(test_stray_old_packet_is_late_but_a_restarted_stream_is_followed);
	RUN(test_sequence_wrap_inside_a_frame);
	RUN(test_truncated_and_lying_descriptors_are_rejected);
	RUN(test_rewrite_picture_id_changes_only_the_id);
	RUN(test_packetize_refuses_small_buffers);
	RUN(test_window_overflow_wants_a_keyframe_and_reset_forgets);
	return check_report();
}
