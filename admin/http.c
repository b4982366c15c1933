/*
 * The HTTP server: libmicrohttpd with a thread per connection, a listening
 * socket made here (so that "port in use" is a clear error), bodies
 * capped at AD_MAX_BODY, and a router over the paths of DESIGN.md.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/common.h"
#include "admin/internal.h"

#define API_ROOMS "/api/v1/rooms/"

enum MHD_Result ad_reply(struct MHD_Connection *c, unsigned status,
			 const char *ctype, const void *body, size_t len)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	if (ctype)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

enum MHD_Result ad_reply_error(struct MHD_Connection *c, unsigned status,
			       const char *code, const char *message)
{
	json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message",
			      message);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	enum MHD_Result ret;

	ret = ad_reply(c, status, "application/json", text ? text : "{}",
		       text ? strlen(text) : 2);
	free(text);
	json_decref(j);
	return ret;
}

bool ad_check_admin(struct ad_server *s, struct MHD_Connection *c, enum MHD_Result *ret)
{
	const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_AUTHORIZATION);
	size_t klen = strlen(s->admin_key), vlen;
	unsigned char diff = 0;

	if (!ad_rate_allow(c, AD_RATE_AUTH_FAIL, ret))
		return false;
	if (v && !strncasecmp(v, "Bearer ", 7)) {
		v += 7;
		vlen = strlen(v);
		/* Constant time in the key's length. */
		diff = vlen != klen;
		for (size_t i = 0; i < klen; i++)
			diff |= (unsigned char)(s->admin_key[i] ^ (i < vlen ? v[i] : 0));
		if (!diff)
			return true;
	}
	ad_rate_failed(c);
	*ret = ad_reply_error(c, MHD_HTTP_UNAUTHORIZED, "unauthorized",
			      "this needs the admin key (Authorization: Bearer ...)");
	return false;
}

bool ad_draining(struct ad_server *s)
{
	return __atomic_load_n(&s->draining, __ATOMIC_RELAXED);
}

void ad_server_set_draining(struct ad_server *s, bool draining)
{
	__atomic_store_n(&s->draining, draining, __ATOMIC_RELAXED);
}

/* Splits "/api/v1/rooms/{room}/rest" into room (bounded) and rest. */
static bool split_room(const char *url, char room[MX_ROOM_NAME_MAX + 1],
		       const char **rest)
{
	const char *p = url + strlen(API_ROOMS), *slash = strchr(p, '/');
	size_t n = slash ? (size_t)(slash - p) : strlen(p);

	if (n == 0 || n > MX_ROOM_NAME_MAX)
		return false;
	memcpy(room, p, n);
	room[n] = '\0';
	*rest = slash ? slash : "";
	return mx_room_name_valid(room);
}

