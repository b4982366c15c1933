/* Private to mixer/: the engine, rooms, participants and the audio mix. */
#ifndef TUTTI_MIXER_INTERNAL_H
#define TUTTI_MIXER_INTERNAL_H

#include <pthread.h>

#include "codecs/codecs.h"
#include "mixer/dsp/dsp.h"
#include "mixer/dsp/video.h"
#include "mixer/inbox.h"
#include "mixer/jitter.h"
#include "mixer/record.h"
#include "mixer/limiter.h"
#include "mixer/mixer.h"
#include "mixer/speakers.h"
#include "mixer/video.h"

#define MX_TICK_US 20000
#define MX_FRAME 960 /* samples of one 20 ms tick at 48 kHz */
#define MX_INBOX_POOL 4096 /* media messages in flight per room */

struct mx_room;

/* The argument of a participant's transport events: the way to its room.
 * Made by mx_join; freed by the room thread once the transport is done
 * with it (after CLOSED, or after the room removed the peer). */
struct mx_link {
	struct mx_room *room;
	char id[TP_PEER_ID_LEN + 1];
	char secret[MX_SECRET_LEN + 1];
	char name[MX_NAME_MAX + 1];
	enum mx_role role;
	struct mx_part *part; /* room thread only: NULL until MX_MSG_ADD */
	bool closed; /* room thread only: CLOSED came before ADD */
	struct mx_link *retired_next; /* room thread only: see mx_room.retired */
};

/* What a receiver is sent, chosen from its bandwidth estimate (rate.c).
 * Levels: 0 audio only; then per video tier t, 2t+1 its base temporal
 * layer (half the frame rate) and 2t+2 every frame. */
struct mx_rate {
	int level;
	bool pinned; /* an admin set its tier: the estimate no longer moves it */
	uint64_t last_change_us, last_up_us;
	uint64_t hold_us; /* wait before the next step up */
	uint64_t seen_overuse_us;
	uint32_t estimate_bps, acked_bps;
	double loss; /* smoothed reported loss, 0..1, for Opus FEC */
	bool heavy_loss; /* a lossy link: the smallest tier, frames twice (rate.c) */
	uint64_t loss_us;
	uint64_t rtx_sent, rtx_dropped; /* retransmissions, and those over budget */
	double rtx_tokens; /* bytes retransmissions may still take */
	uint64_t rtx_refill_us;
	/* Probing before a step up (docs/bandwidth.md) and the pacer. */
	uint32_t probe_id; /* the cluster asked for, 0 none */
	int probe_level; /* ... for a step up to this level */
	double probe_want; /* ... which needed this (bit/s) then */
	uint64_t probe_retry_us; /* no new probe before this (one went unanswered) */
	uint64_t probes_ok, probes_failed;
	uint64_t pacer_drops_seen; /* video packets its pacer dropped, last seen */
	uint64_t pacer_down_us; /* when those drops last moved it down */
	uint64_t thin_until_us; /* base temporal layer only until then (a probe) */
	uint64_t pacer_dropped_bytes; /* bytes, last counted into the room's total */
};

/* A participant: room thread only. */
struct mx_part {
	struct mx_link *link;
	char id[TP_PEER_ID_LEN + 1];
	char secret[MX_SECRET_LEN + 1];
	char name[MX_NAME_MAX + 1];
	enum mx_role role;
	bool muted;
	bool hand;
	enum mx_data_cap cap;
	enum mx_audio_tier tier;
	struct tp_sender *sender; /* from CONNECTED on */

	/* audio in */
	struct mx_jb *jb;
	struct cx_opus_dec *dec;
	struct mx_spk spk;
	uint8_t level_ext; /* RFC 6464 extension id, 0 = none */
	int level_now; /* loudest -dBov this tick, -1 = none */
	struct mx_jb_frame frame; /* this tick's, from the jitter buffer */
	bool has_pcm;
	int16_t pcm[MX_FRAME];

	/* audio out */
	int slot; /* speaker slot, -1 = listener of the common mix */
	uint16_t a_seq;
	uint32_t a_ts_base;
	bool a_marker; /* next packet starts a talkspurt */

	/* video */
	uint64_t join_seq; /* order of arrival: the layout's order */
	struct mx_vin *vin; /* what it sends */
	struct mx_vin *screen; /* its shared screen: made at its first packet */
	uint64_t screen_rx_us; /* when that screen's last packet came */
	uint64_t screen_refused_us; /* its screen packets were last dropped (not allowed) */
	struct mx_vout vout; /* what it receives */
	struct mx_rate rate;
};

