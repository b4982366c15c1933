/*
 * The outbound half of a peer, used by a room's worker thread: its own
 * SRTP context for RTP, the selected address (set by the I/O thread), the
 * figures for sender reports; and the batches of datagrams each sending
 * thread hands to sendmmsg on the shared UDP socket.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "transport/internal.h"

#define BATCH 64
/* A deferring batch's arena: grown by doubling from this, up to the cap
 * (a tick's packets for every receiver of a room; past it, a sender's
 * packets go out at once, in order). */
#define KEPT_START (256u * 1024)
#define KEPT_CAP   (64u * 1024 * 1024)
#define KEPT_NONE  UINT32_MAX

struct tp_batch {
	int fd;
	struct tp_stats *st;
	unsigned n;
	struct mmsghdr msg[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_storage addr[BATCH];
	uint8_t buf[BATCH][TP_PKT_CAP];
	/* tp_batch_defer: the tick's packets, each sender's chained in
	 * order, kept for its next tp_sender_pace. gen tells this tick's
	 * chains from older ones. */
	bool defer;
	uint32_t gen;
	uint8_t *arena;
	size_t used, cap;
};

/* A kept packet in the arena; records are 8-byte aligned. */
struct kept {
	uint32_t next; /* the sender's next one, KEPT_NONE: last */
	uint16_t len;
	uint8_t data[];
};

static int kind_index(enum tp_sdp_kind k)
{
	return k == TP_SDP_AUDIO ? 0 : k == TP_SDP_VIDEO ? 1 : -1;
}

int tp_sender_create(struct tp_peer *p, enum tp_srtp_profile prof,
		     const uint8_t *key, size_t klen)
{
	struct tp_sender *s = calloc(1, sizeof(*s));
	int err;

	if (!s)
		return ENOMEM;
	err = tp_srtp_new(&s->srtp, prof, key, klen, false);
	if (err) {
		free(s);
		return err;
	}
	s->refs = 1;
	s->srv = p->srv;
	s->peer = p;
	memcpy(s->id, p->id, sizeof(s->id));
	memcpy(s->media, p->media, sizeof(s->media));
	memcpy(s->has, p->has, sizeof(s->has));
	for (int k = 0; k < 2; k++) {
		s->out[k].ssrc = p->ssrc[k];
		s->out[k].clock = k == 0 ? 48000 : 90000;
	}
	s->twcc_hist = calloc(TP_TWCC_HIST, sizeof(*s->twcc_hist));
	struct tp_bwe_cfg bc = { .start_bps = TP_BWE_START_BPS, .min_bps = TP_BWE_MIN_BPS,
				 .max_bps = TP_BWE_MAX_BPS };
	if (!s->twcc_hist || tp_bwe_new(&s->bwe, &bc) || tp_pacer_new(&s->pacer, TP_PACER_SLOTS)) {
		tp_bwe_free(&s->bwe);
		free(s->twcc_hist);
		tp_srtp_free(&s->srtp);
		free(s);
		return ENOMEM;
	}
	s->twcc_seq = (uint16_t)cm_random_u32();
	if (s->has[1] && s->media[1].rtx_pt > 0) {
		s->rtx_ssrc = p->rtx_ssrc;
		s->rtx_seq = (uint16_t)cm_random_u32();
	}
	pthread_mutex_init(&s->addr_lock, NULL);
	s->rr_rtt_ms = -1;
	if (p->selected >= 0) {
		s->addr = p->addrs[p->selected].addr;
		s->alen = p->addrs[p->selected].len;
	}
	p->sender = s;
	return 0;
}

void tp_sender_detach(struct tp_peer *p)
{
	if (!p->sender)
		return;
	p->sender->peer = NULL;
	__atomic_store_n(&p->sender->closed, true, __ATOMIC_RELEASE);
	tp_sender_unref(&p->sender);
}

void tp_sender_set_addr(struct tp_sender *s, const struct sockaddr_storage *a,
			socklen_t alen)
{
	pthread_mutex_lock(&s->addr_lock);
	s->addr = *a;
	s->alen = alen;
	pthread_mutex_unlock(&s->addr_lock);
}

struct tp_sender *tp_sender_ref(struct tp_sender *s)
{
	__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
	return s;
}

struct tp_sender *tp_peer_sender(struct tp_peer *p)
{
	return p->sender ? tp_sender_ref(p->sender) : NULL;
}

void tp_sender_unref(struct tp_sender **ps)
{
	struct tp_sender *s = ps ? *ps : NULL;

	if (!s)
		return;
	*ps = NULL;
	if (__atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL))
		return;
	tp_srtp_free(&s->srtp);
	tp_bwe_free(&s->bwe);
	tp_pacer_free(&s->pacer);
	free(s->twcc_hist);
	pthread_mutex_destroy(&s->addr_lock);
	free(s);
}

