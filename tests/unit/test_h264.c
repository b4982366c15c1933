/*
 * H.264 and its RTP payload (RFC 6184): access units survive packetize →
 * depacketize whole across single NAL, STAP-A and FU-A boundaries and
 * with packets reordered; a coloured frame encoded by the tier encoder,
 * packetized, assembled and decoded keeps its colour; loss makes the
 * assembler wait for the next keyframe; lying payloads are refused.
 */
#include <errno.h>
#include <stdint.h>

#include "check.h"
#include "codecs/codecs.h"

#define MTU 1100

/* An access unit of Annex B NAL units of the given sizes and types,
 * filled with a pattern that never makes a start code. */
static size_t make_au(uint8_t *au, const size_t *sizes, const uint8_t *types, size_t n)
{
	size_t len = 0;

	for (size_t k = 0; k < n; k++) {
		au[len++] = 0;
		au[len++] = 0;
		au[len++] = 0;
		au[len++] = 1;
		au[len++] = (uint8_t)(0x60 | types[k]);
		for (size_t i = 1; i < sizes[k]; i++)
			au[len++] = (uint8_t)(1 + (i * 7 + k) % 250);
	}
	return len;
}

/* Packetizes au, feeds the payloads in the order given by perm (NULL:
 * in order) starting at seq, and checks the assembled AU equals au. */
static void round_trip(const uint8_t *au, size_t len, size_t mtu, const size_t *perm,
		       size_t expect_packets)
{
	static uint8_t buf[4 << 20];
	size_t lens[4096], n = 0, off[4096];
	struct cx_h264_asm *a;
	struct cx_h264_assembled f;

	CHECK_EQ(cx_h264_packetize(au, len, mtu, buf, sizeof(buf), lens, 4096, &n), 0);
	CHECK_EQ(n, cx_h264_packet_count(au, len, mtu));
	if (expect_packets)
		CHECK_EQ(n, expect_packets);
	for (size_t i = 0, o = 0; i < n; o += lens[i++]) {
		off[i] = o;
		CHECK(lens[i] <= mtu);
	}
	CHECK_EQ(cx_h264_asm_new(&a), 0);
	/* The end of the frame before (an SPS alone: no picture, refused):
	 * what tells the assembler where this one starts. */
	const uint8_t before[] = {0x67, 0x42, 0xe0, 0x1f};
	CHECK_EQ(cx_h264_asm_put(a, 65529, 6000, true, before, sizeof(before)), 0);
	for (size_t i = 0; i < n; i++) {
		size_t k = perm ? perm[i] : i;
		CHECK_EQ(cx_h264_asm_put(a, (uint16_t)(65530 + k), 9000, k == n - 1,
					 buf + off[k], lens[k]),
			 0);
	}
	CHECK_EQ(cx_h264_asm_get(a, &f), 0);
	CHECK_EQ(f.len, len);
	CHECK(f.len == len && !memcmp(f.data, au, len));
	CHECK(f.keyframe);
	CHECK_EQ(f.first_seq, 65530);
	CHECK_EQ(f.last_seq, (uint16_t)(65530 + n - 1));
	CHECK_EQ(cx_h264_asm_get(a, &f), EAGAIN);
	cx_h264_asm_free(&a);
}

static void test_single_nal_stap_a_fu_a(void)
{
	static uint8_t au[64 << 10];
	/* SPS, PPS, SEI together in a STAP-A; a 3000-byte IDR in 3 FU-As. */
	size_t s1[] = {12, 4, 20, 3000};
	uint8_t t1[] = {7, 8, 6, 5};
	round_trip(au, make_au(au, s1, t1, 4), MTU, NULL, 4);
	/* One small IDR: a single NAL unit packet. */
	size_t s2[] = {700};
	uint8_t t2[] = {5};
	round_trip(au, make_au(au, s2, t2, 1), MTU, NULL, 1);
	/* Two that do not fit one STAP-A together: two single packets. */
	size_t s3[] = {600, 600};
	uint8_t t3[] = {5, 5};
	round_trip(au, make_au(au, s3, t3, 2), MTU, NULL, 2);
	/* A unit of exactly the MTU goes alone; one byte more is cut. */
	size_t s4[] = {MTU, MTU + 1, 9};
	uint8_t t4[] = {5, 5, 5};
	round_trip(au, make_au(au, s4, t4, 3), MTU, NULL, 1 + 2 + 1);
	/* STAP-A, then FU-A, then STAP-A again, reordered (and across the
	 * sequence number wrap). */
	size_t s5[] = {10, 5, 2500, 30, 40, 1};
	uint8_t t5[] = {7, 8, 5, 5, 5, 5};
	size_t perm[] = {4, 0, 2, 1, 3};
	round_trip(au, make_au(au, s5, t5, 6), MTU, perm, 5);
}

