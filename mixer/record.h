/*
 * A room's recording: the composite of one tier (VP8, straight from that
 * tier's encoder) and the common audio mix (Opus, from its encoder) into a
 * WebM file with libavformat. No second encode: the recorder gets the
 * packets the room makes anyway. The room thread hands packets over; a
 * writer thread of the recorder's own does the file I/O, so a slow disk
 * never holds a tick up (past a bounded queue, packets are dropped and
 * counted).
 */
#ifndef TUTTI_MIXER_RECORD_H
#define TUTTI_MIXER_RECORD_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mx_rec;

struct mx_rec_info {
	uint64_t duration_ms; /* from the first keyframe to the last packet */
	uint64_t video_frames, audio_packets;
	uint64_t dropped; /* packets the queue could not take */
	uint64_t bytes; /* of the file */
	bool ok; /* the file was written and finished */
};

/* Creates path (WebM: VP8 width x height, Opus mono 48 kHz) and starts the
 * writer thread. Returns 0, or an errno (EIO: libavformat refused). */
int mx_rec_open(struct mx_rec **out, const char *path, int width, int height);
/* Room thread. now_us: the tick's time. Nothing is kept until the first
 * keyframe (the file starts with a picture); audio before it is dropped. */
void mx_rec_video(struct mx_rec *r, const uint8_t *data, size_t len, bool keyframe,
		  uint64_t now_us);
void mx_rec_audio(struct mx_rec *r, const uint8_t *pkt, size_t len, uint64_t now_us);
/* Writes what is queued, the trailer, closes the file; *p becomes NULL. */
void mx_rec_close(struct mx_rec **p, struct mx_rec_info *info);

#endif
