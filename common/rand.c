#include <errno.h>
#include <sys/random.h>

#include "common/common.h"

int cm_random(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

uint32_t cm_random_u32(void)
{
	uint32_t v = 0;

	(void)cm_random(&v, sizeof(v));
	return v;
}

void cm_random_token(char *out, size_t len)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	uint8_t raw[256];

	while (len > 0) {
		size_t n = CM_MIN(len, sizeof(raw));
		(void)cm_random(raw, n);
		/* 62 symbols: the modulo bias (256 % 62 = 8) is negligible
		 * for ICE credentials and ids, which need unguessability,
		 * not uniformity. */
		for (size_t i = 0; i < n; i++)
			*out++ = alphabet[raw[i] % 62];
		len -= n;
	}
	*out = '\0';
}
