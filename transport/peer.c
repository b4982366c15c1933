/*
 * One participant's transport state on the I/O thread: the addresses that
 * passed ICE, consent freshness, DTLS → SRTP keys, unprotect/protect, and
 * the RTCP sender and receiver reports (RFC 3550 6.4, A.3, A.8).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "transport/internal.h"

#define IDX_AUDIO 0
#define IDX_VIDEO 1
#define IDX_SCREEN 2

static int kind_index(enum tp_sdp_kind k)
{
	return k == TP_SDP_AUDIO ? IDX_AUDIO : k == TP_SDP_VIDEO ? IDX_VIDEO : -1;
}

const char *tp_peer_id(const struct tp_peer *p)
{
	return p->id;
}

const struct tp_sdp_neg_media *tp_peer_media(const struct tp_peer *p,
					     enum tp_sdp_kind kind)
{
	int i = kind_index(kind);

	return i >= 0 && p->has[i] ? &p->media[i] : NULL;
}

uint32_t tp_peer_local_ssrc(const struct tp_peer *p, enum tp_sdp_kind kind)
{
	int i = kind_index(kind);

	return i >= 0 ? p->ssrc[i] : 0;
}

static void dtls_send(void *arg, const uint8_t *buf, size_t len)
{
	struct tp_peer *p = arg;
	const struct tp_addr_entry *e;

	if (p->selected < 0)
		return;
	e = &p->addrs[p->selected];
	tp_server_queue(p->srv, buf, len, &e->addr, e->len);
}

int tp_peer_create(struct tp_peer **out, struct tp_server *s,
		   const struct tp_sdp_neg *neg, const struct tp_peer_events *ev,
		   void *arg)
{
	struct tp_peer *p;
	int err;

	if (strlen(neg->ice_ufrag) >= sizeof(p->remote_ufrag) ||
	    strlen(neg->fp_alg) >= sizeof(p->fp_alg) ||
	    strlen(neg->fp) >= sizeof(p->fp))
		return EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	p->srv = s;
	cm_random_token(p->id, TP_PEER_ID_LEN);
	cm_random_token(p->ufrag, 8);
	cm_random_token(p->pwd, 32);
	strcpy(p->remote_ufrag, neg->ice_ufrag);
	strcpy(p->fp_alg, neg->fp_alg);
	strcpy(p->fp, neg->fp);
	for (size_t i = 0; i < neg->n_media; i++) {
		const struct tp_sdp_neg_media *m = &neg->media[i];
		int k = m->screen ? IDX_SCREEN : kind_index(m->kind);
		if (!m->accepted || k < 0 || p->has[k])
			continue;
		p->media[k] = *m;
		p->media[k].codec = NULL; /* pointed into the offer */
		p->has[k] = true;
	}
	p->ev = *ev;
	p->arg = arg;
	p->selected = -1;
	p->created_us = p->last_consent_us = cm_now_us();
	p->next_rtcp_us = p->created_us + TP_RTCP_INTERVAL_US;
	p->ssrc[IDX_AUDIO] = cm_random_u32() | 1;
	p->ssrc[IDX_VIDEO] = cm_random_u32() & ~1u;
	p->rtx_ssrc = cm_random_u32() | 2u;
	err = tp_dtls_new(&p->dtls, tp_server_cert(s), TP_DTLS_SERVER, p->fp_alg,
			  p->fp, dtls_send, p);
	if (err) {
		free(p);
		return err;
	}
	*out = p;
	return 0;
}

