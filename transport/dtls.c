/*
 * DTLS 1.2 with OpenSSL 3 over memory BIOs. Incoming datagrams go into a
 * mem BIO, one at a time, so their boundaries hold. Outgoing: a tiny
 * custom BIO hands each write to the send callback; OpenSSL packs a
 * flight into datagrams of at most the MTU and flushes each one as one
 * write, so one write is one datagram.
 *
 * One SSL_CTX per certificate, shared by every endpoint that uses it;
 * one SSL per endpoint. The peer's certificate is checked against the
 * fingerprint from its SDP in the verify callback (depth 0), so a
 * mismatch aborts the handshake with an alert.
 */
#include "transport/dtls.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/srtp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define DTLS_MTU 1200
/* First retransmission timer; OpenSSL's 1 s is slow for a LAN. It
 * doubles up to DTLS_TIMER_MAX_US; OpenSSL gives up after 12 tries
 * (~27 s), inside the 30 s ICE consent window. */
#define DTLS_TIMER_FIRST_US 200000u
#define DTLS_TIMER_MAX_US   3000000u
#define FP_MAX              (EVP_MAX_MD_SIZE * 3)
#define SRTP_LABEL          "EXTRACTOR-dtls_srtp"

struct tp_dtls_cert {
	EVP_PKEY *key;
	X509 *x509;
	SSL_CTX *ctx;
	BIO_METHOD *out_method; /* the send-callback BIO */
	char fp[FP_MAX];        /* sha-256, "AB:CD:..." */
};

struct tp_dtls {
	SSL *ssl;
	BIO *rbio; /* owned by ssl */
	enum tp_dtls_role role;
	enum tp_dtls_state state;
	const EVP_MD *fp_md;
	char remote_fp[FP_MAX];
	bool fp_ok; /* the peer's certificate matched remote_fp */
	tp_dtls_send_fn *send;
	void *arg;
};

static const char srtp_profiles[] = "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80";

/* "AB:CD:..." of a digest; out holds FP_MAX bytes. */
static void fp_format(const unsigned char *md, unsigned n, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned i;

	for (i = 0; i < n; i++) {
		out[3 * i] = hex[md[i] >> 4];
		out[3 * i + 1] = hex[md[i] & 15];
		out[3 * i + 2] = i + 1 < n ? ':' : '\0';
	}
	if (!n)
		out[0] = '\0';
}

static const EVP_MD *fp_alg(const char *name)
{
	if (!strcasecmp(name, "sha-256"))
		return EVP_sha256();
	if (!strcasecmp(name, "sha-1"))
		return EVP_sha1();
	if (!strcasecmp(name, "sha-384"))
		return EVP_sha384();
	if (!strcasecmp(name, "sha-512"))
		return EVP_sha512();
	return NULL;
}

/* ---- the outgoing BIO: each write is one datagram ---- */

static int out_write(BIO *b, const char *data, int len)
{
	struct tp_dtls *d = BIO_get_data(b);

	if (len > 0 && d && d->send)
		d->send(d->arg, (const uint8_t *)data, (size_t)len);
	return len;
}

static long out_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	default:
		/* No pending data, no MTU query (SSL_OP_NO_QUERY_MTU), no
		 * per-datagram overhead: the link MTU is ours to set. */
		return 0;
	}
}

static int out_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

/* OpenSSL hands out ~127 BIO type indices per process: take one for
 * all certificates, or a load generator making many would run out. */
static pthread_once_t out_type_once = PTHREAD_ONCE_INIT;
static int out_type = -1;

static void out_type_init(void)
{
	out_type = BIO_get_new_index();
}

static BIO_METHOD *out_method_new(void)
{
	BIO_METHOD *m;

	pthread_once(&out_type_once, out_type_init);
	if (out_type == -1)
		return NULL;
	m = BIO_meth_new(out_type | BIO_TYPE_SOURCE_SINK, "tutti dtls out");
	if (!m)
		return NULL;
	if (!BIO_meth_set_write(m, out_write) || !BIO_meth_set_ctrl(m, out_ctrl) ||
	    !BIO_meth_set_create(m, out_create)) {
		BIO_meth_free(m);
		return NULL;
	}
	return m;
}

/* ---- certificate ---- */

