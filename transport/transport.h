/*
 * transport/ — the public header. WebRTC transport on ONE UDP port:
 * ICE-lite (STUN), DTLS 1.2 → SRTP keys, SRTP/SRTCP, RTP/RTCP, SDP.
 *
 * Threads: tp_server runs one I/O thread (epoll). Peer events are called
 * on that thread, and tp_peer_send_* may only be called from it (the
 * event callbacks). Everything else here (tp_server_add_peer,
 * tp_server_remove_peer, tp_server_stats) may be called from any thread:
 * it posts a command to the I/O thread and waits for the answer.
 */
#ifndef TUTTI_TRANSPORT_H
#define TUTTI_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport/bwe.h"
#include "transport/pacer.h"
#include "transport/rtcp.h"
#include "transport/rtp.h"
#include "transport/sdp.h"
#include "transport/stun.h"

#define TP_PEER_ID_LEN 16

struct tp_server;
struct tp_peer;

struct tp_server_config {
	const char *bind_ip; /* IPv4 or IPv6 literal */
	uint16_t port; /* UDP media port */
	const char *public_ip; /* address in candidates; NULL = bind_ip */
};

/* Why an inbound datagram was dropped. Each has a counter. */
enum tp_drop {
	TP_DROP_UNKNOWN_KIND, /* first byte is no STUN/DTLS/RTP (RFC 7983) */
	TP_DROP_STUN_MALFORMED,
	TP_DROP_STUN_NOT_REQUEST, /* responses, indications, other methods */
	TP_DROP_STUN_UNKNOWN_USER,
	TP_DROP_STUN_NO_INTEGRITY,
	TP_DROP_STUN_BAD_INTEGRITY,
	TP_DROP_STUN_NO_FINGERPRINT,
	TP_DROP_UNKNOWN_ADDR, /* DTLS or SRTP from an address that did not pass ICE */
	TP_DROP_DTLS_ERROR,
	TP_DROP_NOT_READY, /* SRTP before the DTLS handshake finished */
	TP_DROP_SRTP_AUTH,
	TP_DROP_SRTP_REPLAY,
	TP_DROP_SRTP_OTHER,
	TP_DROP_RTP_MALFORMED,
	TP_DROP_RTCP_MALFORMED,
	TP_DROP_UNKNOWN_SSRC, /* RTP whose payload type the session did not negotiate */
	TP_DROP_FOREIGN_SSRC, /* RTP with an SSRC its sender did not announce */
	TP_DROP_COUNT
};

/* "stun_bad_integrity" etc., for metrics labels. */
const char *tp_drop_name(enum tp_drop d);

struct tp_stats {
	uint64_t peers; /* current */
	uint64_t peers_connected; /* current, DTLS done */
	uint64_t rx_packets, rx_bytes;
	uint64_t tx_packets, tx_bytes;
	uint64_t rx_rtp, rx_rtcp, tx_rtp, tx_rtcp;
	uint64_t stun_requests; /* answered */
	uint64_t dtls_handshakes; /* completed */
	uint64_t consent_expired; /* peers dropped by consent freshness */
	uint64_t drop[TP_DROP_COUNT];
};

/* Binds the UDP socket, makes the DTLS certificate and starts the I/O
 * thread. Returns 0, EADDRINUSE, EADDRNOTAVAIL, EINVAL or another errno.
 * The caller owns *out. */
int tp_server_new(struct tp_server **out, const struct tp_server_config *cfg);
/* Sends RTCP BYE to every connected peer, closes DTLS, stops the thread,
 * closes the socket, frees everything; *p becomes NULL. */
void tp_server_free(struct tp_server **p);

/* sha-256 fingerprint of the server's certificate, "AB:CD:...". */
const char *tp_server_fingerprint(const struct tp_server *s);
void tp_server_stats(struct tp_server *s, struct tp_stats *out);

enum tp_peer_state {
	TP_PEER_CONNECTED, /* DTLS done, SRTP keys in place */
	TP_PEER_CLOSED, /* consent expired, DTLS failed or closed by the peer;
			 * the peer is freed right after this event */
};

