/*
 * A deferring batch (tp_batch_defer, transport/sender.c): during a tick,
 * a sender's packets are only kept; its tp_sender_pace, through another
 * batch (a send thread's), sends them all, in the order they were made;
 * what was kept in a tick that was never paced is forgotten; with the
 * batch not deferring they go out at once; with keeping turned off within
 * a tick, at once and ahead of what was kept. The packets go over a real
 * socket on 127.0.0.1 and are decrypted here with the sender's key.
 * And, on the same sender: the video packets a TWCC feedback reports
 * lost are handed out for an early repair (tp_sender_take_lost_video),
 * each once, and never audio; an RTX copy reported lost counts for the
 * packet it copies.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "common/common.h"
#include "transport/internal.h"
#include "transport/rtcp.h"
#include "transport/rtp.h"
#include "transport/srtp.h"

#define N_PKTS 40

static struct tp_server *srv;
static struct tp_peer *peer;
static struct tp_sender *snd;
static struct tp_srtp *rx_ctx;
static int rx_fd;

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	static char buf[65536];

	if (!f)
		return NULL;
	*len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[*len] = '\0';
	return buf;
}

static const struct tp_peer_events no_events;

/* A server, a peer from a real Chrome offer, its sender with a known key,
 * and a socket that plays the receiver. */
static int setup(void)
{
	const char *dir = getenv("TUTTI_TEST_DATA");
	char path[512], err[128], *answer = NULL;
	uint8_t key[28];
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	size_t len;

	snprintf(path, sizeof(path), "%s/sdp/chrome-offer.sdp", dir ? dir : "data");
	const char *offer = read_file(path, &len);
	if (!offer)
		return ENOENT;
	for (uint16_t port = 20000 + (uint16_t)(getpid() % 20000), i = 0; i < 50; i++, port++)
		if (tp_server_new(&srv, &(struct tp_server_config){ .bind_ip = "127.0.0.1",
								    .port = port }) == 0)
			break;
	if (!srv)
		return EADDRINUSE;
	if (tp_peer_from_offer(&peer, srv, offer, len, &no_events, NULL, "127.0.0.1", 9,
			       &answer, err, sizeof(err)))
		return EPROTO;
	free(answer);
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 7 + 1);
	if (tp_sender_create(peer, TP_SRTP_AEAD_AES_128_GCM, key, sizeof(key)) ||
	    tp_srtp_new(&rx_ctx, TP_SRTP_AEAD_AES_128_GCM, key, sizeof(key), true))
		return EIO;
	snd = peer->sender;
	rx_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	int rcvbuf = 8 << 20; /* a big tick's packets at once (root: FORCE) */
	if (setsockopt(rx_fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)))
		setsockopt(rx_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(rx_fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(rx_fd, (struct sockaddr *)&a, &alen))
		return errno;
	struct sockaddr_storage ss = { 0 };
	memcpy(&ss, &a, sizeof(a));
	tp_sender_set_addr(snd, &ss, sizeof(a));
	return 0;
}

/* Packet i of the test: audio or video by i, its number in the payload. */
static size_t make_pkt(uint8_t *buf, size_t cap, int i)
{
	bool audio = i % 3 == 0;
	uint8_t payload[200];
	struct tp_rtp_hdr h = {
		.pt = audio ? 111 : 96,
		.seq = (uint16_t)i,
		.ts = (uint32_t)i * 960,
		.ssrc = tp_sender_ssrc(snd, audio ? TP_SDP_AUDIO : TP_SDP_VIDEO),
	};
	size_t n;

	memset(payload, 0, sizeof(payload));
	cm_wr32(payload, (uint32_t)i);
	if (tp_rtp_write(buf, cap, &n, &h, payload, audio ? 60 : sizeof(payload)))
		return 0;
	return n;
}

/* What arrived on the receiver's socket, in order: each packet's number
 * (-1: one that did not decrypt or parse). Waits up to 200 ms for the
 * first one. */
