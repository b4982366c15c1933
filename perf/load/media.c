/*
 * The media tutti-load sends, encoded once with tutti's own codec wrappers
 * and kept in files (later runs read them back):
 *
 *   voice.lgm     one slot of a speaker: 300 ms of an 880 Hz tone, then
 *                 700 ms of silence (Opus with DTX), with RFC 6464 levels
 *                 (the tone is its first LG_TONE_FRAMES frames)
 *   silence.lgm   5 s of DTX silence
 *   v{180,360,720}.lgm       128 VP8 frames at 15 fps and the tier's rate,
 *                            keyframes at 0 and 64
 *   v{180,360,720}key.lgm    the same pictures, each one a keyframe (what
 *                            a sender sends at once on a PLI)
 *
 * Every picture carries its frame counter (mod 64) as eight big cells in
 * a horizontal band (white, six bits, black), big enough to survive being
 * scaled into a grid tile and re-encoded, so that a receiver reads back
 * which frame it is looking at.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "perf/load/load.h"

const int lg_res_w[LG_RES_COUNT] = {320, 640, 1280};
const int lg_res_h[LG_RES_COUNT] = {180, 360, 720};
const int lg_res_kbps[LG_RES_COUNT] = {150, 500, 1500};

#define TONE_HZ  880.0
#define TONE_AMP 8000.0
#define CELLS    8
#define BAND_Y0  0.30
#define BAND_Y1  0.70

/* ---- files -------------------------------------------------------------------- */

static int track_write(const struct lg_track *t, const char *path)
{
	char tmp[600];
	FILE *f;
	uint32_t n = (uint32_t)t->n;
	int err = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "wb");
	if (!f)
		return errno;
	if (fwrite("TLG1", 4, 1, f) != 1 || fwrite(&n, 4, 1, f) != 1)
		err = EIO;
	for (size_t i = 0; i < t->n && !err; i++) {
		const struct lg_frame *fr = &t->f[i];
		if (fwrite(&fr->len, 4, 1, f) != 1 || fwrite(&fr->flags, 1, 1, f) != 1 ||
		    fwrite(&fr->level, 1, 1, f) != 1 ||
		    (fr->len && fwrite(t->data + fr->off, fr->len, 1, f) != 1))
			err = EIO;
	}
	if (fclose(f) && !err)
		err = EIO;
	if (!err && rename(tmp, path))
		err = errno;
	return err;
}

static int track_read(struct lg_track *t, const char *path)
{
	FILE *f = fopen(path, "rb");
	char magic[4];
	uint32_t n;
	long size;
	size_t off = 0;
	int err = 0;

	memset(t, 0, sizeof(*t));
	if (!f)
		return ENOENT;
	if (fseek(f, 0, SEEK_END) || (size = ftell(f)) < 8 || fseek(f, 0, SEEK_SET) ||
	    fread(magic, 4, 1, f) != 1 || memcmp(magic, "TLG1", 4) ||
	    fread(&n, 4, 1, f) != 1 || n == 0 || n > 100000) {
		fclose(f);
		return EBADMSG;
	}
	t->f = calloc(n, sizeof(*t->f));
	t->data = malloc((size_t)size);
	if (!t->f || !t->data)
		err = ENOMEM;
	for (uint32_t i = 0; i < n && !err; i++) {
		struct lg_frame *fr = &t->f[i];
		if (fread(&fr->len, 4, 1, f) != 1 || fread(&fr->flags, 1, 1, f) != 1 ||
		    fread(&fr->level, 1, 1, f) != 1 || fr->len > (size_t)size - off ||
		    (fr->len && fread(t->data + off, fr->len, 1, f) != 1)) {
			err = EBADMSG;
			break;
		}
		fr->off = (uint32_t)off;
		off += fr->len;
	}
	fclose(f);
	t->n = n;
	if (err) {
		free(t->f);
		free(t->data);
		memset(t, 0, sizeof(*t));
	}
	return err;
}

