/*
 * Private to transport/: what server.c (socket, event loop, peer table,
 * commands) and peer.c (one participant's ICE, DTLS, SRTP and RTCP state)
 * share. Everything here runs on the I/O thread unless said otherwise.
 */
#ifndef TUTTI_TRANSPORT_INTERNAL_H
#define TUTTI_TRANSPORT_INTERNAL_H

#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include "transport/dtls.h"
#include "transport/pacer.h"
#include "transport/srtp.h"
#include "transport/transport.h"

#define TP_MAX_ADDRS 4 /* validated ICE addresses per peer */
#define TP_MAX_IN_STREAMS 6 /* inbound SSRCs tracked for receiver reports */
#define TP_PKT_CAP 1600 /* a datagram buffer: MTU plus the SRTP trailer */
#define TP_CONSENT_TIMEOUT_US (30 * 1000000ull)
#define TP_RTCP_INTERVAL_US 1000000ull
#define TP_PACER_SLOTS 512 /* packets a receiver's pacer may hold */

/* An address that passed ICE, linked into the server's address table. */
struct tp_addr_entry {
	struct sockaddr_storage addr;
	socklen_t len;
	struct tp_peer *peer;
	struct tp_addr_entry *next; /* bucket chain */
	bool used;
};

/* What tutti sends on one SSRC, for its sender reports. Written by the
 * sending thread, read by the I/O thread: every field atomic (relaxed; a
 * report that mixes two packets' figures is harmless). */
struct tp_out_stream {
	uint32_t ssrc; /* immutable */
	uint32_t clock; /* immutable */
	uint32_t packets;
	uint32_t octets;
	uint32_t last_ts;
	uint64_t last_us;
	bool active;
	/* The receiver's last report block on it: its extended highest
	 * sequence number (a block that has not moved tells no new loss). */
	uint32_t rr_high_seq;
	bool rr_seen;
};

#define TP_TWCC_HIST 2048
struct tp_sent_pkt {
	uint64_t send_us;
	uint16_t seq;
	uint16_t size; /* 0: empty */
	bool acked; /* reported received: later feedback about it is old news */
	uint32_t probe; /* the probe cluster it belongs to, 0 none */
	bool padding; /* padding only (a probe's) */
	bool video; /* a video packet or its RTX copy: video_seq is the video number */
	uint16_t video_seq;
};

/* A probe cluster (pace.c): padding at a target rate for a few ticks, and
 * what the receiver's TWCC feedback says of it. */
struct tp_probe_state {
	uint32_t id; /* the current or last cluster; 0 none yet */
	bool active; /* still sending */
	uint32_t target_bps, size; /* the rate it checks, and bytes in all */
	uint32_t send_bps; /* the rate it is sent at: target_bps or more */
	unsigned ticks_left;
	uint64_t start_us, end_us;
	uint32_t sent_bytes, n_pkts;
	/* feedback */
	uint32_t n_rep, n_recv, recv_bytes, last_size;
	uint64_t first_send, last_send, first_arr, last_arr;
	struct tp_probe_result res;
};

/* A report block whose extended highest sequence number has not moved
 * since its stream's last covers no packet: its fraction lost is the last
 * one's, repeated (GStreamer keeps reporting a stream tutti stopped
 * sending it, e.g. the video of a receiver on audio only), not a loss
 * now. Records the block's number in *seen and *high, per stream, for
 * the next. */
static inline bool tp_rb_moved(bool *seen, uint32_t *high, const struct tp_rtcp_rb *rb)
{
	bool moved = !*seen || rb->ext_high_seq != *high;

	*seen = true;
	*high = rb->ext_high_seq;
	return moved;
}

/* The outbound half of a peer (see transport.h). Reference-counted: the
 * peer holds one reference, each user another. */