static int receive(int *got, int cap)
{
	struct pollfd pf = { rx_fd, POLLIN, 0 };
	uint8_t buf[TP_PKT_CAP];
	int n = 0;

	if (poll(&pf, 1, 200) <= 0)
		return 0;
	usleep(20000);
	for (;;) {
		ssize_t r = recv(rx_fd, buf, sizeof(buf), 0);
		struct tp_rtp_hdr h;
		size_t len = (size_t)r;
		if (r < 0)
			break;
		if (n == cap)
			continue;
		if (tp_srtp_unprotect(rx_ctx, buf, &len) || tp_rtp_parse(&h, buf, len) ||
		    h.payload_len < 4)
			got[n++] = -1;
		else
			got[n++] = (int)cm_rd32(buf + h.hdr_len);
	}
	return n;
}

static void kept_until_paced_then_in_order(void)
{
	struct tp_batch *room = NULL, *worker = NULL;
	uint8_t buf[TP_PKT_CAP];
	int got[N_PKTS * 2];

	CHECK(tp_batch_new(&room, srv) == 0);
	CHECK(tp_batch_new(&worker, srv) == 0);
	tp_batch_defer(room, true);
	for (int i = 0; i < N_PKTS; i++) {
		size_t n = make_pkt(buf, sizeof(buf), i);
		CHECK(n > 0);
		CHECK_EQ(tp_sender_send_rtp(snd, room, buf, n), 0);
		memset(buf, 0xee, sizeof(buf)); /* the kept copy is not the caller's */
	}
	tp_batch_flush(room);
	CHECK_EQ(receive(got, CM_ARRAY_SIZE(got)), 0); /* kept, not sent */

	tp_sender_pace(snd, worker, cm_now_us());
	tp_batch_flush(worker);
	CHECK_EQ(receive(got, CM_ARRAY_SIZE(got)), N_PKTS);
	for (int i = 0; i < N_PKTS; i++)
		CHECK_EQ(got[i], i);

	/* Paced again: nothing left to send twice. */
	tp_sender_pace(snd, worker, cm_now_us());
	tp_batch_flush(worker);
	CHECK_EQ(receive(got, CM_ARRAY_SIZE(got)), 0);
	tp_batch_free(&worker);
	tp_batch_free(&room);
}

static void kept_in_an_unpaced_tick_is_forgotten(void)
{
	struct tp_batch *room = NULL;
	uint8_t buf[TP_PKT_CAP];
	int got[N_PKTS];

	CHECK(tp_batch_new(&room, srv) == 0);
	tp_batch_defer(room, true);
	for (int i = 0; i < 5; i++)
		CHECK_EQ(tp_sender_send_rtp(snd, room, buf, make_pkt(buf, sizeof(buf), 100 + i)), 0);
	/* The next tick starts without a pace in between. */
	tp_batch_defer(room, true);
	CHECK_EQ(tp_sender_send_rtp(snd, room, buf, make_pkt(buf, sizeof(buf), 200)), 0);
	tp_sender_pace(snd, room, cm_now_us());
	tp_batch_flush(room);
	CHECK_EQ(receive(got, CM_ARRAY_SIZE(got)), 1);
	CHECK_EQ(got[0], 200);
	tp_batch_free(&room);
}

static void not_deferring_sends_at_once(void)
{
	struct tp_batch *room = NULL;
	uint8_t buf[TP_PKT_CAP];
	int got[N_PKTS];

	CHECK(tp_batch_new(&room, srv) == 0);
	tp_batch_defer(room, false);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(tp_sender_send_rtp(snd, room, buf, make_pkt(buf, sizeof(buf), 300 + i)), 0);
	tp_batch_flush(room); /* no pace: they were in the batch already */
	CHECK_EQ(receive(got, CM_ARRAY_SIZE(got)), 3);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(got[i], 300 + i);
	tp_batch_free(&room);
}

/* Keeping turned off within a tick (tp_batch_keeping: the next tick's
 * audio, made while this tick's video waits for its pace): those packets
 * go out at once, ahead of what was kept, which stays kept and goes out
 * whole at the pace, with what was kept after keeping came back on. */