/* Appends one frame to a track being built (cap grows by doubling). */
static int track_add(struct lg_track *t, size_t *cap, const uint8_t *d, size_t len,
		     uint8_t flags, uint8_t level)
{
	size_t used = t->n ? t->f[t->n - 1].off + t->f[t->n - 1].len : 0;

	if (used + len > *cap) {
		size_t nc = (*cap + len) * 2;
		uint8_t *nd = realloc(t->data, nc);
		if (!nd)
			return ENOMEM;
		t->data = nd;
		*cap = nc;
	}
	struct lg_frame *nf = realloc(t->f, (t->n + 1) * sizeof(*t->f));
	if (!nf)
		return ENOMEM;
	t->f = nf;
	if (len)
		memcpy(t->data + used, d, len);
	t->f[t->n++] = (struct lg_frame){
	    .off = (uint32_t)used, .len = (uint32_t)len, .flags = flags, .level = level};
	return 0;
}

/* ---- audio -------------------------------------------------------------------- */

static uint8_t level_of(const int16_t *pcm, size_t n)
{
	double e = 0;

	for (size_t i = 0; i < n; i++)
		e += (double)pcm[i] * pcm[i];
	e = sqrt(e / (double)n) / 32768.0;
	if (e <= 1e-7)
		return 127;
	double db = -20.0 * log10(e);
	return db > 127 ? 127 : (uint8_t)db;
}

/* frames of 20 ms; the first tone_frames carry the tone. */
static int make_audio(struct lg_track *t, size_t frames, size_t tone_frames)
{
	struct cx_opus_enc_cfg cfg;
	struct cx_opus_enc *enc = NULL;
	int16_t pcm[CX_OPUS_FRAME_20MS];
	uint8_t out[CX_OPUS_ENC_MAX_BYTES];
	size_t cap = 0;
	int err;

	memset(t, 0, sizeof(*t));
	cx_opus_enc_cfg_init(&cfg);
	cfg.dtx = true;
	err = cx_opus_enc_new(&enc, &cfg);
	for (size_t i = 0; i < frames && !err; i++) {
		for (size_t s = 0; s < CX_OPUS_FRAME_20MS; s++) {
			double ts = (double)(i * CX_OPUS_FRAME_20MS + s) / CX_OPUS_RATE;
			pcm[s] = i < tone_frames
				     ? (int16_t)(TONE_AMP * sin(2 * M_PI * TONE_HZ * ts))
				     : 0;
		}
		int n = cx_opus_encode(enc, pcm, CX_OPUS_FRAME_20MS, out, sizeof(out));
		if (n < 0) {
			err = -n;
			break;
		}
		uint8_t flags = cx_opus_is_dtx((size_t)n) ? LG_F_DTX : 0;
		err =
		    track_add(t, &cap, out, (size_t)n, flags,
			      i < tone_frames ? level_of(pcm, CX_OPUS_FRAME_20MS) : 127);
	}
	cx_opus_enc_free(&enc);
	return err;
}

int lg_tone_onset(const int16_t *pcm, size_t n)
{
	for (size_t ms = 0; ms * 48 + 48 <= n; ms++) {
		uint32_t sum = 0;
		for (size_t i = 0; i < 48; i++)
			sum += (uint32_t)abs(pcm[ms * 48 + i]);
		if (sum / 48 > 1200)
			return (int)ms;
	}
	return -1;
}

/* ---- video -------------------------------------------------------------------- */

