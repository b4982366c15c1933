/*
 * A tiny blocking HTTP/1.1 client for tutti-load: one request per
 * connection (Connection: close), the whole answer read until the server
 * closes. Loopback only. The source address can be chosen, because tutti
 * limits joins per client address and a load test joins hundreds.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "perf/load/load.h"

static int tcp_connect(const char *host, uint16_t port, const char *src)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct sockaddr_in from = {.sin_family = AF_INET};
	struct timeval tv = {.tv_sec = 10};
	int fd;

	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -1;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (src && (inet_pton(AF_INET, src, &from.sin_addr) != 1 ||
		    bind(fd, (struct sockaddr *)&from, sizeof(from)) < 0)) {
		close(fd);
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static void header_value(const char *head, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	const char *p = head;

	out[0] = '\0';
	while ((p = strchr(p, '\n'))) {
		p++;
		if (!strncasecmp(p, name, nl) && p[nl] == ':') {
			const char *v = p + nl + 1, *e;
			while (*v == ' ' || *v == '\t')
				v++;
			e = v;
			while (*e && *e != '\r' && *e != '\n')
				e++;
			size_t n = (size_t)(e - v) < cap - 1 ? (size_t)(e - v) : cap - 1;
			memcpy(out, v, n);
			out[n] = '\0';
			return;
		}
	}
}

int lg_http_send(const char *host, uint16_t port, const char *src, const char *method,
		 const char *path, const char *auth, const char *ctype, const char *body)
{
	char head[2048];
	size_t blen = body ? strlen(body) : 0;
	int fd, n;

	fd = tcp_connect(host, port, src);
	if (fd < 0)
		return -1;
	n = snprintf(head, sizeof(head),
		     "%s %s HTTP/1.1\r\nHost: %s:%u\r\nConnection: close\r\n"
		     "Content-Length: %zu\r\n%s%s%s%s%s%s\r\n",
		     method, path, host, port, blen, ctype ? "Content-Type: " : "",
		     ctype ? ctype : "", ctype ? "\r\n" : "",
		     auth ? "Authorization: Bearer " : "", auth ? auth : "",
		     auth ? "\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(head) || send_all(fd, head, (size_t)n) ||
	    (blen && send_all(fd, body, blen))) {
		close(fd);
		return -1;
	}
	return fd;
}

int lg_http_read(int fd, struct lg_http_resp *r)
{
	size_t got = 0, cap = sizeof(r->buf) - 1;
	char *sep;

	memset(r, 0, offsetof(struct lg_http_resp, buf));
	r->status = -1;
	while (got < cap) {
		ssize_t k = recv(fd, r->buf + got, cap - got, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	close(fd);
	r->buf[got] = '\0';
	if (sscanf(r->buf, "HTTP/1.%*d %d", &r->status) != 1)
		return -1;
	sep = strstr(r->buf, "\r\n\r\n");
	if (!sep)
		return -1;
	*sep = '\0';
	header_value(r->buf, "Location", r->location, sizeof(r->location));
	r->body = sep + 4;
	r->body_len = got - (size_t)(r->body - r->buf);
	return 0;
}

int lg_http(const char *host, uint16_t port, const char *src, const char *method,
	    const char *path, const char *auth, const char *ctype, const char *body,
	    struct lg_http_resp *r)
{
	int fd = lg_http_send(host, port, src, method, path, auth, ctype, body);

	if (fd < 0) {
		memset(r, 0, offsetof(struct lg_http_resp, buf));
		r->status = -1;
		return -1;
	}
	return lg_http_read(fd, r);
}