bool tp_sender_closed(const struct tp_sender *s)
{
	return __atomic_load_n(&s->closed, __ATOMIC_ACQUIRE);
}

const char *tp_sender_id(const struct tp_sender *s)
{
	return s->id;
}

const struct tp_sdp_neg_media *tp_sender_media(const struct tp_sender *s,
					       enum tp_sdp_kind kind)
{
	int k = kind_index(kind);

	/* Only what the answer lets tutti send: a WHIP encoder's m-lines
	 * were answered recvonly, and get nothing. */
	return k >= 0 && s->has[k] &&
			       (s->media[k].answer_dir == TP_SDP_SENDRECV ||
				s->media[k].answer_dir == TP_SDP_SENDONLY)
		       ? &s->media[k]
		       : NULL;
}

enum tp_codec tp_sender_codec(const struct tp_sender *s, enum tp_sdp_kind kind)
{
	int k = kind_index(kind);

	return k >= 0 && s->has[k] ? s->media[k].codec_id : TP_CODEC_NONE;
}

uint32_t tp_sender_ssrc(const struct tp_sender *s, enum tp_sdp_kind kind)
{
	int k = kind_index(kind);

	return k >= 0 ? s->out[k].ssrc : 0;
}

int tp_sender_post_rtcp(struct tp_sender *s, const uint8_t *pkt, size_t len)
{
	if (tp_sender_closed(s))
		return ENOTCONN;
	return tp_server_post_rtcp(s->srv, s, pkt, len);
}

/* Counts a sent packet for the sender report of its SSRC. */
static void count_sent(struct tp_sender *s, const uint8_t *pkt, size_t len)
{
	struct tp_rtp_hdr h;

	if (tp_rtp_parse(&h, pkt, len))
		return;
	for (int k = 0; k < 2; k++) {
		struct tp_out_stream *o = &s->out[k];
		if (o->ssrc != h.ssrc)
			continue;
		__atomic_add_fetch(&o->packets, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&o->octets, (uint32_t)h.payload_len, __ATOMIC_RELAXED);
		__atomic_store_n(&o->last_ts, h.ts, __ATOMIC_RELAXED);
		__atomic_store_n(&o->last_us, cm_now_us(), __ATOMIC_RELAXED);
		__atomic_store_n(&o->active, true, __ATOMIC_RELAXED);
	}
}

/* Copies pkt to out with the header extensions the peer negotiated:
 * abs-send-time (for REMB) and a transport-wide sequence number (for
 * TWCC), remembering when that number went out. Returns the new length,
 * or 0 when pkt cannot be rewritten (it is then sent as it is). */
