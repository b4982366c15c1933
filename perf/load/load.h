/*
 * tutti-load: a load generator that joins participants to a room through
 * the real protocol (HTTP join with SDP, STUN, DTLS, SRTP) or, to drive
 * peers without ICE on loopback (Janus AudioBridge, a GStreamer
 * pipeline), through plain RTP. It replays media encoded once into files
 * and measures what comes back. Internal header of perf/load/.
 */
#ifndef TUTTI_PERF_LOAD_H
#define TUTTI_PERF_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>

#include "codecs/codecs.h"

struct tp_dtls;
struct tp_dtls_cert;
struct tp_srtp;

/* ---- pre-encoded media (media.c) ------------------------------------------ */

#define LG_FPS 15
#define LG_VIDEO_FRAMES                                                                  \
	128 /* a multiple of LG_COUNTER_MOD: the counter loops with the file */
#define LG_COUNTER_MOD  64      /* the frame counter drawn into every picture */
#define LG_SLOT_US      1000000 /* one speaker's tone per slot */
#define LG_TONE_FRAMES  15      /* 300 ms of tone at the start of a slot */
#define LG_AUDIO_FRAMES 250     /* 5 s of silence, looped */

#define LG_LATE_BINS    100

enum { LG_F_KEY = 1, LG_F_DTX = 2 }; /* (4, a tone's first frame, is no longer read) */

struct lg_frame {
	uint32_t off, len;
	uint8_t flags, level; /* level: RFC 6464 -dBov, 127 silence */
};

/* One encoded track: frames back to back in data. */
struct lg_track {
	uint8_t *data;
	size_t n;
	struct lg_frame *f;
};

enum lg_res { LG_180P, LG_360P, LG_720P, LG_RES_COUNT };

struct lg_media {
	struct lg_track voice;                  /* one slot: tone then silence (DTX) */
	struct lg_track silence;                /* DTX silence */
	struct lg_track video[LG_RES_COUNT];    /* delta frames (keyframe at 0, 64) */
	struct lg_track videokey[LG_RES_COUNT]; /* every frame as a keyframe */
	/* Where the tone starts in the voice track's own first frame, decoded
	 * (ms): the sender's Opus delay, which a receiver of that stream
	 * without any server between would measure too. */
	int tone_onset_ms;
};

extern const int lg_res_w[LG_RES_COUNT], lg_res_h[LG_RES_COUNT],
    lg_res_kbps[LG_RES_COUNT];

/* Loads the tracks from dir, encoding and writing any that is missing
 * (once; later runs reuse the files). Returns 0 or an errno. */
int lg_media_load(struct lg_media *m, const char *dir);
void lg_media_free(struct lg_media *m);

/* Reads the counter drawn by the media from the rectangle (x, y, w, h)
 * of a decoded picture where a sender's picture is shown. Returns the
 * counter (0..LG_COUNTER_MOD-1) or -1 when the cells do not read clearly. */
int lg_read_counter(const struct cx_picture *pic, int x, int y, int w, int h);

/* Tone onset in a decoded 20 ms frame: the first millisecond (0..19)
 * whose level rises above the threshold, or -1. */
int lg_tone_onset(const int16_t *pcm, size_t n);

/* ---- tiny HTTP/1.1 client (http.c) --------------------------------------- */

struct lg_http_resp {
	int status;
	char location[512];
	char *body; /* into buf */
	size_t body_len;
	char buf[4 * 1024 * 1024 + 1]; /* a room of 1000 is ~500 KiB of JSON */
};

/* One request on a fresh connection from source address src (NULL: any
 * loopback address; the server limits joins per address). auth is a
 * bearer credential or NULL. Returns 0 or -1 (no answer). */
int lg_http(const char *host, uint16_t port, const char *src, const char *method,
	    const char *path, const char *auth, const char *ctype, const char *body,
	    struct lg_http_resp *r);
/* The same in two halves, for requests whose answers are awaited in the
 * event loop: send returns the connected socket (or -1); read takes the
 * answer from it and closes it. */