static void draw(uint8_t *buf, int w, int h, unsigned g)
{
	uint8_t *y = buf, *u = buf + w * h, *v = u + (w / 2) * (h / 2);
	int by0 = (int)(h * BAND_Y0), by1 = (int)(h * BAND_Y1), cw = w / CELLS;
	unsigned c = g % LG_COUNTER_MOD;

	for (int r = 0; r < h; r++)
		for (int x = 0; x < w; x++) {
			int val;
			if (r >= by0 && r < by1) {
				int cell = x / cw;
				bool on = cell == 0 ? true
					  : cell >= CELLS - 1
					      ? false
					      : (c >> (CELLS - 2 - cell)) & 1;
				val = on ? 235 : 16;
			} else {
				/* a moving gradient and a moving square */
				val = 16 +
				      (int)(((unsigned)(x + r) * 200 / (unsigned)(w + h) +
					     g * 3) %
					    200);
				int bx = (int)((g * (unsigned)w / 64) % (unsigned)w);
				if (x >= bx && x < bx + w / 10 && r < by0 && r > h / 20)
					val = 200;
			}
			y[r * w + x] = (uint8_t)val;
		}
	for (int r = 0; r < h / 2; r++)
		for (int x = 0; x < w / 2; x++) {
			bool band = r * 2 >= by0 && r * 2 < by1;
			u[r * (w / 2) + x] =
			    band ? 128 : (uint8_t)(64 + (x * 128) / (w / 2));
			v[r * (w / 2) + x] =
			    band ? 128 : (uint8_t)(64 + ((r + (int)g) % 128));
		}
}

static int make_video(struct lg_track *t, struct lg_track *tk, enum lg_res res)
{
	int w = lg_res_w[res], h = lg_res_h[res];
	struct cx_vp8_enc_cfg cfg;
	struct cx_vp8_enc *enc = NULL, *kenc = NULL;
	uint8_t *buf = malloc((size_t)w * h * 3 / 2);
	size_t cap = 0, kcap = 0;
	int err = buf ? 0 : ENOMEM;

	memset(t, 0, sizeof(*t));
	memset(tk, 0, sizeof(*tk));
	cx_vp8_enc_cfg_init(&cfg);
	cfg.width = w;
	cfg.height = h;
	cfg.fps = LG_FPS;
	cfg.bitrate_kbps = lg_res_kbps[res];
	cfg.temporal_layers = 1;
	cfg.cpu_used = 4;
	if (!err)
		err = cx_vp8_enc_new(&enc, &cfg);
	if (!err)
		err = cx_vp8_enc_new(&kenc, &cfg);
	for (unsigned g = 0; g < LG_VIDEO_FRAMES && !err; g++) {
		struct cx_picture pic = {
		    .plane = {buf, buf + w * h, buf + w * h + (w / 2) * (h / 2)},
		    .stride = {w, w / 2, w / 2},
		    .width = w,
		    .height = h,
		};
		struct cx_vp8_frame f;
		draw(buf, w, h, g);
		err = cx_vp8_encode(enc, &pic, (uint64_t)g * 90000 / LG_FPS,
				    g % (LG_VIDEO_FRAMES / 2) == 0, &f);
		if (err == EAGAIN) { /* dropped by rate control: keep the slot */
			err = track_add(t, &cap, NULL, 0, 0, 0);
		} else if (!err) {
			err = track_add(t, &cap, f.data, f.len, f.keyframe ? LG_F_KEY : 0,
					0);
		}
		if (err)
			break;
		err = cx_vp8_encode(kenc, &pic, (uint64_t)g * 90000 / LG_FPS, true, &f);
		if (!err)
			err = track_add(tk, &kcap, f.data, f.len, LG_F_KEY, 0);
	}
	cx_vp8_enc_free(&enc);
	cx_vp8_enc_free(&kenc);
	free(buf);
	return err;
}

int lg_read_counter(const struct cx_picture *pic, int x, int y, int w, int h)
{
	int cw = w / CELLS, y0 = y + (int)(h * 0.42), y1 = y + (int)(h * 0.58);
	int mean[CELLS], c = 0;

	if (cw < 2 || y1 <= y0 || x < 0 || y < 0 || x + w > pic->width ||
	    y + h > pic->height)
		return -1;
	for (int i = 0; i < CELLS; i++) {
		int x0 = x + i * cw + cw / 4, x1 = x + i * cw + (3 * cw) / 4;
		long sum = 0, n = 0;
		if (x1 <= x0)
			x1 = x0 + 1;
		for (int r = y0; r < y1; r++)
			for (int k = x0; k < x1; k++, n++)
				sum += pic->plane[0][r * pic->stride[0] + k];
		mean[i] = (int)(sum / n);
	}
	if (mean[0] - mean[CELLS - 1] < 80)
		return -1;
	int mid = (mean[0] + mean[CELLS - 1]) / 2;
	for (int i = 1; i < CELLS - 1; i++) {
		/* a cell far from both ends is not a clear bit */
		if (abs(mean[i] - mid) < (mean[0] - mean[CELLS - 1]) / 5)
			return -1;
		c = c << 1 | (mean[i] > mid);
	}
	return c;
}

