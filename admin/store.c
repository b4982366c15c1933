/*
 * The SQLite store: room definitions and the audit log in DIR/tutti.db.
 *
 * Two connections: s->db, guarded by s->db_lock, serves the callers' threads
 * (room writes, reads); s->wr_db belongs to the writer thread, which drains
 * the audit queue in batches, one transaction each, and prunes old rows.
 * The queue (s->q_lock) is the only thing the two sides share, so a slow
 * disk never blocks whoever calls ad_store_audit().
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"
#include "admin/store.h"

#define BUSY_TIMEOUT_MS   5000
#define AUDIT_BATCH       256 /* rows per transaction */
#define PRUNE_PERIOD_S    3600
#define DEFAULT_MAX_PAGES 1073741823u /* SQLite's default max_page_count */

/* One step per schema version: migrations[i] takes user_version i to i+1,
 * inside one transaction, and sets user_version itself. Version 2 is one
 * more string here and AD_STORE_SCHEMA = 2. */
static const char *const migrations[] = {
    "CREATE TABLE rooms ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT," /* creation order, never reused */
    " name TEXT NOT NULL UNIQUE,"
    " json TEXT NOT NULL,"
    " created TEXT NOT NULL,"
    " updated TEXT NOT NULL);"
    "CREATE TABLE audit ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " ts TEXT NOT NULL," /* ISO 8601 UTC: sorts as text */
    " actor TEXT NOT NULL,"
    " action TEXT NOT NULL,"
    " room TEXT, detail TEXT, addr TEXT);"
    "CREATE INDEX audit_ts ON audit(ts);"
    "PRAGMA user_version = 1;",
};
_Static_assert(CM_ARRAY_SIZE(migrations) == AD_STORE_SCHEMA, "one step per version");

struct audit_entry {
	char ts[32];
	const char *actor, *action, *room, *detail, *addr; /* into text, or NULL */
	char text[];
};

struct ad_store {
	char path[PATH_MAX];
	unsigned retention_days;
	unsigned migrations_run;

	pthread_mutex_t db_lock; /* guards db */
	sqlite3 *db;
	sqlite3 *wr_db; /* the writer thread's alone once it runs */
	pthread_t writer;
	bool writer_started;

	pthread_mutex_t q_lock;   /* guards everything below */
	pthread_cond_t q_cond;    /* wakes the writer */
	pthread_cond_t done_cond; /* a batch is done (flush waits on it) */
	struct audit_entry *ring[AD_STORE_AUDIT_QUEUE];
	size_t head, count, inflight;
	unsigned flushers, wr_max_pages;
	bool stop, hold;
	struct ad_store_stats st;
};

/* Wall clock minus back_s seconds, as "2026-11-25T16:56:07.123Z". */
static void iso_time(char out[32], time_t back_s)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec -= back_s;
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* Length of s cut to max bytes without splitting a UTF-8 sequence. */
static size_t cut_len(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/* Records the outcome of a write for ad_store_stats(). */
static void note_write(struct ad_store *s, bool ok)
{
	pthread_mutex_lock(&s->q_lock);
	s->st.healthy = ok;
	if (!ok)
		s->st.write_errors++;
	pthread_mutex_unlock(&s->q_lock);
}

/* Logs SQLite's reason and returns EIO. */
static int db_fail(sqlite3 *db, const char *what)
{
	cm_error("store", "%s: %s", what, sqlite3_errmsg(db));
	return EIO;
}

static int exec(sqlite3 *db, const char *sql, const char *what)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0
								    : db_fail(db, what);
}

/* PRAGMAs take no bound parameters; this formats an integer only. */
static void set_max_pages(sqlite3 *db, unsigned pages)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %u;",
		 pages ? pages : DEFAULT_MAX_PAGES);
	exec(db, sql, "max_page_count");
}

/* Opens one connection with the settings every connection needs. The
 * callers' connection syncs fully (room definitions); the writer's uses
 * NORMAL, which in WAL mode may lose the last audit batch on power loss
 * but never corrupts. */
