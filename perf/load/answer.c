/*
 * What a client of tutti needs from its SDP answer: ICE credentials,
 * the DTLS fingerprint, tutti's SSRCs and the UDP candidate. Shared by
 * tutti-load and the interop bad-input peer (tests/interop/badinput_peer.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "transport/sdp.h"
#include "perf/load/load.h"

/* tp_sdp keeps no candidates: the first UDP host candidate, by hand. */
static int first_udp_candidate(const char *sdp, struct sockaddr_in *sa)
{
	const char *l = sdp;
	char ip[64], proto[8];
	unsigned port;

	while ((l = strstr(l, "a=candidate:"))) {
		if (sscanf(l, "a=candidate:%*s %*u %7s %*u %63s %u typ", proto, ip, &port) == 3 &&
		    !strcasecmp(proto, "udp") && port && port < 65536) {
			memset(sa, 0, sizeof(*sa));
			sa->sin_family = AF_INET;
			sa->sin_port = htons((uint16_t)port);
			if (inet_pton(AF_INET, ip, &sa->sin_addr) == 1)
				return 0;
		}
		l++;
	}
	return ENOENT;
}

int lg_answer_parse(const char *sdp, size_t len, struct lg_answer_info *a, char *err,
		    size_t errlen)
{
	static struct tp_sdp s; /* big; one thread */

	memset(a, 0, sizeof(*a));
	if (tp_sdp_parse(&s, sdp, len, err, errlen))
		return EBADMSG;
	snprintf(a->ufrag, sizeof(a->ufrag), "%s", s.ice_ufrag);
	snprintf(a->pwd, sizeof(a->pwd), "%s", s.ice_pwd);
	snprintf(a->fp_alg, sizeof(a->fp_alg), "%s", s.fp_alg);
	snprintf(a->fp, sizeof(a->fp), "%s", s.fp);
	for (size_t i = 0; i < s.n_media; i++) {
		const struct tp_sdp_media *m = &s.media[i];

		/* media-level values where the session has none */
		if (m->ice_ufrag[0] && !a->ufrag[0])
			snprintf(a->ufrag, sizeof(a->ufrag), "%s", m->ice_ufrag);
		if (m->ice_pwd[0] && !a->pwd[0])
			snprintf(a->pwd, sizeof(a->pwd), "%s", m->ice_pwd);
		if (m->fp[0] && !a->fp[0]) {
			snprintf(a->fp_alg, sizeof(a->fp_alg), "%s", m->fp_alg);
			snprintf(a->fp, sizeof(a->fp), "%s", m->fp);
		}
		if (m->n_ssrc && (m->kind == TP_SDP_AUDIO || m->kind == TP_SDP_VIDEO) &&
		    !a->ssrc[m->kind == TP_SDP_VIDEO])
			a->ssrc[m->kind == TP_SDP_VIDEO] = m->ssrc[0];
		if (m->setup[0] && strcmp(m->setup, "passive") && !a->bad_setup[0])
			snprintf(a->bad_setup, sizeof(a->bad_setup), "%s", m->setup);
	}
	if (!a->ufrag[0] || !a->pwd[0] || !a->fp[0]) {
		snprintf(err, errlen, "no ICE credentials or fingerprint");
		return EBADMSG;
	}
	if (first_udp_candidate(sdp, &a->media)) {
		snprintf(err, errlen, "no UDP candidate");
		return ENOENT;
	}
	return 0;
}
