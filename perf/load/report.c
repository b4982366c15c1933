/*
 * What tutti-load measures of the server (its CPU and peak RSS from
 * /proc, tutti's /metrics) and the summary of a run: the table on stdout
 * and the JSON file.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"
#include "perf/load/load.h"

/* ---- /proc and /metrics ------------------------------------------------------- */

static double proc_cpu(int pid)
{
	char path[64], buf[2048], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the name may hold spaces */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			 &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double proc_hwm_mb(int pid)
{
	char path[64], line[256];
	double kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %lf kB", &kb) == 1)
			break;
	fclose(f);
	return kb < 0 ? -1 : kb / 1024.0;
}

double lg_proc_rss_mb(int pid)
{
	char path[64], line[256];
	double kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %lf kB", &kb) == 1)
			break;
	fclose(f);
	return kb < 0 ? -1 : kb / 1024.0;
}

int lg_proc_fds(int pid)
{
	char path[64];
	struct dirent *d;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((d = readdir(dir)))
		n += d->d_name[0] != '.';
	closedir(dir);
	return n;
}

static double metric(const char *text, const char *name)
{
	size_t nl = strlen(name);

	for (const char *p = text; p && *p;
	     p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, name, nl) && p[nl] == ' ')
			return atof(p + nl + 1);
	return -1;
}

void lg_snap_take(struct lg_snap *s, int pid, const char *host, uint16_t port)
{
	static struct lg_http_resp r;
	struct rusage ru;
	struct timespec wall;

	memset(s, 0, sizeof(*s));
	s->t_us = cm_now_us();
	clock_gettime(CLOCK_REALTIME, &wall);
	s->wall_s = (double)wall.tv_sec + wall.tv_nsec / 1e9;
	s->cpu_s = pid > 0 ? proc_cpu(pid) : -1;
	s->rss_mb = pid > 0 ? proc_hwm_mb(pid) : -1;
	getrusage(RUSAGE_SELF, &ru);
	s->self_s = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	s->missed = s->missed_audio = s->a_enc = s->v_enc = s->v_enc_s = s->v_comp_s = s->v_dec_s = -1;
	s->v_decs = s->v_skipped = -1;
	if (host &&
	    lg_http(host, port, NULL, "GET", "/metrics", NULL, NULL, NULL, &r) == 0 &&
	    r.status == 200) {
		s->missed = metric(r.body, "tutti_room_missed_deadlines_total");
		s->missed_audio = metric(r.body, "tutti_room_missed_audio_deadlines_total");
		s->a_enc = metric(r.body, "tutti_audio_encodes_total");
		s->v_enc = metric(r.body, "tutti_video_encodes_total");
		s->v_enc_s = metric(r.body, "tutti_video_encode_seconds_total");
		s->v_comp_s = metric(r.body, "tutti_video_compose_seconds_total");
		s->v_dec_s = metric(r.body, "tutti_video_decode_seconds_total");
		s->v_decs = metric(r.body, "tutti_video_decodes_total");
		s->v_skipped = metric(r.body, "tutti_video_skipped_ticks_total");
	}
}

void lg_room_ticks(const char *host, uint16_t port, const char *room, double *missed,
		   double *late_max_ms)
{
	static struct lg_http_resp r;
	char name[160];

	*missed = *late_max_ms = -1;
	if (lg_http(host, port, NULL, "GET", "/metrics", NULL, NULL, NULL, &r) || r.status != 200)
		return;
	snprintf(name, sizeof(name), "tutti_room_deadlines_missed_total{room=\"%s\"}", room);
	*missed = metric(r.body, name);
	snprintf(name, sizeof(name), "tutti_room_tick_late_max_seconds{room=\"%s\"}", room);
	*late_max_ms = metric(r.body, name);
	if (*late_max_ms >= 0)
		*late_max_ms *= 1000.0;
}

/* ---- the summary -------------------------------------------------------------- */

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* p-th percentile (0..100) of v (sorted in place); NAN when empty. */
static double pct(double *v, size_t n, double p)
{
	if (!n)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_d);
	size_t k = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return v[k < n ? k : n - 1];
}

/* The p-th percentile (0-100) of a histogram of 1 ms bins, in ms; NAN
 * when empty. */
static double hist_pct(const uint32_t *h, size_t bins, double p)
{
	uint64_t n = 0, seen = 0;

	for (size_t i = 0; i < bins; i++)
		n += h[i];
	if (!n)
		return NAN;
	for (size_t i = 0; i < bins; i++) {
		seen += h[i];
		if ((double)seen >= p / 100.0 * (double)n)
			return (double)i;
	}
	return (double)(bins - 1);
}

