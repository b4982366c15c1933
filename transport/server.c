/*
 * The transport's I/O thread: one UDP socket for every participant, an
 * epoll loop, recvmmsg/sendmmsg in batches, demultiplexing by first byte
 * (RFC 7983), the STUN (ICE-lite) answers, and the peer tables. Other
 * threads talk to it only through commands posted on a queue and an
 * eventfd; they wait for the answer on a condition variable.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/common.h"
#include "transport/internal.h"

#define BATCH 32
#define BUCKETS 1024
#define TICK_NS (20 * 1000 * 1000) /* housekeeping period */

static const char *const drop_names[TP_DROP_COUNT] = {
	[TP_DROP_UNKNOWN_KIND] = "unknown_kind",
	[TP_DROP_STUN_MALFORMED] = "stun_malformed",
	[TP_DROP_STUN_NOT_REQUEST] = "stun_not_request",
	[TP_DROP_STUN_UNKNOWN_USER] = "stun_unknown_user",
	[TP_DROP_STUN_NO_INTEGRITY] = "stun_no_integrity",
	[TP_DROP_STUN_BAD_INTEGRITY] = "stun_bad_integrity",
	[TP_DROP_STUN_NO_FINGERPRINT] = "stun_no_fingerprint",
	[TP_DROP_UNKNOWN_ADDR] = "unknown_addr",
	[TP_DROP_DTLS_ERROR] = "dtls_error",
	[TP_DROP_NOT_READY] = "not_ready",
	[TP_DROP_SRTP_AUTH] = "srtp_auth",
	[TP_DROP_SRTP_REPLAY] = "srtp_replay",
	[TP_DROP_SRTP_OTHER] = "srtp_other",
	[TP_DROP_RTP_MALFORMED] = "rtp_malformed",
	[TP_DROP_RTCP_MALFORMED] = "rtcp_malformed",
	[TP_DROP_UNKNOWN_SSRC] = "unknown_pt",
	[TP_DROP_FOREIGN_SSRC] = "unknown_ssrc",
};

enum cmd_kind { CMD_ADD, CMD_REMOVE, CMD_STATS, CMD_STOP, CMD_RTCP };

/* A request from another thread. A synchronous one lives on the caller's
 * stack until done; an asynchronous one (CMD_RTCP) is malloc'd by the
 * caller and freed by the I/O thread. */
struct cmd {
	enum cmd_kind kind;
	struct tp_peer *peer; /* CMD_ADD */
	const char *id; /* CMD_REMOVE */
	struct tp_stats *stats; /* CMD_STATS */
	struct tp_sender *sender; /* CMD_RTCP: a reference */
	size_t len; /* CMD_RTCP */
	uint8_t pkt[TP_PKT_CAP]; /* CMD_RTCP only */
	int result;
	bool done;
	bool async;
	struct cmd *next;
};

struct tp_server {
	int fd;
	int epfd;
	int evfd;
	int timerfd;
	pthread_t thread;
	bool thread_started;
	bool stopping; /* I/O thread only */
	struct tp_dtls_cert *cert;
	char cand_ip[INET6_ADDRSTRLEN];
	uint16_t port;

	pthread_mutex_t lock; /* guards cmd_head, closed, and cond waits */
	pthread_cond_t cond;
	struct cmd *cmd_head;
	bool closed; /* no more commands accepted */

	/* I/O thread only from here. */
	struct tp_peer *peers;
	struct tp_peer *by_ufrag[BUCKETS];
	struct tp_addr_entry *by_addr[BUCKETS];
	struct tp_stats st;

	struct mmsghdr tx_msg[BATCH];
	struct iovec tx_iov[BATCH];
	struct sockaddr_storage tx_addr[BATCH];
	uint8_t tx_buf[BATCH][TP_PKT_CAP];
	unsigned n_tx;

	struct mmsghdr rx_msg[BATCH];
	struct iovec rx_iov[BATCH];
	struct sockaddr_storage rx_addr[BATCH];
	uint8_t rx_buf[BATCH][TP_PKT_CAP];
};

