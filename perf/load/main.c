/*
 * tutti-load: joins N participants to a tutti room through the real
 * protocol (HTTP join with an SDP offer, STUN, DTLS, SRTP) in one epoll
 * process, replays pre-encoded Opus and VP8, answers PLIs and NACKs,
 * decrypts and counts everything it receives, decodes a sample of the
 * receivers to measure frame rate and the end-to-end delay of the tones
 * and frame counters it sent, and reads the server's CPU and RSS from
 * /proc and its missed deadlines from /metrics. With --plain it drives
 * peers through plain RTP instead (Janus AudioBridge, a GStreamer
 * pipeline; ports given in a file).
 *
 * A progress line goes to stderr every second; the summary table to
 * stdout; everything measured to --json FILE. See perf/README.md.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/common.h"
#include "transport/dtls.h"
#include "transport/srtp.h"
#include "perf/load/churn.h"
#include "perf/load/load.h"

struct opts {
	char host[64];
	uint16_t port;
	const char *room, *admin_key, *plain, *json, *label, *media_dir;
	unsigned participants, video_senders, speakers, sample;
	int presenter_res; /* -1 none */
	int video_res;     /* -1: mix of 180p and 360p */
	bool unmute, spread_tiers, leave, audio_only;
	double warmup, duration, room_fps;
	int server_pid;
	double tile[4];
	bool have_tile;
	unsigned churn, stay; /* churn mode: cycles (0: for --duration), stayers */
	unsigned inflight;    /* cycles at once */
	bool churn_mode;
	double settle, report_every;
};

static struct lg_run run;
static struct lg_part *parts;
static unsigned n_parts;
static int ep = -1;
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(void)
{
	fprintf(
	    stderr,
	    "usage: tutti-load --http 127.0.0.1:PORT --room R --admin-key K\n"
	    "         --participants N [--presenter 180|360|720] [--video-senders N]\n"
	    "         [--video-res 180|360|720|mix] [--speakers K] [--unmute]\n"
	    "         [--spread-tiers] [--sample S] [--warmup S] [--duration S]\n"
	    "         [--server-pid PID] [--room-fps F] [--json FILE] [--label TEXT]\n"
	    "         [--media-dir DIR] [--no-leave] [--audio-only]\n"
	    "         [--churn CYCLES --stay N [--inflight K] [--settle S]\n"
	    "         [--report-every S]]\n"
	    "         (churn: N stay, the others leave and join again; CYCLES 0:\n"
	    "         for --duration seconds)\n"
	    "       tutti-load --plain FILE [--speakers K] [--sample S] [--tile x,y,w,h] "
	    "...\n"
	    "         FILE lines: 'audio LPORT DPORT' | 'video LPORT DPORT RES' | 'recv "
	    "LPORT'\n");
	exit(2);
}

static int res_of(const char *s)
{
	if (!strcmp(s, "180"))
		return LG_180P;
	if (!strcmp(s, "360"))
		return LG_360P;
	if (!strcmp(s, "720"))
		return LG_720P;
	if (!strcmp(s, "mix"))
		return -1;
	usage();
	return 0;
}