int tp_peer_from_offer(struct tp_peer **out, struct tp_server *s, const char *offer,
		       size_t offer_len, const struct tp_peer_events *ev, void *arg,
		       const char *cand_ip, uint16_t cand_port, char **answer, char *err,
		       size_t errlen)
{
	struct tp_sdp *sdp = malloc(sizeof(*sdp));
	size_t cap = 16384, len;
	char *text = malloc(cap);
	struct tp_peer *p = NULL;
	struct tp_sdp_neg neg;
	int rc;

	if (!sdp || !text) {
		rc = ENOMEM;
		goto out;
	}
	if (tp_sdp_parse(sdp, offer, offer_len, err, errlen)) {
		rc = EBADMSG;
		goto out;
	}
	if (tp_sdp_negotiate(sdp, &neg, err, errlen)) {
		rc = EPROTO;
		goto out;
	}
	rc = tp_peer_create(&p, s, &neg, ev, arg);
	if (rc)
		goto out;
	rc = tp_sdp_write_answer(text, cap, &len, sdp, &neg,
				 &(struct tp_sdp_local){
					 .ice_ufrag = p->ufrag,
					 .ice_pwd = p->pwd,
					 .fingerprint = tp_dtls_cert_fingerprint(tp_server_cert(s)),
					 .cand_ip = cand_ip,
					 .cand_port = cand_port,
					 .audio_ssrc = p->ssrc[IDX_AUDIO],
					 .video_ssrc = p->ssrc[IDX_VIDEO],
					 .video_rtx_ssrc = p->rtx_ssrc,
					 .cname = "tutti",
					 .stream_id = "tutti",
					 .session_id = ((uint64_t)cm_random_u32() << 20) |
						       cm_random_u32(),
				 });
	if (rc)
		goto out;
	*out = p;
	*answer = text;
	p = NULL;
	text = NULL;
out:
	tp_peer_destroy(&p);
	free(text);
	free(sdp);
	return rc;
}

void tp_peer_destroy(struct tp_peer **pp)
{
	struct tp_peer *p = pp ? *pp : NULL;

	if (!p)
		return;
	tp_sender_detach(p);
	tp_dtls_free(&p->dtls);
	tp_srtp_free(&p->srtp_in);
	tp_srtp_free(&p->srtp_rtcp);
	free(p);
	*pp = NULL;
}

/* ---- ICE -------------------------------------------------------------- */

/* Media goes to the selected address; the sender follows it. */
static void select_addr(struct tp_peer *p, int slot)
{
	if (p->selected == slot)
		return;
	p->selected = slot;
	if (p->sender)
		tp_sender_set_addr(p->sender, &p->addrs[slot].addr, p->addrs[slot].len);
}

void tp_peer_on_ice(struct tp_peer *p, const struct sockaddr_storage *from,
		    socklen_t alen, bool nominate, uint64_t now)
{
	int slot = -1, free_slot = -1;

	p->last_consent_us = now;
	for (int i = 0; i < TP_MAX_ADDRS; i++) {
		if (!p->addrs[i].used) {
			if (free_slot < 0)
				free_slot = i;
			continue;
		}
		if (p->addrs[i].len == alen && !memcmp(&p->addrs[i].addr, from, alen))
			slot = i;
	}
	if (slot < 0) {
		/* A new address; when all slots are taken, reuse one that is
		 * not the selected one. */
		slot = free_slot >= 0 ? free_slot : (p->selected + 1) % TP_MAX_ADDRS;
		if (p->addrs[slot].used)
			return; /* keep the table simple: no eviction while bound */
		memset(&p->addrs[slot].addr, 0, sizeof(p->addrs[slot].addr));
		memcpy(&p->addrs[slot].addr, from, alen);
		p->addrs[slot].len = alen;
		p->addrs[slot].peer = p;
		p->addrs[slot].used = true;
		tp_server_bind_addr(p->srv, &p->addrs[slot]);
	}
	if (!p->addrs[slot].used)
		return; /* moved to another peer meanwhile */
	if (nominate || p->selected < 0)
		select_addr(p, slot);
}

/* ---- DTLS ------------------------------------------------------------- */

static int make_srtp(struct tp_peer *p)
{
	uint8_t local[TP_SRTP_MAX_KEY_LEN], remote[TP_SRTP_MAX_KEY_LEN];
	enum tp_srtp_profile prof;
	size_t klen;
	int err;

	err = tp_dtls_srtp_keys(p->dtls, &prof, local, remote, &klen);
	if (!err)
		err = tp_srtp_new(&p->srtp_in, prof, remote, klen, true);
	if (!err)
		err = tp_srtp_new(&p->srtp_rtcp, prof, local, klen, false);
	if (!err)
		err = tp_sender_create(p, prof, local, klen);
	memset(local, 0, sizeof(local));
	memset(remote, 0, sizeof(remote));
	if (!err)
		cm_info("transport", "peer %s: DTLS done, SRTP %s", p->id,
			prof == TP_SRTP_AEAD_AES_128_GCM ? "AEAD_AES_128_GCM"
							 : "AES_CM_128_HMAC_SHA1_80");
	return err;
}

