/*
 * mixer/ — the public header: rooms and what happens to media in them.
 *
 * A room has a worker thread (only while someone is in it) that wakes
 * every 20 ms on an absolute deadline, owns all media state of the room,
 * and talks to the rest only through its inbox. Audio: the loudest K
 * unmuted speakers are decoded and mixed; each speaker gets the mix minus
 * its own voice, everyone else the common mix, encoded once per audio
 * tier. Video: each participant gets its own video back until the video
 * compositor lands.
 *
 * Threads: every function here may be called from any thread (the HTTP
 * threads); they post to the room and wait for its answer.
 */
#ifndef TUTTI_MIXER_H
#define TUTTI_MIXER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport/transport.h"

#define MX_ROOM_NAME_MAX 64
#define MX_MAX_SPEAKERS 8

struct mx_engine;

enum mx_mode { MX_MODE_MEETING, MX_MODE_LECTURE };
enum mx_role {
	MX_ROLE_DEFAULT, /* presenter-free meeting member; attendee in a lecture */
	MX_ROLE_PRESENTER,
	MX_ROLE_ATTENDEE,
};
/* Audio tiers of the common mix: normal and low-data receivers. */
enum mx_audio_tier { MX_AUDIO_NORMAL, MX_AUDIO_LOW, MX_AUDIO_TIERS };

enum mx_layout_kind {
	MX_LAYOUT_GRID, /* everyone the same size, up to max_tiles */
	MX_LAYOUT_SPEAKER, /* the active speaker large, a strip of others */
	MX_LAYOUT_PRESENTER, /* the presenter large, others in a strip or hidden */
};

/* Who may share a screen (a second video source on the same connection,
 * shown large while shared): the presenters (default), everyone, nobody. */
enum mx_screen_share { MX_SCREEN_PRESENTERS, MX_SCREEN_EVERYONE, MX_SCREEN_OFF };

#define MX_VIDEO_TIERS 3
#define MX_MAX_TILES 25

struct mx_tier_cfg {
	int width, height; /* even, 16..1920 x 16..1080 */
	int kbps;
};

struct mx_room_cfg {
	enum mx_mode mode;
	unsigned max_participants; /* 1..10000 */
	unsigned speakers; /* K: 1..MX_MAX_SPEAKERS */
	enum mx_layout_kind layout;
	unsigned max_tiles; /* grid: 1..MX_MAX_TILES */
	unsigned fps; /* 1..30 */
	unsigned n_tiers; /* 1..MX_VIDEO_TIERS, smallest first */
	struct mx_tier_cfg tiers[MX_VIDEO_TIERS];
	bool open; /* anyone with the link may join; else a join token is needed */
	bool locked; /* no new joins */
	enum mx_screen_share screen_share;
};
/* meeting, 100 participants, 3 speakers, grid of up to 25, 15 fps,
 * 320x180@150, 640x360@500, 1280x720@1500 kbit/s. */
void mx_room_cfg_init(struct mx_room_cfg *c);
/* Returns 0 or EINVAL with what is wrong. */
int mx_room_cfg_check(const struct mx_room_cfg *c, const char **why);

/* tp is borrowed and must outlive the engine. send_threads: the threads
 * that share the rooms' per-receiver sending with the room threads
 * (mixer/fanout.c; 0: each room sends on its own thread). The caller
 * owns *out. Returns 0, ENOMEM or a thread's error. */
int mx_engine_new(struct mx_engine **out, struct tp_server *tp, unsigned send_threads);
/* Removes every participant (they get a BYE), stops the room threads
 * and frees the rooms. */
void mx_engine_free(struct mx_engine **p);

/* True for a valid room id: [a-z0-9-]{1,64}. */
bool mx_room_name_valid(const char *name);
/* Creates a room. Returns 0, EINVAL (bad name or config), EEXIST, ENOMEM. */
int mx_room_add(struct mx_engine *e, const char *name, const struct mx_room_cfg *cfg);
bool mx_room_exists(struct mx_engine *e, const char *name);
/* Ends a room: everyone in it gets a BYE; the name is free again.
 * Returns 0 or ENOENT. */