static void parse(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	o->room = "load";
	o->presenter_res = -1;
	o->video_res = LG_360P;
	o->warmup = 3;
	o->duration = 10;
	o->room_fps = LG_FPS;
	o->leave = true;
	o->media_dir = "perf-media";
	o->label = "";
	o->settle = 5;
	o->inflight = 8;
	o->report_every = 60;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (!strcmp(a, name) && v && ++i)
		if (ARG("--http")) {
			const char *c = strrchr(v, ':');
			if (!strncmp(v, "http://", 7))
				v += 7;
			if (!c || (size_t)(c - v) >= sizeof(o->host))
				usage();
			memcpy(o->host, v, (size_t)(c - v));
			o->port = (uint16_t)atoi(c + 1);
		} else if (ARG("--room")) {
			o->room = v;
		} else if (ARG("--admin-key")) {
			o->admin_key = v;
		} else if (ARG("--participants")) {
			o->participants = (unsigned)atoi(v);
		} else if (ARG("--presenter")) {
			o->presenter_res = res_of(v);
		} else if (ARG("--video-senders")) {
			o->video_senders = (unsigned)atoi(v);
		} else if (ARG("--video-res")) {
			o->video_res = res_of(v);
		} else if (ARG("--speakers")) {
			o->speakers = (unsigned)atoi(v);
		} else if (ARG("--sample")) {
			o->sample = (unsigned)atoi(v);
		} else if (ARG("--warmup")) {
			o->warmup = atof(v);
		} else if (ARG("--duration")) {
			o->duration = atof(v);
		} else if (ARG("--server-pid")) {
			o->server_pid = atoi(v);
		} else if (ARG("--room-fps")) {
			o->room_fps = atof(v);
		} else if (ARG("--json")) {
			o->json = v;
		} else if (ARG("--label")) {
			o->label = v;
		} else if (ARG("--media-dir")) {
			o->media_dir = v;
		} else if (ARG("--plain")) {
			o->plain = v;
		} else if (ARG("--churn")) {
			o->churn = (unsigned)atoi(v);
			o->churn_mode = true;
		} else if (ARG("--inflight")) {
			o->inflight = (unsigned)atoi(v);
		} else if (ARG("--stay")) {
			o->stay = (unsigned)atoi(v);
		} else if (ARG("--settle")) {
			o->settle = atof(v);
		} else if (ARG("--report-every")) {
			o->report_every = atof(v);
		} else if (ARG("--tile")) {
			if (sscanf(v, "%lf,%lf,%lf,%lf", &o->tile[0], &o->tile[1],
				   &o->tile[2], &o->tile[3]) != 4)
				usage();
			o->have_tile = true;
		} else if (!strcmp(a, "--unmute")) {
			o->unmute = true;
		} else if (!strcmp(a, "--audio-only")) {
			o->audio_only = true;
		} else if (!strcmp(a, "--spread-tiers")) {
			o->spread_tiers = true;
		} else if (!strcmp(a, "--no-leave")) {
			o->leave = false;
		} else {
			usage();
		}
#undef ARG
	}
	if (!o->plain && (!o->port || !o->participants || !o->admin_key))
		usage();
	if (o->churn_mode && (o->plain || o->stay >= o->participants || !o->inflight))
		usage();
}

/* ---- the event loop ------------------------------------------------------------- */

static uint64_t next_due;
static void patch_answered(int fd);
#define HTTP_TAG 0x80000000u /* | fd: an admin PATCH; LG_CHURN_TAG below it */

/* Every participant's due sends and timers, when one is due. */
static void send_due(uint64_t now)
{
	if (now < next_due)
		return;
	next_due = UINT64_MAX;
	for (unsigned i = 0; i < n_parts; i++) {
		lg_part_timers(&parts[i], now);
		lg_part_send(&run, &parts[i], now);
		next_due = CM_MIN(next_due, lg_part_next(&run, &parts[i]));
	}
}

