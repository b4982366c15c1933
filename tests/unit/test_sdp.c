/*
 * SDP: real offers from Chrome, Firefox and GStreamer webrtcbin parse and
 * negotiate to Opus + VP8 with their own payload types and extension ids
 * (H.264 when the offer lists it first or alone);
 * tutti's answer has what browsers need and parses again with tutti's
 * own parser; bad and oversized offers are refused with a reason that
 * names the problem.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "transport/rtp.h"
#include "transport/sdp.h"

#define LOCAL_FP                                                                         \
	"01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:" \
	"45:"                                                                            \
	"67:89:AB:CD:EF"

static const struct tp_sdp_local local = {
    .ice_ufrag = "TuTt",
    .ice_pwd = "tuttiLocalPasswordXyz12",
    .fingerprint = LOCAL_FP,
    .cand_ip = "203.0.113.7",
    .cand_port = 10000,
    .audio_ssrc = 11111111,
    .video_ssrc = 22222222,
    .video_rtx_ssrc = 33333333,
    .cname = "tutti-cname",
    .stream_id = "tutti-stream",
    .session_id = 1234567890123ULL,
};

/* Big structs live here, not on the stack. */
static struct tp_sdp offer, reparsed;
static struct tp_sdp_neg neg;
static char answer[16384];
static size_t answer_len;
static char err[256];

static char *load(const char *name, size_t *len)
{
	const char *dir = getenv("TUTTI_TEST_DATA");
	char path[512];
	char *text;

	snprintf(path, sizeof(path), "%s/sdp/%s", dir ? dir : "data", name);
	text = check_read_file(path, len);
	if (!text)
		fprintf(stderr, "cannot read %s\n", path);
	return text;
}

