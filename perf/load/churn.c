/*
 * The churn scenario of tutti-load (--churn): the first --stay
 * participants stay in the room while the others leave and join again,
 * --inflight at a time, and the server's RSS, open files and the
 * stayers' audio show whether sessions leave anything behind.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "common/common.h"
#include "perf/load/churn.h"
#include "perf/load/load.h"

/*
 * One cycle = one participant leaves (DELETE of its URL) and joins again
 * (a new session: new ICE credentials, DTLS handshake, SRTP keys); it is
 * done when the new session is connected. Up to --inflight cycles (8)
 * run at once, the churners taking turns; the joins go out from
 * CHURN_ADDRS loopback addresses in turn (tutti allows 10 joins/s per
 * address, burst 60), so the rate limit never holds a join back.
 */
#define CHURN_ADDRS      64
#define CHURN_TIMEOUT_US 10000000 /* a join not connected by then failed */
/* A stayer hears a tone from one of the other talkers at least every 2 s
 * (1 s slots in turn, DTX between): longer quiet at the end means the
 * server stopped sending to it, which the gap between packets can't see. */
#define STAY_QUIET_MS 3000

enum { CH_LIVE, CH_LEAVING, CH_JOINING };

static const struct lg_churn_opts *ch_o; /* while the churn runs */
static const struct lg_churn_loop *ch_loop;
static unsigned ch_inflight, ch_done, ch_started, ch_joins;
static unsigned ch_join_fail, ch_leave_fail;

static void churn_watch(struct lg_part *p, int fd, int state)
{
	struct epoll_event e = {.events = EPOLLIN, .data.u32 = LG_CHURN_TAG | p->idx};

	p->http_fd = fd;
	p->churn_state = state;
	if (fd >= 0 && epoll_ctl(ch_loop->ep, EPOLL_CTL_ADD, fd, &e) == 0)
		return;
	if (fd >= 0)
		close(fd);
	p->http_fd = -1;
	p->churn_state = CH_LIVE;
	ch_inflight--;
	if (state == CH_JOINING)
		ch_join_fail++;
	else
		ch_leave_fail++;
}

/* A new session for p: the old one's state goes, then the join. */
static void churn_join(struct lg_part *p)
{
	char src[32];
	unsigned idx = p->idx;

	lg_part_fini(p);
	lg_part_init(p, idx);
	p->send_audio = p->recv = true;
	snprintf(src, sizeof(src), "127.77.1.%u", ch_joins++ % CHURN_ADDRS + 1);
	churn_watch(p, ch_loop->join_send(p, src), CH_JOINING);
}

static void churn_leave(struct lg_part *p)
{
	ch_inflight++;
	ch_started++;
	if (!p->location[0]) { /* its join failed: nothing to leave */
		churn_join(p);
		return;
	}
	churn_watch(p,
		    lg_http_send(ch_o->host, ch_o->port, NULL, "DELETE", p->location,
				 NULL, NULL, NULL),
		    CH_LEAVING);
}

void lg_churn_answered(struct lg_part *p)
{
	static struct lg_http_resp r;
	int state = p->churn_state, bad;

	epoll_ctl(ch_loop->ep, EPOLL_CTL_DEL, p->http_fd, NULL);
	bad = lg_http_read(p->http_fd, &r);
	p->http_fd = -1;
	p->churn_state = CH_LIVE;
	if (state == CH_LEAVING) {
		if (bad || r.status < 200 || r.status > 299) {
			ch_leave_fail++;
			fprintf(stderr, "tutti-load: leave %u: %d\n", p->idx, r.status);
		}
		churn_join(p);
	} else if (bad || ch_loop->join_finish(p, &r)) {
		ch_join_fail++;
		ch_inflight--;
		free(p->dst);
		p->dst = NULL; /* goes round again: see lg_churn() */
	}
}

void lg_churn_ready(struct lg_part *p)
{
	if (!ch_o || p->idx < ch_o->stay)
		return;
	ch_inflight--;
	ch_done++;
}

/* A churner whose join has not connected in time: a failure; it goes
 * round again (leaves what the server may hold, joins anew). */
static void churn_timeouts(uint64_t now)
{
	for (unsigned i = ch_o->stay; i < ch_loop->n_parts; i++) {
		struct lg_part *p = &ch_loop->parts[i];
		if (p->churn_state == CH_LIVE && p->http_fd < 0 && !p->ready &&
		    p->t_join_us && now - p->t_join_us > CHURN_TIMEOUT_US && p->dst) {
			fprintf(stderr, "tutti-load: join %u: not connected in %d s\n",
				p->idx, CHURN_TIMEOUT_US / 1000000);
			ch_join_fail++;
			ch_inflight--;
			free(p->dst);
			p->dst = NULL; /* counted once */
			churn_leave(p);
			ch_started--; /* a retry, not a new cycle */
		}
	}
}