static json_t *num(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

int lg_report(const struct lg_summary_in *o, const struct lg_snap *a,
	      const struct lg_snap *b)
{
	double secs = (double)(b->t_us - a->t_us) / 1e6;
	double *fps = calloc(o->n_parts + 1, sizeof(double)),
	       *dfps = calloc(o->n_parts + 1, sizeof(double));
	double *ad = NULL, *vd = NULL;
	size_t nf = 0, nd = 0, nad = 0, nvd = 0;
	uint64_t a_skipped = 0;
	uint64_t a_lost = 0, a_stalls = 0, v_lost = 0, srtp_fail = 0, no_audio = 0,
		 no_video = 0;
	uint64_t rx_pkts = 0, rx_bytes = 0, tx_pkts = 0, plis = 0, nacks = 0, rtx = 0;
	uint64_t dec_err = 0, ready = 0, counters = 0, max_a_gap = 0;
	unsigned senders = 0;
	bool video_expected = false;

	for (unsigned i = 0; i < o->n_parts; i++)
		video_expected |= o->parts[i].send_video;
	for (unsigned i = 0; i < o->n_parts; i++) {
		const struct lg_part *p = &o->parts[i];
		nad += p->n_a_delay;
		nvd += p->n_v_delay;
	}
	ad = calloc(nad + 1, sizeof(double));
	vd = calloc(nvd + 1, sizeof(double));
	if (!fps || !dfps || !ad || !vd)
		return ENOMEM;
	nad = nvd = 0;
	for (unsigned i = 0; i < o->n_parts; i++) {
		const struct lg_part *p = &o->parts[i];
		ready += p->ready;
		srtp_fail += p->srtp_fail;
		a_skipped += p->audio_skipped;
		tx_pkts += p->sent_pkts[0] + p->sent_pkts[1];
		plis += p->plis_in;
		nacks += p->nacks_in;
		rtx += p->retransmits;
		senders += p->send_video;
		if (!p->recv)
			continue;
		rx_pkts += p->rx_a.pkts + p->rx_v.pkts;
		rx_bytes += p->rx_a.bytes + p->rx_v.bytes;
		a_lost += p->rx_a.lost;
		a_stalls += p->rx_a.stalls;
		max_a_gap = CM_MAX(max_a_gap, p->rx_a.max_gap_us);
		v_lost += p->rx_v.lost;
		no_audio += p->send_audio && !p->rx_a.pkts && !p->plain;
		no_video +=
		    video_expected && !p->rx_v.pkts && (!p->plain || !p->send_audio);
		if (video_expected && (!p->plain || !p->send_audio))
			fps[nf++] = (double)p->rx_v.frames / secs;
		if (p->sample) {
			if (video_expected)
				dfps[nd++] = (double)p->dec_frames / secs;
			dec_err += p->dec_errors;
			counters += p->counters_read;
			if (p->n_a_delay)
				memcpy(ad + nad, p->a_delay, p->n_a_delay * sizeof(double));
			nad += p->n_a_delay;
			if (p->n_v_delay)
				memcpy(vd + nvd, p->v_delay, p->n_v_delay * sizeof(double));
			nvd += p->n_v_delay;
		}
	}
	double cpu = a->cpu_s >= 0 && b->cpu_s >= 0 ? (b->cpu_s - a->cpu_s) / secs : NAN;
	double self = (b->self_s - a->self_s) / secs;
	double missed = a->missed >= 0 && b->missed >= 0 ? b->missed - a->missed : NAN;
	double missed_a = a->missed_audio >= 0 && b->missed_audio >= 0
				  ? b->missed_audio - a->missed_audio
				  : NAN;
	double fps_med = pct(fps, nf, 50), fps_min = nf ? pct(fps, nf, 0) : NAN;
	double dfps_med = pct(dfps, nd, 50), dfps_min = nd ? pct(dfps, nd, 0) : NAN;
	double ad50 = pct(ad, nad, 50), ad95 = pct(ad, nad, 95);
	double vd50 = pct(vd, nvd, 50), vd95 = pct(vd, nvd, 95);
	double v_enc = a->v_enc >= 0 ? (b->v_enc - a->v_enc) : NAN;
	double v_decs = a->v_decs >= 0 ? b->v_decs - a->v_decs : NAN;
	double v_skipped = a->v_skipped >= 0 ? b->v_skipped - a->v_skipped : NAN;
	/* output frames: composed frames that reached the receivers (the
	 * median receiver's count), else what the room's rate promises */
	double frames_out =
	    isfinite(fps_med) && fps_med > 0 ? fps_med * secs : o->room_fps * secs;
	/* tutti's own timers (wall clock, the room thread) for the window */
	double v_dec = a->v_dec_s >= 0 ? b->v_dec_s - a->v_dec_s : NAN;
	double v_comp = a->v_comp_s >= 0 ? b->v_comp_s - a->v_comp_s : NAN;
	double v_encs = a->v_enc_s >= 0 ? b->v_enc_s - a->v_enc_s : NAN;
	double v_work = v_dec + v_comp + v_encs;

	printf("\n== %s: %u participants, %.1f s measured ==\n", o->label, o->n_parts,
	       secs);
	printf("| figure | value |\n|---|---:|\n");
	printf("| participants connected (join + ICE + DTLS of all, s) | %llu / %u "
	       "(%.1f) |\n",
	       (unsigned long long)ready, o->n_parts, o->join_s);
	if (o->patches_failed)
		printf("| admin PATCHes (tier, unmute) that failed | %u |\n",
		       o->patches_failed);
	printf("| server CPU, s/s (cores) | %.3f |\n", cpu);
	printf("| server CPU per participant, µs/s | %.0f |\n", cpu / o->n_parts * 1e6);
	printf("| server peak RSS, MiB | %.1f |\n", b->rss_mb);
	printf("| missed room deadlines (window / since start) | %.0f / %.0f |\n", missed,
	       b->missed);
	printf("| of which the audio missed (window / since start) | %.0f / %.0f |\n",
	       missed_a, b->missed_audio);
	if (video_expected) {
		printf("| receivers' frame rate, median / worst (room %g fps) | %.1f / "
		       "%.1f |\n",
		       o->room_fps, fps_med, fps_min);
		printf("| sampled decoders' frame rate, median / worst (%zu) | %.1f / "
		       "%.1f |\n",
		       nd, dfps_med, dfps_min);
		printf("| video frames encoded by the server in the window | %.0f |\n",
		       v_enc);
		printf("| ... frames it decoded / video ticks it left out to catch up | %.0f / "
		       "%.0f |\n",
		       v_decs, v_skipped);
		printf("| server CPU per output frame, ms (CPU / %.0f frames) | %.2f |\n",
		       frames_out, cpu * secs / frames_out * 1e3);
		if (isfinite(v_work))
			printf("| of which VP8 decode + compose + encode (tutti's "
			       "metrics), ms | %.2f + %.2f + %.2f = %.2f |\n",
			       v_dec / frames_out * 1e3, v_comp / frames_out * 1e3,
			       v_encs / frames_out * 1e3, v_work / frames_out * 1e3);
	}
	printf("| audio packets lost / stalls > 60 ms / largest gap ms | %llu / %llu / "
	       "%.0f |\n",
	       (unsigned long long)a_lost, (unsigned long long)a_stalls,
	       max_a_gap / 1000.0);
	printf("| video packets lost | %llu |\n", (unsigned long long)v_lost);
	printf("| audio delay ms, median / p95 (%zu tones; the sender's own %d ms of Opus "
	       "delay not counted) | %.1f / %.1f |\n", nad, o->tone_onset_ms, ad50, ad95);
	printf("| video delay ms, median / p95 (%zu frames) | %.1f / %.1f |\n", nvd, vd50,
	       vd95);
	printf("| receivers without audio / without video | %llu / %llu |\n",
	       (unsigned long long)no_audio, (unsigned long long)no_video);
	printf("| decryption failures / decode errors | %llu / %llu |\n",
	       (unsigned long long)srtp_fail, (unsigned long long)dec_err);
	printf(
	    "| PLIs / NACKed packets / retransmitted (senders) | %llu / %llu / %llu |\n",
	    (unsigned long long)plis, (unsigned long long)nacks, (unsigned long long)rtx);
	printf("| load generator CPU, s/s | %.3f |\n", self);
	printf("| load generator: audio ticks not sent, summed over participants (it fell over 100 ms behind) | %llu |\n",
	       (unsigned long long)a_skipped);
	double late50 = o->late_hist ? hist_pct(o->late_hist, LG_LATE_BINS, 50) : NAN;
	double late98 = o->late_hist ? hist_pct(o->late_hist, LG_LATE_BINS, 98) : NAN;
	printf("| load generator: speakers' audio sent late, ms, median / p98 (1 ms steps) | "
	       "%.0f / %.0f |\n", late50, late98);
	printf("| received pkt/s, Mbit/s / sent pkt/s | %.0f, %.1f / %.0f |\n",
	       rx_pkts / secs, rx_bytes * 8 / secs / 1e6, tx_pkts / secs);
	fflush(stdout);

	if (o->json) {
		json_t *j = json_object();
		json_object_set_new(j, "label", json_string(o->label));
		json_object_set_new(j, "participants", json_integer(o->n_parts));
		json_object_set_new(j, "connected", json_integer((json_int_t)ready));
		json_object_set_new(j, "video_senders", json_integer(senders));
		json_object_set_new(j, "join_seconds", json_real(o->join_s));
		json_object_set_new(j, "patches_failed", json_integer(o->patches_failed));
		json_object_set_new(j, "seconds", json_real(secs));
		json_object_set_new(j, "window_start_unix", json_real(a->wall_s));
		json_object_set_new(j, "window_end_unix", json_real(b->wall_s));
		json_object_set_new(j, "server_cpu", num(cpu));
		json_object_set_new(j, "server_cpu_per_participant_us",
				    num(cpu / o->n_parts * 1e6));
		json_object_set_new(j, "server_rss_peak_mib", num(b->rss_mb));
		json_object_set_new(j, "missed_deadlines", num(missed));
		json_object_set_new(j, "missed_deadlines_total", num(b->missed));
		json_object_set_new(j, "missed_audio_deadlines", num(missed_a));
		json_object_set_new(j, "missed_audio_deadlines_total", num(b->missed_audio));
		json_object_set_new(j, "fps_median", num(fps_med));
		json_object_set_new(j, "fps_worst", num(fps_min));
		json_object_set_new(j, "decoded_fps_median", num(dfps_med));
		json_object_set_new(j, "decoded_fps_worst", num(dfps_min));
		json_object_set_new(j, "video_encodes", num(v_enc));
		json_object_set_new(j, "output_frames", json_real(frames_out));
		json_object_set_new(
		    j, "video_work_ms_per_output_frame",
		    num(video_expected ? v_work / frames_out * 1e3 : NAN));
		json_object_set_new(j, "video_decode_ms_per_output_frame",
				    num(video_expected ? v_dec / frames_out * 1e3 : NAN));
		json_object_set_new(j, "video_compose_ms_per_output_frame",
				    num(video_expected ? v_comp / frames_out * 1e3 : NAN));
		json_object_set_new(j, "video_encode_ms_per_output_frame",
				    num(video_expected ? v_encs / frames_out * 1e3 : NAN));
		json_object_set_new(
		    j, "cpu_ms_per_output_frame",
		    num(video_expected ? cpu * secs / frames_out * 1e3 : NAN));
		json_object_set_new(j, "audio_lost", json_integer((json_int_t)a_lost));
		json_object_set_new(j, "audio_stalls",
				    json_integer((json_int_t)a_stalls));
		json_object_set_new(j, "audio_max_gap_ms", json_real(max_a_gap / 1000.0));
		json_object_set_new(j, "video_lost", json_integer((json_int_t)v_lost));
		json_object_set_new(j, "audio_delay_ms_median", num(ad50));
		json_object_set_new(j, "audio_delay_ms_p95", num(ad95));
		json_object_set_new(j, "audio_delay_sender_codec_ms",
				    json_integer(o->tone_onset_ms));
		json_object_set_new(j, "audio_delay_samples",
				    json_integer((json_int_t)nad));
		json_object_set_new(j, "video_delay_ms_median", num(vd50));
		json_object_set_new(j, "video_delay_ms_p95", num(vd95));
		json_object_set_new(j, "video_delay_samples",
				    json_integer((json_int_t)nvd));
		json_object_set_new(j, "receivers_without_audio",
				    json_integer((json_int_t)no_audio));
		json_object_set_new(j, "receivers_without_video",
				    json_integer((json_int_t)no_video));
		json_object_set_new(j, "loadgen_audio_skipped", json_integer((json_int_t)a_skipped));
		json_object_set_new(j, "loadgen_speaker_late_ms_median", num(late50));
		json_object_set_new(j, "loadgen_speaker_late_ms_p98", num(late98));
		json_object_set_new(j, "video_decodes", num(v_decs));
		json_object_set_new(j, "video_skipped_ticks", num(v_skipped));
		json_object_set_new(j, "srtp_failures",
				    json_integer((json_int_t)srtp_fail));
		json_object_set_new(j, "decode_errors",
				    json_integer((json_int_t)dec_err));
		json_object_set_new(j, "counters_read",
				    json_integer((json_int_t)counters));
		json_object_set_new(j, "plis", json_integer((json_int_t)plis));
		json_object_set_new(j, "retransmits", json_integer((json_int_t)rtx));
		json_object_set_new(j, "loadgen_cpu", json_real(self));
		json_object_set_new(j, "rx_pps", json_real(rx_pkts / secs));
		json_object_set_new(j, "tx_pps", json_real(tx_pkts / secs));
		if (json_dump_file(j, o->json, JSON_INDENT(1)))
			fprintf(stderr, "tutti-load: cannot write %s\n", o->json);
		json_decref(j);
	}
	free(fps);
	free(dfps);
	free(ad);
	free(vd);
	/* the smoke's failure conditions */
	if (!o->plain && (srtp_fail || no_audio || no_video || ready < o->n_parts ||
			  o->patches_failed))
		return 1;
	return 0;
}