void tp_peer_on_dtls(struct tp_peer *p, struct tp_addr_entry *from,
		     const uint8_t *buf, size_t len)
{
	struct tp_stats *st = tp_server_counters(p->srv);
	enum tp_dtls_state before = tp_dtls_state(p->dtls);

	/* Answer on the address the handshake runs on. */
	select_addr(p, (int)(from - p->addrs));
	if (tp_dtls_input(p->dtls, buf, len))
		tp_server_drop(p->srv, TP_DROP_DTLS_ERROR);
	if (before == TP_DTLS_HANDSHAKING &&
	    tp_dtls_state(p->dtls) == TP_DTLS_CONNECTED && !p->connected) {
		if (make_srtp(p)) {
			cm_warn("transport", "peer %s: SRTP setup failed", p->id);
			return;
		}
		p->connected = true;
		st->dtls_handshakes++;
		st->peers_connected++;
		if (p->ev.on_state)
			p->ev.on_state(p->arg, p, TP_PEER_CONNECTED);
	}
}

/* ---- RTP/RTCP in ------------------------------------------------------ */

/* SSRCs are bound to the participant that announced them (a=ssrc, RTX
 * included); a sender that announced none is held to the first it used. */
static bool announced(const struct tp_sdp_neg_media *m, uint32_t ssrc)
{
	for (size_t i = 0; i < m->n_remote_ssrc && i < TP_SDP_MAX_SSRC; i++)
		if (m->remote_ssrc[i] == ssrc)
			return true;
	return false;
}

static bool ssrc_allowed(struct tp_peer *p, int k, uint32_t ssrc)
{
	const struct tp_sdp_neg_media *m = &p->media[k];

	if (m->n_remote_ssrc)
		return announced(m, ssrc);
	if (!p->latched[k]) {
		p->latched[k] = true;
		p->latch_ssrc[k] = ssrc;
	}
	return p->latch_ssrc[k] == ssrc;
}

static struct tp_in_stream *in_stream(struct tp_peer *p, uint32_t ssrc,
				      uint32_t clock)
{
	struct tp_in_stream *free_s = NULL;

	for (int i = 0; i < TP_MAX_IN_STREAMS; i++) {
		if (p->in[i].used && p->in[i].ssrc == ssrc)
			return &p->in[i];
		if (!p->in[i].used && !free_s)
			free_s = &p->in[i];
	}
	if (free_s) {
		memset(free_s, 0, sizeof(*free_s));
		free_s->ssrc = ssrc;
		free_s->clock = clock;
	}
	return free_s;
}

/* RFC 3550 A.1 (simplified: no probation) and A.8 jitter. */
static void count_rtp(struct tp_in_stream *s, const struct tp_rtp_hdr *h,
		      uint64_t now)
{
	int64_t arrival = (int64_t)(now * s->clock / 1000000u);
	int64_t transit = arrival - h->ts;

	if (!s->used) {
		s->used = true;
		s->base_seq = h->seq;
		s->max_seq = h->seq;
		s->transit = transit;
	} else {
		uint16_t delta = (uint16_t)(h->seq - s->max_seq);
		if (delta < 0x8000) {
			if (h->seq < s->max_seq)
				s->cycles += 65536;
			s->max_seq = h->seq;
		}
		int64_t d = transit - s->transit;
		if (d < 0)
			d = -d;
		s->transit = transit;
		/* J += (|D| - J) / 16, kept times 16. */
		s->jitter_q4 += (uint32_t)d - ((s->jitter_q4 + 8) >> 4);
	}
	s->received++;
}

/* An RTX packet (RFC 4588) back into the packet it repeats, in place:
 * the header moves 2 bytes on over the original sequence number, which,
 * with the media payload type and SSRC, it takes back. False when there
 * is nothing to repeat (padding only) or no video stream to repeat. */
static bool unwrap_rtx(struct tp_peer *p, int k, uint8_t **buf, size_t *n,
		       struct tp_rtp_hdr *h)
{
	uint32_t media_ssrc = k == IDX_SCREEN ? p->screen_in_ssrc : p->video_in_ssrc;
	uint8_t *b = *buf;
	uint16_t osn;