struct churn_fig {
	double t, rss, rss100, rss0;
	int fds, fds0;
	double gap_ms;
	double missed, late_ms; /* the room's missed deadlines, latest tick start */
	double quiet_ms;        /* the longest a stayer has now gone without audio */
	uint64_t stay_pkts, stay_lost;
	unsigned stay_ready;
};

static void churn_figures(struct churn_fig *f, double t)
{
	uint64_t gap = 0, now = cm_now_us(), quiet = 0;

	f->t = t;
	f->rss = lg_proc_rss_mb(ch_o->server_pid);
	f->fds = lg_proc_fds(ch_o->server_pid);
	f->stay_pkts = f->stay_lost = f->stay_ready = 0;
	for (unsigned i = 0; i < ch_o->stay; i++) {
		gap = CM_MAX(gap, ch_loop->parts[i].rx_a.max_agap_us);
		f->stay_pkts += ch_loop->parts[i].rx_a.pkts;
		f->stay_lost += ch_loop->parts[i].rx_a.lost;
		f->stay_ready += ch_loop->parts[i].ready;
		quiet = CM_MAX(quiet, ch_loop->parts[i].rx_a.init &&
					      now > ch_loop->parts[i].rx_a.last_us
					  ? now - ch_loop->parts[i].rx_a.last_us
					  : now);
	}
	f->gap_ms = (double)gap / 1000.0;
	f->quiet_ms = (double)quiet / 1000.0;
	lg_room_ticks(ch_o->host, ch_o->port, ch_o->room, &f->missed, &f->late_ms);
}

static void churn_print(const char *what, const struct churn_fig *f)
{
	fprintf(stderr,
		"tutti-load: %s %6.1f s  cycles %u (in flight %u)  join failures %u  "
		"leave failures %u  stayers %u/%u  longest audio gap %.1f ms  "
		"RSS %.1f MiB  fds %d\n",
		what, f->t, ch_done, ch_inflight, ch_join_fail, ch_leave_fail,
		f->stay_ready, ch_o->stay, f->gap_ms, f->rss, f->fds);
}

