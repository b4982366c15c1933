/*
 * tutti-load's churn scenario (churn.c), driven by main.c's event loop.
 * Internal header of perf/load/.
 */
#ifndef TUTTI_PERF_LOAD_CHURN_H
#define TUTTI_PERF_LOAD_CHURN_H

#include <signal.h>
#include <stdint.h>

struct lg_http_resp;
struct lg_part;
struct lg_run;

/* Tags an epoll event of a churner's join or leave request: | its index. */
#define LG_CHURN_TAG 0x40000000u

struct lg_churn_opts {
	const char *host;
	uint16_t port;
	const char *room, *label, *json; /* json: the file to write, or NULL */
	int server_pid;
	unsigned cycles;   /* 0: churn for duration seconds */
	unsigned stay;     /* the first stay participants stay */
	unsigned inflight; /* cycles at once */
	double duration, settle, report_every;
};

/* What the churn borrows from main.c: the participants (all connected),
 * the epoll set, the event loop and the two halves of a join. */
struct lg_churn_loop {
	struct lg_run *run;
	struct lg_part *parts;
	unsigned n_parts;
	int ep;
	const volatile sig_atomic_t *stop;
	/* Runs the event loop until until_us (or stop). */
	void (*pump)(uint64_t until_us);
	/* Sends p's join from source address src; returns the socket the
	 * answer will come on, or -1. */
	int (*join_send)(struct lg_part *p, const char *src);
	/* Takes the join's answer; 0 or an errno. */
	int (*join_finish)(struct lg_part *p, struct lg_http_resp *r);
};

/* Runs the churn (after the warm-up), then prints the figures and the
 * verdict and writes them to o->json. Both must outlive the call.
 * Returns 0 when every check holds, 1 when one fails. */
int lg_churn(const struct lg_churn_opts *o, const struct lg_churn_loop *loop);

/* For the event loop: an event tagged LG_CHURN_TAG for p came; p became
 * ready (nothing to do when no churn runs). */
void lg_churn_answered(struct lg_part *p);
void lg_churn_ready(struct lg_part *p);

#endif