int mx_room_remove(struct mx_engine *e, const char *name);
/* The room's configuration now. Returns 0 or ENOENT. */
int mx_room_get_cfg(struct mx_engine *e, const char *name, struct mx_room_cfg *out);
/* Changes what may change while a room lives: max_participants (not below
 * who is in it), locked, open, screen_share (a share that the new setting
 * does not allow ends); a layout change goes to mx_set_layout.
 * Mode, speakers, max_tiles, fps and tiers are fixed at creation.
 * Returns 0, ENOENT, or EINVAL with the reason in *why. */
int mx_room_reconfigure(struct mx_engine *e, const char *name,
			const struct mx_room_cfg *cfg, const char **why);
/* Up to cap room names, in creation order (oldest first). Returns how
 * many rooms there are (may exceed cap). */
size_t mx_room_names(struct mx_engine *e, char (*names)[MX_ROOM_NAME_MAX + 1], size_t cap);

/* Joins a participant to a room with its SDP offer. On success *answer
 * is a malloc'd SDP answer (the caller frees it) and id the
 * participant's id. Returns 0; ENOENT (no such room); EBUSY (the room
 * is full); EACCES (the room is locked); EBADMSG (unparsable offer) or EPROTO (an offer tutti cannot
 * serve), both with a reason in err; ESHUTDOWN; ENOMEM. */
#define MX_NAME_MAX 128 /* display names, bytes of UTF-8 */
/* A participant's id is public (rosters, layouts); its secret, given only
 * to itself at join, is what lets it act on its own resource (leave,
 * hand, data cap) without other credentials. */
#define MX_SECRET_LEN 24

int mx_join(struct mx_engine *e, const char *room, enum mx_role role, const char *name,
	    const char *offer, size_t len, char **answer,
	    char id[TP_PEER_ID_LEN + 1], char secret[MX_SECRET_LEN + 1], char *err,
	    size_t errlen);
/* Removes a participant: it gets a BYE and no more media. secret: the
 * participant's own (it leaves), or NULL for an admin or presenter.
 * Returns 0 or ENOENT (no such room or participant, or a wrong secret). */
int mx_leave(struct mx_engine *e, const char *room, const char *id, const char *secret);
/* Recording (mixer/record.h): the largest tier's composite and the common
 * audio mix into a WebM file at path, from the encoders' own output.
 * Start: 0, ENOENT (no room), EAGAIN (nobody in it: nothing to record),
 * EALREADY (recording), EIO (the file cannot be made). Stop: 0 with what
 * was written, or ENOENT (no room, or not recording). A recording also
 * stops when the room empties or the server stops. */
struct mx_rec_info;
int mx_record_start(struct mx_engine *e, const char *room, const char *path);
int mx_record_stop(struct mx_engine *e, const char *room, struct mx_rec_info *info);

/* True when the room has this participant and secret is its own. */
bool mx_participant_secret_ok(struct mx_engine *e, const char *room, const char *id,
			      const char *secret);
/* Server-side mute: a muted participant is never mixed.
 * Returns 0 or ENOENT. */
int mx_mute(struct mx_engine *e, const char *room, const char *id, bool muted);
/* A participant's role (presenters are unmuted and shown large in the
 * presenter layout). Returns 0 or ENOENT. */
int mx_set_role(struct mx_engine *e, const char *room, const char *id, enum mx_role role);
/* Puts a participant large (speaker/presenter layouts), or nobody (id
 * NULL). Returns 0 or ENOENT. */