int lg_churn(const struct lg_churn_opts *o, const struct lg_churn_loop *loop)
{
	struct churn_fig f0, f100 = {.rss = -1}, f;
	uint64_t t0, next_print, next_report, end, now;
	unsigned turn = o->stay;
	int rc = 0;

	ch_o = o;
	ch_loop = loop;
	churn_figures(&f0, 0);
	ch_loop->run->measuring = true;
	t0 = cm_now_us();
	end = t0 + (uint64_t)(o->duration * 1e6);
	next_print = t0 + 1000000;
	next_report = t0 + (uint64_t)(o->report_every * 1e6);
	fprintf(stderr,
		"tutti-load: churn: %u stay, %u churn; baseline RSS %.1f MiB, fds %d\n",
		o->stay, ch_loop->n_parts - o->stay, f0.rss, f0.fds);
	while (!*ch_loop->stop) {
		now = cm_now_us();
		bool more = o->cycles ? ch_started < o->cycles : now < end;
		if (!more && !ch_inflight)
			break;
		if (o->cycles && ch_started >= o->cycles && now > t0 + 600000000)
			break; /* 10 min: stuck */
		for (unsigned k = 0;
		     more && ch_inflight < o->inflight && k < ch_loop->n_parts; k++) {
			struct lg_part *p = &ch_loop->parts[turn];
			turn = turn + 1 < ch_loop->n_parts ? turn + 1 : o->stay;
			/* connected, or its join failed (no session to wait for) */
			if (p->churn_state == CH_LIVE && (p->ready || !p->dst)) {
				churn_leave(p);
				more = o->cycles ? ch_started < o->cycles : now < end;
			}
		}
		ch_loop->pump(cm_now_us() + 2000);
		now = cm_now_us();
		churn_timeouts(now);
		if (f100.rss < 0 && ch_done >= 100) {
			churn_figures(&f100, (double)(now - t0) / 1e6);
			churn_print("after 100 cycles:", &f100);
		}
		if (now >= next_print) {
			churn_figures(&f, (double)(now - t0) / 1e6);
			churn_print("churn", &f);
			next_print = now + 1000000;
		}
		if (now >= next_report) {
			churn_figures(&f, (double)(now - t0) / 1e6);
			printf(
			    "figures at %.0f s: cycles %u, join failures %u, longest "
			    "audio gap %.1f ms, server: missed deadlines %.0f, latest "
			    "tick %.1f ms; RSS %.1f MiB (after 100 cycles %.1f), fds %d "
			    "(baseline %d)\n",
			    f.t, ch_done, ch_join_fail, f.gap_ms, f.missed, f.late_ms,
			    f.rss, f100.rss, f.fds, f0.fds);
			fflush(stdout);
			next_report = now + (uint64_t)(o->report_every * 1e6);
		}
	}
	double churn_s = (double)(cm_now_us() - t0) / 1e6;
	/* the server drops what the leaves freed; the stayers go on */
	ch_loop->pump(cm_now_us() + (uint64_t)(o->settle * 1e6));
	ch_loop->run->measuring = false;
	churn_figures(&f, churn_s);
	if (f100.rss < 0)
		f100 = f;

	bool gap_ok = f.gap_ms <= 100, rss_ok = f.rss <= 1.10 * f100.rss,
	     fds_ok = f.fds >= 0 && f.fds <= f0.fds,
	     joins_ok = !ch_join_fail && !ch_leave_fail,
	     stay_ok = f.stay_ready == o->stay &&
		       f.quiet_ms<STAY_QUIET_MS, audio_ok = f.stay_pkts> 0,
	     cycles_ok = o->cycles ? ch_done >= o->cycles : true;
	rc = gap_ok && rss_ok && fds_ok && joins_ok && stay_ok && audio_ok && cycles_ok &&
		     !*ch_loop->stop
		 ? 0
		 : 1;
	printf("\n## churn: %s\n\n", o->label);
	printf("| figure | value | check |\n|---|---:|---|\n");
	printf(
	    "| cycles done (leave + join + connected) | %u in %.1f s (%.1f/s) | %s |\n",
	    ch_done, churn_s, ch_done / churn_s, cycles_ok ? "ok" : "FAIL");
	printf("| join / leave failures | %u / %u | %s |\n", ch_join_fail, ch_leave_fail,
	       joins_ok ? "ok" : "FAIL");
	printf("| stayers connected at the end; longest since a stayer's last audio "
	       "packet | %u / %u; %.0f ms | %s (< %d ms) |\n",
	       f.stay_ready, o->stay, f.quiet_ms, stay_ok ? "ok" : "FAIL", STAY_QUIET_MS);
	printf("| stayers' audio packets / lost | %llu / %llu | %s |\n",
	       (unsigned long long)f.stay_pkts, (unsigned long long)f.stay_lost,
	       audio_ok ? "ok" : "FAIL");
	printf("| stayers' longest audio gap | %.1f ms | %s (<= 100) |\n", f.gap_ms,
	       gap_ok ? "ok" : "FAIL");
	printf("| server: room ticks that missed their deadline; the latest a tick "
	       "started | %.0f; %.1f ms | (figure) |\n",
	       f.missed, f.late_ms);
	printf("| server RSS: baseline / after 100 cycles / end | %.1f / %.1f / %.1f MiB "
	       "| %s "
	       "(end <= 1.10 x after 100) |\n",
	       f0.rss, f100.rss, f.rss, rss_ok ? "ok" : "FAIL");
	printf("| server open fds: baseline / end | %d / %d | %s (end <= baseline) |\n",
	       f0.fds, f.fds, fds_ok ? "ok" : "FAIL");
	printf("\nverdict: %s\n", rc ? "FAIL" : "ok");
	if (o->json) {
		json_t *j = json_pack(
		    "{s:s, s:i, s:i, s:f, s:i, s:i, s:i, s:i, s:f, s:f, s:I, s:I, s:f, "
		    "s:f, s:f, s:i, s:i, s:b}",
		    "label", o->label, "participants", (int)ch_loop->n_parts, "stay",
		    (int)o->stay, "churn_s", churn_s, "cycles", (int)ch_done,
		    "join_failures", (int)ch_join_fail, "leave_failures",
		    (int)ch_leave_fail, "stayers_ready", (int)f.stay_ready,
		    "stayers_longest_audio_gap_ms", f.gap_ms, "stayers_quiet_at_end_ms",
		    f.quiet_ms, "stayers_audio_pkts", (json_int_t)f.stay_pkts,
		    "stayers_audio_lost", (json_int_t)f.stay_lost, "rss_baseline_mb",
		    f0.rss, "rss_after_100_mb", f100.rss, "rss_end_mb", f.rss,
		    "fds_baseline", f0.fds, "fds_end", f.fds, "ok", !rc);
		if (j) {
			json_object_set_new(j, "server_missed_deadlines",
					    json_real(f.missed));
			json_object_set_new(j, "server_tick_late_max_ms",
					    json_real(f.late_ms));
		}
		if (!j || json_dump_file(j, o->json, JSON_INDENT(2)))
			rc = 1;
		json_decref(j);
	}
	return rc;
}
