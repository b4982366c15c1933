/*
 * admin/ — the public header: the HTTP server (libmicrohttpd) that serves
 * the web client, the WHIP-style signalling, health and metrics.
 * It talks to rooms only through mixer.h.
 */
#ifndef TUTTI_ADMIN_H
#define TUTTI_ADMIN_H

#include <stdbool.h>

#include "mixer/mixer.h"

struct ad_server;

struct ad_config {
	const char *http_addr; /* "127.0.0.1:8080", "[::1]:8080" */
	const char *web_dir; /* NULL: the web/ folder of the source tree */
	const char *admin_key; /* bearer key of the admin API (required) */
	const char *data_dir; /* the store (tutti.db) and jwt.key live here */
	unsigned audit_retention_days; /* 0: keep the audit log forever */
	const char *public_url; /* "http://host:port": base of join links */
	const char *tls_cert; /* PEM files: serve HTTPS (both or neither) */
	const char *tls_key;
	bool metrics_auth; /* /metrics wants the admin key too */
	unsigned recording_retention_days; /* 0: keep recordings forever */
	/* STUN/TURN servers announced to WHIP/WHEP clients (Link headers):
	 * "stun:host:port" etc., up to 4, NULL-terminated. */
	const char *const *ice_servers;
};

/* Binds and starts serving on libmicrohttpd's threads. mx is borrowed.
 * Returns 0, EINVAL (bad address), EADDRINUSE, EIO (the store cannot be
 * opened), ENOTSUP (HTTPS asked, libmicrohttpd has no TLS), EBADMSG (the
 * certificate or key cannot be read), or another errno. */
int ad_server_new(struct ad_server **out, const struct ad_config *cfg,
		  struct mx_engine *mx);
/* While draining, /readyz answers 503 and new joins get 503. */
void ad_server_set_draining(struct ad_server *s, bool draining);
/* Stops serving and frees; *p becomes NULL. */
void ad_server_free(struct ad_server **p);

#endif
