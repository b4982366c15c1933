/*
 * SDP (RFC 8866) offers from browsers and WebRTC stacks (Chrome, Firefox,
 * Safari, GStreamer webrtcbin): parse, decide whether tutti can serve it,
 * and write the answer (RFC 8829 JSEP shape, ICE-lite, DTLS passive,
 * BUNDLE, rtcp-mux). Part of transport.h; no allocation, fixed bounds.
 */
#ifndef TUTTI_TRANSPORT_SDP_H
#define TUTTI_TRANSPORT_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TP_SDP_MAX_LEN (64 * 1024) /* bigger offers are refused */
#define TP_SDP_MAX_MEDIA 8
#define TP_SDP_MAX_CODECS 32
#define TP_SDP_MAX_EXT 16
#define TP_SDP_MAX_SSRC 8
#define TP_SDP_MAX_BUNDLE 8

enum tp_sdp_kind { TP_SDP_AUDIO, TP_SDP_VIDEO, TP_SDP_APPLICATION, TP_SDP_OTHER };
enum tp_sdp_dir { TP_SDP_SENDRECV, TP_SDP_SENDONLY, TP_SDP_RECVONLY, TP_SDP_INACTIVE };

struct tp_sdp_codec {
	uint8_t pt;
	char name[16]; /* as written: "opus", "VP8", "H264", "rtx", ... */
	uint32_t clock;
	uint8_t channels; /* 0 when absent */
	char fmtp[256]; /* "a=fmtp:<pt> " value, "" if none */
	bool fb_nack, fb_pli, fb_fir, fb_remb, fb_twcc;
	int apt; /* rtx: the associated payload type, else -1 */
};

struct tp_sdp_ext {
	uint8_t id;
	char uri[128];
};

struct tp_sdp_media {
	enum tp_sdp_kind kind;
	char kind_name[16]; /* "audio", "video", "application", ... */
	uint16_t port; /* 0: rejected/disabled in the offer */
	char proto[32]; /* "UDP/TLS/RTP/SAVPF" */
	char mid[32];
	enum tp_sdp_dir dir;
	bool rtcp_mux;
	bool rtcp_rsize;
	/* a=bundle-only (RFC 8843): port 0 yet offered, to ride the BUNDLE
	 * transport (webrtcbin max-bundle does this). Not a rejection. */
	bool bundle_only;
	size_t n_codecs;
	struct tp_sdp_codec codecs[TP_SDP_MAX_CODECS];
	size_t n_ext;
	struct tp_sdp_ext ext[TP_SDP_MAX_EXT];
	size_t n_ssrc;
	uint32_t ssrc[TP_SDP_MAX_SSRC]; /* distinct a=ssrc ids, in order */
	char msid[128]; /* a=msid value, "" if none */
	/* Media-level ICE/DTLS attributes (override session level). */
	char ice_ufrag[257];
	char ice_pwd[257];
	char fp_alg[16];
	char fp[160]; /* "AB:CD:..." */
	char setup[16]; /* "actpass", "active", "passive" */
	char fmt_list[256]; /* the m= line's payload-type list, for rejects */
};

struct tp_sdp {
	char ice_ufrag[257];
	char ice_pwd[257];
	char fp_alg[16];
	char fp[160];
	char setup[16];
	size_t n_bundle;
	char bundle[TP_SDP_MAX_BUNDLE][32]; /* mids of a=group:BUNDLE */
	size_t n_media;
	struct tp_sdp_media media[TP_SDP_MAX_MEDIA];
};

/* Parses an offer. Lines may end in CRLF or LF. Unknown attributes are
 * skipped; every field is bounded (too long → error, never truncation
 * of something that matters such as a fingerprint or credentials).
 * On error returns EBADMSG and a human reason in err (for the 400 body).
 * Media-level ice/fingerprint/setup fall back to the session level. */
int tp_sdp_parse(struct tp_sdp *s, const char *text, size_t len, char *err,
		 size_t errlen);

/* The codecs tutti speaks. */
enum tp_codec { TP_CODEC_NONE, TP_CODEC_OPUS, TP_CODEC_VP8, TP_CODEC_H264 };

/* "opus", "VP8", "H264"; "" for TP_CODEC_NONE. */
const char *tp_codec_name(enum tp_codec c);

