/*
 * libFuzzer target for the SDP offer parser, negotiation and answer
 * writer. Whatever the input, nothing may read or write out of bounds;
 * and an answer tutti writes must parse again with tutti's own parser.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "transport/sdp.h"

static const struct tp_sdp_local local = {
    .ice_ufrag = "fUzZ",
    .ice_pwd = "fuzzfuzzfuzzfuzzfuzzfuzz",
    .fingerprint = "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:"
		   "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF",
    .cand_ip = "192.0.2.1",
    .cand_port = 10000,
    .audio_ssrc = 1,
    .video_ssrc = 2,
    .cname = "fuzz",
    .stream_id = "fuzz",
    .session_id = 1,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tp_sdp offer, again;
	static struct tp_sdp_neg neg;
	static char answer[16384];
	char err[256];
	size_t len = 0;

	if (tp_sdp_parse(&offer, (const char *)data, size, err, sizeof(err)))
		return 0;
	if (tp_sdp_negotiate(&offer, &neg, err, sizeof(err)))
		return 0;
	if (tp_sdp_write_answer(answer, sizeof(answer), &len, &offer, &neg, &local))
		return 0;
	if (len != strlen(answer) ||
	    tp_sdp_parse(&again, answer, len, err, sizeof(err)) ||
	    again.n_media != offer.n_media)
		abort();
	return 0;
}