static void keeping_off_sends_ahead_of_the_kept(void)
{
	struct tp_batch *room = NULL, *worker = NULL;
	uint8_t buf[TP_PKT_CAP];
	int got[N_PKTS];

	CHECK(tp_batch_new(&room, srv) == 0);
	CHECK(tp_batch_new(&worker, srv) == 0);
	tp_batch_defer(room, true);
	for (int i = 0; i < 5; i++)
		CHECK_EQ(tp_sender_send_rtp(snd, room, buf, make_pkt(buf, sizeof(buf), 700 + i)), 0);
	CHECK(tp_batch_keeping(room, false));
	for (int i = 0; i < 2; i++)
		CHECK_EQ(tp_sender_send_rtp(snd, room, buf, make_pkt(buf, sizeof(buf), 710 + i)), 0);
	tp_batch_flush(room);
	CHECK_EQ(receive(got, CM_ARRAY_SIZE(got)), 2);
	CHECK_EQ(got[0], 710);
	CHECK_EQ(got[1], 711);
	CHECK(!tp_batch_keeping(room, true));
	CHECK_EQ(tp_sender_send_rtp(snd, room, buf, make_pkt(buf, sizeof(buf), 705)), 0);
	tp_batch_flush(room);
	CHECK_EQ(receive(got, CM_ARRAY_SIZE(got)), 0); /* still kept */
	tp_sender_pace(snd, worker, cm_now_us());
	tp_batch_flush(worker);
	CHECK_EQ(receive(got, CM_ARRAY_SIZE(got)), 6);
	for (int i = 0; i < 6; i++)
		CHECK_EQ(got[i], 700 + i);
	tp_batch_free(&worker);
	tp_batch_free(&room);
}

/* Many receivers' worth in one tick: the arena grows and every packet
 * still goes out once. */
static void a_big_tick(void)
{
	struct tp_batch *room = NULL, *worker = NULL;
	uint8_t buf[TP_PKT_CAP];
	static int got[4000];
	int n, bad = 0;

	CHECK(tp_batch_new(&room, srv) == 0);
	CHECK(tp_batch_new(&worker, srv) == 0);
	tp_batch_defer(room, true);
	for (int i = 0; i < 1000; i++)
		CHECK_EQ(tp_sender_send_rtp(snd, room, buf, make_pkt(buf, sizeof(buf), 1000 + i)),
			 0);
	tp_sender_pace(snd, worker, cm_now_us());
	tp_batch_flush(worker);
	n = receive(got, CM_ARRAY_SIZE(got));
	/* The pacer lets audio through always, video up to its queue's
	 * bound: whatever arrives is in order and never twice. */
	for (int i = 1; i < n; i++)
		bad += got[i] <= got[i - 1];
	CHECK(n >= 300); /* audio, a third, at least */
	CHECK_EQ(bad, 0);
	tp_batch_free(&worker);
	tp_batch_free(&room);
}

/* A TWCC feedback (count fb_count) about the n packets stamped from base,
 * each received or not, given to the sender; the video sequence numbers
 * it then hands out for an early repair, into seqs; their count. */
static size_t feedback_lost(uint16_t base, uint8_t fb_count, const bool *recv,
			    const int32_t *delta, int n, uint16_t *seqs)
{
	uint8_t fb[256];
	size_t fb_len;

	CHECK_EQ(tp_rtcp_write_twcc(fb, sizeof(fb), &fb_len, 1, tp_sender_ssrc(snd, TP_SDP_VIDEO),
				    base, 0, fb_count, recv, delta, n),
		 0);
	tp_sender_feedback(snd, fb, fb_len, cm_now_us());
	return tp_sender_take_lost_video(snd, seqs, TP_SENDER_LOST_MAX);
}

/* Six packets (audio 0 and 3, video 1, 2, 4, 5 by make_pkt), then a TWCC
 * feedback with 1 (video), 3 (audio) and 4 (video) missing: the lost
 * video's sequence numbers come out once; the same feedback again, and
 * a later one that says they arrived after all, give nothing more. */