/* Callbacks on the I/O thread. pkt is decrypted and writable; it is valid
 * only during the call. */
struct tp_peer_events {
	void (*on_state)(void *arg, struct tp_peer *p, enum tp_peer_state st);
	/* kind is the m-line the packet belongs to (by payload type). */
	void (*on_rtp)(void *arg, struct tp_peer *p, enum tp_sdp_kind kind,
		       uint8_t *pkt, size_t len, const struct tp_rtp_hdr *h);
	/* A packet of the peer's shared screen (the second video m-line,
	 * see tp_sdp_neg_media.screen); NULL: such packets are dropped. */
	void (*on_screen_rtp)(void *arg, struct tp_peer *p, uint8_t *pkt, size_t len,
			      const struct tp_rtp_hdr *h);
	/* One decrypted (compound) RTCP packet, already length-checked. */
	void (*on_rtcp)(void *arg, struct tp_peer *p, const uint8_t *pkt, size_t len);
};

/* Parses and negotiates the SDP offer and, if tutti can serve it, adds a
 * peer and writes the answer. ev/arg are called on the I/O thread until
 * TP_PEER_CLOSED or tp_server_remove_peer. On success *answer is
 * malloc'd (caller frees) and id receives the peer's id.
 * Returns 0; EBADMSG (unparsable offer: 400), EPROTO (an offer tutti
 * cannot serve: 422? see admin) with a reason in err; ENOMEM; ESHUTDOWN. */
int tp_server_add_peer(struct tp_server *s, const char *offer, size_t offer_len,
		       const struct tp_peer_events *ev, void *arg, char **answer,
		       char id[TP_PEER_ID_LEN + 1], char *err, size_t errlen);

/* Sends BYE and removes the peer; no event is called for it afterwards.
 * Returns 0 or ENOENT. */
int tp_server_remove_peer(struct tp_server *s, const char *id);

/* ---- the outbound half of a peer, for a room's worker thread ----
 *
 * A room thread protects and sends its participants' RTP itself: each
 * connected peer has a tp_sender with its own SRTP context for RTP (the
 * I/O thread keeps another, with the same keys, for RTCP only, so the two
 * threads never share SRTP state). RTCP that a room wants sent (PLI,
 * NACK, REMB) is posted to the I/O thread. Packets go out in batches
 * (sendmmsg) that belong to the sending thread. */

struct tp_sender;
struct tp_batch;

/* A new reference to p's sender (I/O thread, from TP_PEER_CONNECTED on);
 * NULL before DTLS is done. Release it with tp_sender_unref. */
struct tp_sender *tp_peer_sender(struct tp_peer *p);
/* Any thread. *s becomes NULL; the last reference frees the sender. */
void tp_sender_unref(struct tp_sender **s);
/* True once the peer is gone (closed, removed): sends are dropped. */
bool tp_sender_closed(const struct tp_sender *s);
/* Immutable negotiated facts, safe from any thread. */
const char *tp_sender_id(const struct tp_sender *s);
/* The negotiated media tutti sends on; NULL for a kind not negotiated or
 * answered recvonly/inactive (a WHIP encoder's). */
const struct tp_sdp_neg_media *tp_sender_media(const struct tp_sender *s,
					       enum tp_sdp_kind kind);
uint32_t tp_sender_ssrc(const struct tp_sender *s, enum tp_sdp_kind kind);
/* The codec negotiated for kind, whichever way media flows (a WHIP
 * encoder's recvonly video too); TP_CODEC_NONE when not negotiated. */
enum tp_codec tp_sender_codec(const struct tp_sender *s, enum tp_sdp_kind kind);

/* What the peer's receiver reports say of what tutti sends it. */
struct tp_sender_stats {
	uint64_t packets_sent, bytes_sent; /* RTP, payload bytes */
	double loss; /* fraction lost in the last report, 0..1 (the worse of audio/video) */
	int64_t rtt_ms; /* from the last report's LSR/DLSR; -1 unknown */
	uint32_t jitter_ms; /* audio interarrival jitter reported */
};
void tp_sender_get_stats(const struct tp_sender *s, struct tp_sender_stats *out);