	if (h->payload_len < 2 || !media_ssrc)
		return false;
	osn = cm_rd16(b + h->hdr_len);
	memmove(b + 2, b, h->hdr_len);
	b += 2;
	*n -= 2;
	b[1] = (uint8_t)((b[1] & 0x80) | (p->media[k].pt & 0x7f));
	cm_wr16(b + 2, osn);
	cm_wr32(b + 8, media_ssrc);
	*buf = b;
	return tp_rtp_parse(h, b, *n) == 0;
}

static void on_sr(struct tp_peer *p, const struct tp_rtcp_pkt *pk, uint64_t now)
{
	for (int i = 0; i < TP_MAX_IN_STREAMS; i++) {
		if (p->in[i].used && p->in[i].ssrc == pk->sender_ssrc) {
			p->in[i].lsr = (uint32_t)(pk->u.sr.ntp >> 16);
			p->in[i].lsr_us = now;
		}
	}
}

/* A report block about what tutti sends: loss, jitter, and the round
 * trip from our own sender report's time (RFC 3550 6.4.1). */
static void on_report_block(struct tp_peer *p, const struct tp_rtcp_rb *rb)
{
	struct tp_sender *s = p->sender;
	int k = rb->ssrc == p->ssrc[IDX_AUDIO] ? IDX_AUDIO
		: rb->ssrc == p->ssrc[IDX_VIDEO] ? IDX_VIDEO
						 : -1;

	if (!s || k < 0)
		return;
	bool moved = tp_rb_moved(&p->rr_seen[k], &p->rr_high[k], rb);
	__atomic_store_n(&s->rr_loss_q8[k], moved ? rb->fraction_lost : 0, __ATOMIC_RELAXED);
	if (k == IDX_AUDIO)
		__atomic_store_n(&s->rr_jitter_ms, rb->jitter / 48, __ATOMIC_RELAXED);
	if (rb->lsr) {
		uint32_t mid = (uint32_t)(cm_ntp_now() >> 16);
		uint32_t rtt = mid - rb->lsr - rb->dlsr; /* 1/65536 s */
		if (rtt < 65536u * 10) /* ignore nonsense beyond 10 s */
			__atomic_store_n(&s->rr_rtt_ms, (int32_t)((uint64_t)rtt * 1000 >> 16),
					 __ATOMIC_RELAXED);
	}
}

static void on_rtcp(struct tp_peer *p, uint8_t *buf, size_t len, uint64_t now)
{
	struct tp_rtcp_iter it;
	struct tp_rtcp_pkt pk;
	int err;

	/* Walk it once to validate before anyone else trusts it. */
	tp_rtcp_iter_init(&it, buf, len);
	while ((err = tp_rtcp_next(&it, &pk)) == 0) {
		if (pk.kind == TP_RTCP_K_SR)
			on_sr(p, &pk, now);
		if (pk.kind == TP_RTCP_K_SR || pk.kind == TP_RTCP_K_RR)
			for (size_t i = 0; i < pk.n_rb; i++)
				on_report_block(p, &pk.rb[i]);
	}
	if (err != ENOENT) {
		tp_server_drop(p->srv, TP_DROP_RTCP_MALFORMED);
		return;
	}
	tp_server_counters(p->srv)->rx_rtcp++;
	if (p->ev.on_rtcp)
		p->ev.on_rtcp(p->arg, p, buf, len);
}