/* The room's figures: the room thread adds to them (atomics); others read
 * them with mx_room_stats. participants and inbound_dropped are filled in
 * at reading time. */
#define MX_STATS_WORDS (sizeof(struct mx_room_stats) / sizeof(uint64_t))

struct mx_audio; /* audio.c */

struct mx_room {
	struct mx_engine *engine;
	char name[MX_ROOM_NAME_MAX + 1];
	struct mx_room_cfg cfg;
	struct mx_room *next;

	size_t capacity; /* the most participants it was made for */

	/* Under the engine's lock. */
	size_t members; /* joined or joining */
	bool running;
	bool joinable; /* a thread exists that must be joined */
	bool stop; /* the engine is closing or the room ends: leave everyone */
	bool deleted; /* ended: no longer in the engine's list */
	pthread_t thread;

	struct mx_inbox inbox;
	struct mx_room_stats ctr;
	uint64_t version; /* under the engine's change lock */
	bool changed; /* room thread: something others should hear of */
	uint64_t speaking_sig; /* room thread: who spoke at the last tick */

	/* Room thread only. */
	struct mx_part **parts;
	size_t n_parts;
	struct tp_batch *batch; /* batches[0] */
	/* fanout.c: a batch per worker of the engine's send pool, [0]
	 * the room thread's; whether this tick's sending is split. */
	struct tp_batch **batches;
	unsigned n_batches;
	bool fanout_parallel;
	unsigned fanout_min, fanout_chunk; /* receivers: split from, per chunk */
	struct mx_audio *audio;
	struct mx_video *video;
	uint64_t tick;
	/* The tick under way (tick.c), for mx_room_audio_due: its time, the
	 * tick whose audio was made ahead (and whether after its deadline),
	 * where its time goes; NULL between ticks. */
	uint64_t tick_now_us, ahead_us;
	bool ahead_late;
	struct mx_tick_times *tick_tt;
	/* Overload control: this second's ticks, late ones and the
	 * worker's CPU time; the video frame-rate divisor and when it last
	 * changed. */
	unsigned win_ticks, win_late;
	uint64_t win_cpu_us, fps_changed_us;
	unsigned fps_div;
	bool fps_judge; /* the last step down was for late ticks: judge it */
	unsigned fps_late_before; /* the late ticks that made it */
	uint64_t fps_futile_until_us; /* late ticks alone lower no more until then */
	struct mx_rec *rec; /* recording, or NULL */
	uint64_t next_join_seq;
	struct mx_part *active_speaker; /* the loudest of the K, or NULL */
	struct mx_part *spotlight; /* set by an admin or presenter, or NULL */
	struct mx_part *sharer; /* shares its screen (screen.c), or NULL */
	uint64_t share_since_us; /* when that share started */
	bool share_shown; /* its first picture was composed */
	/* Links of participants that left. Messages pushed before the
	 * transport let go of a link may still sit in the inbox, so a link
	 * retired during one drain is freed after the next one. */
	struct mx_link *retired, *retired_prev;
};

/* video.c, for recording: the recorded tier (the largest) and its size;
 * start asks that tier for a keyframe. */
void mx_video_record_size(const struct mx_video *v, int *w, int *h);
void mx_video_record_start(struct mx_video *v);

/* video.c: frames every div-th frame time (1 = the room's fps). */
void mx_video_set_fps_div(struct mx_video *v, unsigned div);

/* engine.c */
struct tp_server *mx_engine_tp(struct mx_engine *e);
/* The send threads rooms share (NULL or none: --send-threads 0). */
struct cm_pool *mx_engine_send_pool(struct mx_engine *e);
pthread_mutex_t *mx_engine_lock(struct mx_engine *e);
/* The room thread, after a tick in which r->changed was set. */
void mx_engine_publish(struct mx_engine *e, struct mx_room *r);

/* fanout.c: the room's batches (one per send worker); at a tick's
 * start, whether its sends are kept for the fan-out; after the audio,
 * what was made so far sent (mx_fanout_audio: the audio leaves before
 * the video is made); at the tick's end, every receiver's pacing and
 * sending, split over the send pool when the room is large. Both return
 * what to add to the room thread's CPU time of the tick for the overload
 * control. Room thread only. */
