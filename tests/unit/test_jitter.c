/*
 * mixer/jitter: packets come out in order after the target delay, losses
 * are reported with the next packet for FEC, late packets and duplicates
 * are dropped, the target follows the jitter, DTX pauses become SILENT,
 * a sender restart resets. Time is simulated: 20 ms ticks, no sleeping.
 */
#include <errno.h>
#include <stdint.h>

#include "common/common.h"
#include "mixer/jitter.h"
#include "tests/unit/check.h"

#define MS   1000ull
#define TICK (20 * MS)
#define MAXP 4000

struct pkt {
	uint16_t seq;
	uint32_t ts;
	uint64_t arrival;
	bool drop; /* lost on the way */
	bool dtx;  /* a 1-byte DTX frame */
	uint8_t level;
};

/* One run: packets (any order of arrival), the frames per tick. */
struct sim {
	struct pkt p[MAXP];
	size_t n;
	struct mx_jb_frame f[MAXP + 400];
	uint64_t tick_at[MAXP + 400];
	uint16_t fseq[MAXP + 400]; /* seq of the payload (checks the copy) */
	size_t ticks;
	struct mx_jb_stats st;
	struct mx_jb_stats half; /* at the middle tick */
};

static struct sim sim;

static uint32_t rnd_state = 1;

static uint32_t rnd(void)
{
	rnd_state = rnd_state * 1103515245 + 12345;
	return rnd_state >> 8;
}

/* n packets of 20 ms from seq0/ts0, sent at 1 s + 20 ms * i, arriving
 * jitter_ms either side of that (uniform). */
static void make_stream(uint16_t seq0, uint32_t ts0, size_t n, unsigned jitter_ms)
{
	sim.n = n;
	for (size_t i = 0; i < n; i++) {
		int64_t j = jitter_ms ? (int64_t)(rnd() % (2 * jitter_ms * MS + 1)) -
					    (int64_t)(jitter_ms * MS)
				      : 0;

		sim.p[i] = (struct pkt){
		    .seq = (uint16_t)(seq0 + i),
		    .ts = ts0 + (uint32_t)(960 * i),
		    .arrival = (uint64_t)((int64_t)(1000 * MS + i * TICK) + j),
		    .level = MX_JB_LEVEL_NONE,
		};
	}
}

static int by_arrival(const void *a, const void *b)
{
	const struct pkt *x = a, *y = b;

	return (x->arrival > y->arrival) - (x->arrival < y->arrival);
}

/* Feeds the packets in arrival order; a tick every 20 ms from 1 s + 7 ms
 * takes one frame, after the packets that arrived by then. */
static void run(struct mx_jb *jb, size_t ticks)
{
	static struct pkt order[MAXP];
	size_t next = 0;

	memcpy(order, sim.p, sim.n * sizeof(order[0]));
	qsort(order, sim.n, sizeof(order[0]), by_arrival);
	sim.ticks = ticks;
	for (size_t t = 0; t < ticks; t++) {
		uint64_t now = 1000 * MS + 7 * MS + t * TICK;

		for (; next < sim.n && order[next].arrival <= now; next++) {
			const struct pkt *p = &order[next];
			uint8_t pl[4] = {0x78, (uint8_t)(p->seq >> 8), (uint8_t)p->seq,
					 0x55};

			if (p->drop)
				continue;
			CHECK_EQ(mx_jb_put(jb, p->seq, p->ts, p->arrival, pl,
					   p->dtx ? 1 : 4, p->level),
				 0);
		}
		if (t == ticks / 2)
			mx_jb_get_stats(jb, &sim.half);
		mx_jb_get(jb, now, &sim.f[t]);
		sim.tick_at[t] = now;
		sim.fseq[t] = 0;
		if (sim.f[t].data && sim.f[t].len == 4)
			sim.fseq[t] =
			    (uint16_t)(sim.f[t].data[1] << 8 | sim.f[t].data[2]);
	}
	mx_jb_get_stats(jb, &sim.st);
}

