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

struct tp_batch {
	int fd;
	struct tp_stats *st;
	unsigned n;
	struct mmsghdr msg[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_storage addr[BATCH];
	uint8_t buf[BATCH][TP_PKT_CAP];
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

int tp_sender_send_rtp(struct tp_sender *s, struct tp_batch *b, const uint8_t *pkt,
		       size_t len)
{
	unsigned i;
	size_t n = len;
	int err;

	if (tp_sender_closed(s))
		return ENOTCONN;
	if (len + TP_SRTP_MAX_TRAILER > TP_PKT_CAP)
		return EMSGSIZE;
	if (b->n == BATCH)
		tp_batch_flush(b);
	i = b->n;
	memcpy(b->buf[i], pkt, len);
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
	count_sent(s, pkt, len);
	return 0;
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
	free(*pb);
	*pb = NULL;
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