static enum MHD_Result route(struct ad_server *s, struct MHD_Connection *c,
			     const char *url, const char *method,
			     const struct ad_body *b)
{
	char room[MX_ROOM_NAME_MAX + 1];
	const char *rest;
	enum MHD_Result ret;

	if (b->too_large)
		return ad_reply_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
				      "request body too large");
	if (ad_health(s, c, url, &ret))
		return ret;
	if (!strcmp(method, "GET") && ad_static(s, c, url, &ret))
		return ret;
	if (!strcmp(url, "/api/v1/rooms")) {
		if (!strcmp(method, "POST"))
			return ad_create_room(s, c, b);
		if (!strcmp(method, "GET"))
			return ad_list_rooms(s, c);
		return ad_reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
				      "use GET or POST");
	}
	if (!strcmp(url, "/api/v1/recordings"))
		return ad_recordings(s, c, method, NULL);
	if (!strncmp(url, "/api/v1/recordings/", 19) && url[19] && !strchr(url + 19, '/'))
		return ad_recordings(s, c, method, url + 19);
	if (strncmp(url, API_ROOMS, strlen(API_ROOMS)))
		return ad_reply_error(c, MHD_HTTP_NOT_FOUND, "not_found", "no such path");
	if (!split_room(url, room, &rest))
		return ad_reply_error(c, MHD_HTTP_BAD_REQUEST, "bad_room",
				      "room ids are 1 to 64 of [a-z0-9-]");
	if (!strcmp(rest, "/join")) {
		if (strcmp(method, "POST"))
			return ad_reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED,
					      "method_not_allowed", "use POST");
		return ad_join(s, c, room, b, AD_JOIN);
	}
	if (!strcmp(rest, "/recording"))
		return ad_room_recording(s, c, method, room);
	if (!strcmp(rest, "/whip"))
		return ad_whip_endpoint(s, c, method, room, b, AD_WHIP);
	if (!strcmp(rest, "/whep"))
		return ad_whip_endpoint(s, c, method, room, b, AD_WHEP);
	if ((!strncmp(rest, "/whip/", 6) || !strncmp(rest, "/whep/", 6)) && rest[6] &&
	    !strchr(rest + 6, '/'))
		return ad_whip_session(s, c, method, room, rest + 6, b);
	if (!*rest) {
		if (!strcmp(method, "GET"))
			return ad_get_room(s, c, room);
		if (!strcmp(method, "PATCH"))
			return ad_patch_room(s, c, room, b);
		if (!strcmp(method, "DELETE"))
			return ad_delete_room(s, c, room);
		return ad_reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
				      "use GET, PATCH or DELETE");
	}
	if (!strcmp(rest, "/participants")) {
		if (strcmp(method, "GET"))
			return ad_reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED,
					      "method_not_allowed", "use GET");
		return ad_list_participants(s, c, room);
	}
	if (!strcmp(rest, "/events")) {
		if (strcmp(method, "GET"))
			return ad_reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED,
					      "method_not_allowed", "use GET");
		return ad_events(s, c, room);
	}
	if (!strcmp(rest, "/tokens")) {
		if (strcmp(method, "POST"))
			return ad_reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED,
					      "method_not_allowed", "use POST");
		return ad_issue_token(s, c, room, b);
	}
	if (!strncmp(rest, "/participants/", 14) && rest[14] &&
	    !strchr(rest + 14, '/'))
		return ad_participant(s, c, method, room, rest + 14, b);
	return ad_reply_error(c, MHD_HTTP_NOT_FOUND, "not_found", "no such path");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct ad_server *s = cls;
	struct ad_body *b = *con_cls;

	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b)
			return MHD_NO;
		*con_cls = b;
		return MHD_YES;
	}
	if (*upload_size) {
		size_t n = *upload_size;
		*upload_size = 0;
		if (b->too_large || b->len + n > AD_MAX_BODY) {
			b->too_large = true;
			return MHD_YES;
		}
		char *d = realloc(b->data, b->len + n + 1);
		if (!d)
			return MHD_NO;
		memcpy(d + b->len, upload, n);
		b->data = d;
		b->len += n;
		b->data[b->len] = '\0';
		return MHD_YES;
	}
	return route(s, c, url, method, b);
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* libmicrohttpd's own unescaping turns %00 into a NUL, and a C string
 * stops there: "/api/v1/rooms/a%00x" would be read as room "a". This one
 * decodes every %XX but %00, which stays as it is, so the path keeps its
 * length and a room id with it fails validation. Returns the new length. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
	char *w = s;

	for (const char *r = s; *r; r++) {
		int hi, lo;
		if (r[0] == '%' && r[1] && r[2] && (hi = hexval(r[1])) >= 0 &&
		    (lo = hexval(r[2])) >= 0 && (hi || lo)) {
			*w++ = (char)(hi << 4 | lo);
			r += 2;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
		    enum MHD_RequestTerminationCode toe)
{
	struct ad_body *b = *con_cls;

	if (b) {
		free(b->data);
		free(b);
		*con_cls = NULL;
	}
}

/* "ip:port" or "[ipv6]:port" → a listening socket. */
static int listen_on(const char *addr, int *fd_out)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char host[64];
	const char *colon = strrchr(addr, ':');
	size_t hl;
	long port;
	char *end;
	int fd, one = 1;

	if (!colon)
		return EINVAL;
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535 || colon == addr)
		return EINVAL;
	hl = (size_t)(colon - addr);
	if (addr[0] == '[' && addr[hl - 1] == ']') {
		addr++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return EINVAL;
	memcpy(host, addr, hl);
	host[hl] = '\0';
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
		len = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
		len = sizeof(struct sockaddr_in6);
	} else {
		return EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 128) < 0) {
		int err = errno;
		close(fd);
		return err;
	}
	*fd_out = fd;
	return 0;
}