struct tp_sender {
	int refs; /* atomic */
	bool closed; /* atomic; set by the I/O thread when the peer goes */
	struct tp_server *srv;
	struct tp_peer *peer; /* I/O thread only; NULL once closed */
	char id[TP_PEER_ID_LEN + 1];
	struct tp_sdp_neg_media media[2];
	bool has[2];
	struct tp_srtp *srtp; /* RTP only; used by one sending thread */
	pthread_mutex_t addr_lock; /* guards addr, alen */
	struct sockaddr_storage addr;
	socklen_t alen;
	struct tp_out_stream out[2];
	/* From the peer's receiver reports (I/O thread writes, atomics). */
	uint32_t rr_loss_q8[2]; /* fraction lost, /256 */
	int32_t rr_rtt_ms; /* -1 unknown */
	uint32_t rr_jitter_ms;
	/* The sending thread only: transport-wide sequence numbers (TWCC),
	 * what each packet was, and the estimate the peer's feedback feeds
	 * (tp_sender_feedback runs on the sending thread too). */
	uint16_t twcc_seq;
	struct tp_sent_pkt *twcc_hist; /* TP_TWCC_HIST, by seq */
	uint16_t lost_video[TP_SENDER_LOST_MAX]; /* reported lost, not yet taken */
	unsigned n_lost_video;
	struct tp_bwe *bwe;
	uint64_t win_bytes, win_start_us; /* what was sent, per second */
	uint32_t rtx_ssrc; /* 0: no RTX negotiated */
	uint16_t rtx_seq;
	uint32_t rtx_ts; /* the last RTX timestamp, for padding */
	/* pace.c, the sending thread only: the pacer and the link probe. */
	struct tp_pacer *pacer;
	struct tp_probe_state probe;
	/* What the room thread may read from another thread (atomics). */
	uint64_t paced_dropped_bytes;
	uint32_t pace_floor_bps; /* the paced rate is never below this (the room's) */
	/* sender.c: the packets kept while the room's batch defers, a
	 * chain of offsets into kept_b's arena (kept_b NULL: none). The
	 * room thread appends during a tick; the thread that runs the
	 * next tp_sender_pace sends them, after the room handed it over. */
	struct tp_batch *kept_b;
	uint32_t kept_gen, kept_head, kept_tail;
};

/* One inbound SSRC, for receiver report blocks (RFC 3550 A.1, A.3, A.8). */
struct tp_in_stream {
	uint32_t ssrc;
	uint32_t clock;
	uint16_t max_seq;
	uint32_t cycles;
	uint32_t base_seq;
	uint32_t received;
	uint32_t expected_prior;
	uint32_t received_prior;
	int64_t transit;
	uint32_t jitter_q4; /* jitter in RTP units, times 16 */
	uint32_t lsr; /* middle 32 bits of the last SR's NTP time */
	uint64_t lsr_us; /* when that SR arrived */
	bool used;
};

struct tp_peer {
	struct tp_server *srv;
	char id[TP_PEER_ID_LEN + 1];
	char ufrag[9];
	char pwd[33];
	char remote_ufrag[257];
	char fp_alg[16];
	char fp[160];
	/* [0] audio, [1] video, [2] a shared screen (a second video m-line,
	 * recvonly; its SSRCs are always announced). */
	struct tp_sdp_neg_media media[3];
	bool has[3];
	/* Without a=ssrc in the offer, the first SSRC seen per kind is the
	 * only one accepted from then on. */
	bool latched[3];
	uint32_t latch_ssrc[3];
	struct tp_peer_events ev;
	void *arg;

	struct tp_addr_entry addrs[TP_MAX_ADDRS];
	int selected; /* index into addrs, -1 before ICE */
	uint64_t created_us;
	uint64_t last_consent_us;

	struct tp_dtls *dtls;
	struct tp_srtp *srtp_in;
	struct tp_srtp *srtp_rtcp; /* outbound RTCP only; RTP is the sender's */
	struct tp_sender *sender; /* from DTLS done on */
	uint32_t ssrc[2]; /* what tutti sends with: [0] audio, [1] video */
	uint32_t rtx_ssrc; /* video retransmissions, when RTX was negotiated */
	uint32_t video_in_ssrc; /* the peer's video SSRC, for its RTX packets */
	uint32_t screen_in_ssrc; /* the same for its screen */
	bool connected;
	struct tp_in_stream in[TP_MAX_IN_STREAMS];
	uint64_t next_rtcp_us;
	/* The last report block per kind: its extended highest sequence
	 * number (an unmoved one reports no new loss). */
	uint32_t rr_high[2];
	bool rr_seen[2];