int lg_http_send(const char *host, uint16_t port, const char *src, const char *method,
		 const char *path, const char *auth, const char *ctype, const char *body);
int lg_http_read(int fd, struct lg_http_resp *r);

/* ---- tutti's SDP answer (answer.c) ---------------------------------------- */

struct lg_answer_info {
	char ufrag[257], pwd[257], fp_alg[16], fp[160];
	char bad_setup[16];       /* a media's a=setup other than passive, or "" */
	uint32_t ssrc[2];         /* tutti's audio and video SSRCs, 0 if none */
	struct sockaddr_in media; /* the first UDP candidate */
};

/* Reads an answer into *a. Returns 0, EBADMSG (not SDP, or no ICE
 * credentials or fingerprint) or ENOENT (no UDP candidate), with the
 * reason in err. */
int lg_answer_parse(const char *sdp, size_t len, struct lg_answer_info *a, char *err,
		    size_t errlen);

/* ---- what is measured (report.c) ------------------------------------------- */

struct lg_snap {
	double cpu_s;  /* server utime + stime */
	double self_s; /* this process */
	double rss_mb; /* server VmHWM */
	double missed, missed_audio, a_enc, v_enc, v_enc_s, v_comp_s, v_dec_s; /* tutti's /metrics */
	double v_decs, v_skipped; /* ... VP8 frames decoded, video ticks skipped (room behind) */
	uint64_t t_us;
	double wall_s; /* CLOCK_REALTIME, to match perf/stall_probe's record */
};

/* The server's current RSS (VmRSS, MiB) and its open file descriptors
 * (entries of /proc/PID/fd); -1 when they cannot be read. */
double lg_proc_rss_mb(int pid);
int lg_proc_fds(int pid);

/* A room's missed deadlines and the latest a tick of it started (ms),
 * from tutti's /metrics; -1 each when they cannot be read. */
void lg_room_ticks(const char *host, uint16_t port, const char *room, double *missed,
		   double *late_max_ms);

/* The server's CPU and peak RSS (pid > 0, else -1) and, when host is not
 * NULL, tutti's /metrics there (else -1). */
void lg_snap_take(struct lg_snap *s, int pid, const char *host, uint16_t port);

struct lg_summary_in {
	const char *label, *json; /* json: the file to write, or NULL */
	bool plain;
	double room_fps, join_s;
	int tone_onset_ms; /* the sender's own tone delay, not counted in the audio delay */
	const uint32_t *late_hist; /* lg_run's */
	unsigned patches_failed;
	const struct lg_part *parts;
	unsigned n_parts;
};

/* Prints the summary of the window between a and b and writes the JSON.
 * Returns 1 when the smoke's conditions fail (a WebRTC participant not
 * connected, a receiver without audio or video, a decryption failure, a
 * failed PATCH), else 0; ENOMEM. */
int lg_report(const struct lg_summary_in *in, const struct lg_snap *a,
	      const struct lg_snap *b);

/* ---- one participant (peer.c) -------------------------------------------- */

#define LG_HIST 512 /* video packets kept for NACKs */
#define LG_PKT  1500

struct lg_rx {
	uint64_t pkts, bytes, lost, frames;
	uint64_t stalls;     /* consecutive packets (by seq and ts) > 60 ms apart */
	uint64_t max_gap_us; /* largest interarrival */
	/* audio only: the longest time without audio that the sender did not
	 * mean as silence (DTX): arrival gap minus the RTP time the packets
	 * in between did not cover; a lost packet counts as missing audio */
	uint64_t max_agap_us;
	bool init;
	uint16_t last_seq;
	uint32_t last_ts;
	uint64_t last_us;
};

struct lg_part {
	unsigned idx;
	int fd;
	bool plain; /* plain RTP (no ICE/DTLS/SRTP) */
	struct sockaddr_in *dst;

	/* role */
	bool send_audio, send_video, recv;
	enum lg_res vres;
	int speaker; /* position in the speaking rotation, -1 none */
	bool sample; /* decodes what it receives */
	int tier;    /* -1: the server's default */
	bool presenter;

