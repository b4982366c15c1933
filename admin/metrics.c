/*
 * /livez, /readyz and /metrics (Prometheus text format 0.0.4, tutti_
 * prefix, base units). Counters come from the mixer and the transport.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/common.h"
#include "admin/internal.h"

struct text {
	char *buf;
	size_t len, cap;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = t->cap * 2 + (size_t)n;
		char *b = realloc(t->buf, cap);
		if (!b)
			return;
		t->buf = b;
		t->cap = cap;
	}
}

static void metric(struct text *t, const char *name, const char *type,
		   const char *help, unsigned long long v)
{
	put(t, "# HELP tutti_%s %s\n# TYPE tutti_%s %s\ntutti_%s %llu\n", name, help,
	    name, type, name, v);
}

/* A counter of time, kept in µs, shown in seconds (base units). */
static void seconds(struct text *t, const char *name, const char *help, uint64_t us)
{
	put(t, "# HELP tutti_%s %s\n# TYPE tutti_%s counter\ntutti_%s %.6f\n", name, help, name,
	    name, (double)us / 1e6);
}

/* Per-room figures, labelled by room id (room ids are [a-z0-9-]: no
 * escaping needed in the label): one family per entry, its value from the
 * room's stats. The rooms' stats are read once. */
struct room_family {
	const char *name, *type, *help;
	double (*value)(const struct mx_room_stats *rs);
	bool fraction; /* printed with decimals */
};

static double v_participants(const struct mx_room_stats *rs) { return (double)rs->participants; }
static double v_missed(const struct mx_room_stats *rs) { return (double)rs->missed_deadlines; }
static double v_missed_audio(const struct mx_room_stats *rs)
{
	return (double)rs->missed_audio_deadlines;
}
static double v_load(const struct mx_room_stats *rs) { return (double)rs->load_permille / 1000.0; }
static double v_fps(const struct mx_room_stats *rs) { return (double)rs->video_fps_now; }
static double v_late(const struct mx_room_stats *rs) { return (double)rs->tick_late_max_us / 1e6; }

static const struct room_family room_families[] = {
	{ "room_participants", "gauge", "Participants per room.", v_participants, false },
	{ "room_deadlines_missed_total", "counter", "Missed room deadlines per room.", v_missed,
	  false },
	{ "room_audio_deadlines_missed_total", "counter",
	  "Room ticks whose audio was sent after the next deadline, per room.", v_missed_audio,
	  false },
	{ "room_load", "gauge",
	  "Room worker's own CPU time as a share of its tick time, last second.", v_load, true },
	{ "room_video_fps", "gauge",
	  "Video frame rate a room runs at now (lowered under overload).", v_fps, false },
	{ "room_tick_late_max_seconds", "gauge",
	  "The latest a room tick has started after its deadline (scheduling delay).", v_late,
	  true },
};

static void room_gauges(struct ad_server *s, struct text *t)
{
	static char names[256][MX_ROOM_NAME_MAX + 1];
	static struct mx_room_stats rs[256];
	static bool have[256];
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

	/* (static scratch: 256 rooms of stats is too big for a connection
	 * thread's stack; scrapes take turns) */
	pthread_mutex_lock(&lock);
	size_t n = mx_room_names(s->mx, names, 256);
	if (n > 256)
		n = 256;
	for (size_t i = 0; i < n; i++)
		have[i] = mx_room_stats(s->mx, names[i], &rs[i]) == 0;
	for (size_t f = 0; f < CM_ARRAY_SIZE(room_families); f++) {
		const struct room_family *rf = &room_families[f];
		put(t, "# HELP tutti_%s %s\n# TYPE tutti_%s %s\n", rf->name, rf->help, rf->name,
		    rf->type);
		for (size_t i = 0; i < n; i++)
			if (have[i])
				put(t, rf->fraction ? "tutti_%s{room=\"%s\"} %.3f\n"
						    : "tutti_%s{room=\"%s\"} %.0f\n",
				    rf->name, names[i], rf->value(&rs[i]));
	}
	pthread_mutex_unlock(&lock);
	if (s->store) {
		struct ad_store_stats ss;
		ad_store_stats(s->store, &ss);
		put(t, "# TYPE tutti_store_healthy gauge\ntutti_store_healthy %d\n"
		       "# TYPE tutti_audit_rows_written_total counter\n"
		       "tutti_audit_rows_written_total %llu\n"
		       "# TYPE tutti_audit_rows_dropped_total counter\n"
		       "tutti_audit_rows_dropped_total %llu\n",
		    ss.healthy ? 1 : 0, (unsigned long long)ss.audit_written,
		    (unsigned long long)ss.audit_dropped);
	}
}