	struct tp_peer *next; /* server's list */
	struct tp_peer *ufrag_next; /* ufrag bucket chain */
};

/* ---- server.c, for peer.c and sender.c ---- */

int tp_server_fd(const struct tp_server *s);
/* Hands an RTCP packet for sender's peer to the I/O thread (no wait). */
int tp_server_post_rtcp(struct tp_server *s, struct tp_sender *sender,
			const uint8_t *pkt, size_t len);

/* Queues one datagram to addr for sendmmsg; flushed at the end of each
 * loop iteration or when the batch is full. */
void tp_server_queue(struct tp_server *s, const uint8_t *buf, size_t len,
		     const struct sockaddr_storage *addr, socklen_t alen);
/* Registers a validated address of p in the address table. */
void tp_server_bind_addr(struct tp_server *s, struct tp_addr_entry *e);
struct tp_dtls_cert *tp_server_cert(struct tp_server *s);
struct tp_stats *tp_server_counters(struct tp_server *s);
void tp_server_drop(struct tp_server *s, enum tp_drop why);

/* ---- peer.c, for server.c ---- */

/* Makes a peer from a negotiated offer (copies what it needs; keeps no
 * pointer into the offer). Not yet in any table. Any thread. */
int tp_peer_create(struct tp_peer **out, struct tp_server *s,
		   const struct tp_sdp_neg *neg, const struct tp_peer_events *ev,
		   void *arg);
/* Parses and negotiates an offer, makes the peer and writes the answer
 * (malloc'd into *answer). Any thread. Returns 0, EBADMSG (unparsable),
 * EPROTO (not servable), both with the reason in err, or ENOMEM. */
int tp_peer_from_offer(struct tp_peer **out, struct tp_server *s, const char *offer,
		       size_t offer_len, const struct tp_peer_events *ev, void *arg,
		       const char *cand_ip, uint16_t cand_port, char **answer, char *err,
		       size_t errlen);
/* Frees a peer that is in no table any more. */
void tp_peer_destroy(struct tp_peer **p);
/* A STUN binding request for this peer passed every check. */
void tp_peer_on_ice(struct tp_peer *p, const struct sockaddr_storage *from,
		    socklen_t alen, bool nominate, uint64_t now);
void tp_peer_on_dtls(struct tp_peer *p, struct tp_addr_entry *from,
		     const uint8_t *buf, size_t len);
void tp_peer_on_srtp(struct tp_peer *p, uint8_t *buf, size_t len, uint64_t now);
/* Timers: DTLS retransmission, RTCP reports. Returns false when the peer
 * must be closed (consent expired, DTLS failed). */
bool tp_peer_tick(struct tp_peer *p, uint64_t now);
/* Sends BYE and close_notify when connected. */
void tp_peer_say_goodbye(struct tp_peer *p);

/* ---- sender.c and pace.c ---- */

/* Stamps, protects and puts pkt into the batch now, past the pacer.
 * Returns as tp_sender_send_rtp; *wire gets the bytes on the wire. */
int tp_sender_emit(struct tp_sender *s, struct tp_batch *b, const uint8_t *pkt, size_t len,
		   uint64_t now, size_t *wire);
/* A packet with transport-wide number e went out: part of the probe? */
void tp_probe_on_stamp(struct tp_sender *s, struct tp_sent_pkt *e);
/* TWCC said of e (a packet of ours) whether and when it arrived. */
void tp_probe_on_feedback(struct tp_sender *s, struct tp_sent_pkt *e, bool received,
			  int64_t arrival_us);

/* ---- sender.c, for peer.c ---- */

/* Makes p's sender once DTLS is done: its own SRTP context from the
 * local key. The peer holds the first reference. */
int tp_sender_create(struct tp_peer *p, enum tp_srtp_profile prof,
		     const uint8_t *key, size_t klen);
/* The peer goes away: no more sends; drops the peer's reference. */
void tp_sender_detach(struct tp_peer *p);
/* The selected ICE address changed. */
void tp_sender_set_addr(struct tp_sender *s, const struct sockaddr_storage *a,
			socklen_t alen);
struct tp_sender *tp_sender_ref(struct tp_sender *s);

#endif