const char *tp_drop_name(enum tp_drop d)
{
	return (unsigned)d < TP_DROP_COUNT ? drop_names[d] : "invalid";
}

/* ---- tables ----------------------------------------------------------- */

static uint32_t hash_bytes(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* Hashes and compares only the address and port, never padding. */
static uint32_t addr_hash(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)a;
		return hash_bytes(&in->sin_addr, 4) ^ in->sin_port;
	}
	const struct sockaddr_in6 *in6 = (const void *)a;
	return hash_bytes(&in6->sin6_addr, 16) ^ in6->sin6_port;
}

static bool addr_equal(const struct sockaddr_storage *a,
		       const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
	return x->sin6_port == y->sin6_port &&
	       !memcmp(&x->sin6_addr, &y->sin6_addr, 16);
}

static struct tp_addr_entry *find_addr(struct tp_server *s,
				       const struct sockaddr_storage *a)
{
	struct tp_addr_entry *e = s->by_addr[addr_hash(a) % BUCKETS];

	for (; e; e = e->next)
		if (addr_equal(&e->addr, a))
			return e;
	return NULL;
}

void tp_server_bind_addr(struct tp_server *s, struct tp_addr_entry *e)
{
	struct tp_addr_entry **head = &s->by_addr[addr_hash(&e->addr) % BUCKETS];
	struct tp_addr_entry *old = find_addr(s, &e->addr);

	/* An address belongs to one peer: a newer valid check moves it. */
	if (old && old != e) {
		struct tp_addr_entry **pp = head;
		while (*pp != old)
			pp = &(*pp)->next;
		*pp = old->next;
		old->used = false;
	}
	if (old == e)
		return;
	e->next = *head;
	*head = e;
}

static void unbind_peer(struct tp_server *s, struct tp_peer *p)
{
	for (int i = 0; i < TP_MAX_ADDRS; i++) {
		struct tp_addr_entry *e = &p->addrs[i], **pp;
		if (!e->used)
			continue;
		pp = &s->by_addr[addr_hash(&e->addr) % BUCKETS];
		while (*pp && *pp != e)
			pp = &(*pp)->next;
		if (*pp)
			*pp = e->next;
		e->used = false;
	}
	struct tp_peer **pp = &s->by_ufrag[hash_bytes(p->ufrag, strlen(p->ufrag)) % BUCKETS];
	while (*pp && *pp != p)
		pp = &(*pp)->ufrag_next;
	if (*pp)
		*pp = p->ufrag_next;
	pp = &s->peers;
	while (*pp && *pp != p)
		pp = &(*pp)->next;
	if (*pp)
		*pp = p->next;
}

static struct tp_peer *find_ufrag(struct tp_server *s, const uint8_t *u, size_t len)
{
	struct tp_peer *p = s->by_ufrag[hash_bytes(u, len) % BUCKETS];

	for (; p; p = p->ufrag_next)
		if (strlen(p->ufrag) == len && !memcmp(p->ufrag, u, len))
			return p;
	return NULL;
}

/* Removes a peer from every table and frees it. notify: tell its owner. */
static void close_peer(struct tp_server *s, struct tp_peer *p, bool notify)
{
	unbind_peer(s, p);
	tp_peer_say_goodbye(p);
	if (p->connected && s->st.peers_connected)
		s->st.peers_connected--;
	s->st.peers--;
	if (notify && p->ev.on_state)
		p->ev.on_state(p->arg, p, TP_PEER_CLOSED);
	tp_peer_destroy(&p);
}

/* ---- sending ---------------------------------------------------------- */

static void flush_tx(struct tp_server *s)
{
	unsigned off = 0;

	while (off < s->n_tx) {
		int n = sendmmsg(s->fd, s->tx_msg + off, s->n_tx - off, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* EAGAIN or an ICMP error for one destination: the
			 * datagram is lost, as on the wire; skip it. */
			off++;
			continue;
		}
		off += (unsigned)n;
	}
	s->n_tx = 0;
}