/* A whole PEM file, NUL-terminated (malloc'd), or NULL. */
static char *read_pem(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && n < (1 << 20) &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1))) {
		if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
		}
	}
	fclose(f);
	return buf;
}

int ad_server_new(struct ad_server **out, const struct ad_config *cfg,
		  struct mx_engine *mx)
{
	struct ad_server *s;
	char *cert = NULL, *key = NULL;
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_ERROR_LOG;
	int fd = -1, err;

	if (!out || !cfg || !cfg->http_addr || !mx)
		return EINVAL;
	if (cfg->tls_cert || cfg->tls_key) {
		if (!cfg->tls_cert || !cfg->tls_key)
			return EINVAL;
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
			return ENOTSUP;
		cert = read_pem(cfg->tls_cert);
		key = read_pem(cfg->tls_key);
		if (!cert || !key) {
			free(cert);
			free(key);
			return EBADMSG;
		}
		flags |= MHD_USE_TLS;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		free(cert);
		free(key);
		return ENOMEM;
	}
	s->mx = mx;
	s->metrics_auth = cfg->metrics_auth;
	s->recording_retention_days = cfg->recording_retention_days;
	if (cfg->data_dir)
		snprintf(s->data_dir, sizeof(s->data_dir), "%s", cfg->data_dir);
	for (size_t i = 0; cfg->ice_servers && cfg->ice_servers[i] && i < 4; i++)
		snprintf(s->ice_links[s->n_ice_servers++], sizeof(s->ice_links[0]),
			 "<%s>; rel=\"ice-server\"", cfg->ice_servers[i]);
	if (!cfg->admin_key || strlen(cfg->admin_key) >= sizeof(s->admin_key)) {
		free(s);
		free(cert);
		free(key);
		return EINVAL;
	}
	strcpy(s->admin_key, cfg->admin_key);
	snprintf(s->public_url, sizeof(s->public_url), "%s",
		 cfg->public_url ? cfg->public_url : "");
	if (cfg->data_dir) {
		if (ad_jwt_key_load(cfg->data_dir, s->jwt_key) ||
		    ad_store_open(&s->store, cfg->data_dir, cfg->audit_retention_days)) {
			free(s);
			free(cert);
			free(key);
			return EIO;
		}
		ad_restore_rooms(s);
	} else {
		/* No data directory: tokens are valid until the server stops. */
		cm_random(s->jwt_key, sizeof(s->jwt_key));
	}
	snprintf(s->web_dir, sizeof(s->web_dir), "%s",
		 cfg->web_dir ? cfg->web_dir : TUTTI_WEB_DIR);
	err = listen_on(cfg->http_addr, &fd);
	if (err) {
		ad_store_close(&s->store);
		free(s);
		free(cert);
		free(key);
		return err;
	}
	/* Options common to both; the TLS ones only with a certificate (a
	 * NULL PEM would be an error to libmicrohttpd). The connection
	 * timeout closes slow-loris connections; MHD copies the PEMs. */
	if (cert)
		s->daemon = MHD_start_daemon(
			flags, 0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, fd,
			MHD_OPTION_NOTIFY_COMPLETED, on_done, s,
			MHD_OPTION_UNESCAPE_CALLBACK, unescape, s,
			MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
			MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000,
			MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_HTTPS_MEM_KEY, key,
			MHD_OPTION_END);
	else
		s->daemon = MHD_start_daemon(
			flags, 0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, fd,
			MHD_OPTION_NOTIFY_COMPLETED, on_done, s,
			MHD_OPTION_UNESCAPE_CALLBACK, unescape, s,
			MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
			MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000, MHD_OPTION_END);
	free(cert);
	free(key);
	if (!s->daemon) {
		close(fd);
		ad_store_close(&s->store);
		free(s);
		return EIO;
	}
	cm_info("admin", "%s on %s", flags & MHD_USE_TLS ? "https" : "http", cfg->http_addr);
	*out = s;
	return 0;
}

void ad_server_free(struct ad_server **p)
{
	struct ad_server *s = p ? *p : NULL;

	if (!s)
		return;
	MHD_stop_daemon(s->daemon);
	ad_store_close(&s->store);
	free(s);
	*p = NULL;
}
