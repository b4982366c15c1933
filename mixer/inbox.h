/*
 * A room's inbox (private to mixer/): one FIFO for everything the room
 * thread is told — media from the I/O thread and commands from HTTP
 * threads — so that their order is kept (a participant's last packets
 * come before the news that it left). Media messages come from a pool
 * allocated once; commands are malloc'd (rare).
 */
#ifndef TUTTI_MIXER_INBOX_H
#define TUTTI_MIXER_INBOX_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mixer/mixer.h"
#include "transport/transport.h"

#define MX_MSG_DATA 1500

enum mx_msg_kind {
	MX_MSG_RTP, /* link, media, data: a decrypted RTP packet; flag 1: of
		     * the participant's shared screen */
	MX_MSG_RTCP, /* link, data: a decrypted (compound) RTCP packet */
	MX_MSG_ADD, /* link: a new participant (its transport peer exists) */
	MX_MSG_CONNECTED, /* link, sender: DTLS done */
	MX_MSG_CLOSED, /* link: the transport dropped it (consent, DTLS) */
	MX_MSG_REMOVE, /* id: remove it (reply) */
	MX_MSG_MUTE, /* id, flag (reply) */
	MX_MSG_SET_TIER, /* id, flag = tier (reply) */
	MX_MSG_SET_ROLE, /* id, flag = role (reply) */
	MX_MSG_SPOTLIGHT, /* id ("" = nobody) (reply) */
	MX_MSG_SET_HAND, /* id, flag (reply) */
	MX_MSG_SET_CAP, /* id, flag = enum mx_data_cap (reply) */
	MX_MSG_SET_SCREEN, /* id, secret, flag: share or stop (reply) */
	MX_MSG_SCREEN_POLICY, /* the room's screen_share changed (reply) */
	MX_MSG_SET_LAYOUT, /* flag = kind (reply) */
	MX_MSG_PARTICIPANTS, /* out = struct mx_part_info[cap], n (reply) */
	MX_MSG_LAYOUT, /* out = struct mx_layout_info (reply) */
	MX_MSG_CHECK, /* id, secret: is it there, and is the secret its own (reply) */
	MX_MSG_RECORD, /* flag 1: start, out = the path; flag 0: stop, out = struct
			* mx_rec_info (reply) */
};

/* A synchronous command's answer; lives on the waiting thread's stack. */
struct mx_reply {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int result;
};

struct mx_link;

struct mx_msg {
	struct mx_msg *next;
	enum mx_msg_kind kind;
	bool pooled;
	struct mx_link *link;
	struct tp_sender *sender; /* a reference, MX_MSG_CONNECTED */
	enum tp_sdp_kind media;
	uint64_t arrival_us;
	char id[TP_PEER_ID_LEN + 1];
	char secret[MX_SECRET_LEN + 1]; /* "" = the caller is an admin or presenter */
	int flag;
	struct mx_reply *reply;
	void *out; /* MX_MSG_PARTICIPANTS, MX_MSG_LAYOUT */
	size_t cap;
	size_t *n;
	size_t len;
	uint8_t data[MX_MSG_DATA];
};

struct mx_inbox {
	pthread_mutex_t lock;
	struct mx_msg *head, *tail;
	struct mx_msg *free_list;
	struct mx_msg *pool; /* the allocation behind free_list */
	uint64_t dropped; /* media dropped because the pool was empty */
};

int mx_inbox_init(struct mx_inbox *q, size_t pool_size);
void mx_inbox_destroy(struct mx_inbox *q);
/* A pooled message for media, or NULL (counted as dropped). */
struct mx_msg *mx_inbox_get(struct mx_inbox *q);
void mx_inbox_push(struct mx_inbox *q, struct mx_msg *m);
/* Takes the whole FIFO, oldest first. */
struct mx_msg *mx_inbox_take(struct mx_inbox *q);
/* Puts a list taken earlier (first..last, in order) back at the head of
 * the FIFO, before whatever came since. */
void mx_inbox_unshift(struct mx_inbox *q, struct mx_msg *first, struct mx_msg *last);
/* Gives a list back: pooled messages to the pool, others freed. */
void mx_inbox_recycle(struct mx_inbox *q, struct mx_msg *list);
bool mx_inbox_empty(struct mx_inbox *q);

/* Replies. */
void mx_reply_init(struct mx_reply *r);
void mx_reply_destroy(struct mx_reply *r);
void mx_reply_done(struct mx_reply *r, int result);
int mx_reply_wait(struct mx_reply *r);

#endif
