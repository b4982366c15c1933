/*
 * SDP negotiation and answer (see sdp.h): picks Opus 48000/2 and VP8 or
 * H.264 (whichever the offer lists first) from a parsed offer, checks what ICE-lite + DTLS passive + BUNDLE +
 * rtcp-mux need, and prints a JSEP answer into a caller's buffer. An
 * offer tutti cannot serve is refused whole, with the reason.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "transport/rtp.h"
#include "transport/sdp.h"

#define PROTO_SAVPF "UDP/TLS/RTP/SAVPF"

static int refuse(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes the reason for the 400/422 body and returns EPROTO. */
static int refuse(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return EPROTO;
}

static bool is_opus(const struct tp_sdp_codec *c)
{
	return !strcasecmp(c->name, "opus") && c->clock == 48000 && c->channels == 2;
}

static bool is_vp8(const struct tp_sdp_codec *c)
{
	return !strcasecmp(c->name, "VP8") && c->clock == 90000;
}

const char *tp_codec_name(enum tp_codec c)
{
	switch (c) {
	case TP_CODEC_OPUS:
		return "opus";
	case TP_CODEC_VP8:
		return "VP8";
	case TP_CODEC_H264:
		return "H264";
	default:
		return "";
	}
}

/* The value of one "key=value" parameter of an fmtp line into val (cap
 * bytes); false when absent or too long. */
static bool fmtp_param(const char *fmtp, const char *key, char *val, size_t cap)
{
	size_t klen = strlen(key);

	for (const char *p = fmtp; p && *p;) {
		p += strspn(p, " \t;");
		if (!strncasecmp(p, key, klen) && p[klen] == '=') {
			size_t n = strcspn(p + klen + 1, "; \t");
			if (n >= cap)
				return false;
			memcpy(val, p + klen + 1, n);
			val[n] = '\0';
			return true;
		}
		p = strchr(p, ';');
	}
	return false;
}

/* How well tutti serves an H.264 payload type: 0 not at all (another
 * packetization mode or profile), 1 baseline, 2 constrained baseline.
 * profile-level-id is 3 hex bytes: profile_idc 0x42 (baseline), then
 * the constraint flags (constraint_set1, 0x40, makes it constrained). */
static int h264_fit(const struct tp_sdp_codec *c)
{
	char v[16];
	unsigned prof, cons;

	if (strcasecmp(c->name, "H264") || c->clock != 90000)
		return 0;
	if (!fmtp_param(c->fmtp, "packetization-mode", v, sizeof(v)) || strcmp(v, "1"))
		return 0;
	if (!fmtp_param(c->fmtp, "profile-level-id", v, sizeof(v)))
		return 1; /* RFC 6184: absent means 420010, baseline */
	if (strlen(v) != 6 || sscanf(v, "%2x%2x", &prof, &cons) != 2 ||
	    strspn(v, "0123456789abcdefABCDEF") != 6 || prof != 0x42)
		return 0;
	return cons & 0x40 ? 2 : 1;
}

/* The offerer's first Opus (audio) or VP8 or H.264 (video), in its order;
 * among H.264 payload types, the first constrained baseline one. */
static const struct tp_sdp_codec *pick_codec(const struct tp_sdp_media *m)
{
	const struct tp_sdp_codec *best = NULL;
	int fit = 0;

	for (size_t i = 0; i < m->n_codecs; i++) {
		const struct tp_sdp_codec *c = &m->codecs[i];

		if ((m->kind == TP_SDP_AUDIO && is_opus(c)) ||
		    (m->kind == TP_SDP_VIDEO && is_vp8(c)))
			return c;
		if (m->kind != TP_SDP_VIDEO || !h264_fit(c))
			continue;
		/* H.264 comes first: the best of its payload types. */
		for (size_t j = i; j < m->n_codecs; j++) {
			int f = h264_fit(&m->codecs[j]);
			if (f > fit) {
				fit = f;
				best = &m->codecs[j];
			}
		}
		return best;
	}
	return NULL;
}

static bool in_bundle(const struct tp_sdp *s, const char *mid)
{
	for (size_t i = 0; i < s->n_bundle; i++) {
		if (!strcmp(s->bundle[i], mid))
			return true;
	}
	return false;
}

