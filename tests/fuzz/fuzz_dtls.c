/*
 * libFuzzer target for DTLS as the server sees it before and during the
 * handshake: datagrams go to a fresh server endpoint (OpenSSL behind
 * memory BIOs, tutti's certificate and fingerprint check). Whatever
 * arrives, the endpoint may answer, fail or wait; it must never crash,
 * never reach CONNECTED (nobody here holds a certificate matching the
 * expected fingerprint) and never export keys.
 *
 * Input: records of [len hi][len lo][len bytes], each one datagram; a
 * zero length runs the retransmission timer instead.
 */
#include <stdlib.h>
#include <string.h>

#include "transport/dtls.h"

#define EXPECT(c)                                                                        \
	do {                                                                             \
		if (!(c))                                                                \
			abort();                                                         \
	} while (0)

static const char fp[] = "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:"
			 "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF";

static size_t sent_bytes;

static void on_send(void *arg, const uint8_t *buf, size_t len)
{
	(void)arg;
	EXPECT(buf && len > 0 && len <= 65536);
	sent_bytes += len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tp_dtls_cert *cert;
	struct tp_dtls *d = NULL;
	size_t off = 0;

	if (!cert && tp_dtls_cert_new(&cert))
		abort();
	EXPECT(tp_dtls_new(&d, cert, TP_DTLS_SERVER, "sha-256", fp, on_send, NULL) == 0);
	while (off + 2 <= size) {
		size_t len = (size_t)data[off] << 8 | data[off + 1];
		off += 2;
		if (len > size - off)
			len = size - off;
		if (len == 0)
			(void)tp_dtls_timeout(d);
		else
			(void)tp_dtls_input(d, data + off, len);
		off += len;
		EXPECT(tp_dtls_state(d) != TP_DTLS_CONNECTED);
	}
	enum tp_srtp_profile prof;
	uint8_t lk[64], rk[64];
	size_t kl = sizeof(lk);
	EXPECT(tp_dtls_srtp_keys(d, &prof, lk, rk, &kl) != 0);
	tp_dtls_free(&d);
	EXPECT(d == NULL);
	return 0;
}