static size_t stamp(struct tp_sender *s, const uint8_t *pkt, size_t len, uint8_t *out,
		    size_t cap, uint64_t now)
{
	struct tp_rtp_hdr h;
	uint8_t ast[3], tw[2];
	size_t n;
	int k;

	if (tp_rtp_parse(&h, pkt, len) || h.has_ext)
		return 0;
	k = h.ssrc == s->out[0].ssrc ? 0 : 1; /* RTX rides with video */
	if (!s->has[k])
		return 0;
	/* An RTX packet with a payload: a video packet again, its number
	 * first (RFC 4588 4); a probe's padding has none. */
	bool rtx = s->rtx_ssrc && h.ssrc == s->rtx_ssrc && h.payload_len >= 2;
	const struct tp_sdp_neg_media *m = &s->media[k];
	if (m->ext_abs_send_time) {
		uint32_t v = tp_rtp_abs_send_time(now);
		ast[0] = (uint8_t)(v >> 16);
		ast[1] = (uint8_t)(v >> 8);
		ast[2] = (uint8_t)v;
		h.ext[h.n_ext++] = (struct tp_rtp_ext){ m->ext_abs_send_time, 3, ast };
	}
	if (m->ext_twcc) {
		cm_wr16(tw, s->twcc_seq);
		h.ext[h.n_ext++] = (struct tp_rtp_ext){ m->ext_twcc, 2, tw };
	}
	if (!h.n_ext)
		return 0;
	h.has_ext = true;
	if (tp_rtp_write(out, cap, &n, &h, pkt + h.hdr_len, h.payload_len))
		return 0;
	if (h.pad_len) {
		/* Padding (a probe's): kept, the last byte counting it. */
		if (n + h.pad_len > cap)
			return 0;
		memset(out + n, 0, h.pad_len);
		n += h.pad_len;
		out[n - 1] = h.pad_len;
		out[0] |= 0x20;
	}
	if (m->ext_twcc) {
		struct tp_sent_pkt *e = &s->twcc_hist[s->twcc_seq % TP_TWCC_HIST];
		/* Bytes on the wire: RTP, the SRTP tag, UDP and IPv4. */
		*e = (struct tp_sent_pkt){
		    .send_us = now,
		    .seq = s->twcc_seq,
		    .size = (uint16_t)(n + 16 + 28),
		    .padding = h.pad_len && !h.payload_len,
		    .video = h.ssrc == s->out[1].ssrc || rtx,
		    .video_seq = rtx ? cm_rd16(pkt + h.hdr_len) : h.seq,
		};
		tp_probe_on_stamp(s, e);
		s->twcc_seq++;
	}
	return n;
}

/* What was sent in the last second, for the estimate without TWCC. */
static void count_rate(struct tp_sender *s, size_t bytes, uint64_t now)
{
	if (!s->win_start_us)
		s->win_start_us = now;
	s->win_bytes += bytes + 16 + 28;
	if (now - s->win_start_us >= 1000000) {
		tp_bwe_on_sent(s->bwe,
			       (uint32_t)(s->win_bytes * 8 * 1000000 / (now - s->win_start_us)),
			       now);
		s->win_bytes = 0;
		s->win_start_us = now;
	}
}

/* Which queue of the pacer a packet of ours waits in. */
static enum tp_pace_class pace_class(const struct tp_sender *s, const uint8_t *pkt, size_t len)
{
	uint32_t ssrc = len >= TP_RTP_HEADER_LEN ? cm_rd32(pkt + 8) : 0;

	return ssrc == s->out[0].ssrc ? TP_PACE_AUDIO
	       : s->rtx_ssrc && ssrc == s->rtx_ssrc ? TP_PACE_RTX
						     : TP_PACE_VIDEO;
}

/* What tp_sender_send_rtp decides: through the pacer now, or into it. */
static int send_now(struct tp_sender *s, struct tp_batch *b, const uint8_t *pkt, size_t len,
		    uint64_t now)
{
	enum tp_pace_class c;
	size_t wire;
	int err;

	c = pace_class(s, pkt, len);
	if (!tp_pacer_may_send(s->pacer, c, now)) {
		/* Waits for the next tp_sender_pace; a drop is counted there
		 * (it is the room's business, not an error of this call). */
		err = tp_pacer_enqueue(s->pacer, c, pkt, len, now);
		return err == ENOBUFS ? 0 : err;
	}
	err = tp_sender_emit(s, b, pkt, len, now, &wire);
	if (!err)
		tp_pacer_on_sent(s->pacer, wire, now);
	return err;
}

void tp_sender_send_kept(struct tp_sender *s, struct tp_batch *out, uint64_t now)
{
	struct tp_batch *kb = s->kept_b;

	if (!kb)
		return;
	s->kept_b = NULL;
	if (tp_sender_closed(s) || s->kept_gen != kb->gen)
		return; /* the peer is gone, or kept in a tick never paced */
	for (uint32_t off = s->kept_head; off != KEPT_NONE;) {
		const struct kept *k = (const struct kept *)(kb->arena + off);
		/* Errors are the pacer's business here, as for a packet it
		 * held: counted there, or the peer is gone. */
		send_now(s, out, k->data, k->len, now);
		off = k->next;
	}
}

