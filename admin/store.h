/*
 * admin/store — private to admin/: the SQLite store in the data directory
 * (DIR/tutti.db). It keeps room definitions, so that rooms survive a
 * restart, and an audit log of admin actions and joins/leaves (metadata
 * only, never media) with a retention period.
 *
 * Threads: rooms and audit reads run synchronously on the caller's thread,
 * over one connection guarded by a mutex (the HTTP threads need the answer
 * to report 503). Audit writes are queued and written by the store's own
 * writer thread over its own connection; WAL lets the two connections read
 * while the other writes. Nothing here runs on the media path.
 */
#ifndef TUTTI_ADMIN_STORE_H
#define TUTTI_ADMIN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AD_STORE_NAME_MAX    64          /* bytes of a room name */
#define AD_STORE_JSON_MAX    (64 * 1024) /* bytes of a room definition */
#define AD_STORE_ACTOR_MAX   96          /* longer audit texts are cut (UTF-8 safe) */
#define AD_STORE_ACTION_MAX  64
#define AD_STORE_DETAIL_MAX  512
#define AD_STORE_ADDR_MAX    64
#define AD_STORE_AUDIT_QUEUE 4096 /* queued audit rows; the oldest go first */
#define AD_STORE_SCHEMA      1    /* PRAGMA user_version this code writes */

struct ad_store;

/* Opens (creates, mode 0600) DIR/tutti.db in WAL mode with a busy timeout
 * and foreign keys on; creates or migrates the schema up to
 * AD_STORE_SCHEMA; deletes audit rows older than retention_days (0: keep
 * forever) now and then hourly; starts the audit writer thread.
 * data_dir is copied. Returns 0, EINVAL, ENOMEM, or EIO (cannot create,
 * open or migrate; the reason is logged). */
int ad_store_open(struct ad_store **out, const char *data_dir, unsigned retention_days);
/* Writes what is queued, joins the writer, closes; *p becomes NULL. */
void ad_store_close(struct ad_store **p);

/* Rooms: the definition is a JSON text (what the API accepted, produced by
 * the caller with jansson) keyed by the room's name; both are copied into
 * the database. Synchronous. Return 0, EINVAL (NULL, empty or too long),
 * EEXIST (insert of an existing name), ENOENT (update or delete of a
 * missing one) or EIO (SQLite failed: disk full, locked, corrupt; the
 * caller answers 503). */
int ad_store_room_insert(struct ad_store *s, const char *name, const char *json);
int ad_store_room_update(struct ad_store *s, const char *name, const char *json);
int ad_store_room_delete(struct ad_store *s, const char *name);
/* Calls fn for every stored room in creation order. name and json are
 * borrowed for the call only. fn runs under the store's lock: it must not
 * call the store. Returns 0, EINVAL or EIO. */
int ad_store_rooms_load(struct ad_store *s,
			void (*fn)(void *arg, const char *name, const char *json),
			void *arg);

/* Queues one audit row stamped now (wall clock, ISO 8601 UTC with
 * milliseconds). Never blocks on disk: when the queue is full the oldest
 * queued row is dropped and counted. actor ("admin", "participant:<id>",
 * "system") and action ("room.create", "participant.join", ...) are
 * required; room, detail (short, metadata only) and addr (client IP) may
 * be NULL. All texts are copied, cut to their AD_STORE_*_MAX. */
void ad_store_audit(struct ad_store *s, const char *actor, const char *action,
		    const char *room, const char *detail, const char *addr);
/* Calls fn for up to max written rows, newest first. The texts are
 * borrowed for the call only; room, detail and addr may be NULL. fn runs
 * under the store's lock: it must not call the store. Rows still queued
 * are not seen (flush first). Returns 0, EINVAL or EIO. */
int ad_store_audit_read(struct ad_store *s, size_t max,
			void (*fn)(void *arg, int64_t id, const char *ts,
				   const char *actor, const char *action,
				   const char *room, const char *detail,
				   const char *addr),
			void *arg);
/* Returns once the queue is empty and no batch is being written, each row
 * written or counted as dropped (tests, shutdown). */
void ad_store_audit_flush(struct ad_store *s);

struct ad_store_stats {
	uint64_t audit_written; /* rows committed */
	uint64_t audit_dropped; /* rows lost: queue full, no memory, failed batch */
	uint64_t write_errors;  /* failed SQLite writes (rooms, audit batches, pruning) */
	bool healthy;           /* the last write succeeded (for /readyz and 503s) */
};
void ad_store_stats(struct ad_store *s, struct ad_store_stats *out);

/* ---- test hooks (tests/unit/test_store.c only) ------------------------- */

/* Migration steps run by ad_store_open (0 when the file was current). */
unsigned ad_store_test_migrations(struct ad_store *s);
/* PRAGMA max_page_count on both connections (0: back to the default), to
 * make writes fail the way a full disk does. */
void ad_store_test_max_pages(struct ad_store *s, unsigned pages);
/* While held the writer leaves the queue alone (flush and close still
 * write it), so that a test can fill the queue. */
void ad_store_test_hold_writer(struct ad_store *s, bool hold);

#endif
