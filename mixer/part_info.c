/*
 * What the participants API shows of one participant (mx_participants):
 * filled on the room thread, which owns the participant and, between
 * ticks, its sender (pacer, estimate), when it reads the request from its
 * inbox.
 */
#include <string.h>

#include "common/common.h"
#include "mixer/internal.h"

void mx_part_info(struct mx_room *r, struct mx_part *p, struct mx_part_info *i,
		  uint64_t now)
{
	memset(i, 0, sizeof(*i));
	memcpy(i->id, p->id, sizeof(i->id));
	memcpy(i->name, p->name, sizeof(i->name));
	i->role = p->role;
	i->muted = p->muted;
	i->connected = p->sender != NULL;
	i->speaking = mx_spk_speaking(&p->spk, now);
	i->audio_speaker = p->slot >= 0;
	i->video_visible = mx_video_visible(p);
	i->spotlight = r->spotlight == p;
	i->hand = p->hand;
	i->screen = r->sharer == p;
	i->data_cap = p->cap;
	if (p->sender)
		tp_sender_get_stats(p->sender, &i->net);
	else
		i->net.rtt_ms = -1;
	i->video_tier = p->vout.started ? p->vout.tier : -1;
	i->video_codec = p->sender ? tp_sender_codec(p->sender, TP_SDP_VIDEO) : TP_CODEC_NONE;
	i->video_decodes = mx_video_decodes(p);
	i->video_frames_sent = p->vout.frames_sent;
	i->video_fps = mx_rate_fps(r, p);
	i->audio_tier = p->tier;
	i->level = p->rate.level;
	i->tier_pinned = p->rate.pinned;
	i->estimate_bps = p->rate.estimate_bps;
	i->retransmits = p->rate.rtx_sent;
	i->retransmits_dropped = p->rate.rtx_dropped;
	i->probes_ok = p->rate.probes_ok;
	i->probes_failed = p->rate.probes_failed;
	if (p->sender) {
		struct tp_bwe_state st;
		tp_sender_bwe(p->sender, now, &st);
		i->acked_bps = st.acked_bps;
		i->remb_bps = st.remb_bps;
		i->twcc = st.has_twcc;
		tp_sender_pacer_stats(p->sender, now, &i->pacer);
	}
	struct mx_jb_stats js;
	mx_jb_get_stats(p->jb, &js);
	i->audio_in = (struct mx_audio_in_info){
		.received = js.received, .late = js.late, .lost = js.lost, .fec = js.fec,
		.concealed = js.concealed, .discarded = js.discarded, .flushes = js.flushes,
		.target_ms = js.target_ms, .depth_ms = js.depth_ms,
	};
}
