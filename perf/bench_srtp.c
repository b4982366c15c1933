/*
 * bench_srtp: SRTP protect cost per packet against the number of SRTP
 * contexts alive in the process (each with an audio and a video SSRC, as
 * a participant's outbound context has), with NSS initialised the way
 * tutti does it (transport/srtp.c) or the way libsrtp2 does on its own
 * (NSS_INIT_OPTIMIZESPACE, with --space).
 *
 *   bench_srtp [--space] [contexts...]     default: 1 100 1000 4000
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_NSS
#include <nss.h>
#endif

#include "common/common.h"
#include "transport/rtp.h"
#include "transport/srtp.h"

#define PKT    1200
#define ROUNDS 200000

static int make(struct tp_srtp **s, unsigned i)
{
	uint8_t key[TP_SRTP_MAX_KEY_LEN], buf[PKT + 64], payload[PKT];
	size_t len;
	int err;

	cm_random(key, sizeof(key));
	memset(payload, (int)i, sizeof(payload));
	err = tp_srtp_new(s, TP_SRTP_AEAD_AES_128_GCM, key,
			  tp_srtp_key_len(TP_SRTP_AEAD_AES_128_GCM), false);
	for (uint32_t ssrc = 1; ssrc <= 2 && !err; ssrc++) {
		struct tp_rtp_hdr h = {.pt = 96, .seq = 1, .ssrc = ssrc};
		err = tp_rtp_write(buf, sizeof(buf), &len, &h, payload, 100) ||
		      tp_srtp_protect(*s, buf, &len, sizeof(buf));
	}
	return err;
}

int main(int argc, char **argv)
{
	static const unsigned dflt[] = {1, 100, 1000, 4000};
	unsigned counts[16], n = 0, made = 0, cap = 0;
	struct tp_srtp **ctx = NULL;
	bool space = false;
	uint16_t seq = 2;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--space"))
			space = true;
		else if (n < 16)
			counts[n++] = (unsigned)atoi(argv[i]);
	}
	if (!n)
		for (; n < 4; n++)
			counts[n] = dflt[n];
#ifdef HAVE_NSS
	if (space &&
	    !NSS_InitContext("", "", "", "", NULL,
			     NSS_INIT_READONLY | NSS_INIT_NOCERTDB | NSS_INIT_NOMODDB |
				 NSS_INIT_FORCEOPEN | NSS_INIT_OPTIMIZESPACE)) {
		fprintf(stderr, "bench_srtp: NSS_InitContext failed\n");
		return 1;
	}
#else
	if (space)
		fprintf(stderr, "bench_srtp: built without NSS, --space does nothing\n");
#endif
	if (tp_srtp_init())
		return 1;
	printf("NSS initialised %s\n", space ? "as libsrtp2 does (OPTIMIZESPACE)"
					     : "as tutti does (transport/srtp.c)");
	printf("| contexts alive | ns per %d-byte packet protected |\n|---:|---:|\n",
	       PKT);
	for (unsigned k = 0; k < n; k++) {
		if (counts[k] > cap) {
			cap = counts[k];
			ctx = realloc(ctx, cap * sizeof(*ctx));
			if (!ctx)
				return 1;
		}
		for (; made < counts[k]; made++)
			if (make(&ctx[made], made))
				return 1;
		uint8_t buf[PKT + 64], payload[PKT];
		memset(payload, 7, sizeof(payload));
		uint64_t t0 = cm_now_us();
		for (unsigned r = 0; r < ROUNDS; r++) {
			struct tp_rtp_hdr h = {.pt = 96, .seq = seq, .ssrc = 1 + (r & 1)};
			size_t len;
			if (tp_rtp_write(buf, sizeof(buf), &len, &h, payload, PKT - 12) ||
			    tp_srtp_protect(ctx[r % made], buf, &len, sizeof(buf)))
				return 1;
			if (r % made == made - 1 && (r & 1))
				seq++;
		}
		printf("| %u | %.0f |\n", made,
		       (double)(cm_now_us() - t0) * 1000.0 / ROUNDS);
		fflush(stdout);
	}
	for (unsigned i = 0; i < made; i++)
		tp_srtp_free(&ctx[i]);
	free(ctx);
	return 0;
}