/* Every unit size around the FU-A and STAP-A limits, at several MTUs. */
static void test_boundaries(void)
{
	static uint8_t au[64 << 10];
	size_t mtus[] = {16, 100, MTU};

	for (size_t m = 0; m < 3; m++)
		for (size_t a = 1; a < 3 * mtus[m]; a += a < 40 ? 1 : 37) {
			size_t s[] = {a, mtus[m] - a % mtus[m], 3};
			uint8_t t[] = {5, 5, 5};
			if (!s[1])
				s[1] = 1;
			round_trip(au, make_au(au, s, t, 3), mtus[m], NULL, 0);
		}
}

/* A lost FU-A middle: the frame never comes, and the next delta frame is
 * refused until a keyframe arrives. */
static void test_loss_waits_for_keyframe(void)
{
	static uint8_t au[16 << 10], buf[64 << 10];
	size_t lens[64], n, off = 0;
	struct cx_h264_asm *a;
	struct cx_h264_assembled f;
	uint16_t miss[8];
	uint16_t seq = 100;

	CHECK_EQ(cx_h264_asm_new(&a), 0);
	size_t s1[] = {10, 4, 3000};
	uint8_t t1[] = {7, 8, 5};
	size_t len = make_au(au, s1, t1, 3);
	CHECK_EQ(cx_h264_packetize(au, len, MTU, buf, sizeof(buf), lens, 64, &n), 0);
	for (size_t i = 0; i < n; off += lens[i++])
		if (i != 2)
			cx_h264_asm_put(a, seq + (uint16_t)i, 1000, i == n - 1, buf + off,
					lens[i]);
	CHECK_EQ(cx_h264_asm_get(a, &f), EAGAIN);
	CHECK_EQ(cx_h264_asm_missing(a, miss, 8), 1);
	CHECK_EQ(miss[0], seq + 2);
	seq = (uint16_t)(seq + n);
	/* A delta frame (type 1) after it: complete, but refused. */
	size_t s2[] = {500};
	uint8_t t2[] = {1};
	len = make_au(au, s2, t2, 1);
	cx_h264_asm_drop_incomplete(a);
	CHECK_EQ(cx_h264_asm_put(a, seq++, 4000, true, au + 4, len - 4), 0);
	CHECK_EQ(cx_h264_asm_get(a, &f), EAGAIN);
	CHECK(cx_h264_asm_need_keyframe(a));
	/* The next keyframe (SPS, PPS, IDR) comes through. */
	size_t s3[] = {10, 4, 200};
	len = make_au(au, s3, t1, 3);
	CHECK_EQ(cx_h264_packetize(au, len, MTU, buf, sizeof(buf), lens, 64, &n), 0);
	CHECK_EQ(n, 1);
	CHECK_EQ(cx_h264_asm_put(a, seq++, 7000, true, buf, lens[0]), 0);
	CHECK_EQ(cx_h264_asm_get(a, &f), 0);
	CHECK(f.keyframe && f.len == len && !memcmp(f.data, au, len));
	CHECK(!cx_h264_asm_need_keyframe(a));
	cx_h264_asm_free(&a);
}

/* Payloads that lie are refused before anything is copied. */
static void test_bad_payloads(void)
{
	struct cx_h264_asm *a;
	static uint8_t big[CX_H264_ASM_MAX_PAYLOAD + 1];
	const uint8_t stap_lie[] = {24, 0, 9, 0x65, 1, 2}; /* 9 > 3 left */
	const uint8_t stap_zero[] = {24, 0, 0};            /* empty unit */
	const uint8_t stap_cut[] = {24, 0, 2, 0x65, 1, 0}; /* half a length */
	const uint8_t fu_short[] = {28, 0x85};             /* no data */
	const uint8_t fu_se[] = {28, 0xc5, 1};             /* start and end */
	const uint8_t fu_b[] = {29, 0x85, 0, 0, 1};        /* interleaved only */
	const uint8_t forbidden[] = {0x80 | 5, 1};
	const uint8_t empty[1] = {0};

	CHECK_EQ(cx_h264_asm_new(&a), 0);
	CHECK_EQ(cx_h264_asm_put(a, 1, 0, true, stap_lie, sizeof(stap_lie)), EBADMSG);
	CHECK_EQ(cx_h264_asm_put(a, 2, 0, true, stap_zero, sizeof(stap_zero)), EBADMSG);
	CHECK_EQ(cx_h264_asm_put(a, 3, 0, true, stap_cut, sizeof(stap_cut)), EBADMSG);
	CHECK_EQ(cx_h264_asm_put(a, 4, 0, true, fu_short, sizeof(fu_short)), EBADMSG);
	CHECK_EQ(cx_h264_asm_put(a, 5, 0, true, fu_se, sizeof(fu_se)), EBADMSG);
	CHECK_EQ(cx_h264_asm_put(a, 6, 0, true, fu_b, sizeof(fu_b)), EBADMSG);
	CHECK_EQ(cx_h264_asm_put(a, 7, 0, true, forbidden, sizeof(forbidden)), EBADMSG);
	CHECK_EQ(cx_h264_asm_put(a, 8, 0, true, empty, 0), EBADMSG);
	CHECK_EQ(cx_h264_asm_put(a, 9, 0, true, big, sizeof(big)), EMSGSIZE);
	/* FU-A end without its start: never a frame. */
	const uint8_t fu_end[] = {28, 0x45, 1, 2, 3};
	CHECK_EQ(cx_h264_asm_put(a, 10, 0, true, fu_end, sizeof(fu_end)), 0);
	struct cx_h264_assembled f;
	CHECK_EQ(cx_h264_asm_get(a, &f), EAGAIN);
	cx_h264_asm_free(&a);
}