int mx_fanout_init(struct mx_room *r);
void mx_fanout_fini(struct mx_room *r);
void mx_fanout_begin(struct mx_room *r);
int64_t mx_fanout_audio(struct mx_room *r);
int64_t mx_fanout_pace(struct mx_room *r);

/* part_info.c: what the participants API shows of p. Room thread. */
void mx_part_info(struct mx_room *r, struct mx_part *p, struct mx_part_info *i,
		  uint64_t now);

/* room.c */
int mx_room_create(struct mx_room **out, struct mx_engine *e, const char *name,
		   const struct mx_room_cfg *cfg);
void mx_room_destroy(struct mx_room **r);
/* The room was removed from the engine (its lock not held): the worker
 * says BYE to everyone and ends; what it held is freed when no join is
 * under way. */
void mx_room_end(struct mx_room *r);
/* Under the engine lock: starts the worker if it is not running. */
int mx_room_ensure_running(struct mx_room *r);
/* The worker (tick.c), and what it asks of the room (room.c): the inbox
 * handled (all of it; or only the audio packets ahead of the first
 * command or membership change, the rest kept in order), whether it may
 * end (nobody in the room, nothing coming), its recording closed and
 * everyone out as it ends. */
void *mx_room_main(void *arg);
/* Called between the steps of a tick's video (a decode, a tier's compose
 * or encode): once the next tick's deadline has passed, its audio is made
 * and sent at once, so that no further video step holds it. Returns the
 * µs that took (0: not due). */
uint64_t mx_room_audio_due(struct mx_room *r);
void mx_room_drain(struct mx_room *r);
void mx_room_drain_audio(struct mx_room *r);
bool mx_room_may_end(struct mx_room *r);
void mx_room_wind_up(struct mx_room *r);
/* New video tiers for a room with no worker (engine lock held). */
int mx_room_retier(struct mx_room *r, const struct mx_room_cfg *cfg);
/* The room's configured layout into its video state (worker or offline). */
void mx_room_apply_layout(struct mx_room *r);
extern const struct tp_peer_events mx_room_events;

/* rate.c: each receiver's level from its estimate, with hysteresis. */
void mx_rate_part_init(struct mx_room *r, struct mx_part *p, uint64_t now);
/* Once per tick, before the media: levels, audio tiers, encoder rates. */
void mx_rate_tick(struct mx_room *r, uint64_t now);
/* The data cap or an admin's tier changed: apply at once. */
void mx_rate_apply(struct mx_room *r, struct mx_part *p, uint64_t now);
/* May a retransmission of len bytes go to p now (the budget: a share of
 * its estimate)? Takes the bytes when it may. */
bool mx_rate_rtx_allowed(struct mx_part *p, size_t len, uint64_t now);
/* A link that loses 10 % or more, with an RTX stream: each of its frames
 * goes twice (video_send.c), and the copies count in its rates. */
bool mx_rate_copies(const struct mx_part *p);
/* Frames per second p is sent now (0: none). */
unsigned mx_rate_fps(const struct mx_room *r, const struct mx_part *p);

/* screen.c: who shares a screen (one at a time, as the room's
 * screen_share allows), and the screen's packets. */
int mx_screen_set(struct mx_room *r, struct mx_part *p, bool on, bool by_self);
/* The room's screen_share changed: a share it no longer allows ends. */
void mx_screen_policy(struct mx_room *r);
void mx_screen_input(struct mx_room *r, struct mx_part *p, const uint8_t *pkt, size_t len,
		     const struct tp_rtp_hdr *h, uint64_t now);
/* Once per tick: a share whose media stopped for long ends. */
void mx_screen_tick(struct mx_room *r, uint64_t now);
/* p leaves: its share ends. */
void mx_screen_part_gone(struct mx_room *r, struct mx_part *p);

/* audio.c: the audio half of a tick. */
int mx_audio_new(struct mx_audio **out, const struct mx_room_cfg *cfg);
void mx_audio_free(struct mx_audio **a);
int mx_audio_part_init(struct mx_part *p);
void mx_audio_part_fini(struct mx_audio *a, struct mx_part *p);
/* An inbound audio packet of p. */
void mx_audio_input(struct mx_part *p, const uint8_t *pkt, size_t len,
		    const struct tp_rtp_hdr *h, uint64_t arrival_us);
/* Opus FEC and expected loss of each encoder from its listeners' loss. */
void mx_audio_adapt(struct mx_room *r);
/* Selects, decodes, mixes, encodes and sends one 20 ms tick. */
void mx_audio_tick(struct mx_room *r, uint64_t now);

#endif
