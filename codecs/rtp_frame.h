/*
 * The RTP frame assembler that the VP8 and H.264 depacketizers share
 * (internal to codecs/): a reorder window of packets indexed by sequence
 * number, the sequence tracking across wraps and restarts, the list of
 * missing packets to NACK, and the rules that give out whole frames in
 * order, refuse delta frames while a keyframe is wanted and skip to a
 * later whole keyframe.
 *
 * What differs by codec stays with the codec: it reads the payload
 * (strips a descriptor, or rewrites it as Annex B) into the slot the
 * assembler lends, and tells the assembler what the packet says of frame
 * boundaries and keyframes (struct cx_rtp_pkt); a const table
 * (struct cx_rtp_codec) says how big slots and frames get and whether
 * the payload marks every frame's first packet.
 */
#ifndef TUTTI_CODECS_RTP_FRAME_H
#define TUTTI_CODECS_RTP_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Packets held at once; the codecs' public windows are this one. */
#define CX_RTP_ASM_WINDOW 256

struct cx_rtp_codec {
	size_t slot_cap;  /* bytes a packet may take once the codec wrote it */
	size_t max_frame; /* bytes of the largest frame given out */
	/* The payload marks each frame's first packet and, on it, whether
	 * the frame is a keyframe (VP8's S bit). Otherwise (H.264) a frame
	 * starts after the packet that ended the one before (its marker,
	 * another timestamp) or at a packet that says so (an SPS), and a
	 * keyframe is known only once the whole frame is there. */
	bool marks_starts;
};

/* Where a packet stands in a unit that the codec fragments (H.264
 * FU-A): a frame must not end, nor a new unit begin, inside one. */
enum cx_rtp_frag { CX_RTP_WHOLE, CX_RTP_FRAG_FIRST, CX_RTP_FRAG_MID, CX_RTP_FRAG_LAST };

/* What the codec read in one packet. */
struct cx_rtp_pkt {
	bool begin;   /* begins a frame (marks_starts), or may after a loss (SPS) */
	bool key;     /* holds (part of) a keyframe */
	uint8_t frag; /* enum cx_rtp_frag */
};

struct cx_rtp_asm_stats {
	uint64_t frames, keyframes, duplicates, late, bad, dropped, refused;
};

/* A whole frame: data is owned by the assembler and valid until the next
 * cx_rtp_asm_get or cx_rtp_asm_free. */
struct cx_rtp_frame {
	const uint8_t *data;
	size_t len;
	uint32_t ts;
	uint16_t first_seq, last_seq;
	bool keyframe;
};

struct cx_rtp_asm;

/* An assembler for one sender, after the codec's table (which must
 * outlive it); it starts wanting a keyframe. The caller owns *out.
 * Returns 0, EINVAL or ENOMEM. */
int cx_rtp_asm_new(struct cx_rtp_asm **out, const struct cx_rtp_codec *codec);
/* Frees the assembler and sets *p to NULL; NULL is fine. */
void cx_rtp_asm_free(struct cx_rtp_asm **p);
/* Forgets every packet and the stats, as if new. */
void cx_rtp_asm_reset(struct cx_rtp_asm *a);

/* The first half of storing a packet: moves the window for seq and lends
 * the slot's buffer (codec->slot_cap bytes, owned by the assembler), or
 * returns EALREADY for a duplicate or a packet too late (counted). The
 * codec writes the payload there, then calls cx_rtp_asm_commit; if it
 * refuses the payload it calls cx_rtp_asm_bad instead. */
int cx_rtp_asm_slot(struct cx_rtp_asm *a, uint16_t seq, uint8_t **buf);
/* Stores the packet at seq, whose len bytes the codec wrote into the
 * buffer that cx_rtp_asm_slot lent for seq just before. */
void cx_rtp_asm_commit(struct cx_rtp_asm *a, uint16_t seq, uint32_t ts, bool marker,
		       size_t len, const struct cx_rtp_pkt *pkt);
/* Counts a payload the codec refused. */
void cx_rtp_asm_bad(struct cx_rtp_asm *a);

/* The next whole frame in order, as cx_vp8_asm_get and cx_h264_asm_get
 * describe. Returns 0 or EAGAIN (none ready). */
int cx_rtp_asm_get(struct cx_rtp_asm *a, struct cx_rtp_frame *out);
/* Missing sequence numbers from the oldest unfinished frame to the newest
 * packet (what to NACK), oldest first; at most cap. */
size_t cx_rtp_asm_missing(struct cx_rtp_asm *a, uint16_t *seqs, size_t cap);
/* Gives up the oldest incomplete frame; then only a keyframe will do. */
void cx_rtp_asm_drop_incomplete(struct cx_rtp_asm *a);
bool cx_rtp_asm_need_keyframe(const struct cx_rtp_asm *a);
void cx_rtp_asm_get_stats(const struct cx_rtp_asm *a, struct cx_rtp_asm_stats *st);

#endif
