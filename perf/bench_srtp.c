/*
 * bench_srtp: SRTP protect cost per packet against the number of SRTP
 * contexts alive in the process (each with an audio and a video SSRC, as
 * a participant's outbound context has): tutti's outbound path
 * (tp_srtp_protect: OpenSSL EVP, transport/srtp_tx.c) beside libsrtp2's
 * srtp_protect with the same keys (on Debian: NSS underneath), NSS
 * initialised the way tutti does it (transport/srtp.c) or the way
 * libsrtp2 does on its own (NSS_INIT_OPTIMIZESPACE, with --space).
 * AEAD_AES_128_GCM unless --cm (AES_CM_128_HMAC_SHA1_80).
 *
 *   bench_srtp [--space] [--cm] [contexts...]     default: 1 100 1000 4000
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_NSS
#include <nss.h>
#endif

#include <srtp2/srtp.h>

#include "common/common.h"
#include "transport/rtp.h"
#include "transport/srtp.h"
#include "tests/unit/srtp_ref.h"

#define PKT    1200
#define ROUNDS 200000

static enum tp_srtp_profile prof = TP_SRTP_AEAD_AES_128_GCM;

static int make(struct tp_srtp **s, srtp_t *lib, unsigned i)
{
	uint8_t key[TP_SRTP_MAX_KEY_LEN], buf[PKT + 64], payload[PKT];
	size_t len;
	int err, n;

	cm_random(key, sizeof(key));
	memset(payload, (int)i, sizeof(payload));
	err = tp_srtp_new(s, prof, key, tp_srtp_key_len(prof), false) ||
	      ref_srtp_new(lib, prof, key, false);
	for (uint32_t ssrc = 1; ssrc <= 2 && !err; ssrc++) {
		struct tp_rtp_hdr h = {.pt = 96, .seq = 1, .ssrc = ssrc};
		err = tp_rtp_write(buf, sizeof(buf), &len, &h, payload, 100) ||
		      tp_srtp_protect(*s, buf, &len, sizeof(buf));
		n = (int)len - (prof == TP_SRTP_AEAD_AES_128_GCM ? 16 : 10);
		err = err || tp_rtp_write(buf, sizeof(buf), &len, &h, payload, 100) ||
		      srtp_protect(*lib, buf, &n) != srtp_err_status_ok;
	}
	return err;
}

int main(int argc, char **argv)
{
	static const unsigned dflt[] = {1, 100, 1000, 4000};
	unsigned counts[16], n = 0, made = 0, cap = 0;
	struct tp_srtp **ctx = NULL;
	srtp_t *lib = NULL;
	bool space = false;
	uint16_t seq = 2;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--space"))
			space = true;
		else if (!strcmp(argv[i], "--cm"))
			prof = TP_SRTP_AES128_CM_SHA1_80;
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
	printf("%s; ns per %d-byte packet protected\n",
	       prof == TP_SRTP_AEAD_AES_128_GCM ? "AEAD_AES_128_GCM" : "AES_CM_128_HMAC_SHA1_80",
	       PKT);
	printf("| contexts alive | tutti (OpenSSL) | libsrtp2 | ratio |\n|---:|---:|---:|---:|\n");
	for (unsigned k = 0; k < n; k++) {
		if (counts[k] > cap) {
			cap = counts[k];
			ctx = realloc(ctx, cap * sizeof(*ctx));
			lib = realloc(lib, cap * sizeof(*lib));
			if (!ctx || !lib)
				return 1;
		}
		for (; made < counts[k]; made++)
			if (make(&ctx[made], &lib[made], made))
				return 1;
		uint8_t buf[PKT + 64], payload[PKT];
		double ns[2];
		memset(payload, 7, sizeof(payload));
		for (int which = 0; which < 2; which++) {
			uint64_t t0 = cm_now_us();
			for (unsigned r = 0; r < ROUNDS; r++) {
				struct tp_rtp_hdr h = {.pt = 96, .seq = seq, .ssrc = 1 + (r & 1)};
				size_t len;
				int ilen;
				if (tp_rtp_write(buf, sizeof(buf), &len, &h, payload, PKT - 12))
					return 1;
				ilen = (int)len;
				if (which ? srtp_protect(lib[r % made], buf, &ilen) != srtp_err_status_ok
					  : tp_srtp_protect(ctx[r % made], buf, &len, sizeof(buf)) != 0)
					return 1;
				if (r % made == made - 1 && (r & 1))
					seq++;
			}
			ns[which] = (double)(cm_now_us() - t0) * 1000.0 / ROUNDS;
		}
		printf("| %u | %.0f | %.0f | %.1f |\n", made, ns[0], ns[1], ns[1] / ns[0]);
		fflush(stdout);
	}
	for (unsigned i = 0; i < made; i++) {
		tp_srtp_free(&ctx[i]);
		srtp_dealloc(lib[i]);
	}
	free(ctx);
	free(lib);
	return 0;
}