/* The answerer's direction mirrors the offerer's (RFC 3264 6.1). */
static enum tp_sdp_dir answer_dir(enum tp_sdp_dir offer)
{
	switch (offer) {
	case TP_SDP_SENDONLY:
		return TP_SDP_RECVONLY;
	case TP_SDP_RECVONLY:
		return TP_SDP_SENDONLY;
	case TP_SDP_INACTIVE:
		return TP_SDP_INACTIVE;
	default:
		return TP_SDP_SENDRECV;
	}
}

static size_t fp_bytes(const char *fp)
{
	return (strlen(fp) + 1) / 3;
}

/* Fills one accepted m-line: codec, feedback, extension ids, SSRCs. */
static void take_media(struct tp_sdp_neg_media *nm, const struct tp_sdp_media *m,
		       const struct tp_sdp_codec *c)
{
	nm->accepted = true;
	nm->pt = c->pt;
	nm->codec = c;
	nm->codec_id = m->kind == TP_SDP_AUDIO ? TP_CODEC_OPUS
		       : is_vp8(c)	       ? TP_CODEC_VP8
					       : TP_CODEC_H264;
	if (nm->codec_id == TP_CODEC_H264 &&
	    !fmtp_param(c->fmtp, "profile-level-id", nm->h264_profile,
			sizeof(nm->h264_profile)))
		strcpy(nm->h264_profile, "42e01f");
	nm->fb_twcc = c->fb_twcc;
	if (m->kind == TP_SDP_VIDEO) {
		nm->fb_nack = c->fb_nack;
		nm->fb_pli = c->fb_pli;
		nm->fb_fir = c->fb_fir;
		nm->fb_remb = c->fb_remb;
		/* Retransmissions on their own stream (RFC 4588), when the
		 * offer pairs an rtx payload type with this codec. */
		for (size_t i = 0; c->fb_nack && i < m->n_codecs; i++)
			if (!strcasecmp(m->codecs[i].name, "rtx") && m->codecs[i].apt == c->pt &&
			    m->codecs[i].clock == c->clock) {
				nm->rtx_pt = m->codecs[i].pt;
				break;
			}
	}
	for (size_t i = 0; i < m->n_ext; i++) {
		const struct tp_sdp_ext *e = &m->ext[i];

		if (m->kind == TP_SDP_AUDIO && !nm->ext_audio_level &&
		    !strcmp(e->uri, TP_EXT_AUDIO_LEVEL))
			nm->ext_audio_level = e->id;
		else if (!nm->ext_abs_send_time && !strcmp(e->uri, TP_EXT_ABS_SEND_TIME))
			nm->ext_abs_send_time = e->id;
		else if (!nm->ext_twcc && !strcmp(e->uri, TP_EXT_TWCC))
			nm->ext_twcc = e->id;
	}
	nm->n_remote_ssrc = m->n_ssrc;
	memcpy(nm->remote_ssrc, m->ssrc, m->n_ssrc * sizeof(m->ssrc[0]));
	nm->answer_dir = answer_dir(m->dir);
}

/* A second video m-line that can carry a shared screen: the offerer
 * sends on it and names its SSRCs (the only way to tell its packets
 * from the camera's when both use the same payload types). */
static bool screen_candidate(const struct tp_sdp_media *m)
{
	return (m->dir == TP_SDP_SENDONLY || m->dir == TP_SDP_SENDRECV) && m->n_ssrc > 0;
}

/* Transport checks for an m-line tutti will accept; all of them share
 * one ICE/DTLS transport (first), so they must agree with it. */