void tp_peer_on_srtp(struct tp_peer *p, uint8_t *buf, size_t len, uint64_t now)
{
	struct tp_rtp_hdr h;
	size_t n = len;
	int err, k;

	if (!p->connected) {
		tp_server_drop(p->srv, TP_DROP_NOT_READY);
		return;
	}
	if (tp_rtp_is_rtcp(buf, len))
		err = tp_srtp_unprotect_rtcp(p->srtp_in, buf, &n);
	else
		err = tp_srtp_unprotect(p->srtp_in, buf, &n);
	if (err) {
		tp_server_drop(p->srv, err == EACCES	 ? TP_DROP_SRTP_AUTH
				       : err == EALREADY ? TP_DROP_SRTP_REPLAY
							 : TP_DROP_SRTP_OTHER);
		return;
	}
	/* Consent (RFC 7675) is kept by authenticated STUN checks; an
	 * authenticated SRTP/SRTCP packet from an address that passed ICE
	 * proves as much (only the peer holds the keys), and keeps peers
	 * whose ICE agent sends no consent checks (libnice without
	 * consent-freshness: GStreamer webrtcbin) from being dropped after
	 * 30 s while they talk to us. */
	p->last_consent_us = now;
	if (tp_rtp_is_rtcp(buf, n)) {
		on_rtcp(p, buf, n, now);
		return;
	}
	if (tp_rtp_parse(&h, buf, n)) {
		tp_server_drop(p->srv, TP_DROP_RTP_MALFORMED);
		return;
	}
	/* The screen's packets are known by its announced SSRCs (its payload
	 * types may be the camera's), RTX included. */
	bool screen = p->has[IDX_SCREEN] && announced(&p->media[IDX_SCREEN], h.ssrc);
	int vk = screen ? IDX_SCREEN : IDX_VIDEO;
	if (p->has[vk] && p->media[vk].rtx_pt > 0 && h.pt == p->media[vk].rtx_pt) {
		if (!unwrap_rtx(p, vk, &buf, &n, &h))
			return; /* padding only (a bandwidth probe), or no video yet */
	}
	k = p->has[IDX_AUDIO] && h.pt == p->media[IDX_AUDIO].pt ? IDX_AUDIO
	    : p->has[vk] && h.pt == p->media[vk].pt		 ? vk
								 : -1;
	if (k == IDX_VIDEO)
		p->video_in_ssrc = h.ssrc;
	else if (k == IDX_SCREEN)
		p->screen_in_ssrc = h.ssrc;
	if (k < 0) {
		tp_server_drop(p->srv, TP_DROP_UNKNOWN_SSRC);
		return;
	}
	if (!ssrc_allowed(p, k, h.ssrc)) {
		tp_server_drop(p->srv, TP_DROP_FOREIGN_SSRC);
		return;
	}
	struct tp_in_stream *s = in_stream(p, h.ssrc, k == IDX_AUDIO ? 48000 : 90000);
	if (s)
		count_rtp(s, &h, now);
	tp_server_counters(p->srv)->rx_rtp++;
	if (k == IDX_SCREEN) {
		if (p->ev.on_screen_rtp)
			p->ev.on_screen_rtp(p->arg, p, buf, n, &h);
	} else if (p->ev.on_rtp) {
		p->ev.on_rtp(p->arg, p, p->media[k].kind, buf, n, &h);
	}
}

/* ---- sending (I/O thread) -------------------------------------------- */

int tp_peer_send_rtcp(struct tp_peer *p, const uint8_t *pkt, size_t len)
{
	uint8_t buf[TP_PKT_CAP];
	const struct tp_addr_entry *e;
	int err;

	if (!p->connected || p->selected < 0)
		return ENOTCONN;
	if (len + TP_SRTP_MAX_TRAILER > sizeof(buf))
		return EMSGSIZE;
	memcpy(buf, pkt, len);
	err = tp_srtp_protect_rtcp(p->srtp_rtcp, buf, &len, sizeof(buf));
	if (err)
		return err;
	e = &p->addrs[p->selected];
	tp_server_queue(p->srv, buf, len, &e->addr, e->len);
	__atomic_add_fetch(&tp_server_counters(p->srv)->tx_rtcp, 1, __ATOMIC_RELAXED);
	return 0;
}

/* ---- reports ---------------------------------------------------------- */

/* RFC 3550 A.3: one report block per inbound SSRC. */
static size_t report_blocks(struct tp_peer *p, struct tp_rtcp_rb *rb, uint64_t now)
{
	size_t n = 0;

	for (int i = 0; i < TP_MAX_IN_STREAMS; i++) {
		struct tp_in_stream *s = &p->in[i];
		if (!s->used)
			continue;
		uint32_t ext_max = s->cycles + s->max_seq;
		uint32_t expected = ext_max - s->base_seq + 1;
		int64_t lost = (int64_t)expected - s->received;
		uint32_t exp_int = expected - s->expected_prior;
		uint32_t rec_int = s->received - s->received_prior;
		int64_t lost_int = (int64_t)exp_int - rec_int;

		s->expected_prior = expected;
		s->received_prior = s->received;
		lost = CM_MAX(CM_MIN(lost, 0x7fffff), -0x800000);
		rb[n] = (struct tp_rtcp_rb){
			.ssrc = s->ssrc,
			.fraction_lost = exp_int && lost_int > 0
						 ? (uint8_t)((lost_int << 8) / exp_int)
						 : 0,
			.cum_lost = (int32_t)lost,
			.ext_high_seq = ext_max,
			.jitter = s->jitter_q4 >> 4,
			.lsr = s->lsr,
			/* DLSR in 1/65536 s. */
			.dlsr = s->lsr ? (uint32_t)((now - s->lsr_us) * 65536 / 1000000) : 0,
		};
		n++;
	}
	return n;
}