static void pump(uint64_t until_us)
{
	struct epoll_event ev[256];

	do {
		uint64_t now = cm_now_us();
		send_due(now);
		uint64_t wake = CM_MIN(next_due, until_us);
		now = cm_now_us();
		int ms = wake > now ? (int)((wake - now + 999) / 1000) : 0;
		int n = epoll_wait(ep, ev, 256, CM_MIN(ms, 20));
		now = cm_now_us();
		for (int i = 0; i < n; i++) {
			/* Sends keep their times while a burst comes in (a
			 * frame to hundreds of receivers takes this loop tens of
			 * ms): late sends would be jitter that the server's
			 * buffers must absorb, which real clients, each on its
			 * own machine, would not have. */
			if (i && !(i % 16)) {
				now = cm_now_us();
				send_due(now);
			}
			if (ev[i].data.u32 & HTTP_TAG) {
				patch_answered((int)(ev[i].data.u32 & ~HTTP_TAG));
				continue;
			}
			if (ev[i].data.u32 & LG_CHURN_TAG) {
				lg_churn_answered(&parts[ev[i].data.u32 & ~LG_CHURN_TAG]);
				continue;
			}
			struct lg_part *p = &parts[ev[i].data.u32];
			bool was_ready = p->ready;
			lg_part_input(&run, p, now);
			if (p->ready != was_ready || !p->ready)
				next_due = 0; /* its timers changed */
			if (p->ready && !was_ready)
				lg_churn_ready(p);
		}
	} while (cm_now_us() < until_us && !stop);
}

static int udp_socket(uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0), sz = 1 << 20;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &(int){1}, sizeof(int));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int watch(struct lg_part *p)
{
	struct epoll_event e = {.events = EPOLLIN, .data.u32 = p->idx};

	return epoll_ctl(ep, EPOLL_CTL_ADD, p->fd, &e);
}

static int decoders(struct lg_part *p)
{
	int err = cx_opus_dec_new(&p->adec, 1);
	if (!err)
		err = cx_vp8_asm_new(&p->asm_);
	if (!err)
		err = cx_vp8_dec_new(&p->vdec);
	return err;
}

static int video_sender(struct lg_part *p)
{
	p->send_video = true;
	p->hist = calloc(LG_HIST, sizeof(*p->hist));
	if (!p->hist)
		return ENOMEM;
	for (int i = 0; i < LG_HIST; i++)
		if (!(p->hist[i].buf = malloc(LG_PKT)))
			return ENOMEM;
	return cx_vp8_pay_new(&p->pay, (uint16_t)(cm_random_u32() & 0x7fff));
}

/* ---- WebRTC participants ------------------------------------------------------- */

static char presenter_token[4096];

static int get_presenter_token(const struct opts *o)
{
	static struct lg_http_resp r;
	char path[256];
	json_t *j, *t;

	snprintf(path, sizeof(path), "/api/v1/rooms/%s/tokens", o->room);
	if (lg_http(o->host, o->port, NULL, "POST", path, o->admin_key,
		    "application/json",
		    "{\"name\":\"presenter\",\"role\":\"presenter\",\"ttl\":3600}", &r) ||
	    (r.status != 201 && r.status != 200))
		return EPROTO;
	j = json_loadb(r.body, r.body_len, 0, NULL);
	t = j ? json_object_get(j, "token") : NULL;
	if (!json_is_string(t)) {
		json_decref(j);
		return EPROTO;
	}
	snprintf(presenter_token, sizeof(presenter_token), "%s", json_string_value(t));
	json_decref(j);
	return 0;
}

/* Admin PATCHes go out at once and are answered in the event loop (the
 * room answers at its next tick: waiting for each would slow the joins). */
static unsigned patches_pending, patches_failed;

static void admin_patch(const struct opts *o, struct lg_part *p, const char *body)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "/api/v1/rooms/%s/participants/%s", o->room, p->id);
	fd = lg_http_send(o->host, o->port, NULL, "PATCH", path, o->admin_key,
			  "application/json", body);
	struct epoll_event e = {.events = EPOLLIN, .data.u32 = HTTP_TAG | (uint32_t)fd};
	if (fd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e)) {
		patches_failed++;
		if (fd >= 0)
			close(fd);
		return;
	}
	patches_pending++;
}

static void patch_answered(int fd)
{
	static struct lg_http_resp r;

	epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	if (lg_http_read(fd, &r) || r.status != 200) {
		patches_failed++;
		fprintf(stderr, "tutti-load: PATCH: %d %.200s\n", r.status,
			r.body ? r.body : "");
	}
	patches_pending--;
}