void tp_server_queue(struct tp_server *s, const uint8_t *buf, size_t len,
		     const struct sockaddr_storage *addr, socklen_t alen)
{
	unsigned i;

	if (len > TP_PKT_CAP)
		return;
	if (s->n_tx == BATCH)
		flush_tx(s);
	i = s->n_tx++;
	memcpy(s->tx_buf[i], buf, len);
	memcpy(&s->tx_addr[i], addr, alen);
	s->tx_iov[i].iov_base = s->tx_buf[i];
	s->tx_iov[i].iov_len = len;
	memset(&s->tx_msg[i], 0, sizeof(s->tx_msg[i]));
	s->tx_msg[i].msg_hdr.msg_name = &s->tx_addr[i];
	s->tx_msg[i].msg_hdr.msg_namelen = alen;
	s->tx_msg[i].msg_hdr.msg_iov = &s->tx_iov[i];
	s->tx_msg[i].msg_hdr.msg_iovlen = 1;
	/* Room threads add to these too (tp_batch_flush). */
	__atomic_add_fetch(&s->st.tx_packets, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&s->st.tx_bytes, len, __ATOMIC_RELAXED);
}

int tp_server_fd(const struct tp_server *s)
{
	return s->fd;
}

/* A consistent-enough copy of counters that several threads add to. */
static void snapshot(const struct tp_stats *from, struct tp_stats *to)
{
	const uint64_t *f = (const uint64_t *)from;
	uint64_t *t = (uint64_t *)to;

	for (size_t i = 0; i < sizeof(*from) / sizeof(uint64_t); i++)
		t[i] = __atomic_load_n(&f[i], __ATOMIC_RELAXED);
}

struct tp_dtls_cert *tp_server_cert(struct tp_server *s)
{
	return s->cert;
}

struct tp_stats *tp_server_counters(struct tp_server *s)
{
	return &s->st;
}

void tp_server_drop(struct tp_server *s, enum tp_drop why)
{
	s->st.drop[why]++;
}

/* ---- receiving -------------------------------------------------------- */

/* ICE-lite: answer a valid binding request and remember the address. */
static void on_stun(struct tp_server *s, const uint8_t *buf, size_t len,
		    const struct sockaddr_storage *from, socklen_t alen, uint64_t now)
{
	struct tp_stun_msg m;
	struct tp_peer *p;
	const uint8_t *colon;
	uint8_t out[256];
	size_t outlen, ulen;
	int err;

	if (tp_stun_parse(&m, buf, len)) {
		tp_server_drop(s, TP_DROP_STUN_MALFORMED);
		return;
	}
	if (m.type != TP_STUN_BINDING_REQUEST) {
		tp_server_drop(s, TP_DROP_STUN_NOT_REQUEST);
		return;
	}
	if (!m.has_fingerprint) {
		tp_server_drop(s, TP_DROP_STUN_NO_FINGERPRINT);
		return;
	}
	/* USERNAME is "our-ufrag:their-ufrag". */
	colon = m.username ? memchr(m.username, ':', m.username_len) : NULL;
	p = colon ? find_ufrag(s, m.username, (size_t)(colon - m.username)) : NULL;
	ulen = colon ? m.username_len - (size_t)(colon - m.username) - 1 : 0;
	if (!p || ulen != strlen(p->remote_ufrag) ||
	    memcmp(colon + 1, p->remote_ufrag, ulen)) {
		tp_server_drop(s, TP_DROP_STUN_UNKNOWN_USER);
		return;
	}
	err = tp_stun_check_integrity(&m, buf, len, (const uint8_t *)p->pwd,
				      strlen(p->pwd));
	if (err) {
		tp_server_drop(s, err == EACCES ? TP_DROP_STUN_BAD_INTEGRITY
						: TP_DROP_STUN_NO_INTEGRITY);
		return;
	}
	if (tp_stun_build_success(out, sizeof(out), &outlen, m.tid,
				  (const struct sockaddr *)from,
				  (const uint8_t *)p->pwd, strlen(p->pwd)))
		return;
	tp_server_queue(s, out, outlen, from, alen);
	s->st.stun_requests++;
	tp_peer_on_ice(p, from, alen, m.use_candidate, now);
}