static int conn_open(const char *path, bool full_sync, sqlite3 **out)
{
	const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			  SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW;
	sqlite3_stmt *st = NULL;
	sqlite3 *db = NULL;
	int err = EIO;

	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
		cm_error("store", "%s: %s", path,
			 db ? sqlite3_errmsg(db) : "out of memory");
		goto out;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	/* journal_mode answers with the mode it got: a file that cannot take
	 * WAL (or is no database at all) fails here, not later. */
	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL;", -1, &st, NULL) !=
		SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		err = db_fail(db, path);
		goto out;
	}
	const char *mode = (const char *)sqlite3_column_text(st, 0);
	if (!mode || strcmp(mode, "wal")) {
		cm_error("store", "%s: cannot use WAL (journal mode %s)", path,
			 mode ? mode : "?");
		goto out;
	}
	err = exec(db,
		   full_sync ? "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
			     : "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
		   path);
out:
	sqlite3_finalize(st);
	if (err) {
		sqlite3_close_v2(db);
		db = NULL;
	}
	*out = db;
	return err;
}

/* Brings the schema from PRAGMA user_version up to AD_STORE_SCHEMA, one
 * transaction per step, so a failed step leaves the previous version. */
static int migrate(struct ad_store *s)
{
	sqlite3_stmt *st = NULL;
	int version, err = 0;

	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version;", -1, &st, NULL) !=
		SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		err = db_fail(s->db, "user_version");
		goto out;
	}
	version = sqlite3_column_int(st, 0);
	if (version < 0 || version > AD_STORE_SCHEMA) {
		cm_error("store", "%s: schema version %d is newer than this tutti (%d)",
			 s->path, version, AD_STORE_SCHEMA);
		err = EIO;
		goto out;
	}
	for (; version < AD_STORE_SCHEMA; version++) {
		err = exec(s->db, "BEGIN IMMEDIATE;", "migrate");
		if (!err)
			err = exec(s->db, migrations[version], "migrate");
		if (!err)
			err = exec(s->db, "COMMIT;", "migrate");
		if (err) {
			sqlite3_exec(s->db, "ROLLBACK;", NULL, NULL, NULL);
			goto out;
		}
		s->migrations_run++;
		cm_info("store", "%s: schema version %d", s->path, version + 1);
	}
out:
	sqlite3_finalize(st);
	return err;
}

/* Deletes audit rows older than the retention period. */
static int prune(struct ad_store *s, sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	char cutoff[32];
	int err = 0;

	if (!s->retention_days)
		return 0;
	iso_time(cutoff, (time_t)s->retention_days * 86400);
	if (sqlite3_prepare_v2(db, "DELETE FROM audit WHERE ts < ?1;", -1, &st, NULL) !=
		SQLITE_OK ||
	    sqlite3_bind_text(st, 1, cutoff, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_DONE)
		err = db_fail(db, "audit retention");
	else if (sqlite3_changes(db))
		cm_info("store", "audit: %d rows past %u days deleted",
			sqlite3_changes(db), s->retention_days);
	sqlite3_finalize(st);
	return err;
}

static int bind_opt(sqlite3_stmt *st, int i, const char *v)
{
	return v ? sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC)
		 : sqlite3_bind_null(st, i);
}

/* Writes n rows in one transaction. Returns 0 or EIO (rolled back). */
static int write_batch(sqlite3 *db, struct audit_entry **e, size_t n)
{
	static const char sql[] =
	    "INSERT INTO audit(ts, actor, action, room, detail, addr)"
	    " VALUES(?1, ?2, ?3, ?4, ?5, ?6);";
	sqlite3_stmt *st = NULL;
	int err = exec(db, "BEGIN IMMEDIATE;", "audit");

	if (err)
		goto out;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		err = db_fail(db, "audit");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		sqlite3_reset(st);
		if (sqlite3_bind_text(st, 1, e[i]->ts, -1, SQLITE_STATIC) ||
		    sqlite3_bind_text(st, 2, e[i]->actor, -1, SQLITE_STATIC) ||
		    sqlite3_bind_text(st, 3, e[i]->action, -1, SQLITE_STATIC) ||
		    bind_opt(st, 4, e[i]->room) || bind_opt(st, 5, e[i]->detail) ||
		    bind_opt(st, 6, e[i]->addr) || sqlite3_step(st) != SQLITE_DONE) {
			err = db_fail(db, "audit");
			goto out;
		}
	}
	err = exec(db, "COMMIT;", "audit");
out:
	sqlite3_finalize(st);
	if (err && !sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK;", NULL, NULL, NULL);
	return err;
}