static struct mx_jb *new_jb(void)
{
	struct mx_jb *jb = NULL;

	CHECK_EQ(mx_jb_new(&jb), 0);
	return jb;
}

/* The PACKET frames are seq first, first + 1, ... (n of them), less the
 * ones dropped to cut the delay; returns the tick of the first. */
static size_t check_in_order(uint16_t first, size_t n)
{
	size_t got = 0, at = 0;
	uint16_t expect = first;

	for (size_t t = 0; t < sim.ticks; t++) {
		if (sim.f[t].kind != MX_JB_PACKET)
			continue;
		if (got == 0) {
			at = t;
			CHECK_EQ(sim.f[t].seq, first);
		}
		/* ahead of the expected only by dropped frames */
		CHECK((uint16_t)(sim.f[t].seq - expect) <= sim.st.discarded);
		expect = (uint16_t)(sim.f[t].seq + 1);
		if (sim.f[t].len == 4)
			CHECK_EQ(sim.fseq[t], sim.f[t].seq);
		got++;
	}
	CHECK_EQ(got + sim.st.discarded, n);
	return at;
}

static size_t count_kind(enum mx_jb_kind k)
{
	size_t c = 0;

	for (size_t t = 0; t < sim.ticks; t++)
		c += sim.f[t].kind == k;
	return c;
}

static void in_order_packets_come_out_after_the_target_delay(void)
{
	struct mx_jb *jb = new_jb();
	size_t first;

	make_stream(1000, 5000, 200, 0);
	run(jb, 230);
	first = check_in_order(1000, 200);
	/* 40 ms at the start (no history yet), on the next 20 ms tick */
	CHECK(sim.tick_at[first] >= sim.p[0].arrival + 40 * MS);
	CHECK(sim.tick_at[first] < sim.p[0].arrival + 60 * MS);
	for (size_t t = 0; t < first; t++)
		CHECK_EQ(sim.f[t].kind, MX_JB_EMPTY);
	CHECK_EQ(sim.f[first].samples, 960);
	CHECK_EQ(sim.st.received, 200);
	CHECK_EQ(sim.st.lost + sim.st.late, 0);
	/* The start-up delay (40 ms, then 47 at this tick phase) is above
	 * the 10 ms that no jitter needs: one frame is dropped after 1 s. */
	CHECK(sim.st.discarded <= 1);
	/* the stream ends: 3 PLC frames, then silence */
	CHECK_EQ(sim.st.concealed, 3);
	CHECK_EQ(sim.f[sim.ticks - 1].kind, MX_JB_SILENT);
	printf("     no jitter: target %u ms, depth %u ms, %llu frame dropped\n",
	       sim.half.target_ms, sim.half.depth_ms,
	       (unsigned long long)sim.st.discarded);
	CHECK(sim.half.target_ms >= 10 && sim.half.target_ms <= 40);
	CHECK(sim.half.depth_ms <= 60);
	mx_jb_free(&jb);
	CHECK(jb == NULL);
	mx_jb_free(&jb);
}

static void swapped_pairs_come_out_in_order(void)
{
	struct mx_jb *jb = new_jb();

	make_stream(7, 0, 300, 0);
	for (size_t i = 0; i + 1 < sim.n; i += 2) {
		uint64_t a = sim.p[i].arrival;

		sim.p[i].arrival = sim.p[i + 1].arrival;
		sim.p[i + 1].arrival = a;
	}
	run(jb, 330);
	check_in_order(7, 300);
	CHECK_EQ(sim.st.lost + sim.st.late, 0);
	CHECK_EQ(sim.st.concealed, 3); /* after the end */
	mx_jb_free(&jb);
}

