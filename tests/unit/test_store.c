/*
 * The SQLite store (admin/store.c): rooms survive a restart, the audit log
 * is written off the caller's thread and pruned, failures are EIO and
 * never crashes. Each case works in its own directory under /tmp.
 */
#include <errno.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "admin/store.h"
#include "check.h"

static char g_dir[64];
static char g_db[128];

static void tmp_make(void)
{
	strcpy(g_dir, "/tmp/tutti-store-XXXXXX");
	if (!mkdtemp(g_dir)) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(g_db, sizeof(g_db), "%s/tutti.db", g_dir);
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void tmp_remove(void)
{
	nftw(g_dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* Runs SQL on the database behind the store's back, as another process would. */
static int raw_sql(const char *sql)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open(g_db, &db);

	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

static int raw_user_version(void)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int v = -1;

	if (sqlite3_open(g_db, &db) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "PRAGMA user_version;", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* Rooms as "name=json;name=json;" in the order the store gives them. */
static void rooms_cb(void *arg, const char *name, const char *json)
{
	char *buf = arg;
	size_t n = strlen(buf);

	snprintf(buf + n, 1024 - n, "%s=%s;", name, json);
}

static char *rooms_of(struct ad_store *s, int *err)
{
	static char buf[1024];

	buf[0] = '\0';
	*err = ad_store_rooms_load(s, rooms_cb, buf);
	return buf;
}

struct audit_rows {
	size_t n;
	int64_t last_id;
	bool descending;
	char first_detail[600], last_detail[600];
	char ts[32], actor[100], action[80], room[80], addr[80];
	bool room_null, detail_null, addr_null;
};

static void audit_cb(void *arg, int64_t id, const char *ts, const char *actor,
		     const char *action, const char *room, const char *detail,
		     const char *addr)
{
	struct audit_rows *r = arg;

	if (r->n == 0) {
		r->descending = true;
		snprintf(r->ts, sizeof(r->ts), "%s", ts);
		snprintf(r->actor, sizeof(r->actor), "%s", actor);
		snprintf(r->action, sizeof(r->action), "%s", action);
		snprintf(r->room, sizeof(r->room), "%s", room ? room : "");
		snprintf(r->addr, sizeof(r->addr), "%s", addr ? addr : "");
		snprintf(r->first_detail, sizeof(r->first_detail), "%s",
			 detail ? detail : "");
		r->room_null = !room;
		r->detail_null = !detail;
		r->addr_null = !addr;
	} else if (id >= r->last_id) {
		r->descending = false;
	}
	snprintf(r->last_detail, sizeof(r->last_detail), "%s", detail ? detail : "");
	r->last_id = id;
	r->n++;
}

static struct ad_store *open_store(unsigned retention_days)
{
	struct ad_store *s = NULL;
	int err = ad_store_open(&s, g_dir, retention_days);

	CHECK_EQ(err, 0);
	return s;
}

static void rooms_survive_close_and_reopen_in_creation_order(void)
{
	struct ad_store *s;
	int err;

	tmp_make();
	s = open_store(0);
	CHECK_EQ(ad_store_room_insert(s, "zeta", "{\"mode\":\"audio\"}"), 0);
	CHECK_EQ(ad_store_room_insert(s, "alpha", "{\"mode\":\"video\"}"), 0);
	CHECK_EQ(ad_store_room_insert(s, "mid", "{}"), 0);
	ad_store_close(&s);
	CHECK(s == NULL);

	s = open_store(0);
	CHECK(!strcmp(rooms_of(s, &err),
		      "zeta={\"mode\":\"audio\"};alpha={\"mode\":\"video\"};mid={};"));
	CHECK_EQ(err, 0);
	ad_store_close(&s);
	tmp_remove();
}

static void room_update_replaces_the_definition_and_keeps_its_place(void)
{
	struct ad_store *s;
	int err;

	tmp_make();
	s = open_store(0);
	CHECK_EQ(ad_store_room_insert(s, "a", "{\"v\":1}"), 0);
	CHECK_EQ(ad_store_room_insert(s, "b", "{\"v\":1}"), 0);
	CHECK_EQ(ad_store_room_update(s, "a", "{\"v\":2}"), 0);
	ad_store_close(&s);
	s = open_store(0);
	CHECK(!strcmp(rooms_of(s, &err), "a={\"v\":2};b={\"v\":1};"));
	ad_store_close(&s);
	tmp_remove();
}

static void room_delete_removes_that_room_and_a_new_one_goes_last(void)
{
	struct ad_store *s;
	int err;

	tmp_make();
	s = open_store(0);
	CHECK_EQ(ad_store_room_insert(s, "a", "{}"), 0);
	CHECK_EQ(ad_store_room_insert(s, "b", "{}"), 0);
	CHECK_EQ(ad_store_room_delete(s, "a"), 0);
	CHECK(!strcmp(rooms_of(s, &err), "b={};"));
	CHECK_EQ(ad_store_room_insert(s, "a", "{\"again\":true}"), 0);
	ad_store_close(&s);
	s = open_store(0);
	CHECK(!strcmp(rooms_of(s, &err), "b={};a={\"again\":true};"));
	ad_store_close(&s);
	tmp_remove();
}

static void existing_name_is_eexist_and_missing_room_is_enoent(void)
{
	struct ad_store *s;
	int err;

	tmp_make();
	s = open_store(0);
	CHECK_EQ(ad_store_room_insert(s, "a", "{\"first\":1}"), 0);
	CHECK_EQ(ad_store_room_insert(s, "a", "{\"second\":1}"), EEXIST);
	CHECK_EQ(ad_store_room_update(s, "nope", "{}"), ENOENT);
	CHECK_EQ(ad_store_room_delete(s, "nope"), ENOENT);
	CHECK(!strcmp(rooms_of(s, &err), "a={\"first\":1};"));
	struct ad_store_stats st;
	ad_store_stats(s, &st);
	CHECK(st.healthy); /* a refused request is no storage failure */
	CHECK_EQ(st.write_errors, 0);
	ad_store_close(&s);
	tmp_remove();
}

static void oversized_or_empty_room_texts_are_einval(void)
{
	struct ad_store *s;
	char name[AD_STORE_NAME_MAX + 2];
	char *json = malloc(AD_STORE_JSON_MAX + 2);
	int err;

	tmp_make();
	s = open_store(0);
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	memset(json, ' ', AD_STORE_JSON_MAX + 1);
	json[0] = '{';
	json[AD_STORE_JSON_MAX] = '}';
	json[AD_STORE_JSON_MAX + 1] = '\0';
	CHECK_EQ(ad_store_room_insert(s, name, "{}"), EINVAL);
	CHECK_EQ(ad_store_room_insert(s, "", "{}"), EINVAL);
	CHECK_EQ(ad_store_room_insert(s, "a", json), EINVAL);
	CHECK_EQ(ad_store_room_insert(s, "a", ""), EINVAL);
	name[AD_STORE_NAME_MAX] = '\0'; /* exactly the limit is fine */
	CHECK_EQ(ad_store_room_insert(s, name, "{}"), 0);
	CHECK_EQ(ad_store_room_update(s, "a", NULL), EINVAL);
	CHECK_EQ(ad_store_room_delete(s, NULL), EINVAL);
	CHECK(strlen(rooms_of(s, &err)) == AD_STORE_NAME_MAX + 4);
	ad_store_close(&s);
	free(json);
	tmp_remove();
}

static void audit_rows_appear_after_flush_newest_first_with_their_fields(void)
{
	struct audit_rows r = {0};
	struct ad_store_stats st;
	struct ad_store *s;

	tmp_make();
	s = open_store(30);
	ad_store_audit(s, "admin", "room.create", "demo", "mode=audio", "127.0.0.1");
	ad_store_audit(s, "participant:p1", "participant.join", "demo", NULL, "::1");
	ad_store_audit(s, "system", "room.delete", NULL, NULL, NULL);
	ad_store_audit_flush(s);
	CHECK_EQ(ad_store_audit_read(s, 100, audit_cb, &r), 0);
	CHECK_EQ(r.n, 3);
	CHECK(r.descending);
	CHECK(!strcmp(r.actor, "system"));
	CHECK(!strcmp(r.action, "room.delete"));
	CHECK(r.room_null && r.detail_null && r.addr_null);
	CHECK(!strcmp(r.last_detail, "mode=audio")); /* the oldest comes last */
	/* "2026-11-25T16:56:07.123Z" */
	CHECK_EQ(strlen(r.ts), 24);
	CHECK(r.ts[10] == 'T' && r.ts[19] == '.' && r.ts[23] == 'Z');

	memset(&r, 0, sizeof(r));
	CHECK_EQ(ad_store_audit_read(s, 2, audit_cb, &r), 0);
	CHECK_EQ(r.n, 2);
	CHECK(!strcmp(r.last_detail, "")); /* the join row, not the create */

	ad_store_stats(s, &st);
	CHECK_EQ(st.audit_written, 3);
	CHECK_EQ(st.audit_dropped, 0);
	CHECK(st.healthy);
	ad_store_close(&s);

	memset(&r, 0, sizeof(r));
	s = open_store(30);
	CHECK_EQ(ad_store_audit_read(s, 100, audit_cb, &r), 0);
	CHECK_EQ(r.n, 3); /* written rows survive a restart */
	ad_store_close(&s);
	tmp_remove();
}

static void audit_texts_are_cut_to_their_bounds_on_a_character_edge(void)
{
	struct audit_rows r = {0};
	char detail[AD_STORE_DETAIL_MAX + 100];
	struct ad_store *s;

	tmp_make();
	s = open_store(0);
	/* 511 ASCII bytes, then a two-byte character across the limit */
	memset(detail, 'x', sizeof(detail) - 1);
	detail[sizeof(detail) - 1] = '\0';
	memcpy(detail + AD_STORE_DETAIL_MAX - 1, "\xc3\xa9", 2);
	ad_store_audit(s, "admin", "room.create", "demo", detail, NULL);
	ad_store_audit_flush(s);
	CHECK_EQ(ad_store_audit_read(s, 1, audit_cb, &r), 0);
	CHECK_EQ(strlen(r.first_detail), AD_STORE_DETAIL_MAX - 1);
	ad_store_close(&s);
	tmp_remove();
}

static void audit_rows_past_retention_are_gone_after_reopen(void)
{
	struct audit_rows r = {0};
	char sql[256], recent[32];
	struct ad_store *s;
	time_t t = time(NULL) - 2 * 86400;
	struct tm tm;

	tmp_make();
	s = open_store(30);
	ad_store_close(&s);
	gmtime_r(&t, &tm);
	strftime(recent, sizeof(recent), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
	snprintf(sql, sizeof(sql),
		 "INSERT INTO audit(ts, actor, action, detail) VALUES"
		 " ('2001-01-01T00:00:00.000Z', 'admin', 'room.create', 'old'),"
		 " ('%s', 'admin', 'room.create', 'recent');",
		 recent);
	CHECK_EQ(raw_sql(sql), SQLITE_OK);

	s = open_store(0); /* 0 keeps everything */
	CHECK_EQ(ad_store_audit_read(s, 10, audit_cb, &r), 0);
	CHECK_EQ(r.n, 2);
	ad_store_close(&s);

	memset(&r, 0, sizeof(r));
	s = open_store(30);
	CHECK_EQ(ad_store_audit_read(s, 10, audit_cb, &r), 0);
	CHECK_EQ(r.n, 1);
	CHECK(!strcmp(r.first_detail, "recent"));
	ad_store_close(&s);

	memset(&r, 0, sizeof(r));
	s = open_store(1);
	CHECK_EQ(ad_store_audit_read(s, 10, audit_cb, &r), 0);
	CHECK_EQ(r.n, 0); /* two days old is past one day */
	ad_store_close(&s);
	tmp_remove();
}

static void schema_is_version_1_and_a_current_file_is_not_migrated_again(void)
{
	struct ad_store *s;
	int err;

	tmp_make();
	s = open_store(0);
	CHECK_EQ(ad_store_test_migrations(s), 1);
	CHECK_EQ(ad_store_room_insert(s, "kept", "{}"), 0);
	ad_store_close(&s);
	CHECK_EQ(raw_user_version(), 1);

	s = open_store(0);
	CHECK_EQ(ad_store_test_migrations(s), 0);
	CHECK(!strcmp(rooms_of(s, &err), "kept={};"));
	ad_store_close(&s);
	CHECK_EQ(raw_user_version(), 1);
	tmp_remove();
}

static void a_newer_schema_than_this_build_is_eio(void)
{
	struct ad_store *s = NULL;

	tmp_make();
	s = open_store(0);
	ad_store_close(&s);
	CHECK_EQ(raw_sql("PRAGMA user_version = 99;"), SQLITE_OK);
	CHECK_EQ(ad_store_open(&s, g_dir, 0), EIO);
	CHECK(s == NULL);
	tmp_remove();
}

static void database_file_is_created_owner_only(void)
{
	struct ad_store *s;
	struct stat sb;

	tmp_make();
	s = open_store(0);
	CHECK_EQ(stat(g_db, &sb), 0);
	CHECK_EQ(sb.st_mode & 0777, 0600);
	ad_store_close(&s);
	chmod(g_db, 0644); /* loosened behind our back: tightened at open */
	s = open_store(0);
	CHECK_EQ(stat(g_db, &sb), 0);
	CHECK_EQ(sb.st_mode & 0777, 0600);
	ad_store_close(&s);
	tmp_remove();
}

/* Root ignores directory permissions, so a file stands where the data
 * directory should be: nothing can be created under it. */
static void unusable_data_directory_is_eio_not_a_crash(void)
{
	struct ad_store *s = (struct ad_store *)1;
	char path[128];
	FILE *f;

	tmp_make();
	snprintf(path, sizeof(path), "%s/file", g_dir);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f)
		fclose(f);
	CHECK_EQ(ad_store_open(&s, path, 0), EIO);
	CHECK(s == NULL);
	CHECK_EQ(ad_store_open(&s, "/nonexistent-tutti/dir", 0), EIO);
	CHECK_EQ(ad_store_open(&s, "", 0), EINVAL);
	tmp_remove();
}

static void a_file_that_is_no_database_is_eio(void)
{
	struct ad_store *s = NULL;
	FILE *f;

	tmp_make();
	f = fopen(g_db, "w");
	CHECK(f != NULL);
	if (f) {
		for (int i = 0; i < 200; i++)
			fputs("this is not an SQLite database, just text\n", f);
		fclose(f);
	}
	CHECK_EQ(ad_store_open(&s, g_dir, 0), EIO);
	CHECK(s == NULL);
	tmp_remove();
}

static void full_disk_on_room_insert_is_eio_and_reads_still_work(void)
{
	struct ad_store_stats st;
	struct ad_store *s;
	char *json = malloc(60 * 1024);
	char name[32];
	int err = 0, i;

	tmp_make();
	s = open_store(0);
	CHECK_EQ(ad_store_room_insert(s, "first", "{}"), 0);
	memset(json, ' ', 60 * 1024 - 1);
	json[0] = '{';
	json[60 * 1024 - 2] = '}';
	json[60 * 1024 - 1] = '\0';
	ad_store_test_max_pages(s, 1); /* no room to grow: a full disk */
	for (i = 0; i < 50 && !err; i++) {
		snprintf(name, sizeof(name), "big%d", i);
		err = ad_store_room_insert(s, name, json);
	}
	CHECK_EQ(err, EIO);
	ad_store_stats(s, &st);
	CHECK(!st.healthy);
	CHECK(st.write_errors >= 1);
	CHECK(!strncmp(rooms_of(s, &err), "first={};", 9));
	CHECK_EQ(err, 0);

	ad_store_test_max_pages(s, 0); /* space again */
	CHECK_EQ(ad_store_room_insert(s, "after", "{}"), 0);
	ad_store_stats(s, &st);
	CHECK(st.healthy);
	ad_store_close(&s);
	free(json);
	tmp_remove();
}

static void failed_audit_batch_is_counted_and_marks_the_store_unhealthy(void)
{
	char detail[AD_STORE_DETAIL_MAX + 1];
	struct ad_store_stats st;
	struct ad_store *s;

	tmp_make();
	s = open_store(0);
	memset(detail, 'd', AD_STORE_DETAIL_MAX);
	detail[AD_STORE_DETAIL_MAX] = '\0';
	ad_store_test_max_pages(s, 1);
	ad_store_test_hold_writer(s, true); /* one batch, all or nothing */
	for (int i = 0; i < 200; i++)
		ad_store_audit(s, "admin", "room.create", "demo", detail, NULL);
	ad_store_audit_flush(s);
	ad_store_stats(s, &st);
	CHECK_EQ(st.audit_written, 0);
	CHECK_EQ(st.audit_dropped, 200);
	CHECK(st.write_errors >= 1);
	CHECK(!st.healthy);
	ad_store_close(&s);
	tmp_remove();
}

static void full_audit_queue_drops_the_oldest_and_counts_them(void)
{
	struct audit_rows r = {0};
	struct ad_store_stats st;
	struct ad_store *s;
	char detail[16];

	tmp_make();
	s = open_store(0);
	ad_store_test_hold_writer(s, true);
	for (int i = 0; i < AD_STORE_AUDIT_QUEUE + 5; i++) {
		snprintf(detail, sizeof(detail), "n=%d", i);
		ad_store_audit(s, "participant:x", "participant.join", "demo", detail,
			       "10.0.0.1");
	}
	ad_store_stats(s, &st);
	CHECK_EQ(st.audit_dropped, 5);
	CHECK_EQ(st.audit_written, 0);
	ad_store_audit_flush(s);
	CHECK_EQ(ad_store_audit_read(s, 100000, audit_cb, &r), 0);
	CHECK_EQ(r.n, AD_STORE_AUDIT_QUEUE);
	CHECK(r.descending);
	CHECK(!strcmp(r.last_detail, "n=5"));
	snprintf(detail, sizeof(detail), "n=%d", AD_STORE_AUDIT_QUEUE + 4);
	CHECK(!strcmp(r.first_detail, detail));
	ad_store_stats(s, &st);
	CHECK_EQ(st.audit_written, AD_STORE_AUDIT_QUEUE);
	ad_store_close(&s);
	tmp_remove();
}

static void close_writes_what_is_still_queued(void)
{
	struct audit_rows r = {0};
	struct ad_store *s;

	tmp_make();
	s = open_store(0);
	ad_store_test_hold_writer(s, true);
	for (int i = 0; i < 10; i++)
		ad_store_audit(s, "admin", "participant.mute", "demo", NULL, NULL);
	ad_store_close(&s);
	s = open_store(0);
	CHECK_EQ(ad_store_audit_read(s, 100, audit_cb, &r), 0);
	CHECK_EQ(r.n, 10);
	ad_store_close(&s);
	tmp_remove();
}

int main(void)
{
	RUN(rooms_survive_close_and_reopen_in_creation_order);
	RUN(room_update_replaces_the_definition_and_keeps_its_place);
	RUN(room_delete_removes_that_room_and_a_new_one_goes_last);
	RUN(existing_name_is_eexist_and_missing_room_is_enoent);
	RUN(oversized_or_empty_room_texts_are_einval);
	RUN(audit_rows_appear_after_flush_newest_first_with_their_fields);
	RUN(audit_texts_are_cut_to_their_bounds_on_a_character_edge);
	RUN(audit_rows_past_retention_are_gone_after_reopen);
	RUN(schema_is_version_1_and_a_current_file_is_not_migrated_again);
	RUN(a_newer_schema_than_this_build_is_eio);
	RUN(database_file_is_created_owner_only);
	RUN(unusable_data_directory_is_eio_not_a_crash);
	RUN(a_file_that_is_no_database_is_eio);
	RUN(full_disk_on_room_insert_is_eio_and_reads_still_work);
	RUN(failed_audit_batch_is_counted_and_marks_the_store_unhealthy);
	RUN(full_audit_queue_drops_the_oldest_and_counts_them);
	RUN(close_writes_what_is_still_queued);
	return check_report();
}
