/*
 * The echo room of the transport milestone: every RTP packet a participant
 * sends comes back to it under tutti's own SSRC, same sequence numbers and
 * timestamps, without header extensions. Keyframe requests and NACKs from
 * the browser for tutti's video are passed on to the browser's own sender,
 * which works because the sequence numbers are kept.
 */
#include <string.h>

#include "common/common.h"
#include "mixer/internal.h"

#define PLI_MIN_INTERVAL_US 300000

static void request_keyframe(struct mx_part *mp, struct tp_peer *p, uint64_t now)
{
	uint8_t buf[64];
	size_t len;

	if (!mp->in_video_ssrc || now - mp->last_pli_us < PLI_MIN_INTERVAL_US)
		return;
	if (tp_rtcp_write_pli(buf, sizeof(buf), &len,
			      tp_peer_local_ssrc(p, TP_SDP_VIDEO),
			      mp->in_video_ssrc) == 0 &&
	    tp_peer_send_rtcp(p, buf, len) == 0)
		mp->last_pli_us = now;
}

static void echo_state(void *arg, struct tp_peer *p, enum tp_peer_state st)
{
	struct mx_part *mp = arg;

	if (st == TP_PEER_CONNECTED)
		cm_info("mixer", "participant %s connected", mp->id);
	else
		mx_part_closed(mp);
}

static void echo_rtp(void *arg, struct tp_peer *p, enum tp_sdp_kind kind,
		     uint8_t *pkt, size_t len, const struct tp_rtp_hdr *h)
{
	struct mx_part *mp = arg;
	struct tp_rtp_hdr out = {
		.marker = h->marker,
		.pt = h->pt,
		.seq = h->seq,
		.ts = h->ts,
		.ssrc = tp_peer_local_ssrc(p, kind),
	};
	uint8_t buf[1500];
	size_t n;

	if (kind == TP_SDP_VIDEO && h->ssrc != mp->in_video_ssrc) {
		/* A new video sender: start the echo on a keyframe. */
		mp->in_video_ssrc = h->ssrc;
		mp->last_pli_us = 0;
		request_keyframe(mp, p, cm_now_us());
	}
	if (tp_rtp_write(buf, sizeof(buf), &n, &out, pkt + h->hdr_len,
			 h->payload_len) == 0)
		tp_peer_send_rtp(p, buf, n);
}

static void echo_rtcp(void *arg, struct tp_peer *p, const uint8_t *pkt, size_t len)
{
	struct mx_part *mp = arg;
	uint32_t our_video = tp_peer_local_ssrc(p, TP_SDP_VIDEO);
	struct tp_rtcp_iter it;
	struct tp_rtcp_pkt pk;

	tp_rtcp_iter_init(&it, pkt, len);
	while (tp_rtcp_next(&it, &pk) == 0) {
		if ((pk.kind == TP_RTCP_K_PLI && pk.media_ssrc == our_video) ||
		    pk.kind == TP_RTCP_K_FIR) {
			request_keyframe(mp, p, cm_now_us());
		} else if (pk.kind == TP_RTCP_K_NACK && pk.media_ssrc == our_video &&
			   mp->in_video_ssrc) {
			uint16_t seqs[64];
			uint8_t buf[512];
			size_t n = tp_rtcp_nack_seqs(&pk, seqs, CM_ARRAY_SIZE(seqs)), w;
			if (n && tp_rtcp_write_nack(buf, sizeof(buf), &w, our_video,
						    mp->in_video_ssrc, seqs, n) == 0)
				tp_peer_send_rtcp(p, buf, w);
		}
	}
}

const struct tp_peer_events mx_echo_events = {
	.on_state = echo_state,
	.on_rtp = echo_rtp,
	.on_rtcp = echo_rtcp,
};