/* Sends the join of p from source address src; returns the socket the
 * answer will come on, or -1. */
static int join_send(const struct opts *o, struct lg_part *p, const char *src)
{
	static char offer[8192];
	char path[256];

	if (lg_offer(&run, p, offer, sizeof(offer)))
		return -1;
	snprintf(path, sizeof(path), "/api/v1/rooms/%s/join?name=load%u", o->room,
		 p->idx);
	p->t_join_us = cm_now_us();
	return lg_http_send(o->host, o->port, src, "POST", path,
			    p->presenter ? presenter_token : NULL, "application/sdp",
			    offer);
}

/* The join's answer: the participant's URL, the server's ICE and DTLS
 * parameters; opens its socket and sends the first ICE check. */
static int join_finish(const struct opts *o, struct lg_part *p, struct lg_http_resp *r)
{
	const char *q, *e;

	if (r->status != 201) {
		fprintf(stderr, "tutti-load: join %u: %d %.300s\n", p->idx, r->status,
			r->body ? r->body : "");
		return EPROTO;
	}
	snprintf(p->location, sizeof(p->location), "%s", r->location);
	q = strstr(r->location, "/participants/");
	if (q) {
		q += strlen("/participants/");
		e = strchr(q, '?');
		size_t n = e ? (size_t)(e - q) : strlen(q);
		if (n < sizeof(p->id)) {
			memcpy(p->id, q, n);
			p->id[n] = '\0';
		}
	}
	p->dst = calloc(1, sizeof(*p->dst));
	if (!p->dst || lg_answer(p, r->body, r->body_len, p->dst))
		return EBADMSG;
	p->fd = udp_socket(0);
	if (p->fd < 0 || watch(p))
		return EIO;
	lg_send_stun(p);
	p->next_stun_us = cm_now_us() + 200000;
	next_due = 0;
	if (o->spread_tiers && p->tier >= 0) {
		char body[64];
		snprintf(body, sizeof(body), "{\"tier\":%d%s}", p->tier,
			 o->unmute && p->speaker >= 0 && !p->presenter
			     ? ",\"muted\":false"
			     : "");
		admin_patch(o, p, body);
	} else if (o->unmute && p->speaker >= 0 && !p->presenter) {
		admin_patch(o, p, "{\"muted\":false}");
	}
	return 0;
}

static int join_one(const struct opts *o, struct lg_part *p)
{
	static struct lg_http_resp r;
	char src[32];
	unsigned a = p->idx / 50; /* tutti allows a burst of 60 joins per address */
	int fd;

	snprintf(src, sizeof(src), "127.77.%u.%u", a / 250, a % 250 + 1);
	fd = join_send(o, p, src);
	if (fd < 0)
		return EIO;
	if (lg_http_read(fd, &r))
		return EIO;
	return join_finish(o, p, &r);
}

static void leave_one(const struct opts *o, struct lg_part *p)
{
	static struct lg_http_resp r;

	if (p->location[0])
		(void)lg_http(o->host, o->port, NULL, "DELETE", p->location, NULL, NULL,
			      NULL, &r);
}

/* The largest tile of the room's layout, as fractions of the canvas. */
static void fetch_tile(const struct opts *o)
{
	static struct lg_http_resp r;
	char path[256];
	json_t *j, *lay, *tiles, *t;
	double best = 0, W, H;
	size_t i;

	snprintf(path, sizeof(path), "/api/v1/rooms/%s", o->room);
	if (lg_http(o->host, o->port, NULL, "GET", path, o->admin_key, NULL, NULL, &r) ||
	    r.status != 200)
		return;
	j = json_loadb(r.body, r.body_len, 0, NULL);
	lay = j ? json_object_get(j, "layout") : NULL;
	tiles = lay ? json_object_get(lay, "tiles") : NULL;
	W = json_number_value(json_object_get(lay, "width"));
	H = json_number_value(json_object_get(lay, "height"));
	if (W > 0 && H > 0)
		json_array_foreach(tiles, i, t)
		{
			double x = json_number_value(json_object_get(t, "x")),
			       y = json_number_value(json_object_get(t, "y")),
			       w = json_number_value(json_object_get(t, "w")),
			       h = json_number_value(json_object_get(t, "h"));
			if (w * h > best) {
				best = w * h;
				run.tile[0] = x / W;
				run.tile[1] = y / H;
				run.tile[2] = w / W;
				run.tile[3] = h / H;
				run.have_tile = true;
			}
		}
	json_decref(j);
}