	/* signalling and ICE/DTLS */
	char id[64], location[512];
	char ufrag[9], pwd[25];
	char srv_ufrag[257], srv_pwd[257], srv_fp_alg[16], srv_fp[160];
	uint8_t tid[12];
	bool ice_ok, dtls_started, ready;
	uint64_t next_stun_us, next_rtcp_us, next_pli_us, stun_tries;
	struct tp_dtls *dtls;
	struct tp_srtp *tx, *rx;
	uint64_t t_join_us, t_ready_us;

	/* sending */
	uint32_t ssrc[2];
	uint16_t seq[2];
	uint64_t next_tick;  /* audio tick index to send next */
	uint64_t next_frame; /* video frame index to send next */
	uint32_t stagger_us;
	bool want_key, after_dtx;
	struct cx_vp8_pay *pay;
	uint32_t sent_pkts[2], sent_bytes[2];
	uint64_t keyframes_sent, retransmits, plis_in, nacks_in;
	struct {
		uint16_t seq, len;
		uint8_t *buf;
	} * hist;

	/* receiving */
	struct lg_rx rx_a, rx_v;
	uint64_t srtp_fail, rtcp_in;
	uint64_t audio_skipped; /* ticks not sent while measuring: over MAX_BEHIND late */
	struct cx_opus_dec *adec;
	struct cx_vp8_asm *asm_;
	struct cx_vp8_dec *vdec;
	uint64_t dec_frames, dec_errors, dec_audio, counters_read;
	uint64_t loud_until_us; /* tone detector: loud until then */
	double *a_delay, *v_delay;
	size_t n_a_delay, n_v_delay, cap_a_delay, cap_v_delay;
	int tile_tier_w; /* the picture width the tile rect was chosen for */

	/* churn (churn.c): the HTTP request in flight (join or leave) */
	int http_fd;
	int churn_state;
};

/* What the whole run shares: the media, time zero, the sent onsets. */
struct lg_run {
	struct lg_media media;
	struct tp_dtls_cert *cert;
	uint64_t t0_us;
	unsigned n_speakers;
	uint64_t onset_us[64]; /* send time of the tone of slot k, at k % 64 */
	uint64_t onset_slot[64]; /* k + 1 once slot k's onset is recorded */
	uint64_t vsent_us[LG_COUNTER_MOD]; /* first send of frame g, at g % 64 */
	uint64_t vsent_g[LG_COUNTER_MOD];
	double tile[4]; /* x, y, w, h of the tile to read, as fractions */
	bool have_tile;
	bool measuring;
	uint8_t audio_ext_id;
	bool audio_only; /* offers no video */
	/* While measuring: how late the speakers' audio packets left this
	 * process (1 ms bins, the last one for LG_LATE_BINS - 1 ms and more):
	 * a jitter the server's buffers see that a client on its own machine
	 * would not have. */
	uint32_t late_hist[LG_LATE_BINS];
};

int lg_part_init(struct lg_part *p, unsigned idx);
void lg_part_fini(struct lg_part *p);
/* The SDP offer of a WebRTC participant. */
int lg_offer(struct lg_run *run, struct lg_part *p, char *out, size_t cap);
/* Reads the answer: ICE credentials, fingerprint, the media address. */
int lg_answer(struct lg_part *p, const char *sdp, size_t len, struct sockaddr_in *media);
/* Sends a STUN binding request (ICE check / consent). */
void lg_send_stun(struct lg_part *p);
/* Everything that arrived on the participant's socket. */
void lg_part_input(struct lg_run *run, struct lg_part *p, uint64_t now);
/* Sends what is due at now (audio ticks, video frames, RTCP, consent). */
void lg_part_send(struct lg_run *run, struct lg_part *p, uint64_t now);
/* Next time something is due for the participant. */
uint64_t lg_part_next(const struct lg_run *run, const struct lg_part *p);
/* DTLS timers. */
void lg_part_timers(struct lg_part *p, uint64_t now);

#endif