static int arena_grow(struct tp_batch *b, size_t need)
{
	size_t cap = b->cap ? b->cap : KEPT_START;
	uint8_t *a;

	while (cap < need)
		cap *= 2;
	if (cap > KEPT_CAP)
		return ENOBUFS;
	a = realloc(b->arena, cap);
	if (!a)
		return ENOMEM;
	b->arena = a;
	b->cap = cap;
	return 0;
}

/* Keeps a copy of pkt at the end of s's chain in b's arena. When the
 * arena cannot take it, what s kept goes out now, and the caller sends
 * pkt after it: the order holds, only the work stays on this thread. */
static int keep(struct tp_sender *s, struct tp_batch *b, const uint8_t *pkt, size_t len)
{
	size_t need = (sizeof(struct kept) + len + 7) & ~(size_t)7;
	struct kept *k;
	int err;

	if (b->used + need > b->cap && (err = arena_grow(b, b->used + need))) {
		tp_sender_send_kept(s, b, cm_now_us());
		return err;
	}
	k = (struct kept *)(b->arena + b->used);
	k->next = KEPT_NONE;
	k->len = (uint16_t)len;
	memcpy(k->data, pkt, len);
	if (s->kept_b == b && s->kept_gen == b->gen) {
		((struct kept *)(b->arena + s->kept_tail))->next = (uint32_t)b->used;
	} else {
		s->kept_b = b;
		s->kept_gen = b->gen;
		s->kept_head = (uint32_t)b->used;
	}
	s->kept_tail = (uint32_t)b->used;
	b->used += need;
	return 0;
}

int tp_sender_send_rtp(struct tp_sender *s, struct tp_batch *b, const uint8_t *pkt,
		       size_t len)
{
	if (tp_sender_closed(s))
		return ENOTCONN;
	if (len + TP_SRTP_MAX_TRAILER > TP_PKT_CAP)
		return EMSGSIZE;
	if (b->defer && keep(s, b, pkt, len) == 0)
		return 0;
	return send_now(s, b, pkt, len, cm_now_us());
}

int tp_sender_emit(struct tp_sender *s, struct tp_batch *b, const uint8_t *pkt, size_t len,
		   uint64_t now, size_t *wire)
{
	unsigned i;
	size_t n = len;
	int err;

	*wire = 0;
	if (b->n == BATCH)
		tp_batch_flush(b);
	i = b->n;
	n = stamp(s, pkt, len, b->buf[i], TP_PKT_CAP - TP_SRTP_MAX_TRAILER, now);
	if (!n) {
		memcpy(b->buf[i], pkt, len);
		n = len;
	}
	count_rate(s, n, now);
	err = tp_srtp_protect(s->srtp, b->buf[i], &n, TP_PKT_CAP);
	if (err)
		return err;
	pthread_mutex_lock(&s->addr_lock);
	b->addr[i] = s->addr;
	b->msg[i].msg_hdr.msg_namelen = s->alen;
	pthread_mutex_unlock(&s->addr_lock);
	if (!b->msg[i].msg_hdr.msg_namelen)
		return ENOTCONN;
	b->iov[i].iov_len = n;
	b->n++;
	*wire = n + 28;
	count_sent(s, pkt, len);
	return 0;
}

int tp_sender_rtx_pt(const struct tp_sender *s)
{
	return s->rtx_ssrc ? s->media[1].rtx_pt : 0;
}

int tp_sender_send_rtx(struct tp_sender *s, struct tp_batch *b, const uint8_t *pkt,
		       size_t len)
{
	uint8_t buf[TP_PKT_CAP];
	struct tp_rtp_hdr h;
	size_t n;

	if (!s->rtx_ssrc)
		return ENOTSUP;
	if (tp_rtp_parse(&h, pkt, len) || len + 2 > sizeof(buf))
		return EBADMSG;
	/* RFC 4588 4: the RTX payload is the original sequence number, then
	 * the original payload; its own SSRC, sequence and payload type. */
	uint8_t payload[TP_PKT_CAP];
	if (h.payload_len + 2 > sizeof(payload))
		return EMSGSIZE;
	cm_wr16(payload, h.seq);
	memcpy(payload + 2, pkt + h.hdr_len, h.payload_len);
	s->rtx_ts = h.ts;
	h.pt = (uint8_t)s->media[1].rtx_pt;
	h.seq = s->rtx_seq++;
	h.ssrc = s->rtx_ssrc;
	h.has_ext = false;
	h.n_ext = 0;
	if (tp_rtp_write(buf, sizeof(buf), &n, &h, payload, h.payload_len + 2))
		return EMSGSIZE;
	return tp_sender_send_rtp(s, b, buf, n);
}