static double join_s; /* from the first join until all are connected */

/* The sample: s receivers that only listen, spread evenly over the join
 * order from the last one on (a server sends a mix to its receivers in
 * turn: the last ones alone would read the end of its fan-out), taking
 * the tiers in turn where they were spread; every participant when all.
 * Each gets decoders. */
static int mark_sample(unsigned s, bool all)
{
	unsigned *l = malloc((n_parts + 1) * sizeof(*l)), n = 0;

	if (!l)
		return ENOMEM;
	for (unsigned i = 0; i < n_parts; i++)
		if (all || (parts[i].recv && parts[i].speaker < 0 && !parts[i].presenter))
			l[n++] = i;
	s = CM_MIN(s, n);
	for (unsigned j = 0; j < s; j++) {
		unsigned k = n - 1 - (unsigned)((uint64_t)j * n / s);
		/* the nearest one before it on tier j % 3, when tiers were spread */
		for (unsigned d = 0; d < 3 && k >= d; d++)
			if (parts[l[k - d]].tier < 0 || parts[l[k - d]].tier == (int)(j % 3)) {
				k -= d;
				break;
			}
		struct lg_part *p = &parts[l[k]];
		if (p->sample)
			continue;
		p->sample = true;
		if (decoders(p)) {
			free(l);
			return ENOMEM;
		}
	}
	free(l);
	return 0;
}

static int setup_webrtc(const struct opts *o)
{
	unsigned n = o->participants, first_student = o->presenter_res >= 0 ? 1 : 0;
	unsigned joined = 0;

	n_parts = n;
	parts = calloc(n, sizeof(*parts));
	if (!parts)
		return ENOMEM;
	run.n_speakers = o->speakers + first_student;
	for (unsigned i = 0; i < n; i++) {
		struct lg_part *p = &parts[i];
		lg_part_init(p, i);
		p->send_audio = p->recv = true;
		if (i == 0 && o->presenter_res >= 0) {
			p->presenter = true;
			p->speaker = 0;
			p->vres = (enum lg_res)o->presenter_res;
			if (video_sender(p))
				return ENOMEM;
		} else {
			if (i - first_student < o->speakers)
				p->speaker = (int)i;
			if (o->spread_tiers)
				p->tier = (int)(i % 3);
		}
		if (!p->presenter && i < o->video_senders) {
			p->vres = o->video_res >= 0 ? (enum lg_res)o->video_res
						    : (i % 2 ? LG_360P : LG_180P);
			if (video_sender(p))
				return ENOMEM;
		}
		if (o->churn_mode && i < o->stay) {
			p->sample = true;
			if (decoders(p))
				return ENOMEM;
		}
	}
	if (!o->churn_mode && mark_sample(o->sample >= n ? n : o->sample, o->sample >= n))
		return ENOMEM;
	if (o->presenter_res >= 0 && get_presenter_token(o)) {
		fprintf(stderr, "tutti-load: no presenter token for room %s\n", o->room);
		return EPROTO;
	}
	uint64_t t = cm_now_us(), t_first = t;
	for (unsigned i = 0; i < n && !stop; i++) {
		if (join_one(o, &parts[i]) == 0)
			joined++;
		pump(cm_now_us()); /* handshakes go on while others join */
		if (cm_now_us() - t > 1000000) {
			fprintf(stderr, "tutti-load: joined %u/%u\n", joined, n);
			t = cm_now_us();
		}
	}
	/* wait (up to 30 s) for every ICE check and DTLS handshake */
	uint64_t end = cm_now_us() + 30000000;
	while (!stop && cm_now_us() < end) {
		unsigned ready = 0;
		for (unsigned i = 0; i < n; i++)
			ready += parts[i].ready;
		if (ready == joined && !patches_pending)
			break;
		pump(cm_now_us() + 100000);
	}
	join_s = (double)(cm_now_us() - t_first) / 1e6;
	return 0;
}