static struct timespec mono_after(time_t s)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += s;
	return ts;
}

/* The writer: takes up to AUDIT_BATCH rows at a time off the queue and
 * writes them with the lock released; prunes on an absolute hourly
 * deadline. On stop it writes what is left, then returns. */
static void *writer_main(void *arg)
{
	struct ad_store *s = arg;
	struct audit_entry *batch[AUDIT_BATCH];
	struct timespec next_prune = mono_after(PRUNE_PERIOD_S);

	pthread_mutex_lock(&s->q_lock);
	for (;;) {
		bool ready = s->count && (!s->hold || s->flushers || s->stop);

		if (!ready && s->stop)
			break;
		if (!ready) {
			if (pthread_cond_timedwait(&s->q_cond, &s->q_lock, &next_prune) ==
			    ETIMEDOUT) {
				pthread_mutex_unlock(&s->q_lock);
				int err = prune(s, s->wr_db);
				if (err)
					note_write(s, false);
				pthread_mutex_lock(&s->q_lock);
				next_prune = mono_after(PRUNE_PERIOD_S);
			}
			continue;
		}
		size_t n = CM_MIN(s->count, (size_t)AUDIT_BATCH);
		for (size_t i = 0; i < n; i++) {
			batch[i] = s->ring[s->head];
			s->head = (s->head + 1) % AD_STORE_AUDIT_QUEUE;
		}
		s->count -= n;
		s->inflight = n;
		unsigned pages = s->wr_max_pages;
		s->wr_max_pages = UINT_MAX; /* applied */
		pthread_mutex_unlock(&s->q_lock);

		if (pages != UINT_MAX)
			set_max_pages(s->wr_db, pages);
		int err = write_batch(s->wr_db, batch, n);
		for (size_t i = 0; i < n; i++)
			free(batch[i]);

		pthread_mutex_lock(&s->q_lock);
		s->st.healthy = !err;
		if (err) {
			s->st.write_errors++;
			s->st.audit_dropped += n;
		} else {
			s->st.audit_written += n;
		}
		s->inflight = 0;
		pthread_cond_broadcast(&s->done_cond);
	}
	pthread_mutex_unlock(&s->q_lock);
	return NULL;
}

/* Creates the file 0600 before SQLite does (SQLite would use 0644 less
 * the umask; its -wal and -shm files copy the database's mode). */
static int create_file(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0) {
		cm_error("store", "%s: %s", path, strerror(errno));
		return EIO;
	}
	fchmod(fd, 0600); /* an older file may have been looser */
	close(fd);
	return 0;
}

