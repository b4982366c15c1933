/*
 * Join tokens: compact JWS with HS256 only, our own bounded base64url, and
 * jansson for the two JSON parts. A token is trusted in this order: shape
 * (three base64url parts), header (alg must be HS256), signature (constant
 * time), and only then the payload.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/common.h"
#include "admin/jwt.h"

#define SIG_LEN 32 /* HMAC-SHA256 */

static const char header_json[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* ---- key file ---------------------------------------------------------- */

/* Returns 0, ENOENT (no file: create one) or EIO. */
static int key_read(const char *path, uint8_t key[AD_JWT_KEY_LEN])
{
	struct stat st;
	size_t got = 0;
	int fd, err = EIO;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return ENOENT;
		cm_error("jwt", "%s: %s", path, strerror(errno));
		return EIO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != AD_JWT_KEY_LEN) {
		cm_error("jwt", "%s: not a regular file of %d bytes", path,
			 AD_JWT_KEY_LEN);
		goto out;
	}
	if (st.st_mode & 077)
		cm_warn("jwt", "%s: readable by others (mode %03o); should be 0600", path,
			(unsigned)(st.st_mode & 0777));
	while (got < AD_JWT_KEY_LEN) {
		ssize_t n = read(fd, key + got, AD_JWT_KEY_LEN - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			cm_error("jwt", "%s: short read", path);
			goto out;
		}
		got += (size_t)n;
	}
	err = 0;
out:
	close(fd);
	return err;
}

/* Writes a fresh key to a temporary file and links it into place, so the
 * key file never exists half-written and a concurrent creator's key is
 * never overwritten (link fails with EEXIST; the caller then reads it). */
static int key_create(const char *dir, const char *path)
{
	char tmp[PATH_MAX];
	uint8_t key[AD_JWT_KEY_LEN];
	size_t put = 0;
	int fd, err = EIO;

	if (snprintf(tmp, sizeof(tmp), "%s/.jwt.key.XXXXXX", dir) >= (int)sizeof(tmp))
		return EIO;
	fd = mkostemp(tmp, O_CLOEXEC); /* mode 0600 */
	if (fd < 0) {
		cm_error("jwt", "cannot create a key in %s: %s", dir, strerror(errno));
		return EIO;
	}
	if (cm_random(key, sizeof(key)) != 0 || fchmod(fd, 0600) != 0)
		goto out;
	while (put < sizeof(key)) {
		ssize_t n = write(fd, key + put, sizeof(key) - put);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		put += (size_t)n;
	}
	if (fsync(fd) != 0)
		goto out;
	if (link(tmp, path) != 0 && errno != EEXIST)
		goto out;
	err = 0;
out:
	if (err)
		cm_error("jwt", "cannot create %s: %s", path, strerror(errno));
	OPENSSL_cleanse(key, sizeof(key));
	close(fd);
	unlink(tmp);
	return err;
}

int ad_jwt_key_load(const char *data_dir, uint8_t key[AD_JWT_KEY_LEN])
{
	char path[PATH_MAX];
	int err;

	if (!data_dir || !key)
		return EINVAL;
	if (snprintf(path, sizeof(path), "%s/jwt.key", data_dir) >= (int)sizeof(path))
		return EIO;
	err = key_read(path, key);
	if (err == ENOENT) {
		err = key_create(data_dir, path);
		if (!err)
			err = key_read(path, key);
		if (!err)
			cm_info("jwt", "created a new token key in %s", path);
	}
	return err ? EIO : 0;
}

/* ---- base64url --------------------------------------------------------- */

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int ad_jwt_b64_encode(const uint8_t *in, size_t n, char *out, size_t cap, size_t *outlen)
{
	size_t need = n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0), o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;

	if (need >= cap)
		return ENOSPC;
	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = b64_alphabet[(acc >> bits) & 63];
		}
	}
	if (bits)
		out[o++] = b64_alphabet[(acc << (6 - bits)) & 63];
	out[o] = '\0';
	if (outlen)
		*outlen = o;
	return 0;
}

int ad_jwt_b64_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *outlen)
{
	size_t need = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0), o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;

	if (n % 4 == 1) /* 6 bits cannot end a byte string */
		return EBADMSG;
	if (need > cap)
		return ENOSPC;
	for (size_t i = 0; i < n; i++) {
		int v = b64_value((unsigned char)in[i]);
		if (v < 0)
			return EBADMSG;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc) /* non-zero leftover bits: a second spelling of the same bytes */
		return EBADMSG;
	if (outlen)
		*outlen = o;
	return 0;
}

