/*
 * Private to admin/: join tokens as JWT (RFC 7519) with HS256 only.
 * The key is a 32-byte secret kept in the data directory. Nothing here
 * allocates except jansson, for the header and the payload.
 */
#ifndef TUTTI_ADMIN_JWT_H
#define TUTTI_ADMIN_JWT_H

#include <stddef.h>
#include <stdint.h>

#define AD_JWT_KEY_LEN 32
#define AD_JWT_MAX     2048 /* longest token accepted, in bytes */
#define AD_JWT_LEEWAY  60   /* seconds an iat may lie in the future */

enum ad_role {
	AD_ROLE_ATTENDEE,
	AD_ROLE_PRESENTER,
};

struct ad_token {
	char room[65]; /* [a-z0-9-]{1,64} */
	enum ad_role role;
	char name[129];   /* display name: 1-128 bytes UTF-8, no control chars */
	int64_t iat, exp; /* seconds since the epoch; 0 <= iat < exp */
	char jti[33];     /* [A-Za-z0-9_-]{1,32}, e.g. cm_random_token(jti, 32) */
};

/* Reads DATA_DIR/jwt.key (exactly 32 bytes, mode 0600), creating it from
 * getrandom when missing (atomically: a racing second creator reads the
 * first one's key). Returns 0, or EIO (unreadable, wrong size, cannot be
 * created; logged), EINVAL (NULL argument). */
int ad_jwt_key_load(const char *data_dir, uint8_t key[AD_JWT_KEY_LEN]);

/* Signs t into out as a NUL-terminated compact JWT: header
 * {"alg":"HS256","typ":"JWT"}, payload {"room","role","name","iat","exp",
 * "jti"} built with jansson, base64url without padding, HMAC-SHA256.
 * Returns 0, ENOSPC (cap too small), EINVAL (invalid claims in t). */
int ad_jwt_sign(const uint8_t key[AD_JWT_KEY_LEN], const struct ad_token *t, char *out,
		size_t cap);

/* Verifies the len bytes at jwt (need not be NUL-terminated) at wall-clock
 * time now and fills *out. The signature is checked (in constant time)
 * before the payload is decoded. Returns 0; EBADMSG (malformed: not three
 * base64url parts, too long, bad header); EACCES (bad signature, or alg is
 * not HS256); EINVAL (claims missing, extra, of the wrong type or invalid;
 * iat more than AD_JWT_LEEWAY s ahead of now); ETIMEDOUT (exp <= now).
 * *out is zeroed on any error. */
int ad_jwt_verify(const uint8_t key[AD_JWT_KEY_LEN], const char *jwt, size_t len,
		  int64_t now, struct ad_token *out);

/* Lower layers, for tests and the fuzzer. */

/* base64url without padding. Encode writes a NUL and returns 0 or ENOSPC.
 * Decode rejects characters outside [A-Za-z0-9_-], lengths of 4k+1 and
 * non-zero trailing bits: returns 0, EBADMSG or ENOSPC. */
int ad_jwt_b64_encode(const uint8_t *in, size_t n, char *out, size_t cap, size_t *outlen);
int ad_jwt_b64_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *outlen);
/* Signs arbitrary header and payload bytes (not checked) with HS256 into
 * out, NUL-terminated. Returns 0 or ENOSPC. */
int ad_jwt_sign_raw(const uint8_t key[AD_JWT_KEY_LEN], const void *header, size_t hlen,
		    const void *payload, size_t plen, char *out, size_t cap);

#endif