int ad_store_open(struct ad_store **out, const char *data_dir, unsigned retention_days)
{
	pthread_condattr_t ca;
	struct ad_store *s;
	int err;

	if (!out || !data_dir || !*data_dir)
		return EINVAL;
	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	s->retention_days = retention_days;
	s->wr_max_pages = UINT_MAX;
	s->st.healthy = true;
	pthread_mutex_init(&s->db_lock, NULL);
	pthread_mutex_init(&s->q_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the prune deadline */
	pthread_cond_init(&s->q_cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&s->done_cond, NULL);

	if ((size_t)snprintf(s->path, sizeof(s->path), "%s/tutti.db", data_dir) >=
	    sizeof(s->path)) {
		err = EINVAL;
		goto out;
	}
	err = create_file(s->path);
	if (!err)
		err = conn_open(s->path, true, &s->db);
	if (!err)
		err = migrate(s);
	if (!err)
		err = prune(s, s->db);
	if (!err)
		err = conn_open(s->path, false, &s->wr_db);
	if (err)
		goto out;
	err = pthread_create(&s->writer, NULL, writer_main, s);
	if (err) {
		err = ENOMEM;
		goto out;
	}
	s->writer_started = true;
out:
	if (err)
		ad_store_close(&s);
	*out = s;
	return err;
}

void ad_store_close(struct ad_store **p)
{
	struct ad_store *s = p ? *p : NULL;

	if (!s)
		return;
	if (s->writer_started) {
		pthread_mutex_lock(&s->q_lock);
		s->stop = true;
		pthread_cond_signal(&s->q_cond);
		pthread_mutex_unlock(&s->q_lock);
		pthread_join(s->writer, NULL);
	}
	for (size_t i = 0; i < s->count; i++) /* left when the writer never ran */
		free(s->ring[(s->head + i) % AD_STORE_AUDIT_QUEUE]);
	sqlite3_close_v2(s->wr_db);
	sqlite3_close_v2(s->db);
	pthread_cond_destroy(&s->done_cond);
	pthread_cond_destroy(&s->q_cond);
	pthread_mutex_destroy(&s->q_lock);
	pthread_mutex_destroy(&s->db_lock);
	free(s);
	*p = NULL;
}

static bool name_ok(const char *name)
{
	return name && *name && strnlen(name, AD_STORE_NAME_MAX + 1) <= AD_STORE_NAME_MAX;
}

static bool json_ok(const char *json)
{
	return json && *json && strnlen(json, AD_STORE_JSON_MAX + 1) <= AD_STORE_JSON_MAX;
}

/* Runs one room write: binds name (?1), json (?2, when given) and now
 * (?3, when the statement has it), steps, and maps the outcome to 0, EEXIST, ENOENT or
 * EIO. */
static int room_write(struct ad_store *s, const char *sql, const char *name,
		      const char *json, const char *what)
{
	sqlite3_stmt *st = NULL;
	char now[32];
	int rc, err = 0;

	iso_time(now, 0);
	pthread_mutex_lock(&s->db_lock);
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC) != SQLITE_OK ||
	    (json && sqlite3_bind_text(st, 2, json, -1, SQLITE_STATIC) != SQLITE_OK) ||
	    (sqlite3_bind_parameter_count(st) >= 3 &&
	     sqlite3_bind_text(st, 3, now, -1, SQLITE_STATIC) != SQLITE_OK)) {
		err = db_fail(s->db, what);
		goto out;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
		err = EEXIST;
	else if (rc != SQLITE_DONE)
		err = db_fail(s->db, what);
	else if (!sqlite3_changes(s->db))
		err = ENOENT;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->db_lock);
	if (err == EIO || !err)
		note_write(s, !err);
	return err;
}

int ad_store_room_insert(struct ad_store *s, const char *name, const char *json)
{
	if (!s || !name_ok(name) || !json_ok(json))
		return EINVAL;
	return room_write(s,
			  "INSERT INTO rooms(name, json, created, updated)"
			  " VALUES(?1, ?2, ?3, ?3);",
			  name, json, "room insert");
}

int ad_store_room_update(struct ad_store *s, const char *name, const char *json)
{
	if (!s || !name_ok(name) || !json_ok(json))
		return EINVAL;
	return room_write(s, "UPDATE rooms SET json = ?2, updated = ?3 WHERE name = ?1;",
			  name, json, "room update");
}

int ad_store_room_delete(struct ad_store *s, const char *name)
{
	if (!s || !name_ok(name))
		return EINVAL;
	return room_write(s, "DELETE FROM rooms WHERE name = ?1;", name, NULL,
			  "room delete");
}

int ad_store_rooms_load(struct ad_store *s,
			void (*fn)(void *arg, const char *name, const char *json),
			void *arg)
{
	sqlite3_stmt *st = NULL;
	int rc, err = 0;

	if (!s || !fn)
		return EINVAL;
	pthread_mutex_lock(&s->db_lock);
	if (sqlite3_prepare_v2(s->db, "SELECT name, json FROM rooms ORDER BY id;", -1,
			       &st, NULL) != SQLITE_OK) {
		err = db_fail(s->db, "rooms load");
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn(arg, (const char *)sqlite3_column_text(st, 0),
		   (const char *)sqlite3_column_text(st, 1));
	if (rc != SQLITE_DONE)
		err = db_fail(s->db, "rooms load");
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->db_lock);
	return err;
}

/* Copies one text into the entry's buffer; returns where it went. */
static const char *put_text(char **p, const char *v, size_t max)
{
	if (!v)
		return NULL;
	size_t n = cut_len(v, max);
	char *dst = *p;

	memcpy(dst, v, n);
	dst[n] = '\0';
	*p += n + 1;
	return dst;
}