static void twcc_lost_video_for_early_repair(void)
{
	struct tp_batch *b = NULL;
	uint8_t buf[TP_PKT_CAP];
	bool recv[6] = { true, false, true, false, false, true };
	int32_t delta[6] = { 0, 0, 1000, 0, 0, 1000 };
	uint16_t seqs[TP_SENDER_LOST_MAX];
	int got[16];

	CHECK(tp_batch_new(&b, srv) == 0);
	tp_batch_defer(b, false);
	uint16_t base = snd->twcc_seq;
	for (int i = 0; i < 6; i++)
		CHECK_EQ(tp_sender_send_rtp(snd, b, buf, make_pkt(buf, sizeof(buf), 600 + i)), 0);
	tp_batch_flush(b);
	CHECK_EQ(receive(got, CM_ARRAY_SIZE(got)), 6);
	CHECK_EQ(snd->twcc_seq, (uint16_t)(base + 6)); /* every one stamped */
	CHECK_EQ(feedback_lost(base, 0, recv, delta, 6, seqs), 2u);
	/* make_pkt: 600 and 603 are audio (i % 3 == 0), the rest video. */
	CHECK_EQ(seqs[0], 601);
	CHECK_EQ(seqs[1], 604);
	CHECK_EQ(tp_sender_take_lost_video(snd, seqs, CM_ARRAY_SIZE(seqs)), 0u);
	/* The same feedback again (same feedback count). */
	CHECK_EQ(feedback_lost(base, 0, recv, delta, 6, seqs), 0u);
	bool all[6] = { true, true, true, true, true, true };
	int32_t d[6] = { 0, 1000, 1000, 1000, 1000, 1000 };
	CHECK_EQ(feedback_lost(base, 1, all, d, 6, seqs), 0u);
	tp_batch_free(&b);
}

/* A lossy receiver's video packet and its RTX copy (RFC 4588: the
 * original number first in the payload): when TWCC reports both lost,
 * the packet's number comes out twice, so the room sees that no copy
 * arrived; when the copy arrived, once. */
static void twcc_lost_rtx_copy_counts(void)
{
	struct tp_batch *b = NULL;
	uint8_t buf[TP_PKT_CAP];
	/* 802, its copy, 804; 805, its copy, 806 (make_pkt: all video). */
	bool recv[6] = { false, false, true, false, true, true };
	int32_t delta[6] = { 0, 0, 1000, 0, 1000, 1000 };
	uint16_t seqs[TP_SENDER_LOST_MAX];
	int got[16];
	size_t len;

	CHECK(tp_sender_rtx_pt(snd) > 0); /* Chrome's offer has RTX */
	CHECK(tp_batch_new(&b, srv) == 0);
	tp_batch_defer(b, false);
	uint16_t base = snd->twcc_seq;
	for (int i = 802; i <= 805; i += 3) {
		len = make_pkt(buf, sizeof(buf), i);
		CHECK_EQ(tp_sender_send_rtp(snd, b, buf, len), 0);
		CHECK_EQ(tp_sender_send_rtx(snd, b, buf, len), 0);
		CHECK_EQ(tp_sender_send_rtp(snd, b, buf, make_pkt(buf, sizeof(buf), i + 2)), 0);
	}
	tp_batch_flush(b);
	CHECK_EQ(receive(got, CM_ARRAY_SIZE(got)), 6);
	CHECK_EQ(snd->twcc_seq, (uint16_t)(base + 6));
	CHECK_EQ(feedback_lost(base, 2, recv, delta, 6, seqs), 3u);
	CHECK_EQ(seqs[0], 802);
	CHECK_EQ(seqs[1], 802);
	CHECK_EQ(seqs[2], 805);
	tp_batch_free(&b);
}

int main(void)
{
	int err = setup();

	if (err) {
		fprintf(stderr, "setup failed: %s\n", strerror(err));
		return 1;
	}
	RUN(kept_until_paced_then_in_order);
	RUN(kept_in_an_unpaced_tick_is_forgotten);
	RUN(not_deferring_sends_at_once);
	RUN(keeping_off_sends_ahead_of_the_kept);
	RUN(twcc_lost_video_for_early_repair); /* before the big tick fills the pacer */
	RUN(twcc_lost_rtx_copy_counts);
	RUN(a_big_tick);
	close(rx_fd);
	tp_srtp_free(&rx_ctx);
	tp_peer_destroy(&peer);
	tp_server_free(&srv);
	return check_report();
}