static int cert_make(struct tp_dtls_cert *c)
{
	X509_NAME *name;
	BIGNUM *serial = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	int err = EIO;

	c->key = EVP_EC_gen("P-256");
	c->x509 = X509_new();
	serial = BN_new();
	if (!c->key || !c->x509 || !serial) {
		err = ENOMEM;
		goto out;
	}
	/* A random serial: browsers cache certificates by issuer+serial. */
	if (!X509_set_version(c->x509, 2) ||
	    !BN_rand(serial, 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
	    !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(c->x509)))
		goto out;
	if (!X509_gmtime_adj(X509_getm_notBefore(c->x509), -86400L) ||
	    !X509_gmtime_adj(X509_getm_notAfter(c->x509), 30L * 86400L))
		goto out;
	name = X509_get_subject_name(c->x509);
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
					(const unsigned char *)"tutti", -1, -1, 0) ||
	    !X509_set_issuer_name(c->x509, name) || !X509_set_pubkey(c->x509, c->key))
		goto out;
	if (!X509_sign(c->x509, c->key, EVP_sha256()))
		goto out;
	if (!X509_digest(c->x509, EVP_sha256(), md, &n))
		goto out;
	fp_format(md, n, c->fp);
	err = 0;
out:
	BN_free(serial);
	return err;
}

static int verify_cb(int preverify_ok, X509_STORE_CTX *store);

static int ctx_make(struct tp_dtls_cert *c)
{
	c->ctx = SSL_CTX_new(DTLS_method());
	if (!c->ctx)
		return ENOMEM;
	if (!SSL_CTX_set_min_proto_version(c->ctx, DTLS1_2_VERSION) ||
	    !SSL_CTX_set_max_proto_version(c->ctx, DTLS1_2_VERSION) ||
	    SSL_CTX_use_certificate(c->ctx, c->x509) != 1 ||
	    SSL_CTX_use_PrivateKey(c->ctx, c->key) != 1 ||
	    SSL_CTX_check_private_key(c->ctx) != 1)
		return EIO;
	/* Note: returns 0 on success. */
	if (SSL_CTX_set_tlsext_use_srtp(c->ctx, srtp_profiles) != 0)
		return EIO;
	SSL_CTX_set_options(c->ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(c->ctx, SSL_SESS_CACHE_OFF);
	/* Self-signed on both sides: trust comes from the SDP fingerprint. */
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
			   verify_cb);
	return 0;
}

int tp_dtls_cert_new(struct tp_dtls_cert **out)
{
	struct tp_dtls_cert *c;
	int err;

	if (!out)
		return EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return ENOMEM;
	err = cert_make(c);
	if (!err)
		err = ctx_make(c);
	if (!err && !(c->out_method = out_method_new()))
		err = ENOMEM;
	if (err) {
		ERR_clear_error();
		tp_dtls_cert_free(&c);
		return err;
	}
	*out = c;
	return 0;
}

void tp_dtls_cert_free(struct tp_dtls_cert **p)
{
	struct tp_dtls_cert *c;

	if (!p || !*p)
		return;
	c = *p;
	SSL_CTX_free(c->ctx);
	X509_free(c->x509);
	EVP_PKEY_free(c->key);
	BIO_meth_free(c->out_method);
	free(c);
	*p = NULL;
}

const char *tp_dtls_cert_fingerprint(const struct tp_dtls_cert *c)
{
	return c ? c->fp : NULL;
}

/* ---- endpoint ---- */

/*
 * Accepts any chain (self-signed is the norm in WebRTC) but compares the
 * leaf with the fingerprint the peer announced in its SDP.
 */
static int verify_cb(int preverify_ok, X509_STORE_CTX *store)
{
	SSL *ssl =
	    X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct tp_dtls *d = ssl ? SSL_get_app_data(ssl) : NULL;
	X509 *x = X509_STORE_CTX_get_current_cert(store);
	unsigned char md[EVP_MAX_MD_SIZE];
	char fp[FP_MAX];
	unsigned n = 0;

	if (!d || !x)
		return 0;
	if (X509_STORE_CTX_get_error_depth(store) != 0)
		return 1;
	if (!X509_digest(x, d->fp_md, md, &n))
		return 0;
	fp_format(md, n, fp);
	d->fp_ok = strcasecmp(fp, d->remote_fp) == 0;
	if (!d->fp_ok)
		X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
	return d->fp_ok;
}

/* Called by OpenSSL for each (re)start of the retransmission timer with
 * the previous value (0 at first); returns the next one in µs. */