int mx_spotlight(struct mx_engine *e, const char *room, const char *id);
/* A participant's own choices: a raised hand, and a data cap. */
enum mx_data_cap {
	MX_CAP_AUTO, /* what its link allows (its bandwidth estimate) */
	MX_CAP_LOW, /* at most the smallest video tier, the low-data audio tier */
	MX_CAP_AUDIO_ONLY, /* no video at all, the low-data audio tier */
};
int mx_set_hand(struct mx_engine *e, const char *room, const char *id, const char *secret,
		bool raised);
int mx_set_data_cap(struct mx_engine *e, const char *room, const char *id,
		    const char *secret, enum mx_data_cap cap);
/* A receiver's video tier (0 = smallest), pinned: its bandwidth estimate
 * no longer moves it until the participant sets a data cap again.
 * Returns 0, ENOENT or EINVAL. */
int mx_set_tier(struct mx_engine *e, const char *room, const char *id, int tier);
/* Starts or stops a participant's screen share (its second video m-line;
 * see mx_screen_share). secret: the participant's own, or NULL for an
 * admin or presenter. One share at a time: starting takes the screen
 * from whoever shared (a presenter may take over a share). Stopping
 * someone who does not share is not an error. Returns 0, ENOENT, EPERM
 * (the room's screen_share does not allow it for this participant) or
 * EBUSY (another participant shares and the caller may not take over). */
int mx_set_screen(struct mx_engine *e, const char *room, const char *id, const char *secret,
		  bool on);
const char *mx_screen_share_name(enum mx_screen_share s);
/* "presenters", "everyone", "off". Returns 0 or EINVAL. */
int mx_screen_share_parse(const char *name, enum mx_screen_share *out);

/* The room's layout, at run time. Returns 0 or ENOENT. */
int mx_set_layout(struct mx_engine *e, const char *room, enum mx_layout_kind kind);
const char *mx_layout_name(enum mx_layout_kind kind);
/* "grid", "speaker", "presenter". Returns 0 or EINVAL. */
int mx_layout_parse(const char *name, enum mx_layout_kind *out);

/* What arrives of a participant's audio: its jitter buffer's counts. */
struct mx_audio_in_info {
	uint64_t received, late, lost, fec, concealed, discarded, flushes;
	unsigned target_ms, depth_ms;
};

/* One participant as the room sees it, for the API. */
struct mx_part_info {
	char id[TP_PEER_ID_LEN + 1];
	char name[MX_NAME_MAX + 1];
	enum mx_role role;
	bool muted;
	bool connected;
	bool speaking;
	bool audio_speaker; /* among the K mixed now */
	bool video_visible; /* in the layout now */
	bool spotlight;
	bool hand; /* raised */
	bool screen; /* shares its screen now */
	enum mx_data_cap data_cap;
	int video_tier; /* what it receives, -1 none yet */
	enum tp_codec video_codec; /* negotiated for its video (both ways), or NONE */
	uint64_t video_decodes; /* its frames decoded */
	uint64_t video_frames_sent; /* composite frames sent to it */
	unsigned video_fps; /* frames per second it is sent now (0: none) */
	enum mx_audio_tier audio_tier;
	int level; /* 0 audio only; 2t+1 tier t at half rate, 2t+2 at full */
	bool tier_pinned; /* set by an admin, not by its estimate */
	uint32_t estimate_bps; /* what its link can take (docs/bandwidth.md) */
	uint32_t acked_bps; /* what it received, from TWCC; 0 unknown */
	uint32_t remb_bps; /* its last REMB while fresh; 0 none */
	bool twcc; /* it sends transport-wide feedback */
	uint64_t retransmits, retransmits_dropped; /* NACKs answered; over budget */
	uint64_t probes_ok, probes_failed; /* link probes before a step up */
	struct tp_pacer_stats pacer; /* its pacer: queued now, dropped */
	struct tp_sender_stats net; /* what its receiver reports say */
	struct mx_audio_in_info audio_in;
};
/* Up to cap participants. Returns 0 or ENOENT. */
int mx_room_participants(struct mx_engine *e, const char *room,
			 struct mx_part_info *out, size_t cap, size_t *n);