static int check_transport(const struct tp_sdp_media *m, size_t i,
			   const struct tp_sdp_media *first, char *err, size_t errlen)
{
	if (!m->mid[0])
		return refuse(err, errlen, "m-line %zu has no a=mid", i);
	if (!m->rtcp_mux)
		return refuse(
		    err, errlen,
		    "m-line %zu (mid %s) has no a=rtcp-mux; tutti requires rtcp-mux", i,
		    m->mid);
	if (!m->ice_ufrag[0] || !m->ice_pwd[0])
		return refuse(err, errlen,
			      "no ICE credentials (a=ice-ufrag, a=ice-pwd) for mid %s",
			      m->mid);
	if (strcmp(m->fp_alg, "sha-256"))
		return refuse(err, errlen, "no sha-256 a=fingerprint for mid %s", m->mid);
	if (fp_bytes(m->fp) != 32)
		return refuse(err, errlen,
			      "the sha-256 a=fingerprint of mid %s is not 32 bytes",
			      m->mid);
	if (m->setup[0] && strcmp(m->setup, "actpass") && strcmp(m->setup, "active"))
		return refuse(err, errlen,
			      "a=setup:%s on mid %s; tutti is DTLS passive and needs "
			      "actpass or active",
			      m->setup, m->mid);
	if (first && (strcmp(m->ice_ufrag, first->ice_ufrag) ||
		      strcmp(m->ice_pwd, first->ice_pwd) || strcmp(m->fp, first->fp)))
		return refuse(
		    err, errlen,
		    "mids %s and %s have different ICE credentials or fingerprints; "
		    "tutti needs one bundled transport",
		    first->mid, m->mid);
	return 0;
}

int tp_sdp_negotiate(const struct tp_sdp *offer, struct tp_sdp_neg *neg, char *err,
		     size_t errlen)
{
	const struct tp_sdp_media *first = NULL;
	char why[160] = "";
	size_t n_acc = 0;
	int ret;

	if (!offer || !neg || offer->n_media > TP_SDP_MAX_MEDIA)
		return EINVAL;
	memset(neg, 0, sizeof(*neg));
	neg->audio_index = neg->video_index = neg->screen_index = -1;
	neg->n_media = offer->n_media;
	if (!offer->n_media)
		return refuse(err, errlen, "the offer has no m-lines");
	for (size_t i = 0; i < offer->n_media; i++) {
		const struct tp_sdp_media *m = &offer->media[i];
		const struct tp_sdp_codec *c;
		int *slot = m->kind == TP_SDP_AUDIO   ? &neg->audio_index
			    : m->kind == TP_SDP_VIDEO ? &neg->video_index
						      : NULL;
		bool screen = false;

		neg->media[i].kind = m->kind;
		neg->media[i].pt = -1;
		neg->media[i].answer_dir = TP_SDP_INACTIVE;
		if (slot && *slot >= 0 && slot == &neg->video_index && neg->screen_index < 0 &&
		    screen_candidate(m)) {
			slot = &neg->screen_index;
			screen = true;
		}
		if (!slot || *slot >= 0)
			continue; /* data channels, extra tracks */
		if (m->port == 0 && !(m->bundle_only && in_bundle(offer, m->mid)))
			continue; /* disabled by the offerer */
		if (strcmp(m->proto, PROTO_SAVPF)) {
			snprintf(why, sizeof(why),
				 "; m-line %zu uses %s, not " PROTO_SAVPF, i, m->proto);
			continue;
		}
		c = pick_codec(m);
		if (!c) {
			snprintf(why, sizeof(why), "; %s m-line %zu offers no %s",
				 m->kind_name, i,
				 m->kind == TP_SDP_AUDIO
				     ? "opus/48000/2"
				     : "VP8/90000 or H264/90000 (packetization-mode=1, "
				       "baseline)");
			continue;
		}
		ret = check_transport(m, i, first, err, errlen);
		if (ret)
			return ret;
		take_media(&neg->media[i], m, c);
		if (screen) {
			neg->media[i].screen = true;
			neg->media[i].answer_dir = TP_SDP_RECVONLY;
		}
		*slot = (int)i;
		if (!first)
			first = m;
		n_acc++;
	}
	if (!first)
		return refuse(
		    err, errlen,
		    "nothing tutti can serve: it needs Opus 48000/2 audio or VP8 or H.264 video "
		    "over " PROTO_SAVPF "%s",
		    why);
	for (size_t i = 0; i < offer->n_media && n_acc > 1; i++) {
		if (neg->media[i].accepted && !in_bundle(offer, offer->media[i].mid))
			return refuse(
			    err, errlen,
			    "mid %s is not in a=group:BUNDLE; tutti needs all media "
			    "bundled on one transport",
			    offer->media[i].mid);
	}
	neg->ice_ufrag = first->ice_ufrag;
	neg->ice_pwd = first->ice_pwd;
	neg->fp_alg = first->fp_alg;
	neg->fp = first->fp;
	return 0;
}