static void lost_packet_gives_fec_when_next_is_there_plc_when_not(void)
{
	struct mx_jb *jb = new_jb();
	size_t t10 = 0, t20 = 0;

	make_stream(0, 0, 100, 0);
	sim.p[10].drop = true; /* alone: the next packet carries its FEC */
	sim.p[20].drop = sim.p[21].drop = true; /* 20: nothing to recover from */
	run(jb, 130);
	for (size_t t = 0; t < sim.ticks; t++) {
		if (sim.f[t].kind == MX_JB_PACKET && sim.f[t].seq == 9)
			t10 = t + 1;
		if (sim.f[t].kind == MX_JB_PACKET && sim.f[t].seq == 19)
			t20 = t + 1;
	}
	CHECK_EQ(sim.f[t10].kind, MX_JB_LOST_FEC);
	CHECK_EQ(sim.f[t10].seq, 11);
	CHECK_EQ(sim.fseq[t10], 11);
	CHECK_EQ(sim.f[t10].samples, 960);
	CHECK_EQ(sim.f[t10 + 1].kind, MX_JB_PACKET);
	CHECK_EQ(sim.f[t10 + 1].seq, 11);
	CHECK_EQ(sim.f[t20].kind, MX_JB_LOST);
	CHECK_EQ(sim.f[t20 + 1].kind, MX_JB_LOST_FEC);
	CHECK_EQ(sim.f[t20 + 1].seq, 22);
	CHECK_EQ(sim.f[t20 + 2].seq, 22);
	CHECK_EQ(sim.st.lost, 3);
	CHECK_EQ(sim.st.fec, 2);
	CHECK_EQ(sim.st.concealed, 1 + 3); /* and 3 after the end */
	CHECK_EQ(count_kind(MX_JB_PACKET) + sim.st.discarded, 97);
	mx_jb_free(&jb);
}

static void late_packet_is_dropped_and_counted(void)
{
	struct mx_jb *jb = new_jb();

	make_stream(100, 0, 100, 0);
	sim.p[30].arrival += 200 * MS;
	run(jb, 130);
	CHECK_EQ(sim.st.late, 1);
	CHECK_EQ(sim.st.lost, 1);
	for (size_t t = 0; t < sim.ticks; t++)
		CHECK(sim.f[t].kind != MX_JB_PACKET || sim.f[t].seq != 130);
	CHECK_EQ(count_kind(MX_JB_PACKET) + sim.st.discarded, 99);
	mx_jb_free(&jb);
}

static void duplicates_are_dropped(void)
{
	struct mx_jb *jb = new_jb();
	size_t n = 100;

	make_stream(500, 0, n, 0);
	/* every packet twice, 3 ms apart; packet 10 again 300 ms later */
	for (size_t i = 0; i < n; i++) {
		sim.p[n + i] = sim.p[i];
		sim.p[n + i].arrival += 3 * MS;
	}
	sim.p[2 * n] = sim.p[10];
	sim.p[2 * n].arrival += 300 * MS;
	sim.n = 2 * n + 1;
	run(jb, 130);
	check_in_order(500, n);
	CHECK_EQ(sim.st.duplicate, n + 1);
	CHECK_EQ(sim.st.received, n);
	CHECK_EQ(sim.st.late, 0);
	mx_jb_free(&jb);
}

static void sequence_and_timestamp_wrap(void)
{
	struct mx_jb *jb = new_jb();

	make_stream(65500, UINT32_MAX - 960 * 20 + 1, 200, 0);
	sim.p[40].drop = true; /* a loss just after the wrap, at seq 4 */
	run(jb, 230);
	CHECK_EQ(sim.st.lost, 1);
	CHECK_EQ(sim.st.fec, 1);
	CHECK_EQ(sim.st.late + sim.st.resets, 0);
	CHECK_EQ(count_kind(MX_JB_PACKET) + sim.st.discarded, 199);
	mx_jb_free(&jb);
}

/* ±40 ms of jitter: the target grows to cover it (80 ms of spread), and
 * after that almost nothing arrives too late. */