/* ---- feedback ------------------------------------------------------------ */

size_t tp_sender_take_lost_video(struct tp_sender *s, uint16_t *seqs, size_t cap)
{
	size_t n = CM_MIN((size_t)s->n_lost_video, cap);

	memcpy(seqs, s->lost_video, n * sizeof(*seqs));
	s->n_lost_video = 0;
	return n;
}

static void on_twcc(struct tp_sender *s, const struct tp_rtcp_pkt *pk, uint64_t now)
{
	static __thread struct tp_twcc_status st[1024];
	static __thread struct tp_bwe_pkt bp[1024];
	int n = tp_rtcp_twcc_decode(pk, st, 1024);
	int64_t arrival = (int64_t)pk->u.twcc.ref_time * 64000;
	size_t m = 0;

	for (int i = 0; i < n; i++) {
		struct tp_sent_pkt *e = &s->twcc_hist[st[i].seq % TP_TWCC_HIST];
		if (st[i].received)
			arrival += st[i].delta_us;
		if (!e->size || e->seq != st[i].seq || e->acked)
			continue; /* not ours, too old, or told already */
		e->acked = st[i].received;
		/* A hole before packets that arrived (feedback stops at the
		 * last one received): lost, or very late. Once per packet. */
		if (!st[i].received && e->video && s->n_lost_video < TP_SENDER_LOST_MAX) {
			s->lost_video[s->n_lost_video++] = e->video_seq;
			e->video = false;
		}
		if (e->probe)
			tp_probe_on_feedback(s, e, st[i].received, arrival);
		bp[m++] = (struct tp_bwe_pkt){
			.send_us = e->send_us,
			/* Offset so that it stays positive; only differences matter. */
			.arrival_us = (uint64_t)(arrival + ((int64_t)1 << 40)),
			.size = e->size,
			.received = st[i].received,
			.padding = e->padding,
		};
	}
	if (m)
		tp_bwe_on_twcc(s->bwe, bp, m, now);
}

void tp_sender_feedback(struct tp_sender *s, const uint8_t *pkt, size_t len, uint64_t now)
{
	struct tp_rtcp_iter it;
	struct tp_rtcp_pkt pk;
	double loss = -1;
	uint32_t jitter_ms = 0;

	tp_rtcp_iter_init(&it, pkt, len);
	while (tp_rtcp_next(&it, &pk) == 0) {
		if (pk.kind == TP_RTCP_K_TWCC) {
			on_twcc(s, &pk, now);
		} else if (pk.kind == TP_RTCP_K_REMB) {
			tp_bwe_on_remb(s->bwe, pk.u.remb.bitrate, now);
		} else if (pk.kind == TP_RTCP_K_SR || pk.kind == TP_RTCP_K_RR) {
			for (size_t i = 0; i < pk.n_rb; i++) {
				const struct tp_rtcp_rb *rb = &pk.rb[i];
				int k = rb->ssrc == s->out[0].ssrc ? 0
					: rb->ssrc == s->out[1].ssrc ? 1
								     : -1;
				if (k < 0)
					continue;
				struct tp_out_stream *o = &s->out[k];
				if (tp_rb_moved(&o->rr_seen, &o->rr_high_seq, rb))
					loss = CM_MAX(loss, rb->fraction_lost / 256.0);
				uint32_t j = (uint32_t)((uint64_t)rb->jitter * 1000 / s->out[k].clock);
				jitter_ms = CM_MAX(jitter_ms, j);
			}
		}
	}
	if (loss >= 0)
		tp_bwe_on_report(s->bwe, loss, jitter_ms, now);
}