/* Where each participant is on the largest tier's canvas. A shared
 * screen is a tile of its own (screen set, id its sharer's). */
struct mx_layout_info {
	enum mx_layout_kind kind;
	int width, height; /* the largest tier */
	char screen_by[TP_PEER_ID_LEN + 1]; /* who shares a screen, "" nobody */
	size_t n;
	struct {
		char id[TP_PEER_ID_LEN + 1];
		int x, y, w, h; /* the picture's rectangle */
		bool large;
		bool screen;
	} tiles[MX_MAX_TILES];
};
int mx_room_layout(struct mx_engine *e, const char *room, struct mx_layout_info *out);

/* Changes others should hear of (roster, mute, hands, speaking, layout)
 * bump a room's version. Waits until the version differs from seen or
 * timeout_ms passes; *version is the current one. Returns 0 or ENOENT
 * (no such room, or it ended). Any thread (the events stream). */
int mx_room_wait_change(struct mx_engine *e, const char *room, uint64_t seen,
			int timeout_ms, uint64_t *version);

/* Every field a uint64_t (the engine sums and copies them as an array). */
struct mx_room_stats {
	uint64_t participants;
	uint64_t ticks; /* 20 ms ticks run */
	uint64_t missed_deadlines; /* ticks that ended after the next deadline */
	uint64_t missed_audio_deadlines; /* ticks whose audio left after the next deadline */
	uint64_t audio_ahead_ticks; /* ticks whose audio was made by the tick before (tick.c) */
	uint64_t audio_encodes; /* Opus encodes: K + tiers per tick, not N */
	uint64_t audio_decodes;
	uint64_t video_decodes;
	uint64_t video_encodes; /* VP8 encodes: one per tier per frame, not per receiver */
	uint64_t video_keyframes;
	uint64_t video_retransmits; /* packets resent for NACKs */
	uint64_t video_nacks_queued; /* NACKed packets not resent: still in the pacer */
	uint64_t video_repairs_early; /* of the retransmits: for TWCC's lost, before a NACK */
	uint64_t inbound_dropped; /* the inbox was full */
	uint64_t audio_encode_us, audio_decode_us; /* time spent, summed */
	uint64_t video_encode_us, video_decode_us, video_compose_us;
	uint64_t video_receivers[MX_VIDEO_TIERS]; /* receivers per tier now */
	/* Overload control (tick.c): the room worker's own CPU time as a
	 * share of its 20 ms ticks over the last second (per mille), the
	 * video frame rate it runs at now (lowered when ticks run late),
	 * video frames skipped so that late audio ticks catch up, and 1
	 * while the worker is overloaded (new joins get 503). */
	uint64_t load_permille;
	uint64_t video_fps_now;
	uint64_t video_skipped_ticks;
	uint64_t overloaded;
	uint64_t recording; /* 1 while the room is being recorded */
	/* The latest a tick has started after its deadline since the room
	 * began, µs (scheduling, not the room's own work); a maximum, also
	 * in the engine's totals. */
	uint64_t tick_late_max_us;
	uint64_t pacer_queued_bytes; /* in its receivers' pacers now */
	uint64_t pacer_dropped_bytes; /* dropped by them (bound, age) */
	/* CPU time the send threads spent on its receivers (fanout.c), µs;
	 * the room thread's own share of the sending is not in it. */
	uint64_t send_pool_us;
};
/* True while some room worker is overloaded: joins should be refused
 * (503) rather than degrade everyone. Any thread. */
bool mx_engine_overloaded(struct mx_engine *e);

/* Returns 0 or ENOENT. */
int mx_room_stats(struct mx_engine *e, const char *room, struct mx_room_stats *out);

struct mx_stats {
	size_t rooms;
	size_t participants;
	struct mx_room_stats total; /* summed over rooms */
	struct tp_stats transport;
};
void mx_engine_stats(struct mx_engine *e, struct mx_stats *out);

#endif