/* ---- load or make ------------------------------------------------------------ */

static int load_or_make(struct lg_track *t, const char *dir, const char *name,
			int (*make)(struct lg_track *, void *), void *arg)
{
	char path[512];
	int err;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (track_read(t, path) == 0)
		return 0;
	fprintf(stderr, "tutti-load: encoding %s (once)\n", path);
	err = make(t, arg);
	if (!err)
		err = track_write(t, path);
	return err;
}

static int mk_voice(struct lg_track *t, void *arg)
{
	(void)arg;
	return make_audio(t, LG_SLOT_US / 20000, LG_TONE_FRAMES);
}

static int mk_silence(struct lg_track *t, void *arg)
{
	(void)arg;
	return make_audio(t, LG_AUDIO_FRAMES, 0);
}

/* The tone's onset in the voice track as decoded (its first frame that
 * has one), the way the receivers read it in the mix (lg_tone_onset). */
static int tone_onset_of(const struct lg_track *t, int *ms)
{
	struct cx_opus_dec *d = NULL;
	static int16_t pcm[CX_OPUS_MAX_SAMPLES];
	int err = cx_opus_dec_new(&d, 1);

	*ms = -1;
	for (size_t i = 0; i < t->n && i < LG_TONE_FRAMES && !err && *ms < 0; i++) {
		int n = cx_opus_decode(d, t->data + t->f[i].off, t->f[i].len, pcm,
				       CX_OPUS_MAX_SAMPLES);
		if (n <= 0) {
			err = EINVAL;
			break;
		}
		int on = lg_tone_onset(pcm, (size_t)n);
		if (on >= 0)
			*ms = (int)i * 20 + on;
	}
	cx_opus_dec_free(&d);
	return err ? err : *ms < 0 ? EINVAL : 0;
}

int lg_media_load(struct lg_media *m, const char *dir)
{
	static const char *const names[LG_RES_COUNT] = {"v180", "v360", "v720"};
	char path[512], kpath[512];
	int err;

	memset(m, 0, sizeof(*m));
	mkdir(dir, 0755);
	err = load_or_make(&m->voice, dir, "voice.lgm", mk_voice, NULL);
	if (!err)
		err = tone_onset_of(&m->voice, &m->tone_onset_ms);
	if (!err)
		err = load_or_make(&m->silence, dir, "silence.lgm", mk_silence, NULL);
	for (int r = 0; r < LG_RES_COUNT && !err; r++) {
		snprintf(path, sizeof(path), "%s/%s.lgm", dir, names[r]);
		snprintf(kpath, sizeof(kpath), "%s/%skey.lgm", dir, names[r]);
		if (track_read(&m->video[r], path) == 0 &&
		    track_read(&m->videokey[r], kpath) == 0)
			continue;
		fprintf(stderr, "tutti-load: encoding %s (once)\n", path);
		err = make_video(&m->video[r], &m->videokey[r], (enum lg_res)r);
		if (!err)
			err = track_write(&m->video[r], path);
		if (!err)
			err = track_write(&m->videokey[r], kpath);
	}
	return err;
}

static void track_free(struct lg_track *t)
{
	free(t->data);
	free(t->f);
	memset(t, 0, sizeof(*t));
}

void lg_media_free(struct lg_media *m)
{
	track_free(&m->voice);
	track_free(&m->silence);
	for (int r = 0; r < LG_RES_COUNT; r++) {
		track_free(&m->video[r]);
		track_free(&m->videokey[r]);
	}
}