static unsigned int timer_cb(SSL *ssl, unsigned int prev_us)
{
	if (!prev_us)
		return DTLS_TIMER_FIRST_US;
	if (prev_us >= DTLS_TIMER_MAX_US / 2)
		return DTLS_TIMER_MAX_US;
	return prev_us * 2;
}

int tp_dtls_new(struct tp_dtls **out, struct tp_dtls_cert *cert, enum tp_dtls_role role,
		const char *remote_fp_alg, const char *remote_fp, tp_dtls_send_fn *send,
		void *arg)
{
	struct tp_dtls *d = NULL;
	BIO *wbio = NULL;
	int err = EINVAL;

	if (!out || !cert || !remote_fp_alg || !remote_fp || !send ||
	    (role != TP_DTLS_SERVER && role != TP_DTLS_CLIENT))
		return EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return ENOMEM;
	d->role = role;
	d->state = TP_DTLS_HANDSHAKING;
	d->send = send;
	d->arg = arg;
	d->fp_md = fp_alg(remote_fp_alg);
	/* Exactly "XX:" per digest byte, minus the last colon. */
	if (!d->fp_md || strlen(remote_fp) != (size_t)EVP_MD_get_size(d->fp_md) * 3 - 1)
		goto out;
	memcpy(d->remote_fp, remote_fp, strlen(remote_fp) + 1);

	err = ENOMEM;
	d->ssl = SSL_new(cert->ctx);
	d->rbio = BIO_new(BIO_s_mem());
	wbio = BIO_new(cert->out_method);
	if (!d->ssl || !d->rbio || !wbio)
		goto out;
	/* An empty read BIO means "wait for more", not EOF. */
	BIO_set_mem_eof_return(d->rbio, -1);
	BIO_set_data(wbio, d);
	SSL_set_bio(d->ssl, d->rbio, wbio); /* ssl owns both now */
	wbio = NULL;
	SSL_set_app_data(d->ssl, d);
	DTLS_set_link_mtu(d->ssl, DTLS_MTU);
	DTLS_set_timer_cb(d->ssl, timer_cb);
	if (role == TP_DTLS_SERVER)
		SSL_set_accept_state(d->ssl);
	else
		SSL_set_connect_state(d->ssl);
	err = 0;
out:
	if (err) {
		if (!d->ssl)
			BIO_free(d->rbio);
		BIO_free(wbio);
		ERR_clear_error();
		tp_dtls_free(&d);
		return err;
	}
	*out = d;
	return 0;
}

void tp_dtls_free(struct tp_dtls **p)
{
	if (!p || !*p)
		return;
	SSL_free((*p)->ssl);
	free(*p);
	*p = NULL;
}

/* What an SSL_do_handshake/SSL_read that returned r <= 0 means for us:
 * wait for more (0), the peer closed (0, CLOSED), or failure (EPROTO). */