static void on_datagram(struct tp_server *s, uint8_t *buf, size_t len,
			const struct sockaddr_storage *from, socklen_t alen,
			uint64_t now)
{
	struct tp_addr_entry *e;
	uint8_t b = len ? buf[0] : 0xff;

	s->st.rx_packets++;
	s->st.rx_bytes += len;
	if (b <= 3) {
		on_stun(s, buf, len, from, alen, now);
		return;
	}
	if (!((b >= 20 && b <= 63) || (b >= 128 && b <= 191))) {
		tp_server_drop(s, TP_DROP_UNKNOWN_KIND);
		return;
	}
	/* DTLS and SRTP only from an address that passed ICE. */
	e = find_addr(s, from);
	if (!e) {
		tp_server_drop(s, TP_DROP_UNKNOWN_ADDR);
		return;
	}
	if (b <= 63)
		tp_peer_on_dtls(e->peer, e, buf, len);
	else
		tp_peer_on_srtp(e->peer, buf, len, now);
}

static void read_socket(struct tp_server *s)
{
	for (;;) {
		uint64_t now;
		int n;

		for (int i = 0; i < BATCH; i++) {
			s->rx_iov[i].iov_base = s->rx_buf[i];
			s->rx_iov[i].iov_len = TP_PKT_CAP;
			memset(&s->rx_msg[i].msg_hdr, 0, sizeof(struct msghdr));
			s->rx_msg[i].msg_hdr.msg_name = &s->rx_addr[i];
			s->rx_msg[i].msg_hdr.msg_namelen = sizeof(s->rx_addr[i]);
			s->rx_msg[i].msg_hdr.msg_iov = &s->rx_iov[i];
			s->rx_msg[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(s->fd, s->rx_msg, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		now = cm_now_us();
		for (int i = 0; i < n; i++) {
			if (s->rx_msg[i].msg_hdr.msg_flags & MSG_TRUNC) {
				tp_server_drop(s, TP_DROP_UNKNOWN_KIND);
				continue;
			}
			on_datagram(s, s->rx_buf[i], s->rx_msg[i].msg_len,
				    &s->rx_addr[i], s->rx_msg[i].msg_hdr.msg_namelen,
				    now);
		}
		if (n < BATCH)
			return;
	}
}

/* ---- commands --------------------------------------------------------- */

static void add_peer(struct tp_server *s, struct tp_peer *p)
{
	struct tp_peer **b = &s->by_ufrag[hash_bytes(p->ufrag, strlen(p->ufrag)) % BUCKETS];

	p->ufrag_next = *b;
	*b = p;
	p->next = s->peers;
	s->peers = p;
	s->st.peers++;
}

static int remove_peer(struct tp_server *s, const char *id)
{
	for (struct tp_peer *p = s->peers; p; p = p->next) {
		if (!strcmp(p->id, id)) {
			close_peer(s, p, false);
			return 0;
		}
	}
	return ENOENT;
}

static void run_commands(struct tp_server *s)
{
	struct cmd *list, *c;
	uint64_t v;

	if (read(s->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		cm_warn("transport", "eventfd read: %s", strerror(errno));
	pthread_mutex_lock(&s->lock);
	list = s->cmd_head;
	s->cmd_head = NULL;
	pthread_mutex_unlock(&s->lock);

	/* Oldest first: the list was pushed at the head. */
	struct cmd *rev = NULL;
	while (list) {
		c = list;
		list = c->next;
		c->next = rev;
		rev = c;
	}
	for (c = rev; c;) {
		struct cmd *next = c->next;
		switch (c->kind) {
		case CMD_ADD:
			add_peer(s, c->peer);
			c->result = 0;
			break;
		case CMD_REMOVE:
			c->result = remove_peer(s, c->id);
			break;
		case CMD_STATS:
			snapshot(&s->st, c->stats);
			c->result = 0;
			break;
		case CMD_RTCP:
			/* The peer is alive while its sender is not closed:
			 * only this thread closes it. */
			if (!tp_sender_closed(c->sender))
				tp_peer_send_rtcp(c->sender->peer, c->pkt, c->len);
			tp_sender_unref(&c->sender);
			free(c);
			c = next;
			continue;
		case CMD_STOP:
			s->stopping = true;
			c->result = 0;
			break;
		}
		pthread_mutex_lock(&s->lock);
		c->done = true;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
		c = next;
	}
}

/* Posts c to the I/O thread and waits until it ran. */
static int post(struct tp_server *s, struct cmd *c)
{
	uint64_t one = 1;

	pthread_mutex_lock(&s->lock);
	if (s->closed) {
		pthread_mutex_unlock(&s->lock);
		return ESHUTDOWN;
	}
	c->done = false;
	c->next = s->cmd_head;
	s->cmd_head = c;
	if (write(s->evfd, &one, sizeof(one)) < 0)
		cm_warn("transport", "eventfd write: %s", strerror(errno));
	while (!c->done)
		pthread_cond_wait(&s->cond, &s->lock);
	pthread_mutex_unlock(&s->lock);
	return c->result;
}

/* ---- the loop --------------------------------------------------------- */

static void housekeeping(struct tp_server *s)
{
	uint64_t now = cm_now_us(), ticks;
	struct tp_peer *p, *next;

	if (read(s->timerfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return;
	for (p = s->peers; p; p = next) {
		bool was_connected = p->connected;
		next = p->next;
		if (!tp_peer_tick(p, now)) {
			if (now - p->last_consent_us >= TP_CONSENT_TIMEOUT_US) {
				s->st.consent_expired++;
				cm_info("transport", "peer %s: consent expired", p->id);
			}
			close_peer(s, p, true);
			continue;
		}
		(void)was_connected;
	}
}

static void *io_main(void *arg)
{
	struct tp_server *s = arg;
	struct epoll_event evs[8];

	pthread_setname_np(pthread_self(), "tutti-io");
	cm_thread_media_priority();
	while (!s->stopping) {
		int n = epoll_wait(s->epfd, evs, CM_ARRAY_SIZE(evs), -1);
		if (n < 0 && errno != EINTR) {
			cm_error("transport", "epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == s->fd)
				read_socket(s);
			else if (fd == s->evfd)
				run_commands(s);
			else if (fd == s->timerfd)
				housekeeping(s);
		}
		flush_tx(s);
	}
	/* Shutdown: no new commands; serve those already queued; then every
	 * peer gets a BYE and a close_notify. */
	pthread_mutex_lock(&s->lock);
	s->closed = true;
	pthread_mutex_unlock(&s->lock);
	run_commands(s);
	while (s->peers)
		close_peer(s, s->peers, true);
	flush_tx(s);
	return NULL;
}

static int bind_socket(struct tp_server *s, const struct tp_server_config *cfg)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int bufsz = 4 << 20;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, cfg->bind_ip, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons(cfg->port);
		len = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, cfg->bind_ip,
			     &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(cfg->port);
		len = sizeof(struct sockaddr_in6);
	} else {
		return EINVAL;
	}
	s->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return errno;
	/* Bigger buffers absorb bursts (a keyframe fanned out to many). */
	setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	if (bind(s->fd, (struct sockaddr *)&ss, len) < 0)
		return errno;
	return 0;
}

int tp_server_new(struct tp_server **out, const struct tp_server_config *cfg)
{
	struct tp_server *s;
	struct epoll_event ev = { .events = EPOLLIN };
	struct itimerspec its = {
		.it_interval = { .tv_nsec = TICK_NS },
		.it_value = { .tv_nsec = TICK_NS },
	};
	const char *cand;
	int err;

	if (!out || !cfg || !cfg->bind_ip)
		return EINVAL;
	cand = cfg->public_ip ? cfg->public_ip : cfg->bind_ip;
	if (strlen(cand) >= INET6_ADDRSTRLEN)
		return EINVAL;
	err = tp_srtp_init();
	if (err)
		return err;
	s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	s->fd = s->epfd = s->evfd = s->timerfd = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	strcpy(s->cand_ip, cand);
	s->port = cfg->port;

	err = bind_socket(s, cfg);
	if (err)
		goto out;
	err = tp_dtls_cert_new(&s->cert);
	if (err)
		goto out;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	s->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->epfd < 0 || s->evfd < 0 || s->timerfd < 0 ||
	    timerfd_settime(s->timerfd, 0, &its, NULL) < 0) {
		err = errno;
		goto out;
	}
	ev.data.fd = s->fd;
	epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->fd, &ev);
	ev.data.fd = s->evfd;
	epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->evfd, &ev);
	ev.data.fd = s->timerfd;
	epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->timerfd, &ev);
	err = pthread_create(&s->thread, NULL, io_main, s);
	if (err)
		goto out;
	s->thread_started = true;
	cm_info("transport", "media on udp %s:%u, candidate %s", cfg->bind_ip,
		cfg->port, s->cand_ip);
out:
	if (err)
		tp_server_free(&s);
	*out = s;
	return err;
}

void tp_server_free(struct tp_server **p)
{
	struct tp_server *s = p ? *p : NULL;
	struct cmd stop = { .kind = CMD_STOP };

	if (!s)
		return;
	if (s->thread_started) {
		post(s, &stop);
		pthread_join(s->thread, NULL);
	}
	pthread_mutex_lock(&s->lock);
	s->closed = true;
	pthread_mutex_unlock(&s->lock);
	tp_dtls_cert_free(&s->cert);
	if (s->fd >= 0)
		close(s->fd);
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->evfd >= 0)
		close(s->evfd);
	if (s->timerfd >= 0)
		close(s->timerfd);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
	*p = NULL;
}

const char *tp_server_fingerprint(const struct tp_server *s)
{
	return tp_dtls_cert_fingerprint(s->cert);
}

void tp_server_stats(struct tp_server *s, struct tp_stats *out)
{
	struct cmd c = { .kind = CMD_STATS, .stats = out };

	if (post(s, &c))
		memset(out, 0, sizeof(*out));
}

int tp_server_post_rtcp(struct tp_server *s, struct tp_sender *sender,
			const uint8_t *pkt, size_t len)
{
	struct cmd *c;
	uint64_t one = 1;

	if (len > TP_PKT_CAP - TP_SRTP_MAX_TRAILER)
		return EMSGSIZE;
	c = malloc(sizeof(*c));
	if (!c)
		return ENOMEM;
	c->kind = CMD_RTCP;
	c->async = true;
	c->sender = tp_sender_ref(sender);
	c->len = len;
	memcpy(c->pkt, pkt, len);
	pthread_mutex_lock(&s->lock);
	if (s->closed) {
		pthread_mutex_unlock(&s->lock);
		tp_sender_unref(&c->sender);
		free(c);
		return ESHUTDOWN;
	}
	c->next = s->cmd_head;
	s->cmd_head = c;
	pthread_mutex_unlock(&s->lock);
	if (write(s->evfd, &one, sizeof(one)) < 0)
		cm_warn("transport", "eventfd write: %s", strerror(errno));
	return 0;
}

int tp_server_add_peer(struct tp_server *s, const char *offer, size_t offer_len,
		       const struct tp_peer_events *ev, void *arg, char **answer,
		       char id[TP_PEER_ID_LEN + 1], char *err, size_t errlen)
{
	struct cmd c = { .kind = CMD_ADD };
	struct tp_peer *p = NULL;
	char *text = NULL;
	int rc;

	if (!s || !offer || !ev || !answer || !id)
		return EINVAL;
	rc = tp_peer_from_offer(&p, s, offer, offer_len, ev, arg, s->cand_ip, s->port, &text,
				err, errlen);
	if (rc)
		return rc;
	c.peer = p;
	rc = post(s, &c);
	if (rc) {
		tp_peer_destroy(&p);
		free(text);
		return rc;
	}
	memcpy(id, p->id, TP_PEER_ID_LEN + 1); /* the I/O thread owns p now */
	*answer = text;
	return 0;
}

int tp_server_remove_peer(struct tp_server *s, const char *id)
{
	struct cmd c = { .kind = CMD_REMOVE, .id = id };

	if (!s || !id)
		return EINVAL;
	return post(s, &c);
}