/* What tutti takes from one offered m-line. */
struct tp_sdp_neg_media {
	bool accepted; /* false: answered with port 0 */
	enum tp_sdp_kind kind;
	int pt; /* chosen codec (Opus 48000/2 for audio, VP8 or H.264 for video) */
	const struct tp_sdp_codec *codec; /* points into the offer */
	enum tp_codec codec_id;
	/* H.264: the profile-level-id answered (the offered one, constrained
	 * baseline preferred; "42e01f" when the offer had none). */
	char h264_profile[7];
	/* Extension ids (0 = not offered): answered under the offer's ids. */
	uint8_t ext_audio_level, ext_abs_send_time, ext_twcc;
	bool fb_nack, fb_pli, fb_fir, fb_remb, fb_twcc;
	int rtx_pt; /* video: the offer's rtx for the chosen codec (RFC 4588), 0 none */
	size_t n_remote_ssrc;
	uint32_t remote_ssrc[TP_SDP_MAX_SSRC];
	/* The answerer's own direction: we send if the offer lets us
	 * (offer sendrecv/recvonly) and receive if it sends. */
	enum tp_sdp_dir answer_dir;
	/* The second video m-line, accepted as a shared screen: the offerer
	 * sends on it (sendonly or sendrecv), announces its SSRCs (a=ssrc:
	 * bundled video m-lines may share payload types, so packets are told
	 * apart by SSRC) and tutti answers recvonly. */
	bool screen;
};

/* The negotiation result: everything a peer needs from the offer. */
struct tp_sdp_neg {
	const char *ice_ufrag; /* remote; point into the offer */
	const char *ice_pwd;
	const char *fp_alg;
	const char *fp;
	size_t n_media; /* = offer's n_media */
	struct tp_sdp_neg_media media[TP_SDP_MAX_MEDIA];
	int audio_index; /* first accepted audio m-line, -1 none */
	int video_index; /* first accepted video m-line, -1 none */
	int screen_index; /* the screen m-line (see tp_sdp_neg_media.screen), -1 none */
};

/* Decides what tutti answers. Requires: ICE ufrag and pwd, a sha-256
 * fingerprint, setup actpass or active, rtcp-mux on every accepted
 * m-line, BUNDLE covering them when there are several, and at least one
 * audio m-line with Opus or video m-line with VP8 or H.264 on
 * UDP/TLS/RTP/SAVPF. Video takes whichever of VP8 and H.264 comes first
 * in the offer; H.264 must be packetization-mode=1 and baseline
 * (profile_idc 66; constrained baseline, e.g. 42e01f, preferred among
 * several H.264 payload types).
 * Only the first audio and first video m-lines are accepted, and a
 * second video m-line as a shared screen (see tp_sdp_neg_media.screen);
 * others (data channels, extra tracks) are rejected (port 0).
 * Returns 0, or EPROTO with the reason in err (for a 400/422 body). */
int tp_sdp_negotiate(const struct tp_sdp *offer, struct tp_sdp_neg *neg,
		     char *err, size_t errlen);

/* The server's side of the answer. */
struct tp_sdp_local {
	const char *ice_ufrag;
	const char *ice_pwd;
	const char *fingerprint; /* sha-256, "AB:CD:..." */
	const char *cand_ip; /* address put in the host candidate */
	uint16_t cand_port;
	uint32_t audio_ssrc; /* what tutti sends with */
	uint32_t video_ssrc;
	uint32_t video_rtx_ssrc; /* with an rtx_pt: a=ssrc-group:FID */
	const char *cname;
	const char *stream_id; /* for a=msid */
	uint64_t session_id;
};

/* Writes the answer (CRLF lines): a=ice-lite, a=setup:passive, the
 * fingerprint, one host candidate per accepted m-line and
 * a=end-of-candidates, the chosen codec with its rtcp-fb lines (nack,
 * nack pli, ccm fir, goog-remb, transport-cc as offered), Opus fmtp
 * "minptime=10;useinbandfec=1;usedtx=1", H.264 fmtp
 * "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=...", the offered extensions tutti
 * supports under the offer's ids, rtcp-mux, rtcp-rsize if offered,
 * a=msid and a=ssrc cname for what tutti sends, and BUNDLE.
 * Returns 0 and *outlen, or ENOSPC. */
int tp_sdp_write_answer(char *out, size_t cap, size_t *outlen,
			const struct tp_sdp *offer, const struct tp_sdp_neg *neg,
			const struct tp_sdp_local *local);

#endif