static void target_follows_jitter(void)
{
	struct mx_jb *jb = new_jb();
	uint64_t late2, lost2;

	rnd_state = 42;
	make_stream(0, 0, 3000, 40);
	run(jb, 3010);
	late2 = sim.st.late - sim.half.late;
	lost2 = sim.st.lost - sim.half.lost;
	printf("     ±40 ms: target %u ms, second half: %llu late, %llu lost, %llu PLC "
	       "of 1500; %llu dropped for delay\n",
	       sim.st.target_ms, (unsigned long long)late2, (unsigned long long)lost2,
	       (unsigned long long)(sim.st.concealed - sim.half.concealed),
	       (unsigned long long)sim.st.discarded);
	CHECK(sim.st.target_ms >= 70 && sim.st.target_ms <= 120);
	CHECK(late2 <= 15);
	CHECK(lost2 <= 15);
	mx_jb_free(&jb);
}

/* Jitter, then a calm network: the target falls back, and the delay
 * with it (frames dropped while talking). */
static void delay_comes_back_down(void)
{
	struct mx_jb *jb = new_jb();
	uint64_t delay;
	size_t t = 0;

	rnd_state = 7;
	make_stream(0, 0, 1500, 40);
	for (size_t i = 500; i < 1500; i++)
		sim.p[i].arrival = 1000 * MS + i * TICK;
	run(jb, 1510);
	for (t = sim.ticks; t-- > 0;)
		if (sim.f[t].kind == MX_JB_PACKET)
			break;
	delay = sim.tick_at[t] - sim.p[sim.f[t].seq].arrival;
	printf("     after calm: target %u ms, delay %llu ms, %llu frames dropped\n",
	       sim.st.target_ms, (unsigned long long)(delay / MS),
	       (unsigned long long)sim.st.discarded);
	CHECK(sim.st.target_ms <= 40);
	CHECK(delay <= 60 * MS);
	mx_jb_free(&jb);
}

/* The sender stops (DTX) for 2 s: a few PLC frames, then SILENT; the next
 * talk-spurt plays in order, nothing counted lost or late. */
static void dtx_pause_goes_silent_and_resumes(void)
{
	struct mx_jb *jb = new_jb();
	size_t last = 0, lost_run = 0, resume = 0;

	make_stream(300, 0, 100, 0);
	for (size_t i = 50; i < 100; i++) {
		sim.p[i].ts += 48000 * 2;
		sim.p[i].arrival += 2000 * MS;
	}
	run(jb, 250);
	check_in_order(300, 100);
	for (size_t t = 0; t < sim.ticks; t++) {
		if (sim.f[t].kind == MX_JB_PACKET && sim.f[t].seq == 349)
			last = t;
		if (sim.f[t].kind == MX_JB_PACKET && sim.f[t].seq == 350)
			resume = t;
	}
	while (sim.f[last + 1 + lost_run].kind == MX_JB_LOST)
		lost_run++;
	CHECK_EQ(lost_run, 3);
	for (size_t t = last + 1 + lost_run; t < resume; t++)
		CHECK_EQ(sim.f[t].kind, MX_JB_SILENT);
	/* resumes at the target delay after its first packet */
	CHECK(sim.tick_at[resume] >= sim.p[50].arrival + 20 * MS);
	CHECK(sim.tick_at[resume] < sim.p[50].arrival + 60 * MS);
	CHECK_EQ(sim.st.lost + sim.st.late, 0);
	mx_jb_free(&jb);
}

/* A DTX frame says "silence" itself: SILENT at once, no PLC. */
static void dtx_frame_goes_silent_at_once(void)
{
	struct mx_jb *jb = new_jb();

	make_stream(0, 0, 60, 0);
	sim.p[29].dtx = sim.p[59].dtx = true;
	for (size_t i = 30; i < 60; i++) {
		sim.p[i].ts += 48000;
		sim.p[i].arrival += 1000 * MS;
	}
	run(jb, 150);
	check_in_order(0, 60);
	CHECK_EQ(sim.st.concealed, 0);
	CHECK(count_kind(MX_JB_SILENT) >= 45);
	mx_jb_free(&jb);
}