void ad_store_audit(struct ad_store *s, const char *actor, const char *action,
		    const char *room, const char *detail, const char *addr)
{
	struct audit_entry *e, *old = NULL;
	size_t len;
	char *p;

	if (!s || !actor || !action)
		return;
	len =
	    cut_len(actor, AD_STORE_ACTOR_MAX) + cut_len(action, AD_STORE_ACTION_MAX) + 5;
	len += room ? cut_len(room, AD_STORE_NAME_MAX) : 0;
	len += detail ? cut_len(detail, AD_STORE_DETAIL_MAX) : 0;
	len += addr ? cut_len(addr, AD_STORE_ADDR_MAX) : 0;
	e = malloc(sizeof(*e) + len);
	if (e) {
		iso_time(e->ts, 0);
		p = e->text;
		e->actor = put_text(&p, actor, AD_STORE_ACTOR_MAX);
		e->action = put_text(&p, action, AD_STORE_ACTION_MAX);
		e->room = put_text(&p, room, AD_STORE_NAME_MAX);
		e->detail = put_text(&p, detail, AD_STORE_DETAIL_MAX);
		e->addr = put_text(&p, addr, AD_STORE_ADDR_MAX);
	}

	pthread_mutex_lock(&s->q_lock);
	if (!e) {
		s->st.audit_dropped++;
	} else {
		if (s->count == AD_STORE_AUDIT_QUEUE) {
			old = s->ring[s->head];
			s->head = (s->head + 1) % AD_STORE_AUDIT_QUEUE;
			s->count--;
			s->st.audit_dropped++;
		}
		s->ring[(s->head + s->count) % AD_STORE_AUDIT_QUEUE] = e;
		s->count++;
		pthread_cond_signal(&s->q_cond);
	}
	pthread_mutex_unlock(&s->q_lock);
	free(old);
}

int ad_store_audit_read(struct ad_store *s, size_t max,
			void (*fn)(void *arg, int64_t id, const char *ts,
				   const char *actor, const char *action,
				   const char *room, const char *detail,
				   const char *addr),
			void *arg)
{
	static const char sql[] = "SELECT id, ts, actor, action, room, detail, addr"
				  " FROM audit ORDER BY id DESC LIMIT ?1;";
	sqlite3_stmt *st = NULL;
	int rc, err = 0;

	if (!s || !fn)
		return EINVAL;
	pthread_mutex_lock(&s->db_lock);
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 1, (sqlite3_int64)CM_MIN(max, (size_t)INT64_MAX)) !=
		SQLITE_OK) {
		err = db_fail(s->db, "audit read");
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn(arg, sqlite3_column_int64(st, 0),
		   (const char *)sqlite3_column_text(st, 1),
		   (const char *)sqlite3_column_text(st, 2),
		   (const char *)sqlite3_column_text(st, 3),
		   (const char *)sqlite3_column_text(st, 4),
		   (const char *)sqlite3_column_text(st, 5),
		   (const char *)sqlite3_column_text(st, 6));
	if (rc != SQLITE_DONE)
		err = db_fail(s->db, "audit read");
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->db_lock);
	return err;
}

void ad_store_audit_flush(struct ad_store *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->q_lock);
	s->flushers++;
	pthread_cond_signal(&s->q_cond);
	while (s->count || s->inflight)
		pthread_cond_wait(&s->done_cond, &s->q_lock);
	s->flushers--;
	pthread_mutex_unlock(&s->q_lock);
}

void ad_store_stats(struct ad_store *s, struct ad_store_stats *out)
{
	if (!s || !out)
		return;
	pthread_mutex_lock(&s->q_lock);
	*out = s->st;
	pthread_mutex_unlock(&s->q_lock);
}

unsigned ad_store_test_migrations(struct ad_store *s)
{
	return s->migrations_run;
}

void ad_store_test_max_pages(struct ad_store *s, unsigned pages)
{
	pthread_mutex_lock(&s->db_lock);
	set_max_pages(s->db, pages);
	pthread_mutex_unlock(&s->db_lock);
	pthread_mutex_lock(&s->q_lock);
	s->wr_max_pages = pages; /* the writer applies it on its own connection */
	pthread_mutex_unlock(&s->q_lock);
}

void ad_store_test_hold_writer(struct ad_store *s, bool hold)
{
	pthread_mutex_lock(&s->q_lock);
	s->hold = hold;
	pthread_cond_signal(&s->q_cond);
	pthread_mutex_unlock(&s->q_lock);
}