static void send_reports(struct tp_peer *p, uint64_t now)
{
	uint8_t buf[1024];
	struct tp_rtcp_rb rb[TP_MAX_IN_STREAMS];
	size_t len = 0, n, w, n_rb = report_blocks(p, rb, now);
	uint64_t ntp = cm_ntp_now();
	bool first = true;

	for (int k = 0; k < 2 && p->sender; k++) {
		struct tp_out_stream *o = &p->sender->out[k];
		if (!__atomic_load_n(&o->active, __ATOMIC_RELAXED))
			continue;
		/* The RTP time now, extrapolated from the last packet sent. */
		uint64_t last_us = __atomic_load_n(&o->last_us, __ATOMIC_RELAXED);
		uint32_t ts = __atomic_load_n(&o->last_ts, __ATOMIC_RELAXED) +
			      (uint32_t)((now - CM_MIN(last_us, now)) * o->clock / 1000000u);
		if (tp_rtcp_write_sr(buf + len, sizeof(buf) - len, &w, o->ssrc, ntp, ts,
				     __atomic_load_n(&o->packets, __ATOMIC_RELAXED),
				     __atomic_load_n(&o->octets, __ATOMIC_RELAXED),
				     first ? rb : NULL, first ? n_rb : 0) == 0) {
			len += w;
			first = false;
		}
	}
	if (first && tp_rtcp_write_rr(buf, sizeof(buf), &w, p->ssrc[IDX_AUDIO],
				      rb, n_rb) == 0) {
		len = w;
		first = false;
	}
	n = len;
	if (!first && tp_rtcp_write_sdes(buf + n, sizeof(buf) - n, &w,
					 p->ssrc[IDX_AUDIO], "tutti") == 0)
		len += w;
	if (len)
		tp_peer_send_rtcp(p, buf, len);
}

bool tp_peer_tick(struct tp_peer *p, uint64_t now)
{
	if (now - p->last_consent_us >= TP_CONSENT_TIMEOUT_US)
		return false;
	if (tp_dtls_state(p->dtls) == TP_DTLS_FAILED) {
		cm_warn("transport", "peer %s: DTLS handshake failed", p->id);
		return false;
	}
	if (tp_dtls_state(p->dtls) == TP_DTLS_CLOSED) {
		cm_info("transport", "peer %s: DTLS closed by the peer", p->id);
		return false;
	}
	if (!p->connected) {
		if (tp_dtls_timeout_in(p->dtls) == 0)
			tp_dtls_timeout(p->dtls);
		return true;
	}
	if (now >= p->next_rtcp_us) {
		send_reports(p, now);
		/* RFC 3550 6.3.5: randomise between 0.5 and 1.5 intervals. */
		p->next_rtcp_us = now + TP_RTCP_INTERVAL_US / 2 +
				  cm_random_u32() % TP_RTCP_INTERVAL_US;
	}
	return true;
}

void tp_peer_say_goodbye(struct tp_peer *p)
{
	uint8_t buf[64];
	size_t len, w;
	uint32_t ssrc[2] = { p->ssrc[IDX_AUDIO], p->ssrc[IDX_VIDEO] };

	/* A compound packet starts with a report (RFC 3550 6.1). */
	if (p->connected &&
	    tp_rtcp_write_rr(buf, sizeof(buf), &len, ssrc[0], NULL, 0) == 0 &&
	    tp_rtcp_write_bye(buf + len, sizeof(buf) - len, &w, ssrc, 2) == 0)
		tp_peer_send_rtcp(p, buf, len + w);
	if (p->dtls && tp_dtls_state(p->dtls) == TP_DTLS_CONNECTED)
		tp_dtls_close(p->dtls);
}