/* The sender restarts: 10 s further in seq and timestamp. */
static void big_jump_resets(void)
{
	struct mx_jb *jb = new_jb();

	make_stream(2000, 0, 200, 0);
	for (size_t i = 100; i < 200; i++) {
		sim.p[i].seq += 500;
		sim.p[i].ts += 480000;
	}
	/* and one stray packet far off, alone: ignored */
	sim.p[200] = sim.p[50];
	sim.p[200].seq = 30000;
	sim.p[200].arrival += 3 * MS;
	sim.n = 201;
	run(jb, 240);
	CHECK_EQ(sim.st.resets, 1);
	CHECK_EQ(sim.st.late, 0);
	/* the first packet after the jump only confirms it */
	CHECK_EQ(count_kind(MX_JB_PACKET) + sim.st.discarded, 199 + 1);
	mx_jb_free(&jb);
}

/* A bad network for a minute: jitter, 5 % loss, duplicates, pauses.
 * Whatever happens, packets play in order, each at most once, and every
 * packet is accounted for. */
static void rough_network_keeps_order(void)
{
	struct mx_jb *jb = new_jb();
	size_t played = 0, extra = 0, n = 3000;
	uint16_t prev = 0;

	rnd_state = 99;
	make_stream(60000, 123456, n, 30);
	for (size_t i = 0; i < n; i++) {
		sim.p[i].drop = rnd() % 100 < 5;
		if (i >= 1000) { /* then talk-spurts of 1 s, 1 s apart */
			size_t pauses = (CM_MIN(i, 2000) - 1000) / 50;

			sim.p[i].ts += (uint32_t)pauses * 48000;
			sim.p[i].arrival += pauses * 1000 * MS;
		}
		if (rnd() % 100 < 2 && n + extra < MAXP) {
			sim.p[n + extra] = sim.p[i];
			sim.p[n + extra].arrival += rnd() % 100 * MS;
			extra++;
		}
	}
	sim.n = n + extra;
	run(jb, MAXP + 300);
	for (size_t t = 0; t < sim.ticks; t++) {
		if (sim.f[t].kind != MX_JB_PACKET)
			continue;
		if (played)
			CHECK((int16_t)(sim.f[t].seq - prev) > 0);
		prev = sim.f[t].seq;
		played++;
	}
	printf("     rough: %zu played, %llu lost (%llu by FEC), %llu late, %llu dup, "
	       "%llu dropped, target %u ms\n",
	       played, (unsigned long long)sim.st.lost, (unsigned long long)sim.st.fec,
	       (unsigned long long)sim.st.late, (unsigned long long)sim.st.duplicate,
	       (unsigned long long)sim.st.discarded, sim.st.target_ms);
	/* every packet received was played, dropped or came late */
	CHECK_EQ(sim.st.received, played + sim.st.discarded);
	CHECK(sim.st.late <= n / 100);
	mx_jb_free(&jb);
}

/* The consumer stalls (a starved room thread) for stall_ms while packets
 * keep arriving, then ticks again: within a few ticks the frames are back
 * in order near the target delay, and from then on nothing is lost or
 * concealed. (Before the flush, a backlog of a full buffer stayed: new
 * packets overwrote unplayed ones and every other frame was concealed.) */
