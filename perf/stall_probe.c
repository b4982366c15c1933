/*
 * stall_probe: how long this machine stops running anything at all.
 *
 * One thread per online CPU, pinned to it, at the highest SCHED_FIFO
 * priority (when allowed), wakes every PERIOD µs on an absolute timer and
 * notes how late it woke. A thread that outranks every task can only be
 * kept from its CPU by the kernel itself (interrupts, softirqs) or by the
 * hypervisor not running the virtual CPU; a stall seen on every CPU at
 * once is the whole machine stopped. perf/run starts it beside each
 * scenario so that the server's missed deadlines can be set against what
 * the machine did in the same seconds (perf/summary.py, perf/RESULTS.md).
 *
 *   stall_probe OUT_FILE [MIN_MS [PERIOD_US]]   runs until SIGTERM/SIGINT
 *
 * OUT_FILE gets one line per stall of MIN_MS (default 5) or more:
 * "CPU START_UNIX_S LENGTH_MS" (start = when the thread should have
 * woken, CLOCK_REALTIME), written when it stops. A stall of L ms shows as
 * a wake-up between L - PERIOD and L late, so the default period (4 ms)
 * catches every stall of 9 ms or more. Waking every 1 ms instead, at
 * that priority, was not free: lecture 1000 then missed 9-35 audio
 * deadlines in 20 s against 2-12 without the probe (perf/RESULTS.md).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_STALLS 100000

struct stall {
	double start_s, len_ms;
	int cpu;
};

static struct stall stalls[MAX_STALLS];
static unsigned n_stalls;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static volatile sig_atomic_t stop;
static double min_ms = 5;
static long period_ns = 4000000;

static int64_t ns_of(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

static void *watch(void *arg)
{
	int cpu = (int)(intptr_t)arg;
	cpu_set_t set;
	struct sched_param sp = { .sched_priority = sched_get_priority_max(SCHED_FIFO) };
	struct timespec due, now, wall;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
		fprintf(stderr, "stall_probe: cpu %d: cannot pin\n", cpu);
	if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp))
		fprintf(stderr, "stall_probe: cpu %d: no SCHED_FIFO (%s); figures are "
			"then also the scheduler's\n", cpu, strerror(errno));
	clock_gettime(CLOCK_MONOTONIC, &due);
	while (!stop) {
		due.tv_nsec += period_ns;
		while (due.tv_nsec >= 1000000000) {
			due.tv_nsec -= 1000000000;
			due.tv_sec++;
		}
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL) == EINTR && !stop)
			;
		clock_gettime(CLOCK_MONOTONIC, &now);
		double late_ms = (double)(ns_of(&now) - ns_of(&due)) / 1e6;
		if (late_ms < min_ms)
			continue;
		clock_gettime(CLOCK_REALTIME, &wall);
		pthread_mutex_lock(&lock);
		if (n_stalls < MAX_STALLS)
			stalls[n_stalls++] = (struct stall){
			    (double)wall.tv_sec + wall.tv_nsec / 1e9 - late_ms / 1e3, late_ms, cpu };
		pthread_mutex_unlock(&lock);
		due = now; /* one stall, not a run of late periods */
	}
	return NULL;
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: stall_probe OUT_FILE [MIN_MS [PERIOD_US]]\n");
		return 2;
	}
	if (argc > 2)
		min_ms = atof(argv[2]);
	if (argc > 3)
		period_ns = atol(argv[3]) * 1000;
	if (min_ms <= 0 || period_ns <= 0) {
		fprintf(stderr, "stall_probe: MIN_MS and PERIOD_US must be positive\n");
		return 2;
	}
	FILE *out = fopen(argv[1], "w");
	if (!out) {
		fprintf(stderr, "stall_probe: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	long n = sysconf(_SC_NPROCESSORS_ONLN);
	pthread_t th[256];
	if (n < 1 || n > 256)
		n = 1;
	for (long i = 0; i < n; i++)
		pthread_create(&th[i], NULL, watch, (void *)(intptr_t)i);
	for (long i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	fprintf(out, "# stall_probe: %ld CPUs, period %ld us, stalls >= %.1f ms: cpu start_unix_s length_ms\n",
		n, period_ns / 1000, min_ms);
	for (unsigned i = 0; i < n_stalls; i++)
		fprintf(out, "%d %.6f %.2f\n", stalls[i].cpu, stalls[i].start_s, stalls[i].len_ms);
	if (n_stalls == MAX_STALLS)
		fprintf(out, "# more stalls than recorded (%d)\n", MAX_STALLS);
	return fclose(out) ? 1 : 0;
}