/* ---- churn (churn.c) ----------------------------------------------------------- */

static const struct opts *churn_o; /* for the join halves that churn calls */

static int churn_join_send(struct lg_part *p, const char *src)
{
	return join_send(churn_o, p, src);
}

static int churn_join_finish(struct lg_part *p, struct lg_http_resp *r)
{
	return join_finish(churn_o, p, r);
}

static int run_churn(const struct opts *o)
{
	struct lg_churn_opts co = {
	    .host = o->host,
	    .port = o->port,
	    .room = o->room,
	    .label = o->label,
	    .json = o->json,
	    .server_pid = o->server_pid,
	    .cycles = o->churn,
	    .stay = o->stay,
	    .inflight = o->inflight,
	    .duration = o->duration,
	    .settle = o->settle,
	    .report_every = o->report_every,
	};
	struct lg_churn_loop loop = {
	    .run = &run,
	    .parts = parts,
	    .n_parts = n_parts,
	    .ep = ep,
	    .stop = &stop,
	    .pump = pump,
	    .join_send = churn_join_send,
	    .join_finish = churn_join_finish,
	};

	churn_o = o;
	return lg_churn(&co, &loop);
}

/* ---- plain RTP participants ---------------------------------------------------- */

static int setup_plain(const struct opts *o)
{
	char line[256], kind[16], res[16];
	unsigned lport, dport, cap = 0;
	FILE *f = fopen(o->plain, "r");

	if (!f)
		return errno;
	while (fgets(line, sizeof(line), f)) {
		int k = sscanf(line, "%15s %u %u %15s", kind, &lport, &dport, res);
		if (k < 2 || kind[0] == '#')
			continue;
		if (n_parts == cap) {
			cap = cap ? cap * 2 : 64;
			parts = realloc(parts, cap * sizeof(*parts));
			if (!parts) {
				fclose(f);
				return ENOMEM;
			}
		}
		struct lg_part *p = &parts[n_parts];
		lg_part_init(p, n_parts);
		p->plain = p->ready = true;
		p->fd = udp_socket((uint16_t)lport);
		if (p->fd < 0 || watch(p)) {
			fprintf(stderr, "tutti-load: cannot bind 127.0.0.1:%u\n", lport);
			fclose(f);
			return EIO;
		}
		if (k >= 3) {
			p->dst = calloc(1, sizeof(*p->dst));
			p->dst->sin_family = AF_INET;
			p->dst->sin_port = htons((uint16_t)dport);
			p->dst->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		}
		if (!strcmp(kind, "audio") && k >= 3) {
			p->send_audio = p->recv = true;
			if (n_parts < o->speakers)
				p->speaker = (int)n_parts;
		} else if (!strcmp(kind, "video") && k >= 4) {
			p->vres = (enum lg_res)res_of(res);
			if (video_sender(p)) {
				fclose(f);
				return ENOMEM;
			}
		} else if (!strcmp(kind, "recv")) {
			p->recv = true;
		}
		n_parts++;
	}
	fclose(f);
	run.n_speakers = o->speakers;
	return mark_sample(o->sample, false);
}

