/*
 * tp_badinput's participant (badinput_peer.c), as the bad inputs
 * (badinput.c) use it. Internal header of tests/interop/.
 */
#ifndef TUTTI_TESTS_INTEROP_BADINPUT_H
#define TUTTI_TESTS_INTEROP_BADINPUT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport/dtls.h"
#include "transport/srtp.h"

struct lg_http_resp;

#define AUDIO_PT        111
#define VIDEO_PT        96
#define AUDIO_SSRC      0x0a0d1001u
#define VIDEO_SSRC      0x0a0d2002u
#define AUDIO_LEN       80 /* payload bytes */
#define VIDEO_LEN       300
#define AUDIO_PERIOD_US 20000
#define VIDEO_PERIOD_US 66000
#define STUN_PERIOD_US  2000000
#define RTCP_PERIOD_US  1000000
#define PKT_CAP         1600
#define N_TIDS          8
#define METRIC_PREFIX   "tutti_transport_dropped_packets_total{reason=\""

struct http_target {
	char host[64];
	uint16_t port;
};

struct peer {
	struct http_target http;
	char location[512];       /* the participant URL */
	int fd;                   /* the socket that passed ICE */
	int fd2;                  /* a second socket that never did ICE */
	struct sockaddr_in media; /* the server's candidate */

	char ufrag[9], pwd[25];
	char srv_ufrag[257], srv_pwd[257], srv_fp_alg[16], srv_fp[160];
	uint32_t srv_ssrc[2]; /* audio, video */

	struct tp_dtls_cert *cert;
	struct tp_dtls *dtls;
	struct tp_dtls *dtls2; /* the intruder's ClientHello */
	struct tp_srtp *tx, *rx;

	uint16_t seq[2];
	uint32_t counter; /* payload counter, shared by audio and video */
	uint64_t next_us[2], next_stun_us, next_rtcp_us;
	uint32_t sent[2];

	uint8_t tids[N_TIDS][12];
	unsigned n_tid;

	/* what came back */
	unsigned echo_ok[2], echo_bad, echo_foreign, rtcp_in, srtp_fail;
	unsigned stun_ok, stun_other;

	/* a protected packet that was sent, for the replay check */
	uint8_t replay[PKT_CAP];
	size_t replay_len;
};

/* Checks that failed so far; report() counts them. */
extern int bi_failures;

/* Prints one check's line: "ok  name (details)" or "FAIL name (...)". */
void bi_report(bool ok, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* One HTTP request to the server (tutti-load's client, perf/load/http.c). */
int bi_http_do(const struct http_target *t, const char *method, const char *path,
	       const char *ctype, const char *body, struct lg_http_resp *r);
/* Reads http://HOST:PORT (or HOST:PORT) into *t; 0 or EINVAL. */
int bi_parse_http(const char *s, struct http_target *t);

void bi_udp_send(int fd, const struct sockaddr_in *to, const uint8_t *buf, size_t len);
/* tp_dtls's send callback for the intruder's socket (fd2). */
void bi_dtls2_send(void *arg, const uint8_t *buf, size_t len);
/* A binding request with the given password (NULL: the right one). */
void bi_send_stun(struct peer *p, const char *pwd, bool fingerprint);
/* Payload bytes of kind (0 audio, 1 video) for counter; their number. */
size_t bi_make_payload(uint8_t *out, int kind, uint32_t counter);
/* Builds and protects the next packet of kind into buf (PKT_CAP bytes). */
int bi_build_media(struct peer *p, int kind, uint8_t *buf, size_t *len);
/* Runs the participant for dur_us (media too if media); until, if not
 * NULL, ends it early when it returns true. */
void bi_run(struct peer *p, uint64_t dur_us, bool media, bool (*until)(struct peer *p));

/* Joins room with an offer and reads the answer (reported as checks). */
int bi_join(struct peer *p, const char *room);
/* ICE, DTLS and the SRTP keys (reported as checks); 0 or an errno. */
int bi_connect_media(struct peer *p);
/* Media for dur_us; reports as name whether the room's media keeps
 * coming and decrypting. */
void bi_check_media(struct peer *p, const char *name, uint64_t dur_us);
/* DELETE of the participant URL; informative only (not a check). */
void bi_leave(struct peer *p);

#endif