/* ---- signing ----------------------------------------------------------- */

static void hs256(const uint8_t key[AD_JWT_KEY_LEN], const char *msg, size_t n,
		  uint8_t mac[SIG_LEN])
{
	unsigned len = SIG_LEN;

	if (!HMAC(EVP_sha256(), key, AD_JWT_KEY_LEN, (const uint8_t *)msg, n, mac, &len))
		memset(mac, 0, SIG_LEN); /* cannot happen; never matches a real MAC */
}

int ad_jwt_sign_raw(const uint8_t key[AD_JWT_KEY_LEN], const void *header, size_t hlen,
		    const void *payload, size_t plen, char *out, size_t cap)
{
	uint8_t mac[SIG_LEN];
	size_t a, b;

	if (ad_jwt_b64_encode(header, hlen, out, cap, &a) || a + 1 >= cap)
		return ENOSPC;
	out[a++] = '.';
	if (ad_jwt_b64_encode(payload, plen, out + a, cap - a, &b) || a + b + 1 >= cap)
		return ENOSPC;
	a += b;
	hs256(key, out, a, mac);
	out[a++] = '.';
	return ad_jwt_b64_encode(mac, sizeof(mac), out + a, cap - a, NULL);
}

static bool room_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '-'))
			return false;
	return true;
}

/* UTF-8 validity itself is jansson's job (json_pack and the parser reject
 * bad sequences); here: length, and no C0, DEL or C1 (U+0080..U+009F). */
static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return false;
		if (c == 0xc2 && (unsigned char)s[i + 1] >= 0x80 &&
		    (unsigned char)s[i + 1] <= 0x9f)
			return false;
	}
	return true;
}

static bool jti_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (b64_value((unsigned char)s[i]) < 0)
			return false;
	return true;
}

/* Claims valid on their own, whatever the time. */
static bool claims_ok(const struct ad_token *t)
{
	return room_ok(t->room) && name_ok(t->name) && jti_ok(t->jti) &&
	       (t->role == AD_ROLE_ATTENDEE || t->role == AD_ROLE_PRESENTER) &&
	       t->iat >= 0 && t->exp > t->iat;
}

int ad_jwt_sign(const uint8_t key[AD_JWT_KEY_LEN], const struct ad_token *t, char *out,
		size_t cap)
{
	char payload[1024]; /* the largest valid claims take ~600 bytes */
	json_t *o;
	size_t n;

	if (!key || !t || !out || !memchr(t->room, 0, sizeof(t->room)) ||
	    !memchr(t->name, 0, sizeof(t->name)) || !memchr(t->jti, 0, sizeof(t->jti)) ||
	    !claims_ok(t))
		return EINVAL;
	o = json_pack("{s:s,s:s,s:s,s:I,s:I,s:s}", "room", t->room, "role",
		      t->role == AD_ROLE_PRESENTER ? "presenter" : "attendee", "name",
		      t->name, "iat", (json_int_t)t->iat, "exp", (json_int_t)t->exp,
		      "jti", t->jti);
	if (!o)
		return EINVAL; /* invalid UTF-8 in the name, or out of memory */
	n = json_dumpb(o, payload, sizeof(payload), JSON_COMPACT);
	json_decref(o);
	if (n == 0 || n > sizeof(payload))
		return EINVAL;
	return ad_jwt_sign_raw(key, header_json, sizeof(header_json) - 1, payload, n, out,
			       cap);
}

/* ---- verification ------------------------------------------------------ */

/* Splits into header.payload.signature, all in the base64url alphabet;
 * the signature may be empty (an "alg":"none" token is then refused for
 * its alg, not its shape). Returns 0 or EBADMSG. */
static int split(const char *s, size_t len, size_t dot[2])
{
	int dots = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (dots == 2)
				return EBADMSG;
			dot[dots++] = i;
		} else if (b64_value((unsigned char)s[i]) < 0) {
			return EBADMSG;
		}
	}
	if (dots != 2 || dot[0] == 0 || dot[1] == dot[0] + 1)
		return EBADMSG;
	return 0;
}