/* The usual process_ figures (Prometheus client conventions): CPU time of
 * every thread and the resident set, read at each scrape. */
static void process_figures(struct text *t)
{
	struct rusage ru;
	unsigned long pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (getrusage(RUSAGE_SELF, &ru) == 0)
		put(t, "# HELP process_cpu_seconds_total User and system CPU time.\n"
		       "# TYPE process_cpu_seconds_total counter\n"
		       "process_cpu_seconds_total %.6f\n",
		    (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
			    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	if (f) {
		if (fscanf(f, "%*u %lu", &pages) == 1)
			put(t, "# HELP process_resident_memory_bytes Resident memory.\n"
			       "# TYPE process_resident_memory_bytes gauge\n"
			       "process_resident_memory_bytes %llu\n",
			    (unsigned long long)pages * (unsigned long long)sysconf(_SC_PAGESIZE));
		fclose(f);
	}
}

static enum MHD_Result metrics(struct ad_server *s, struct MHD_Connection *c)
{
	struct text t = { .cap = 8192 };
	struct mx_stats st;
	const struct tp_stats *tp = &st.transport;
	enum MHD_Result ret;

	t.buf = malloc(t.cap);
	if (!t.buf)
		return MHD_NO;
	t.buf[0] = '\0';
	mx_engine_stats(s->mx, &st);
	metric(&t, "rooms", "gauge", "Rooms that exist.", st.rooms);
	metric(&t, "participants", "gauge", "Participants in rooms.", st.participants);
	metric(&t, "room_ticks_total", "counter", "20 ms room ticks run.", st.total.ticks);
	metric(&t, "room_missed_deadlines_total", "counter",
	       "Room ticks that ended after the next deadline.",
	       st.total.missed_deadlines);
	metric(&t, "room_missed_audio_deadlines_total", "counter",
	       "Room ticks whose audio was sent after the next deadline.",
	       st.total.missed_audio_deadlines);
	metric(&t, "room_audio_ahead_ticks_total", "counter",
	       "Room ticks whose audio was made and sent by the tick before, whose video ran "
	       "into their deadline.",
	       st.total.audio_ahead_ticks);
	metric(&t, "room_inbound_dropped_total", "counter",
	       "Media dropped because a room's inbox was full.", st.total.inbound_dropped);
	metric(&t, "audio_encodes_total", "counter", "Opus encodes.", st.total.audio_encodes);
	metric(&t, "audio_decodes_total", "counter", "Opus decodes.", st.total.audio_decodes);
	metric(&t, "video_decodes_total", "counter", "VP8 frames decoded.",
	       st.total.video_decodes);
	metric(&t, "video_encodes_total", "counter",
	       "VP8 frames encoded (one per tier per frame).", st.total.video_encodes);
	metric(&t, "video_keyframes_total", "counter", "VP8 keyframes encoded.",
	       st.total.video_keyframes);
	metric(&t, "overloaded", "gauge",
	       "Room workers overloaded now (joins are refused with 503 while above 0).",
	       st.total.overloaded);
	metric(&t, "video_skipped_ticks_total", "counter",
	       "Video frames left out so that late audio ticks could catch up.",
	       st.total.video_skipped_ticks);
	metric(&t, "video_retransmits_total", "counter",
	       "Video packets resent for receivers' NACKs and reported losses.", st.total.video_retransmits);
	metric(&t, "video_nacks_queued_total", "counter",
	       "NACKed video packets not resent: still waiting in the receiver's pacer.",
	       st.total.video_nacks_queued);
	metric(&t, "video_repairs_early_total", "counter",
	       "Of the video retransmits: for packets TWCC feedback reported lost, before a NACK.",
	       st.total.video_repairs_early);
	metric(&t, "pacer_queued_bytes", "gauge",
	       "Bytes waiting in receivers' pacers now.", st.total.pacer_queued_bytes);
	metric(&t, "pacer_dropped_bytes_total", "counter",
	       "Bytes receivers' pacers dropped (queue bound or age; oldest video first).",
	       st.total.pacer_dropped_bytes);
	seconds(&t, "audio_encode_seconds_total", "Time spent in Opus encodes.",
		st.total.audio_encode_us);
	seconds(&t, "audio_decode_seconds_total", "Time spent in Opus decodes.",
		st.total.audio_decode_us);
	seconds(&t, "video_encode_seconds_total", "Time spent in VP8 encodes.",
		st.total.video_encode_us);
	seconds(&t, "video_decode_seconds_total", "Time spent in VP8 decodes.",
		st.total.video_decode_us);
	seconds(&t, "video_compose_seconds_total", "Time spent composing canvases.",
		st.total.video_compose_us);
	seconds(&t, "send_pool_seconds_total",
		"CPU time the send threads spent sending for rooms (--send-threads).",
		st.total.send_pool_us);
	put(&t, "# HELP tutti_video_receivers Receivers per video tier.\n"
		"# TYPE tutti_video_receivers gauge\n");
	for (int i = 0; i < MX_VIDEO_TIERS; i++)
		put(&t, "tutti_video_receivers{tier=\"%d\"} %llu\n", i,
		    (unsigned long long)st.total.video_receivers[i]);
	room_gauges(s, &t);
	metric(&t, "transport_peers", "gauge", "Transport sessions.", tp->peers);
	metric(&t, "transport_peers_connected", "gauge",
	       "Transport sessions with DTLS done.", tp->peers_connected);
	metric(&t, "transport_received_packets_total", "counter",
	       "UDP datagrams received.", tp->rx_packets);
	metric(&t, "transport_received_bytes_total", "counter",
	       "UDP bytes received.", tp->rx_bytes);
	metric(&t, "transport_sent_packets_total", "counter", "UDP datagrams sent.",
	       tp->tx_packets);
	metric(&t, "transport_sent_bytes_total", "counter", "UDP bytes sent.",
	       tp->tx_bytes);
	metric(&t, "transport_rtp_received_total", "counter",
	       "RTP packets received and decrypted.", tp->rx_rtp);
	metric(&t, "transport_rtcp_received_total", "counter",
	       "RTCP packets received and decrypted.", tp->rx_rtcp);
	metric(&t, "transport_rtp_sent_total", "counter", "RTP packets sent.",
	       tp->tx_rtp);
	metric(&t, "transport_rtcp_sent_total", "counter", "RTCP packets sent.",
	       tp->tx_rtcp);
	metric(&t, "transport_stun_requests_total", "counter",
	       "STUN binding requests answered.", tp->stun_requests);
	metric(&t, "transport_dtls_handshakes_total", "counter",
	       "DTLS handshakes completed.", tp->dtls_handshakes);
	metric(&t, "transport_consent_expired_total", "counter",
	       "Sessions dropped by consent freshness.", tp->consent_expired);
	put(&t, "# HELP tutti_transport_dropped_packets_total Inbound datagrams "
		"dropped, by reason.\n# TYPE tutti_transport_dropped_packets_total "
		"counter\n");
	for (int i = 0; i < TP_DROP_COUNT; i++)
		put(&t, "tutti_transport_dropped_packets_total{reason=\"%s\"} %llu\n",
		    tp_drop_name((enum tp_drop)i), (unsigned long long)tp->drop[i]);
	process_figures(&t);
	ret = ad_reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
		       t.buf, t.len);
	free(t.buf);
	return ret;
}

bool ad_health(struct ad_server *s, struct MHD_Connection *c, const char *url,
	       enum MHD_Result *ret)
{
	static const char ok[] = "{\"status\":\"ok\"}";

	if (!strcmp(url, "/livez")) {
		*ret = ad_reply(c, MHD_HTTP_OK, "application/json", ok, strlen(ok));
	} else if (!strcmp(url, "/readyz")) {
		if (ad_draining(s))
			*ret = ad_reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
					      "draining", "the server is shutting down");
		else
			*ret = ad_reply(c, MHD_HTTP_OK, "application/json", ok,
					strlen(ok));
	} else if (!strcmp(url, "/metrics")) {
		if (!s->metrics_auth || ad_check_admin(s, c, ret))
			*ret = metrics(s, c);
	} else {
		return false;
	}
	return true;
}