static void stall_recovers(unsigned stall_ms)
{
	struct mx_jb *jb = new_jb();
	const size_t n = 600, stall_at = 100;
	size_t next = 0, t = 0, out = 0, bad = 0;
	uint64_t worst = 0;

	make_stream(0, 0, n, 0);
	for (uint64_t now = 1000 * MS + 7 * MS; next < n || t < n + 20; now += TICK, t++) {
		if (t == stall_at)
			now += stall_ms * MS;
		for (; next < n && sim.p[next].arrival <= now; next++)
			CHECK_EQ(mx_jb_put(jb, sim.p[next].seq, sim.p[next].ts, sim.p[next].arrival,
					   (const uint8_t[]){ 0x78, 0, 0, 0x55 }, 4, MX_JB_LEVEL_NONE),
				 0);
		struct mx_jb_frame f;
		mx_jb_get(jb, now, &f);
		if (t < stall_at + 5 || next >= n)
			continue;
		out++;
		if (f.kind != MX_JB_PACKET) {
			bad++;
			continue;
		}
		uint64_t delay = now - sim.p[f.seq].arrival;
		worst = delay > worst ? delay : worst;
	}
	mx_jb_get_stats(jb, &sim.st);
	printf("     stall of %u ms: %zu of %zu frames after it not packets, worst delay %llu ms, "
	       "%llu discarded\n",
	       stall_ms, bad, out, (unsigned long long)(worst / MS),
	       (unsigned long long)sim.st.discarded);
	CHECK(out > 300);
	CHECK_EQ(bad, 0);
	CHECK(worst <= 80 * MS);
	mx_jb_free(&jb);
}

static void short_stall_recovers(void)
{
	stall_recovers(400);
}

static void stall_past_the_buffer_recovers(void)
{
	stall_recovers(2000);
}

static void bad_input(void)
{
	struct mx_jb *jb = new_jb();
	static uint8_t big[MX_JB_SLOT_BYTES + 1];
	struct mx_jb_frame f;

	CHECK_EQ(mx_jb_new(NULL), EINVAL);
	CHECK_EQ(mx_jb_put(jb, 1, 1, 1, NULL, 4, 0), EINVAL);
	CHECK_EQ(mx_jb_put(jb, 1, 1, 1, big, 0, 0), EINVAL);
	CHECK_EQ(mx_jb_put(jb, 1, 1, 1, big, sizeof(big), 0), EMSGSIZE);
	CHECK_EQ(mx_jb_set_delay_range(jb, 5, 100), EINVAL);
	CHECK_EQ(mx_jb_set_delay_range(jb, 60, 40), EINVAL);
	CHECK_EQ(mx_jb_set_delay_range(jb, 40, 200), 0);
	mx_jb_get(jb, 0, &f);
	CHECK_EQ(f.kind, MX_JB_EMPTY);
	/* a garbage payload is stored anyway (the decoder will judge it),
	 * as a 20 ms frame */
	CHECK_EQ(mx_jb_put(jb, 1, 1, 1000, (const uint8_t[]){0xff, 0xff, 0xff}, 3, 0), 0);
	mx_jb_get(jb, 100 * MS, &f);
	CHECK_EQ(f.kind, MX_JB_PACKET);
	CHECK_EQ(f.samples, 960);
	mx_jb_reset(jb);
	mx_jb_get(jb, 200 * MS, &f);
	CHECK_EQ(f.kind, MX_JB_EMPTY);
	mx_jb_free(&jb);
}

int main(void)
{
	RUN(in_order_packets_come_out_after_the_target_delay);
	RUN(swapped_pairs_come_out_in_order);
	RUN(lost_packet_gives_fec_when_next_is_there_plc_when_not);
	RUN(late_packet_is_dropped_and_counted);
	RUN(duplicates_are_dropped);
	RUN(sequence_and_timestamp_wrap);
	RUN(target_follows_jitter);
	RUN(delay_comes_back_down);
	RUN(dtx_pause_goes_silent_and_resumes);
	RUN(dtx_frame_goes_silent_at_once);
	RUN(big_jump_resets);
	RUN(rough_network_keeps_order);
	RUN(short_stall_recovers);
	RUN(stall_past_the_buffer_recovers);
	RUN(bad_input);
	return check_report();
}