/* A copy of src with every from replaced by to (caller frees). */
static char *edit(const char *src, const char *from, const char *to)
{
	size_t nf = strlen(from), nt = strlen(to), n = 0;
	const char *p;
	char *out, *o;

	for (p = src; (p = strstr(p, from)); p += nf)
		n++;
	out = malloc(strlen(src) + n * (nt + 1) + 1);
	for (o = out, p = src;;) {
		const char *hit = strstr(p, from);

		if (!hit) {
			strcpy(o, p);
			break;
		}
		memcpy(o, p, (size_t)(hit - p));
		o += hit - p;
		memcpy(o, to, nt);
		o += nt;
		p = hit + nf;
	}
	return out;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* Parses, negotiates and writes an answer for text; 0 when all worked. */
static int run_text(const char *text, size_t len)
{
	int ret;

	err[0] = '\0';
	answer[0] = '\0';
	ret = tp_sdp_parse(&offer, text, len, err, sizeof(err));
	if (!ret)
		ret = tp_sdp_negotiate(&offer, &neg, err, sizeof(err));
	if (!ret)
		ret = tp_sdp_write_answer(answer, sizeof(answer), &answer_len, &offer,
					  &neg, &local);
	return ret;
}

static int run_file(const char *name)
{
	size_t len = 0;
	char *text = load(name, &len);
	int ret = text ? run_text(text, len) : ENOENT;

	free(text);
	return ret;
}

/* The answer must be CRLF throughout and parse with our own parser. */
static void check_answer_wellformed(void)
{
	static const char head[] = "v=0\r\no=- 1234567890123 2 IN IP4 127.0.0.1\r\n"
				   "s=tutti\r\nt=0 0\r\n";

	CHECK(answer_len == strlen(answer));
	CHECK(count(answer, "\n") == count(answer, "\r\n"));
	CHECK(!strncmp(answer, head, strlen(head)));
	CHECK(strstr(answer, "\r\na=ice-lite\r\n"));
	CHECK(strstr(answer, "\r\na=msid-semantic: WMS tutti-stream\r\n"));
	CHECK_EQ(tp_sdp_parse(&reparsed, answer, answer_len, err, sizeof(err)), 0);
	CHECK_EQ(reparsed.n_media, offer.n_media);
	for (size_t i = 0; i < reparsed.n_media; i++) {
		CHECK(!strcmp(reparsed.media[i].mid, offer.media[i].mid));
		CHECK_EQ(reparsed.media[i].port, neg.media[i].accepted ? 9 : 0);
	}
}

static void chrome_offer_parses(void)
{
	const struct tp_sdp_media *a = &offer.media[0], *v = &offer.media[1];

	CHECK_EQ(run_file("chrome-offer.sdp"), 0);
	CHECK_EQ(offer.n_media, 2);
	CHECK_EQ(offer.n_bundle, 2);
	CHECK(!strcmp(offer.bundle[0], "0") && !strcmp(offer.bundle[1], "1"));
	CHECK_EQ(a->kind, TP_SDP_AUDIO);
	CHECK_EQ(v->kind, TP_SDP_VIDEO);
	CHECK(!strcmp(a->mid, "0") && !strcmp(v->mid, "1"));
	CHECK(a->rtcp_mux && a->rtcp_rsize && v->rtcp_mux && v->rtcp_rsize);
	CHECK(!strcmp(a->proto, "UDP/TLS/RTP/SAVPF"));
	CHECK_EQ(a->port, 55327);
	CHECK(!strcmp(a->setup, "actpass"));
	CHECK_EQ(a->n_codecs, 8);
	CHECK_EQ(a->codecs[0].pt, 111);
	CHECK(!strcmp(a->codecs[0].name, "opus"));
	CHECK_EQ(a->codecs[0].clock, 48000);
	CHECK_EQ(a->codecs[0].channels, 2);
	CHECK(!strcmp(a->codecs[0].fmtp, "minptime=10;useinbandfec=1"));
	CHECK(a->codecs[0].fb_twcc && !a->codecs[0].fb_nack);
	CHECK_EQ(v->n_codecs, 23);
	CHECK(!strcmp(v->codecs[0].name, "VP8") && v->codecs[0].pt == 96);
	CHECK(!strcmp(v->codecs[1].name, "rtx") && v->codecs[1].apt == 96);
	CHECK_EQ(v->codecs[0].apt, -1);
	CHECK_EQ(v->n_ssrc, 2);
	CHECK_EQ(v->ssrc[0], 356458004u);
	CHECK_EQ(v->ssrc[1], 3710199414u);
	CHECK_EQ(a->n_ssrc, 1);
	CHECK_EQ(a->ssrc[0], 336951104u);
	CHECK_EQ(v->n_ext, 11);
	CHECK(!strcmp(v->ext[0].uri, "urn:ietf:params:rtp-hdrext:toffset") &&
	      v->ext[0].id == 14);
	CHECK(!strncmp(a->msid, "305414f8-", 9));
}

static void chrome_offer_negotiates_opus_and_vp8(void)
{
	const struct tp_sdp_neg_media *a = &neg.media[0], *v = &neg.media[1];

	CHECK_EQ(run_file("chrome-offer.sdp"), 0);
	CHECK_EQ(neg.n_media, 2);
	CHECK_EQ(neg.audio_index, 0);
	CHECK_EQ(neg.video_index, 1);
	CHECK(a->accepted && v->accepted);
	CHECK_EQ(a->pt, 111);
	CHECK_EQ(v->pt, 96);
	CHECK(a->codec == &offer.media[0].codecs[0]);
	CHECK_EQ(a->ext_audio_level, 1);
	CHECK_EQ(a->ext_abs_send_time, 2);
	CHECK_EQ(a->ext_twcc, 3);
	CHECK_EQ(v->ext_audio_level, 0);
	CHECK_EQ(v->ext_abs_send_time, 2);
	CHECK_EQ(v->ext_twcc, 3);
	CHECK(a->fb_twcc && !a->fb_nack && !a->fb_pli);
	CHECK(v->fb_nack && v->fb_pli && v->fb_fir && v->fb_remb && v->fb_twcc);
	CHECK(neg.ice_ufrag && !strcmp(neg.ice_ufrag, "rY1O"));
	CHECK(neg.ice_pwd && !strcmp(neg.ice_pwd, "jRWvljeUsmO+hoAdOzS7msZJ"));
	CHECK(neg.fp_alg && !strcmp(neg.fp_alg, "sha-256"));
	CHECK(neg.fp &&
	      !strcmp(neg.fp, "33:38:2B:71:7E:99:8B:9F:B6:DD:42:75:88:51:B9:3F:"
			      "6F:45:76:BB:AF:3E:CC:83:5F:CF:E7:D0:6A:06:EF:34"));
	CHECK_EQ(a->answer_dir, TP_SDP_SENDRECV);
	CHECK_EQ(v->n_remote_ssrc, 2);
	CHECK_EQ(v->remote_ssrc[0], 356458004u);
}

static void chrome_answer_has_what_browsers_need(void)
{
	CHECK_EQ(run_file("chrome-offer.sdp"), 0);
	CHECK(strstr(answer, "\r\na=group:BUNDLE 0 1\r\n"));
	CHECK(strstr(answer, "\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n"
			     "a=rtcp:9 IN IP4 0.0.0.0\r\n"));
	CHECK(strstr(answer, "\r\nm=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n"));
	CHECK_EQ(count(answer, "a=setup:passive\r\n"), 2);
	CHECK_EQ(count(answer, "a=fingerprint:sha-256 " LOCAL_FP "\r\n"), 2);
	CHECK_EQ(count(answer, "a=ice-ufrag:TuTt\r\n"), 2);
	CHECK_EQ(count(answer, "a=ice-pwd:tuttiLocalPasswordXyz12\r\n"), 2);
	CHECK_EQ(count(answer,
		       "a=candidate:1 1 udp 2130706431 203.0.113.7 10000 typ host\r\n"),
		 2);
	CHECK_EQ(count(answer, "a=end-of-candidates\r\n"), 2);
	CHECK_EQ(count(answer, "a=rtcp-mux\r\n"), 2);
	CHECK_EQ(count(answer, "a=rtcp-rsize\r\n"), 2);
	CHECK_EQ(count(answer, "a=sendrecv\r\n"), 2);
	/* Extensions: the offer's ids, only the three tutti knows. */
	CHECK(strstr(answer, "a=extmap:1 " TP_EXT_AUDIO_LEVEL "\r\n"));
	CHECK_EQ(count(answer, "a=extmap:2 " TP_EXT_ABS_SEND_TIME "\r\n"), 2);
	CHECK_EQ(count(answer, "a=extmap:3 " TP_EXT_TWCC "\r\n"), 2);
	CHECK_EQ(count(answer, "a=extmap:"), 5);
	CHECK(!strstr(answer, "sdes:mid") && !strstr(answer, "toffset"));
	/* One codec per m-line, Opus with FEC and DTX; VP8 with its RTX. */
	CHECK_EQ(count(answer, "a=rtpmap:"), 3);
	CHECK(strstr(answer, "a=rtpmap:111 opus/48000/2\r\n"));
	CHECK(strstr(answer, "a=fmtp:111 minptime=10;useinbandfec=1;usedtx=1\r\n"));
	CHECK(strstr(answer, "a=rtcp-fb:111 transport-cc\r\n"));
	CHECK(strstr(answer, "a=rtpmap:96 VP8/90000\r\n"));
	CHECK(!strstr(answer, "H264") && !strstr(answer, "a=fmtp:96"));
	CHECK(strstr(answer, "a=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n"));
	CHECK_EQ(count(answer, "a=ssrc-group:FID "), 1);
	CHECK(strstr(answer, "a=rtcp-fb:96 nack\r\n"));
	CHECK(strstr(answer, "a=rtcp-fb:96 nack pli\r\n"));
	CHECK(strstr(answer, "a=rtcp-fb:96 ccm fir\r\n"));
	CHECK(strstr(answer, "a=rtcp-fb:96 goog-remb\r\n"));
	CHECK(strstr(answer, "a=rtcp-fb:96 transport-cc\r\n"));
	/* What tutti sends with. */
	CHECK(strstr(answer, "a=ssrc:11111111 cname:tutti-cname\r\n"));
	CHECK(strstr(answer, "a=ssrc:11111111 msid:tutti-stream audio\r\n"));
	CHECK(strstr(answer, "a=ssrc:22222222 cname:tutti-cname\r\n"));
	CHECK(strstr(answer, "a=msid:tutti-stream video\r\n"));
	check_answer_wellformed();
}

static void chrome_answer_parses_again(void)
{
	const struct tp_sdp_media *a = &reparsed.media[0], *v = &reparsed.media[1];

	CHECK_EQ(run_file("chrome-offer.sdp"), 0);
	CHECK_EQ(tp_sdp_parse(&reparsed, answer, answer_len, err, sizeof(err)), 0);
	CHECK_EQ(reparsed.n_media, 2);
	CHECK_EQ(reparsed.n_bundle, 2);
	CHECK(!strcmp(a->ice_ufrag, "TuTt") && !strcmp(v->ice_pwd, local.ice_pwd));
	CHECK(!strcmp(a->fp_alg, "sha-256") && !strcmp(a->fp, LOCAL_FP));
	CHECK(!strcmp(a->setup, "passive"));
	CHECK_EQ(a->n_codecs, 1);
	CHECK_EQ(a->codecs[0].pt, 111);
	CHECK(!strcmp(a->codecs[0].fmtp, "minptime=10;useinbandfec=1;usedtx=1"));
	CHECK(v->codecs[0].fb_nack && v->codecs[0].fb_pli && v->codecs[0].fb_twcc);
	CHECK_EQ(a->n_ext, 3);
	CHECK_EQ(v->n_ext, 2);
	CHECK_EQ(a->n_ssrc, 1);
	CHECK_EQ(a->ssrc[0], 11111111);
	CHECK_EQ(v->ssrc[0], 22222222);
	CHECK(a->rtcp_mux && a->rtcp_rsize);
	CHECK_EQ(a->dir, TP_SDP_SENDRECV);
}

static void chrome_data_channel_is_rejected_with_port_0(void)
{
	CHECK_EQ(run_file("chrome-offer-datachannel.sdp"), 0);
	CHECK_EQ(offer.n_media, 3);
	CHECK_EQ(offer.media[2].kind, TP_SDP_APPLICATION);
	CHECK(!neg.media[2].accepted);
	CHECK(neg.media[0].accepted && neg.media[1].accepted);
	CHECK(strstr(answer, "\r\na=group:BUNDLE 0 1\r\n"));
	CHECK(strstr(answer, "\r\nm=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n"
			     "c=IN IP4 0.0.0.0\r\na=mid:2\r\na=inactive\r\n"));
	CHECK(!strstr(answer, "sctp-port"));
	check_answer_wellformed();
	CHECK_EQ(reparsed.media[2].port, 0);
}

/* A second sending video m-line with its SSRCs is a shared screen:
 * accepted, answered recvonly (tutti sends nothing on it); without
 * a=ssrc it cannot be told from the camera and is rejected with port 0. */
static void second_video_m_line_is_a_screen(void)
{
	const struct tp_sdp_neg_media *v = &neg.media[1], *sc = &neg.media[2];
	size_t len = 0;
	char *text, *no_ssrc;

	CHECK_EQ(run_file("chrome-screen-offer.sdp"), 0);
	CHECK_EQ(neg.n_media, 3);
	CHECK_EQ(neg.video_index, 1);
	CHECK_EQ(neg.screen_index, 2);
	CHECK(v->accepted && !v->screen && v->answer_dir == TP_SDP_SENDRECV);
	CHECK(sc->accepted && sc->screen && sc->answer_dir == TP_SDP_RECVONLY);
	CHECK_EQ(sc->pt, 96);
	CHECK_EQ(sc->rtx_pt, 97);
	CHECK_EQ(sc->n_remote_ssrc, 2);
	CHECK_EQ(sc->remote_ssrc[0], 1283742321u);
	CHECK(strstr(answer, "\r\na=group:BUNDLE 0 1 2\r\n"));
	CHECK(strstr(answer, "a=mid:2\r\n"));
	CHECK_EQ(count(answer, "a=recvonly\r\n"), 1);
	/* tutti announces one video stream: the camera m-line's. */
	CHECK_EQ(count(answer, "a=msid:tutti-stream video\r\n"), 1);
	check_answer_wellformed();
	CHECK_EQ(reparsed.media[2].dir, TP_SDP_RECVONLY);

	text = load("chrome-screen-offer.sdp", &len);
	CHECK(text != NULL);
	if (!text)
		return;
	no_ssrc = edit(text, "a=ssrc:1283742321", "a=x-ssrc:1283742321");
	free(text);
	text = edit(no_ssrc, "a=ssrc:2847591934", "a=x-ssrc:2847591934");
	free(no_ssrc);
	CHECK_EQ(run_text(text, strlen(text)), 0);
	CHECK_EQ(neg.screen_index, -1);
	CHECK(!neg.media[2].accepted);
	CHECK(strstr(answer, "a=mid:2\r\na=inactive\r\n"));
	free(text);
}

static void firefox_offer_negotiates(void)
{
	const struct tp_sdp_neg_media *a = &neg.media[0], *v = &neg.media[1];

	CHECK_EQ(run_file("firefox-offer.sdp"), 0);
	CHECK_EQ(offer.n_media, 2);
	/* fmtp before rtpmap still lands on the right codec. */
	CHECK(!strcmp(offer.media[0].codecs[0].fmtp,
		      "maxplaybackrate=48000;stereo=1;useinbandfec=1"));
	CHECK_EQ(offer.media[1].codecs[1].apt, 120);
	/* Session-level fingerprint, media-level credentials. */
	CHECK(!strncmp(offer.media[1].fp, "75:4F:CA", 8));
	CHECK(!strcmp(neg.ice_ufrag, "6c0579ea"));
	CHECK(!strcmp(neg.ice_pwd, "59efe498b762e472067fa5e134df8722"));
	CHECK(!strncmp(neg.fp, "75:4F:CA:8F", 11));
	CHECK_EQ(a->pt, 109);
	CHECK_EQ(v->pt, 120);
	CHECK_EQ(a->ext_audio_level, 1);
	CHECK_EQ(a->ext_abs_send_time, 0);
	CHECK_EQ(a->ext_twcc, 0);
	CHECK_EQ(v->ext_abs_send_time, 4);
	CHECK_EQ(v->ext_twcc, 7);
	CHECK(!a->fb_twcc);
	CHECK(v->fb_nack && v->fb_pli && v->fb_fir && v->fb_remb && v->fb_twcc);
	CHECK_EQ(v->n_remote_ssrc, 2);
	CHECK(strstr(answer, "a=extmap:1 " TP_EXT_AUDIO_LEVEL "\r\n"));
	CHECK(strstr(answer, "a=extmap:4 " TP_EXT_ABS_SEND_TIME "\r\n"));
	CHECK(strstr(answer, "a=extmap:7 " TP_EXT_TWCC "\r\n"));
	CHECK_EQ(count(answer, "a=extmap:"), 3);
	CHECK(!strstr(answer, "csrc-audio-level"));
	CHECK(!strstr(answer, "a=rtcp-fb:109"));
	CHECK(strstr(answer, "a=fmtp:109 minptime=10;useinbandfec=1;usedtx=1\r\n"));
	CHECK_EQ(count(answer, "a=rtcp-rsize\r\n"), 1); /* video only, as offered */
	CHECK(strstr(answer, "a=rtcp-fb:120 goog-remb\r\n"));
	check_answer_wellformed();
}

static void gstreamer_bundle_only_video_is_accepted(void)
{
	CHECK_EQ(run_file("gstreamer-offer.sdp"), 0);
	CHECK_EQ(offer.media[1].port, 0);
	CHECK(offer.media[1].bundle_only);
	CHECK(!strcmp(offer.media[0].mid, "audio0"));
	CHECK(neg.media[0].accepted && neg.media[1].accepted);
	CHECK_EQ(neg.media[0].pt, 96);
	CHECK_EQ(neg.media[1].pt, 97);
	CHECK(!strcmp(neg.ice_ufrag, "Fit8vV3gdoh/Nw0blHdvUYt7Ql0I6KE6"));
	CHECK(strstr(answer, "\r\na=group:BUNDLE audio0 video1\r\n"));
	CHECK(strstr(answer, "\r\nm=video 9 UDP/TLS/RTP/SAVPF 97\r\n"));
	CHECK(strstr(answer, "a=rtpmap:96 OPUS/48000/2\r\n"));
	CHECK(strstr(answer, "a=rtcp-fb:96 transport-cc\r\n"));
	CHECK(strstr(answer, "a=rtcp-fb:97 nack pli\r\n"));
	CHECK(strstr(answer, "a=rtcp-fb:97 ccm fir\r\n"));
	CHECK(!strstr(answer, "a=rtcp-fb:97 nack\r\n") && !strstr(answer, "goog-remb"));
	CHECK(!strstr(answer, "a=extmap") && !strstr(answer, "bundle-only"));
	check_answer_wellformed();
}

static void answer_direction_mirrors_the_offer(void)
{
	size_t len;
	char *text = load("chrome-offer.sdp", &len), *t1, *t2;

	if (!text) {
		CHECK(text);
		return;
	}
	/* The first a=sendrecv is audio's, the second video's. */
	t1 = edit(text, "a=sendrecv", "a=sendonly");
	*strstr(strstr(t1, "m=video"), "a=sendonly") = '\0';
	t2 = malloc(strlen(text) + 1);
	strcpy(t2, t1);
	strcat(t2, strstr(strstr(text, "m=video"), "a=sendrecv"));
	memcpy(strstr(strstr(t2, "m=video"), "a=sendrecv"), "a=recvonly", 10);
	CHECK_EQ(run_text(t2, strlen(t2)), 0);
	CHECK_EQ(neg.media[0].answer_dir, TP_SDP_RECVONLY);
	CHECK_EQ(neg.media[1].answer_dir, TP_SDP_SENDONLY);
	CHECK(strstr(answer, "a=recvonly\r\n") && strstr(answer, "a=sendonly\r\n"));
	CHECK(!strstr(answer, "a=ssrc:11111111")); /* nothing sent on audio */
	CHECK(strstr(answer, "a=ssrc:22222222 cname:tutti-cname\r\n"));
	free(t1);
	t1 = edit(text, "a=sendrecv", "a=inactive");
	CHECK_EQ(run_text(t1, strlen(t1)), 0);
	CHECK_EQ(neg.media[0].answer_dir, TP_SDP_INACTIVE);
	CHECK(!strstr(answer, "a=ssrc:") && count(answer, "a=inactive\r\n") == 2);
	free(t1);
	free(t2);
	free(text);
}

static void lf_and_crlf_parse_alike(void)
{
	static struct tp_sdp crlf;
	size_t len;
	char *text = load("chrome-offer.sdp", &len), *lf;

	if (!text) {
		CHECK(text);
		return;
	}
	lf = edit(text, "\r\n", "\n");
	CHECK_EQ(tp_sdp_parse(&crlf, text, len, err, sizeof(err)), 0);
	CHECK_EQ(tp_sdp_parse(&offer, lf, strlen(lf), err, sizeof(err)), 0);
	CHECK(!memcmp(&crlf, &offer, sizeof(offer)));
	free(lf);
	free(text);
}

/* Each bad offer is refused, and the reason names what is wrong. */
static void expect_refused(const char *name, int want, const char *reason)
{
	int ret = run_file(name);

	CHECK_EQ(ret, want);
	if (!strstr(err, reason)) {
		fprintf(stderr, "%s: reason \"%s\" lacks \"%s\"\n", name, err, reason);
		CHECK(strstr(err, reason));
	}
}

static void bad_offers_are_refused_with_a_reason(void)
{
	expect_refused("bad-no-fingerprint.sdp", EPROTO, "fingerprint");
	expect_refused("bad-no-rtcp-mux.sdp", EPROTO, "rtcp-mux");
	expect_refused("bad-no-ice.sdp", EPROTO, "ice-ufrag");
	expect_refused("bad-no-bundle.sdp", EPROTO, "BUNDLE");
	expect_refused("bad-h264-mode0.sdp", EPROTO, "packetization-mode=1");
	expect_refused("bad-garbage.sdp", EBADMSG, "v=0");
	CHECK_EQ(tp_sdp_parse(&offer, "", 0, err, sizeof(err)), EBADMSG);
	CHECK_EQ(tp_sdp_parse(&offer, NULL, 0, err, sizeof(err)), EBADMSG);
	CHECK(strstr(err, "empty"));
}

static void expect_text_refused(char *text, int want, const char *reason)
{
	int ret = run_text(text, strlen(text));

	CHECK_EQ(ret, want);
	if (!strstr(err, reason)) {
		fprintf(stderr, "reason \"%s\" lacks \"%s\"\n", err, reason);
		CHECK(strstr(err, reason));
	}
	free(text);
}

static void edited_offers_are_refused(void)
{
	size_t len;
	char *text = load("chrome-offer.sdp", &len);
	char long_mid[64], long_ufrag[300];

	if (!text) {
		CHECK(text);
		return;
	}
	memset(long_mid, 'm', 40);
	long_mid[40] = '\0';
	memset(long_ufrag, 'u', 290);
	strcpy(long_ufrag + 290, "\r\n");
	expect_text_refused(edit(text, "a=setup:actpass", "a=setup:passive"), EPROTO,
			    "setup");
	expect_text_refused(edit(text, "a=mid:1", "a=mid:0"), EBADMSG, "mid");
	expect_text_refused(edit(text, "sha-256 33:38", "sha-256 33-38"), EBADMSG,
			    "fingerprint");
	expect_text_refused(edit(text, "sha-256 33:38:", "sha-256 "), EPROTO, "32 bytes");
	expect_text_refused(edit(text, "a=ice-ufrag:rY1O", "a=ice-ufrag:rY:1O"), EBADMSG,
			    "ice-ufrag");
	expect_text_refused(edit(text, "rY1O\r\n", long_ufrag), EBADMSG, "too long");
	expect_text_refused(edit(text, "a=mid:0", "a=mid:0\r\nx"), EBADMSG, "SDP line");
	expect_text_refused(edit(text, "a=mid:0", "a=mid:0\rbad"), EBADMSG, "control");
	/* Audio over plain RTP/AVP is not served. */
	expect_text_refused(edit(text, "UDP/TLS/RTP/SAVPF", "RTP/AVP"), EPROTO,
			    "RTP/AVP");
	{
		char mid_line[80]; /* a 40-character mid */

		snprintf(mid_line, sizeof(mid_line), "a=mid:%s", long_mid);
		expect_text_refused(edit(text, "a=mid:1", mid_line), EBADMSG,
				    "a=mid too long");
	}
	free(text);
}

static void oversized_offers_are_refused(void)
{
	size_t len, n;
	char *text = load("chrome-offer.sdp", &len), *big, *p;

	if (!text) {
		CHECK(text);
		return;
	}
	/* More than 64 KiB: padded with harmless attribute lines. */
	big = malloc(TP_SDP_MAX_LEN + 4096);
	strcpy(big, text);
	for (n = strlen(big); n <= TP_SDP_MAX_LEN; n += 20)
		strcat(big + n, "a=x-pad:0123456789\r\n");
	CHECK_EQ(tp_sdp_parse(&offer, big, strlen(big), err, sizeof(err)), EBADMSG);
	CHECK(strstr(err, "too large"));
	/* Just under the cap still parses. */
	big[TP_SDP_MAX_LEN - 40] = '\0';
	*strrchr(big, '\n') = '\0';
	CHECK_EQ(tp_sdp_parse(&offer, big, strlen(big), err, sizeof(err)), 0);
	/* A line over 4096 bytes. */
	strcpy(big, text);
	p = big + strlen(big);
	memcpy(p, "a=x-long:", 9);
	memset(p + 9, 'y', 5000);
	strcpy(p + 5009, "\r\n");
	CHECK_EQ(tp_sdp_parse(&offer, big, strlen(big), err, sizeof(err)), EBADMSG);
	CHECK(strstr(err, "longer than 4096"));
	/* Nine m-lines. */
	strcpy(big, text);
	for (int i = 0; i < 7; i++) {
		p = big + strlen(big);
		sprintf(p, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:x%d\r\n", i);
	}
	CHECK_EQ(tp_sdp_parse(&offer, big, strlen(big), err, sizeof(err)), EBADMSG);
	CHECK(strstr(err, "more than 8 m-lines"));
	free(big);
	free(text);
}

/* H.264 is chosen when the offer lists it before VP8 or alone: the
 * constrained baseline payload type with packetization-mode=1, its RTX,
 * and an fmtp that echoes its profile-level-id. */
static void h264_first_or_only_is_chosen(void)
{
	size_t len;
	char *text = load("chrome-offer.sdp", &len), *h264_first;

	CHECK(text);
	if (!text)
		return;
	/* The m-line's payload types with H.264's ahead of VP8's. */
	h264_first = edit(text, "SAVPF 96 97 102 103 104 107 108", "SAVPF 102 103 104 107 108 96 97");
	CHECK(strcmp(h264_first, text));
	CHECK_EQ(run_text(h264_first, strlen(h264_first)), 0);
	CHECK_EQ(neg.media[1].codec_id, TP_CODEC_H264);
	CHECK_EQ(neg.media[1].pt, 108); /* 42e01f mode 1, not 102 (42001f) */
	CHECK_EQ(neg.media[1].rtx_pt, 109);
	CHECK(strstr(answer, "a=rtpmap:108 H264/90000\r\n"));
	CHECK(strstr(answer, "a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;"
			     "profile-level-id=42e01f\r\n"));
	CHECK(strstr(answer, "a=rtpmap:109 rtx/90000\r\na=fmtp:109 apt=108\r\n"));
	CHECK(strstr(answer, "a=rtcp-fb:108 nack pli\r\n"));
	CHECK(!strstr(answer, "VP8"));
	CHECK_EQ(neg.media[0].codec_id, TP_CODEC_OPUS);
	/* As the offer has it, VP8 first: VP8. */
	CHECK_EQ(run_text(text, strlen(text)), 0);
	CHECK_EQ(neg.media[1].codec_id, TP_CODEC_VP8);
	CHECK(!strstr(answer, "H264"));
	/* H.264 alone (baseline 42001f): that one, echoed. */
	CHECK_EQ(run_file("h264-only.sdp"), 0);
	CHECK_EQ(neg.media[0].codec_id, TP_CODEC_H264);
	CHECK_EQ(neg.media[0].pt, 102);
	CHECK(strstr(answer, "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;"
			     "profile-level-id=42001f\r\n"));
	CHECK(strstr(answer, "a=fmtp:103 apt=102\r\n"));
	free(h264_first);
	free(text);
}

/* A video m-line with 40 formats, VP8 at vp8_pt, "*" nack feedback. */
static void build_many_codecs(char *sdp, int vp8_pt)
{
	char *p = sdp;

	p += sprintf(p, "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
			"a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
			"a=fingerprint:sha-256 " LOCAL_FP "\r\n"
			"m=video 9 UDP/TLS/RTP/SAVPF");
	for (int pt = 60; pt < 100; pt++)
		p += sprintf(p, " %d", pt);
	p += sprintf(p, "\r\na=mid:v\r\na=rtcp-mux\r\na=rtcp-fb:* nack\r\n");
	for (int pt = 60; pt < 100; pt++)
		p += sprintf(p, "a=rtpmap:%d %s/90000\r\n", pt,
			     pt == vp8_pt ? "VP8" : "H264");
}

static void codecs_beyond_the_max_are_ignored(void)
{
	static char sdp[8192];

	/* VP8 is the 35th format: outside the 32 slots, so not seen. */
	build_many_codecs(sdp, 94);
	CHECK_EQ(run_text(sdp, strlen(sdp)), EPROTO);
	CHECK_EQ(offer.media[0].n_codecs, TP_SDP_MAX_CODECS);
	CHECK(strstr(err, "VP8"));
	/* Within the slots it is found, and "*" feedback applies to it. */
	build_many_codecs(sdp, 70);
	CHECK_EQ(run_text(sdp, strlen(sdp)), 0);
	CHECK_EQ(neg.media[0].pt, 70);
	CHECK(neg.media[0].fb_nack && !neg.media[0].fb_pli);
	CHECK(!strstr(answer, "a=group:BUNDLE")); /* the offer had none */
	CHECK(strstr(answer, "a=rtcp-fb:70 nack\r\n"));
	CHECK(strstr(answer, "a=msid-semantic: WMS tutti-stream\r\nm=video 9 "));
}

static void sha256_is_chosen_among_fingerprints(void)
{
	size_t len;
	char *text = load("firefox-offer.sdp", &len), *t;

	if (!text) {
		CHECK(text);
		return;
	}
	t = edit(text, "a=fingerprint:sha-256",
		 "a=fingerprint:SHA-1 "
		 "0A:0B:0C:0D:0E:0F:10:11:12:13:14:15:16:17:18:19:1A:1B:1C:1D\n"
		 "a=fingerprint:SHA-256");
	CHECK_EQ(run_text(t, strlen(t)), 0);
	CHECK(!strcmp(neg.fp_alg, "sha-256"));
	CHECK(!strncmp(neg.fp, "75:4F", 5));
	free(t);
	free(text);
}

static void ipv6_candidate_uses_ip6_lines(void)
{
	struct tp_sdp_local l6 = local;

	CHECK_EQ(run_file("chrome-offer.sdp"), 0);
	l6.cand_ip = "2001:db8::7";
	CHECK_EQ(
	    tp_sdp_write_answer(answer, sizeof(answer), &answer_len, &offer, &neg, &l6),
	    0);
	CHECK(strstr(answer, "o=- 1234567890123 2 IN IP6 ::1\r\n"));
	CHECK(strstr(answer, "c=IN IP6 ::\r\n"));
	CHECK(!strstr(answer, "IP4"));
	CHECK(strstr(answer,
		     "a=candidate:1 1 udp 2130706431 2001:db8::7 10000 typ host\r\n"));
	CHECK_EQ(tp_sdp_parse(&reparsed, answer, answer_len, err, sizeof(err)), 0);
}

static void answer_never_overflows(void)
{
	char small[4096];
	size_t n = 0;

	CHECK_EQ(run_file("chrome-offer.sdp"), 0);
	CHECK_EQ(tp_sdp_write_answer(small, 100, &n, &offer, &neg, &local), ENOSPC);
	CHECK_EQ(tp_sdp_write_answer(small, answer_len, &n, &offer, &neg, &local),
		 ENOSPC);
	CHECK_EQ(tp_sdp_write_answer(small, answer_len + 1, &n, &offer, &neg, &local), 0);
	CHECK_EQ(n, answer_len);
	CHECK(!memcmp(small, answer, n + 1));
	/* A local value with a line break would inject SDP: refused. */
	{
		struct tp_sdp_local bad = local;

		bad.cname = "x\r\na=evil";
		CHECK_EQ(
		    tp_sdp_write_answer(small, sizeof(small), &n, &offer, &neg, &bad),
		    EINVAL);
	}
}

int main(void)
{
	RUN(chrome_offer_parses);
	RUN(chrome_offer_negotiates_opus_and_vp8);
	RUN(chrome_answer_has_what_browsers_need);
	RUN(chrome_answer_parses_again);
	RUN(chrome_data_channel_is_rejected_with_port_0);
	RUN(second_video_m_line_is_a_screen);
	RUN(firefox_offer_negotiates);
	RUN(gstreamer_bundle_only_video_is_accepted);
	RUN(answer_direction_mirrors_the_offer);
	RUN(lf_and_crlf_parse_alike);
	RUN(bad_offers_are_refused_with_a_reason);
	RUN(edited_offers_are_refused);
	RUN(oversized_offers_are_refused);
	RUN(codecs_beyond_the_max_are_ignored);
	RUN(h264_first_or_only_is_chosen);
	RUN(sha256_is_chosen_among_fingerprints);
	RUN(ipv6_candidate_uses_ip6_lines);
	RUN(answer_never_overflows);
	return check_report();
}