/* A capped output buffer: once full, later writes are dropped and the
 * answer fails with ENOSPC rather than being cut short. */
struct wbuf {
	char *p;
	size_t cap, len;
	bool full;
};

static void put(struct wbuf *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put(struct wbuf *w, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (w->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(w->p + w->len, w->cap - w->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= w->cap - w->len)
		w->full = true;
	else
		w->len += (size_t)n;
}

static const char *dir_name(enum tp_sdp_dir d)
{
	static const char *const names[] = {"sendrecv", "sendonly", "recvonly",
					    "inactive"};

	return (unsigned)d < 4 ? names[d] : "inactive";
}

/* A local string goes into the answer verbatim: refuse line breaks. */
static bool safe(const char *s)
{
	return s && !strpbrk(s, "\r\n");
}

static void put_codec(struct wbuf *w, const struct tp_sdp_neg_media *nm)
{
	const struct tp_sdp_codec *c = nm->codec;

	if (c->channels)
		put(w, "a=rtpmap:%d %s/%u/%u\r\n", nm->pt, c->name, c->clock,
		    c->channels);
	else
		put(w, "a=rtpmap:%d %s/%u\r\n", nm->pt, c->name, c->clock);
	if (nm->fb_remb)
		put(w, "a=rtcp-fb:%d goog-remb\r\n", nm->pt);
	if (nm->fb_twcc)
		put(w, "a=rtcp-fb:%d transport-cc\r\n", nm->pt);
	if (nm->fb_fir)
		put(w, "a=rtcp-fb:%d ccm fir\r\n", nm->pt);
	if (nm->fb_nack)
		put(w, "a=rtcp-fb:%d nack\r\n", nm->pt);
	if (nm->fb_pli)
		put(w, "a=rtcp-fb:%d nack pli\r\n", nm->pt);
	if (nm->kind == TP_SDP_AUDIO)
		put(w, "a=fmtp:%d minptime=10;useinbandfec=1;usedtx=1\r\n", nm->pt);
	if (nm->codec_id == TP_CODEC_H264)
		put(w,
		    "a=fmtp:%d level-asymmetry-allowed=1;packetization-mode=1;"
		    "profile-level-id=%s\r\n",
		    nm->pt, nm->h264_profile);
	if (nm->rtx_pt > 0) {
		put(w, "a=rtpmap:%d rtx/%u\r\n", nm->rtx_pt, c->clock);
		put(w, "a=fmtp:%d apt=%d\r\n", nm->rtx_pt, nm->pt);
	}
}

static void put_media(struct wbuf *w, const struct tp_sdp_media *m,
		      const struct tp_sdp_neg_media *nm, const struct tp_sdp_local *l,
		      const char *ipv)
{
	const char *any = strcmp(ipv, "IP6") ? "0.0.0.0" : "::";
	bool sends =
	    nm->answer_dir == TP_SDP_SENDRECV || nm->answer_dir == TP_SDP_SENDONLY;
	uint32_t ssrc = nm->kind == TP_SDP_AUDIO ? l->audio_ssrc : l->video_ssrc;

	if (!nm->accepted) {
		/* Port 0 keeps the m-line's place; Chrome wants its mid. */
		put(w, "m=%s 0 %s %s\r\nc=IN %s %s\r\n", m->kind_name, m->proto,
		    m->fmt_list, ipv, any);
		if (m->mid[0])
			put(w, "a=mid:%s\r\n", m->mid);
		put(w, "a=inactive\r\n");
		return;
	}
	if (nm->rtx_pt > 0)
		put(w, "m=%s 9 %s %d %d\r\nc=IN %s %s\r\na=rtcp:9 IN %s %s\r\n",
		    m->kind_name, m->proto, nm->pt, nm->rtx_pt, ipv, any, ipv, any);
	else
		put(w, "m=%s 9 %s %d\r\nc=IN %s %s\r\na=rtcp:9 IN %s %s\r\n", m->kind_name,
		    m->proto, nm->pt, ipv, any, ipv, any);
	put(w, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\n", l->ice_ufrag, l->ice_pwd);
	put(w, "a=fingerprint:sha-256 %s\r\na=setup:passive\r\na=mid:%s\r\n",
	    l->fingerprint, m->mid);
	if (nm->ext_audio_level)
		put(w, "a=extmap:%u " TP_EXT_AUDIO_LEVEL "\r\n", nm->ext_audio_level);
	if (nm->ext_abs_send_time)
		put(w, "a=extmap:%u " TP_EXT_ABS_SEND_TIME "\r\n", nm->ext_abs_send_time);
	if (nm->ext_twcc)
		put(w, "a=extmap:%u " TP_EXT_TWCC "\r\n", nm->ext_twcc);
	put(w, "a=%s\r\na=rtcp-mux\r\n", dir_name(nm->answer_dir));
	if (m->rtcp_rsize)
		put(w, "a=rtcp-rsize\r\n");
	put_codec(w, nm);
	if (sends) {
		put(w, "a=msid:%s %s\r\n", l->stream_id, m->kind_name);
		put(w, "a=ssrc:%u cname:%s\r\n", ssrc, l->cname);
		put(w, "a=ssrc:%u msid:%s %s\r\n", ssrc, l->stream_id, m->kind_name);
		if (nm->kind == TP_SDP_VIDEO && nm->rtx_pt > 0 && l->video_rtx_ssrc) {
			uint32_t rtx = l->video_rtx_ssrc;
			put(w, "a=ssrc-group:FID %u %u\r\n", ssrc, rtx);
			put(w, "a=ssrc:%u cname:%s\r\n", rtx, l->cname);
			put(w, "a=ssrc:%u msid:%s %s\r\n", rtx, l->stream_id, m->kind_name);
		}
	}
	put(w, "a=candidate:1 1 udp 2130706431 %s %u typ host\r\na=end-of-candidates\r\n",
	    l->cand_ip, l->cand_port);
}

int tp_sdp_write_answer(char *out, size_t cap, size_t *outlen, const struct tp_sdp *offer,
			const struct tp_sdp_neg *neg, const struct tp_sdp_local *local)
{
	struct wbuf w = {.p = out, .cap = cap};
	const struct tp_sdp_local *l = local;
	const char *ipv;
	bool group;

	if (!out || !cap || !outlen || !offer || !neg || !l ||
	    neg->n_media != offer->n_media || offer->n_media > TP_SDP_MAX_MEDIA ||
	    !safe(l->ice_ufrag) || !safe(l->ice_pwd) || !safe(l->fingerprint) ||
	    !safe(l->cand_ip) || !safe(l->cname) || !safe(l->stream_id))
		return EINVAL;
	for (size_t i = 0; i < neg->n_media; i++) {
		if (neg->media[i].accepted && !neg->media[i].codec)
			return EINVAL;
	}
	ipv = strchr(l->cand_ip, ':') ? "IP6" : "IP4";
	put(&w, "v=0\r\no=- %llu 2 IN %s %s\r\ns=tutti\r\nt=0 0\r\n",
	    (unsigned long long)l->session_id, ipv,
	    strcmp(ipv, "IP6") ? "127.0.0.1" : "::1");
	/* Only a group the offer proposed may be answered (RFC 8843). */
	group = false;
	for (size_t i = 0; i < neg->n_media; i++) {
		const char *mid = offer->media[i].mid;

		if (!neg->media[i].accepted || !in_bundle(offer, mid))
			continue;
		put(&w, "%s %s", group ? "" : "a=group:BUNDLE", mid);
		group = true;
	}
	if (group)
		put(&w, "\r\n");
	put(&w, "a=ice-lite\r\na=msid-semantic: WMS %s\r\n", l->stream_id);
	for (size_t i = 0; i < neg->n_media; i++)
		put_media(&w, &offer->media[i], &neg->media[i], l, ipv);
	if (w.full) {
		out[0] = '\0';
		return ENOSPC;
	}
	*outlen = w.len;
	return 0;
}