static void progress(const char *what, uint64_t t_start)
{
	uint64_t rx = 0, tx = 0, fail = 0;
	unsigned ready = 0;

	for (unsigned i = 0; i < n_parts; i++) {
		rx += parts[i].rx_a.pkts + parts[i].rx_v.pkts;
		tx += parts[i].sent_pkts[0] + parts[i].sent_pkts[1];
		fail += parts[i].srtp_fail;
		ready += parts[i].ready;
	}
	fprintf(stderr,
		"tutti-load: %s %5.1f s  ready %u/%u  rx %llu  tx %llu  srtp-fail %llu\n",
		what, (double)(cm_now_us() - t_start) / 1e6, ready, n_parts,
		(unsigned long long)rx, (unsigned long long)tx, (unsigned long long)fail);
}

int main(int argc, char **argv)
{
	struct opts o;
	struct lg_snap a, b;
	struct rlimit rl;
	int err, rc;

	parse(argc, argv, &o);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	run.audio_ext_id = 1;
	run.audio_only = o.audio_only;
	if (tp_srtp_init() || tp_dtls_cert_new(&run.cert)) {
		fprintf(stderr, "tutti-load: no SRTP or certificate\n");
		return 2;
	}
	err = lg_media_load(&run.media, o.media_dir);
	if (err) {
		fprintf(stderr, "tutti-load: media: %s\n", strerror(err));
		return 2;
	}
	ep = epoll_create1(0);
	if (o.have_tile) {
		memcpy(run.tile, o.tile, sizeof(run.tile));
		run.have_tile = true;
	}
	err = o.plain ? setup_plain(&o) : setup_webrtc(&o);
	if (err) {
		fprintf(stderr, "tutti-load: setup: %s\n", strerror(err));
		return 2;
	}
	progress("connected", cm_now_us());
	if (o.churn_mode && !o.plain) {
		unsigned ready = 0;
		for (unsigned i = 0; i < n_parts; i++)
			ready += parts[i].ready;
		if (ready != n_parts) {
			fprintf(stderr, "tutti-load: only %u/%u connected\n", ready,
				n_parts);
			rc = 1;
			goto out;
		}
	}
	/* media from a common time zero */
	run.t0_us = cm_now_us() + 50000;
	next_due = 0;
	uint64_t t = cm_now_us(), end = t + (uint64_t)(o.warmup * 1e6);
	while (!stop && cm_now_us() < end) {
		pump(CM_MIN(end, cm_now_us() + 1000000));
		progress("warm-up", t);
	}
	if (o.churn_mode) {
		rc = run_churn(&o);
		goto out;
	}
	if (!o.plain && !run.have_tile)
		fetch_tile(&o);
	lg_snap_take(&a, o.server_pid, o.plain ? NULL : o.host, o.port);
	run.measuring = true;
	t = cm_now_us();
	end = t + (uint64_t)(o.duration * 1e6);
	while (!stop && cm_now_us() < end) {
		pump(CM_MIN(end, cm_now_us() + 1000000));
		progress("measuring", t);
	}
	run.measuring = false;
	lg_snap_take(&b, o.server_pid, o.plain ? NULL : o.host, o.port);
	struct lg_summary_in in = {
	    .label = o.label,
	    .json = o.json,
	    .plain = o.plain != NULL,
	    .room_fps = o.room_fps,
	    .join_s = join_s,
	    .tone_onset_ms = run.media.tone_onset_ms,
	    .late_hist = run.late_hist,
	    .patches_failed = patches_failed,
	    .parts = parts,
	    .n_parts = n_parts,
	};
	rc = lg_report(&in, &a, &b);
out:
	if (!o.plain && o.leave)
		for (unsigned i = 0; i < n_parts; i++)
			leave_one(&o, &parts[i]);
	for (unsigned i = 0; i < n_parts; i++)
		lg_part_fini(&parts[i]);
	free(parts);
	lg_media_free(&run.media);
	tp_dtls_cert_free(&run.cert);
	close(ep);
	return rc;
}