static int ssl_result(struct tp_dtls *d, int r)
{
	switch (SSL_get_error(d->ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return 0;
	case SSL_ERROR_ZERO_RETURN:
		d->state = TP_DTLS_CLOSED;
		return 0;
	default:
		ERR_clear_error();
		d->state = TP_DTLS_FAILED;
		return EPROTO;
	}
}

/* Runs the handshake one step. Returns 0 or EPROTO (state FAILED). */
static int handshake(struct tp_dtls *d)
{
	int r;

	ERR_clear_error();
	r = SSL_do_handshake(d->ssl);
	if (r == 1) {
		/* The verify callback must have seen and matched the peer's
		 * certificate; belt and braces against a path that skips it. */
		if (!d->fp_ok) {
			d->state = TP_DTLS_FAILED;
			return EPROTO;
		}
		d->state = TP_DTLS_CONNECTED;
		return 0;
	}
	return ssl_result(d, r);
}

/* After the handshake: reads and drops application data, notices
 * close_notify, and lets OpenSSL answer a retransmitted final flight. */
static int drain(struct tp_dtls *d)
{
	uint8_t buf[2048];
	int r;

	for (;;) {
		ERR_clear_error();
		r = SSL_read(d->ssl, buf, sizeof(buf));
		if (r > 0)
			continue;
		return ssl_result(d, r);
	}
}

int tp_dtls_connect(struct tp_dtls *d)
{
	if (!d || d->role != TP_DTLS_CLIENT)
		return EINVAL;
	if (d->state != TP_DTLS_HANDSHAKING)
		return 0;
	return handshake(d) ? EIO : 0;
}

int tp_dtls_input(struct tp_dtls *d, const uint8_t *buf, size_t len)
{
	int err = 0;

	if (!d || !buf || !len || len > INT_MAX)
		return EINVAL;
	if (d->state == TP_DTLS_FAILED)
		return EPROTO;
	if (d->state == TP_DTLS_CLOSED)
		return 0;
	if (BIO_write(d->rbio, buf, (int)len) != (int)len)
		return ENOMEM;
	if (d->state == TP_DTLS_HANDSHAKING)
		err = handshake(d);
	/* Records that followed the last handshake message in the same
	 * datagram, or anything after the handshake. */
	if (!err && d->state == TP_DTLS_CONNECTED)
		err = drain(d);
	/* Whatever OpenSSL left unread (a bad record) must not be glued to
	 * the next datagram. */
	(void)BIO_reset(d->rbio);
	return err;
}

uint64_t tp_dtls_timeout_in(struct tp_dtls *d)
{
	struct timeval tv;

	if (!d || d->state == TP_DTLS_FAILED || d->state == TP_DTLS_CLOSED)
		return UINT64_MAX;
	if (DTLSv1_get_timeout(d->ssl, &tv) != 1)
		return UINT64_MAX;
	return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

int tp_dtls_timeout(struct tp_dtls *d)
{
	int r;

	if (!d)
		return EINVAL;
	if (d->state == TP_DTLS_FAILED)
		return EPROTO;
	if (d->state == TP_DTLS_CLOSED)
		return 0;
	ERR_clear_error();
	r = DTLSv1_handle_timeout(d->ssl);
	if (r < 0) {
		/* Too many retransmissions: the peer is gone. */
		ERR_clear_error();
		if (d->state == TP_DTLS_HANDSHAKING)
			d->state = TP_DTLS_FAILED;
		return EPROTO;
	}
	return 0;
}

enum tp_dtls_state tp_dtls_state(const struct tp_dtls *d)
{
	return d ? d->state : TP_DTLS_FAILED;
}

int tp_dtls_srtp_keys(struct tp_dtls *d, enum tp_srtp_profile *profile,
		      uint8_t *local_key, uint8_t *remote_key, size_t *keylen)
{
	uint8_t km[2 * TP_SRTP_MAX_KEY_LEN];
	const SRTP_PROTECTION_PROFILE *sp;
	const uint8_t *ck, *sk, *cs, *ss;
	size_t total, klen = 16, slen;
	uint8_t *cli, *srv;
	int err = EIO;

	if (!d || !profile || !local_key || !remote_key || !keylen)
		return EINVAL;
	if (d->state != TP_DTLS_CONNECTED)
		return EINVAL;
	sp = SSL_get_selected_srtp_profile(d->ssl);
	if (!sp)
		return EPROTO;
	total = tp_srtp_key_len((enum tp_srtp_profile)sp->id);
	if (!total)
		return EPROTO;
	slen = total - klen;

	ERR_clear_error();
	/* RFC 5764 4.2: client key, server key, client salt, server salt. */
	if (SSL_export_keying_material(d->ssl, km, 2 * total, SRTP_LABEL,
				       strlen(SRTP_LABEL), NULL, 0, 0) != 1) {
		ERR_clear_error();
		goto out;
	}
	ck = km;
	sk = km + klen;
	cs = km + 2 * klen;
	ss = km + 2 * klen + slen;
	cli = d->role == TP_DTLS_CLIENT ? local_key : remote_key;
	srv = d->role == TP_DTLS_CLIENT ? remote_key : local_key;
	memcpy(cli, ck, klen);
	memcpy(cli + klen, cs, slen);
	memcpy(srv, sk, klen);
	memcpy(srv + klen, ss, slen);
	*profile = (enum tp_srtp_profile)sp->id;
	*keylen = total;
	err = 0;
out:
	OPENSSL_cleanse(km, sizeof(km));
	return err;
}

void tp_dtls_close(struct tp_dtls *d)
{
	if (!d || d->state != TP_DTLS_CONNECTED)
		return;
	ERR_clear_error();
	/* One call: sends close_notify; we do not wait for the peer's. */
	(void)SSL_shutdown(d->ssl);
	ERR_clear_error();
	d->state = TP_DTLS_CLOSED;
}