static void fill(struct cx_picture *p, uint8_t *mem, int w, int h, uint8_t y, uint8_t u,
		 uint8_t v)
{
	*p = (struct cx_picture){
	    .plane = {mem, mem + w * h, mem + w * h + w * h / 4},
	    .stride = {w, w / 2, w / 2},
	    .width = w,
	    .height = h,
	};
	memset(p->plane[0], y, (size_t)(w * h));
	memset(p->plane[1], u, (size_t)(w * h / 4));
	memset(p->plane[2], v, (size_t)(w * h / 4));
}

/* The access unit has an SPS of constrained baseline: profile_idc 66
 * with constraint_set1 (what the answer's profile-level-id promises). */
static bool constrained_baseline_sps(const uint8_t *au, size_t len)
{
	for (size_t i = 0; i + 6 < len; i++)
		if (au[i] == 0 && au[i + 1] == 0 && au[i + 2] == 1 && (au[i + 3] & 0x1f) == 7)
			return au[i + 4] == 0x42 && (au[i + 5] & 0x40);
	return false;
}

/* The tier encoder's output, packetized, assembled and decoded, keeps its
 * colour (a saturated green: Y 145, U 54, V 34) frame after frame. */
static void test_encode_decode_colour(void)
{
	static uint8_t mem[640 * 360 * 3 / 2], buf[512 * 1200];
	struct cx_h264_enc_cfg cfg = {
	    .width = 640, .height = 360, .fps = 30, .bitrate_kbps = 500};
	struct cx_h264_enc *e = NULL;
	struct cx_h264_dec *d = NULL;
	struct cx_h264_asm *a = NULL;
	struct cx_picture in, out;
	uint16_t seq = 40000;
	int decoded = 0;

	if (!cx_h264_encoder_name()) {
		printf("skip: no H.264 encoder in libavcodec\n");
		return;
	}
	CHECK_EQ(cx_h264_enc_new(&e, &cfg), 0);
	CHECK_EQ(cx_h264_dec_new(&d), 0);
	CHECK_EQ(cx_h264_asm_new(&a), 0);
	if (!e || !d || !a)
		goto out;
	fill(&in, mem, 640, 360, 145, 54, 34);
	for (int i = 0; i < 10; i++) {
		struct cx_h264_frame f;
		struct cx_h264_assembled as;
		size_t lens[512], n = 0, off = 0;

		int err =
		    cx_h264_encode(e, &in, (uint64_t)i * 3000, i == 0 || i == 6, &f);
		CHECK_EQ(err, 0);
		if (err)
			continue;
		CHECK_EQ(f.keyframe, i == 0 || i == 6);
		if (f.keyframe)
			CHECK(constrained_baseline_sps(f.data, f.len));
		CHECK_EQ(cx_h264_packetize(f.data, f.len, 1100, buf, sizeof(buf), lens,
					   512, &n),
			 0);
		for (size_t k = 0; k < n; off += lens[k++])
			CHECK_EQ(cx_h264_asm_put(a, seq++, (uint32_t)(i * 3000),
						 k == n - 1, buf + off, lens[k]),
				 0);
		CHECK_EQ(cx_h264_asm_get(a, &as), 0);
		CHECK_EQ(as.keyframe, f.keyframe);
		if (cx_h264_decode(d, as.data, as.len, &out) != 0)
			continue;
		decoded++;
		CHECK_EQ(out.width, 640);
		CHECK_EQ(out.height, 360);
		int y = out.plane[0][180 * out.stride[0] + 320];
		int u = out.plane[1][90 * out.stride[1] + 160];
		int v = out.plane[2][90 * out.stride[2] + 160];
		CHECK(abs(y - 145) <= 4 && abs(u - 54) <= 4 && abs(v - 34) <= 4);
	}
	CHECK_EQ(decoded, 10);
	/* Garbage is refused, and a keyframe decodes again afterwards. */
	const uint8_t junk[] = {0, 0, 0, 1, 0x65, 0xff, 0x00, 0x13, 0x37};
	CHECK(cx_h264_decode(d, junk, sizeof(junk), &out) != 0);
out:
	cx_h264_enc_free(&e);
	cx_h264_dec_free(&d);
	cx_h264_asm_free(&a);
	CHECK(!e && !d && !a);
}

int main(void)
{
	RUN(test_single_nal_stap_a_fu_a);
	RUN(test_boundaries);
	RUN(test_loss_waits_for_keyframe);
	RUN(test_bad_payloads);
	RUN(test_encode_decode_colour);
	return check_report();
}