void tp_sender_bwe(const struct tp_sender *s, uint64_t now, struct tp_bwe_state *out)
{
	tp_bwe_get(s->bwe, now, out);
}

int tp_batch_new(struct tp_batch **out, struct tp_server *srv)
{
	struct tp_batch *b = calloc(1, sizeof(*b));

	if (!b)
		return ENOMEM;
	b->fd = tp_server_fd(srv);
	b->st = tp_server_counters(srv);
	for (int i = 0; i < BATCH; i++) {
		b->iov[i].iov_base = b->buf[i];
		b->msg[i].msg_hdr.msg_name = &b->addr[i];
		b->msg[i].msg_hdr.msg_iov = &b->iov[i];
		b->msg[i].msg_hdr.msg_iovlen = 1;
	}
	*out = b;
	return 0;
}

void tp_batch_free(struct tp_batch **pb)
{
	if (!pb || !*pb)
		return;
	tp_batch_flush(*pb);
	free((*pb)->arena);
	free(*pb);
	*pb = NULL;
}

void tp_batch_defer(struct tp_batch *b, bool on)
{
	b->defer = on;
	b->gen++;
	b->used = 0;
}

bool tp_batch_keeping(struct tp_batch *b, bool on)
{
	bool was = b->defer;

	b->defer = on;
	return was;
}

void tp_batch_flush(struct tp_batch *b)
{
	unsigned off = 0;
	uint64_t bytes = 0;

	for (unsigned i = 0; i < b->n; i++)
		bytes += b->iov[i].iov_len;
	while (off < b->n) {
		int n = sendmmsg(b->fd, b->msg + off, b->n - off, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			off++; /* lost, as on the wire */
			continue;
		}
		off += (unsigned)n;
	}
	/* Counters shared with the I/O thread: atomic adds. */
	__atomic_add_fetch(&b->st->tx_packets, b->n, __ATOMIC_RELAXED);
	__atomic_add_fetch(&b->st->tx_bytes, bytes, __ATOMIC_RELAXED);
	__atomic_add_fetch(&b->st->tx_rtp, b->n, __ATOMIC_RELAXED);
	b->n = 0;
}

/* The echo's path: the I/O thread sends RTP with the sender's context.
 * Only while no room thread sends for this peer. */
int tp_peer_send_rtp(struct tp_peer *p, const uint8_t *pkt, size_t len)
{
	uint8_t buf[TP_PKT_CAP];
	const struct tp_addr_entry *e;
	size_t n = len;
	int err;

	if (!p->connected || !p->sender || p->selected < 0)
		return ENOTCONN;
	if (len + TP_SRTP_MAX_TRAILER > sizeof(buf))
		return EMSGSIZE;
	memcpy(buf, pkt, len);
	err = tp_srtp_protect(p->sender->srtp, buf, &n, sizeof(buf));
	if (err)
		return err;
	e = &p->addrs[p->selected];
	tp_server_queue(p->srv, buf, n, &e->addr, e->len);
	__atomic_add_fetch(&tp_server_counters(p->srv)->tx_rtp, 1, __ATOMIC_RELAXED);
	count_sent(p->sender, pkt, len);
	return 0;
}

void tp_sender_get_stats(const struct tp_sender *s, struct tp_sender_stats *out)
{
	uint32_t la = __atomic_load_n(&s->rr_loss_q8[0], __ATOMIC_RELAXED);
	uint32_t lv = __atomic_load_n(&s->rr_loss_q8[1], __ATOMIC_RELAXED);

	out->packets_sent = 0;
	out->bytes_sent = 0;
	for (int k = 0; k < 2; k++) {
		out->packets_sent += __atomic_load_n(&s->out[k].packets, __ATOMIC_RELAXED);
		out->bytes_sent += __atomic_load_n(&s->out[k].octets, __ATOMIC_RELAXED);
	}
	out->loss = (double)CM_MAX(la, lv) / 256.0;
	out->rtt_ms = __atomic_load_n(&s->rr_rtt_ms, __ATOMIC_RELAXED);
	out->jitter_ms = __atomic_load_n(&s->rr_jitter_ms, __ATOMIC_RELAXED);
}