/* Decodes one part and parses it as a JSON object, duplicates refused. */
static json_t *load_part(const char *s, size_t n)
{
	uint8_t buf[AD_JWT_MAX];
	json_error_t jerr;
	size_t len;
	json_t *j;

	if (ad_jwt_b64_decode(s, n, buf, sizeof(buf), &len))
		return NULL;
	j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (j && !json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* Only {"alg":"HS256"} with an optional "typ":"JWT"; any other member
 * (crit, jku, kid...) is refused rather than half understood. */
static int check_header(const json_t *h)
{
	const json_t *alg = json_object_get(h, "alg"), *typ = json_object_get(h, "typ");

	if (!json_is_string(alg) || json_object_size(h) != 1u + (typ != NULL))
		return EBADMSG;
	if (typ && (!json_is_string(typ) || strcmp(json_string_value(typ), "JWT")))
		return EBADMSG;
	return strcmp(json_string_value(alg), "HS256") ? EACCES : 0;
}

static bool get_str(const json_t *o, const char *k, char *dst, size_t cap)
{
	const json_t *v = json_object_get(o, k);
	size_t n;

	if (!json_is_string(v) || (n = json_string_length(v)) >= cap)
		return false;
	memcpy(dst, json_string_value(v), n + 1);
	return strlen(dst) == n; /* no embedded NUL */
}

static bool get_int(const json_t *o, const char *k, int64_t *dst)
{
	const json_t *v = json_object_get(o, k);

	if (!json_is_integer(v))
		return false;
	*dst = json_integer_value(v);
	return true;
}

static int read_claims(const json_t *p, struct ad_token *t)
{
	char role[16];

	if (json_object_size(p) != 6 || !get_str(p, "room", t->room, sizeof(t->room)) ||
	    !get_str(p, "role", role, sizeof(role)) ||
	    !get_str(p, "name", t->name, sizeof(t->name)) ||
	    !get_str(p, "jti", t->jti, sizeof(t->jti)) || !get_int(p, "iat", &t->iat) ||
	    !get_int(p, "exp", &t->exp))
		return EINVAL;
	if (!strcmp(role, "presenter"))
		t->role = AD_ROLE_PRESENTER;
	else if (!strcmp(role, "attendee"))
		t->role = AD_ROLE_ATTENDEE;
	else
		return EINVAL;
	return claims_ok(t) ? 0 : EINVAL;
}

int ad_jwt_verify(const uint8_t key[AD_JWT_KEY_LEN], const char *jwt, size_t len,
		  int64_t now, struct ad_token *out)
{
	uint8_t sig[SIG_LEN + 3], mac[SIG_LEN];
	struct ad_token t = {0};
	json_t *hdr = NULL, *pl = NULL;
	size_t dot[2], siglen;
	int err;

	if (!key || !jwt || !out)
		return EINVAL;
	memset(out, 0, sizeof(*out));
	if (len == 0 || len > AD_JWT_MAX || split(jwt, len, dot))
		return EBADMSG;
	hdr = load_part(jwt, dot[0]);
	err = hdr ? check_header(hdr) : EBADMSG;
	if (err)
		goto out;

	/* A signature of any length but 32 bytes is simply a wrong one. */
	err = ad_jwt_b64_decode(jwt + dot[1] + 1, len - dot[1] - 1, sig, sizeof(sig),
				&siglen);
	if (err == ENOSPC || (!err && siglen != SIG_LEN)) {
		err = EACCES;
		goto out;
	}
	if (err)
		goto out;
	hs256(key, jwt, dot[1], mac);
	if (CRYPTO_memcmp(mac, sig, SIG_LEN) != 0) {
		err = EACCES;
		goto out;
	}

	pl = load_part(jwt + dot[0] + 1, dot[1] - dot[0] - 1);
	if (!pl) {
		err = EBADMSG;
		goto out;
	}
	err = read_claims(pl, &t);
	if (err)
		goto out;
	if (t.iat - AD_JWT_LEEWAY > now) /* iat >= 0: no overflow */
		err = EINVAL;
	else if (t.exp <= now)
		err = ETIMEDOUT;
	else
		*out = t;
out:
	json_decref(hdr);
	json_decref(pl);
	OPENSSL_cleanse(mac, sizeof(mac));
	return err;
}
