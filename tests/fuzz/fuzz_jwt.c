/*
 * libFuzzer target for join tokens. An input whose first byte is even is a
 * token, verified as is with a fixed key: the fuzzer cannot forge HMACs, so
 * this covers the shape, base64url and header checks. An odd first byte
 * makes the rest a payload that is signed with the fixed key first, which
 * lets the fuzzer reach the claims parser. Whatever verifies is signed
 * again and must verify to the same claims.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "admin/jwt.h"

#define NOW 1700000000LL

static const uint8_t key[AD_JWT_KEY_LEN] = "fuzz-jwt-key-fuzz-jwt-key-fuzz!";
static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

#define EXPECT(c)                                                                        \
	do {                                                                             \
		if (!(c))                                                                \
			abort();                                                         \
	} while (0)

static void resign(const struct ad_token *t)
{
	char jwt[AD_JWT_MAX + 1];
	struct ad_token back;

	EXPECT(ad_jwt_sign(key, t, jwt, sizeof(jwt)) == 0);
	EXPECT(ad_jwt_verify(key, jwt, strlen(jwt), NOW, &back) == 0);
	EXPECT(!strcmp(back.room, t->room) && !strcmp(back.name, t->name));
	EXPECT(!strcmp(back.jti, t->jti) && back.role == t->role);
	EXPECT(back.iat == t->iat && back.exp == t->exp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char jwt[4 * AD_JWT_MAX];
	const char *tok = (const char *)data + 1;
	size_t len = size ? size - 1 : 0;
	struct ad_token t;
	int err;

	if (size == 0)
		return 0;
	if (data[0] & 1) {
		if (ad_jwt_sign_raw(key, header, sizeof(header) - 1, data + 1, size - 1,
				    jwt, sizeof(jwt)))
			return 0;
		tok = jwt;
		len = strlen(jwt);
	}
	err = ad_jwt_verify(key, tok, len, NOW, &t);
	EXPECT(err == 0 || err == EBADMSG || err == EACCES || err == EINVAL ||
	       err == ETIMEDOUT);
	if (err == 0)
		resign(&t);
	else
		EXPECT(t.room[0] == '\0' && t.name[0] == '\0');
	return 0;
}