/* ---- the sending thread's view of the link (docs/bandwidth.md) ----
 *
 * tp_sender_send_rtp stamps every packet with abs-send-time and a
 * transport-wide sequence number when the peer negotiated them, and
 * remembers when each went out. The peer's feedback (TWCC, REMB, report
 * blocks) feeds an estimate of what it can take. Both run on the thread
 * that sends the sender's RTP, and only there. */

/* One (compound) RTCP packet from the peer, as on_rtcp gave it. */
void tp_sender_feedback(struct tp_sender *s, const uint8_t *pkt, size_t len,
			uint64_t now_us);
/* The estimate now, with what it was made of. */
void tp_sender_bwe(const struct tp_sender *s, uint64_t now_us, struct tp_bwe_state *out);
/* RTX (RFC 4588) for video, when the peer offered it: the payload type
 * (0: none) and tutti's RTX SSRC. tp_sender_send_rtx sends the original
 * packet pkt (as it was first sent, tutti's seq inside) as an RTX packet
 * on the RTX stream, with its own sequence number. Returns as
 * tp_sender_send_rtp, or ENOTSUP without RTX. */
int tp_sender_rtx_pt(const struct tp_sender *s);
int tp_sender_send_rtx(struct tp_sender *s, struct tp_batch *b, const uint8_t *pkt,
		       size_t len);

/* ---- pacing and probing (transport/pace.c, docs/bandwidth.md) ----
 *
 * tp_sender_send_rtp goes through the sender's pacer: audio at once,
 * video and retransmissions when the paced rate (a multiple of the
 * estimate) allows, else queued, in a bounded queue that drops the oldest
 * video first. The sending thread calls tp_sender_pace every tick: it
 * sends what the pacer allows now and the padding of a running probe.
 *
 * A deferring batch (tp_batch_defer) splits that work over threads: the
 * room thread's sends through it only keep a copy of each packet (in the
 * batch's arena, in order per sender), and the next tp_sender_pace, on
 * whichever thread the room hands the sender to, makes the pacer's
 * decisions and stamps, protects and sends them, into its own batch.
 * The sender is used by one thread at a time all the same. */

void tp_sender_pace(struct tp_sender *s, struct tp_batch *b, uint64_t now_us);
/* Only what s kept so far, in order, through the pacer's decisions, into
 * out (a tick's audio, sent before the tick's video is made); no pacing
 * of what waits, no probe. */
void tp_sender_send_kept(struct tp_sender *s, struct tp_batch *out, uint64_t now_us);
/* The pacer's figures (the sending thread). */
void tp_sender_pacer_stats(const struct tp_sender *s, uint64_t now_us,
			   struct tp_pacer_stats *out);
/* Bytes the pacer dropped so far; any thread. */
uint64_t tp_sender_paced_dropped(const struct tp_sender *s);
/* The paced rate's floor, bit/s (0: none): what the room sends this
 * receiver whatever its estimate says (an admin's pinned tier) must not
 * be held back, or dropped, by the pacer. The sending thread. */
void tp_sender_set_pace_floor(struct tp_sender *s, uint32_t bps);
/* Whether its video packet of sequence number seq (as sent to this
 * receiver) still waits in the pacer (the sending thread). */
bool tp_sender_video_queued(const struct tp_sender *s, uint16_t seq);
/* The sequence numbers of video packets (as sent to this receiver) that
 * its TWCC feedback reported lost since the last call: up to cap of them
 * into seqs; the count. Once per packet sent: a video packet whose RTX
 * copies were lost too comes once more for each (its own number each
 * time). The thread that calls tp_sender_feedback. */
#define TP_SENDER_LOST_MAX 64 /* kept between calls */
size_t tp_sender_take_lost_video(struct tp_sender *s, uint16_t *seqs, size_t cap);

/* What a probe cluster found, from the receiver's TWCC feedback. */
struct tp_probe_result {
	uint32_t id; /* the cluster, as tp_sender_probe gave it */
	bool done; /* its feedback is in (or will never be) */
	bool answered; /* feedback covered enough of its packets to judge */
	bool ok; /* it got through: little loss, no queue built */
	uint32_t target_bps, send_bps, recv_bps; /* recv: what the receiver got */
	int32_t delay_growth_ms; /* last packet's one-way delay minus the first's */
	uint32_t pkts, reported, received;
	uint64_t done_us;
};
/* Starts a probe of the link at about bps: RTP padding on the RTX stream
 * for a few ticks, on top of the media, min_bytes in all at least (more
 * than a token-bucket shaper's burst, for a probe that must not take a
 * burst for room; then sent faster than bps). Returns 0 and *id, EBUSY
 * while a cluster runs or waits for its feedback, ENOTSUP without RTX or
 * TWCC. */
int tp_sender_probe(struct tp_sender *s, uint32_t bps, uint32_t min_bytes, uint64_t now_us,
		    uint32_t *id);
/* Whether its link can be probed at all (RTX and TWCC negotiated). */
bool tp_sender_can_probe(const struct tp_sender *s);
/* The last cluster's result (id 0: none yet). */
void tp_sender_probe_result(const struct tp_sender *s, struct tp_probe_result *out);

/* A batch of datagrams for one thread's sendmmsg. */
int tp_batch_new(struct tp_batch **out, struct tp_server *srv);
void tp_batch_free(struct tp_batch **b);
/* Sends what is queued. Also done when the batch is full. */
void tp_batch_flush(struct tp_batch *b);
/* Starts a tick (the room thread): on, the tick's tp_sender_send_rtp and
 * _rtx through b only keep their packets for each sender's next
 * tp_sender_pace (which must come in the same tick; what was kept in an
 * earlier tick is forgotten here); off, they go out at once. Kept
 * packets are copies: the caller's buffer is free on return. */
void tp_batch_defer(struct tp_batch *b, bool on);
/* Turns a batch's keeping off (or back on) within a tick, forgetting
 * nothing it kept: meanwhile sends through it go out at once, before
 * what was kept (the next tick's audio, made while this tick's video still
 * waits for its fan-out). Returns whether it was keeping. */
bool tp_batch_keeping(struct tp_batch *b, bool on);

/* The owning thread of the sender's RTP (one thread only): copies pkt
 * into the batch, protects it there, counts it for the sender report
 * (through the pacer, see above); or, through a deferring batch, keeps a
 * copy for tp_sender_pace (then errors of the sending are not returned,
 * as for a packet the pacer held). Returns 0, ENOTCONN (closed), EMSGSIZE
 * or another errno. */
int tp_sender_send_rtp(struct tp_sender *s, struct tp_batch *b, const uint8_t *pkt,
		       size_t len);
/* Any thread: queues one RTCP (compound or reduced-size) packet for the
 * I/O thread to protect and send. Returns 0, ENOTCONN or ENOMEM. */
int tp_sender_post_rtcp(struct tp_sender *s, const uint8_t *pkt, size_t len);

/* ---- on the I/O thread only (inside peer events) ---- */

const char *tp_peer_id(const struct tp_peer *p);
const struct tp_sdp_neg_media *tp_peer_media(const struct tp_peer *p,
					     enum tp_sdp_kind kind);
/* The SSRC tutti sends this peer audio or video with. */
uint32_t tp_peer_local_ssrc(const struct tp_peer *p, enum tp_sdp_kind kind);
/* Protects and sends one RTP packet (pkt is copied). Counts it for the
 * sender report of its SSRC. Returns 0, ENOTCONN before DTLS, or errno. */
int tp_peer_send_rtp(struct tp_peer *p, const uint8_t *pkt, size_t len);
/* Protects and sends one RTCP (compound) packet. */
int tp_peer_send_rtcp(struct tp_peer *p, const uint8_t *pkt, size_t len);

#endif
