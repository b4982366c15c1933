/*
 * Recordings over the API. A room's recording starts and stops with
 * POST and DELETE on /api/v1/rooms/{room}/recording (admin or the room's
 * presenters); the files live in DATA_DIR/recordings/ as
 * {room}-{UTC time}.webm and are listed, downloaded and deleted under
 * /api/v1/recordings (admin). Files older than the retention period go
 * whenever recordings are listed or started. Start and stop are audited.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"
#include "admin/internal.h"
#include "mixer/record.h"

/* A recording's file name: [a-z0-9-]+ then .webm; nothing else is served. */
static bool name_ok(const char *n)
{
	size_t len = strlen(n);

	if (len < 6 || len > 120 || strcmp(n + len - 5, ".webm"))
		return false;
	for (size_t i = 0; i < len - 5; i++)
		if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= '0' && n[i] <= '9') || n[i] == '-'))
			return false;
	return true;
}

static int rec_dir(struct ad_server *s, char *out, size_t cap)
{
	if (!s->data_dir[0])
		return ENOENT;
	int n = snprintf(out, cap, "%s/recordings", s->data_dir);
	if (n < 0 || (size_t)n >= cap)
		return ENAMETOOLONG;
	if (mkdir(out, 0700) < 0 && errno != EEXIST)
		return errno;
	return 0;
}

/* Deletes recordings older than the retention period (0: keep all). */
static void prune(struct ad_server *s, const char *dir)
{
	DIR *d;
	struct dirent *e;
	time_t limit = time(NULL) - (time_t)s->recording_retention_days * 86400;

	if (!s->recording_retention_days || !(d = opendir(dir)))
		return;
	while ((e = readdir(d))) {
		char path[PATH_MAX];
		struct stat st;
		if (!name_ok(e->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) == 0 && st.st_mtime < limit && unlink(path) == 0)
			cm_info("admin", "recording %s deleted (older than %u days)", e->d_name,
				s->recording_retention_days);
	}
	closedir(d);
}

enum MHD_Result ad_room_recording(struct ad_server *s, struct MHD_Connection *c,
				  const char *method, const char *room)
{
	char dir[PATH_MAX], path[PATH_MAX + 160], name[160], stamp[32];
	enum MHD_Result ret;
	struct mx_rec_info info;
	time_t now = time(NULL);
	struct tm tm;
	int err;

	if (strcmp(method, "POST") && strcmp(method, "DELETE"))
		return ad_reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
				      "use POST (start) or DELETE (stop)");
	if (!ad_check_presenter(s, c, room, &ret))
		return ret;
	if (!strcmp(method, "DELETE")) {
		err = mx_record_stop(s->mx, room, &info);
		if (err)
			return ad_reply_error(c, MHD_HTTP_NOT_FOUND, "not_recording",
					      "the room is not being recorded");
		ad_audit(s, c, "recording.stop", room, NULL);
		return ad_reply_json(c, MHD_HTTP_OK,
				     json_pack("{s:I,s:I,s:I,s:I,s:b}", "duration_ms",
					       (json_int_t)info.duration_ms, "bytes",
					       (json_int_t)info.bytes, "video_frames",
					       (json_int_t)info.video_frames, "audio_packets",
					       (json_int_t)info.audio_packets, "complete",
					       info.ok && !info.dropped));
	}
	if ((err = rec_dir(s, dir, sizeof(dir))))
		return ad_reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "no_storage",
				      "recordings need a writable data directory");
	prune(s, dir);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	snprintf(name, sizeof(name), "%s-%s.webm", room, stamp);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	err = mx_record_start(s->mx, room, path);
	switch (err) {
	case 0:
		break;
	case ENOENT:
		return ad_reply_error(c, MHD_HTTP_NOT_FOUND, "room_not_found", "no such room");
	case EAGAIN:
		return ad_reply_error(c, MHD_HTTP_CONFLICT, "room_empty",
				      "nobody is in the room: nothing to record");
	case EALREADY:
		return ad_reply_error(c, MHD_HTTP_CONFLICT, "already_recording",
				      "the room is being recorded");
	default:
		return ad_reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "no_storage",
				      "the recording file cannot be made");
	}
	ad_audit(s, c, "recording.start", room, name);
	return ad_reply_json(c, MHD_HTTP_CREATED, json_pack("{s:s,s:s}", "name", name, "url",
							    "/api/v1/recordings/"));
}

enum MHD_Result ad_recordings(struct ad_server *s, struct MHD_Connection *c,
			      const char *method, const char *name)
{
	char dir[PATH_MAX], path[PATH_MAX + 300];
	enum MHD_Result ret;
	struct stat st;

	if (!ad_check_admin(s, c, &ret))
		return ret;
	if (rec_dir(s, dir, sizeof(dir)))
		return ad_reply_error(c, MHD_HTTP_NOT_FOUND, "not_found", "no recordings");
	if (!name) {
		if (strcmp(method, "GET"))
			return ad_reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED,
					      "method_not_allowed", "use GET");
		prune(s, dir);
		json_t *a = json_array();
		DIR *d = opendir(dir);
		struct dirent *e;
		while (d && a && (e = readdir(d))) {
			if (!name_ok(e->d_name))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			if (stat(path, &st))
				continue;
			char when[32];
			struct tm tm;
			gmtime_r(&st.st_mtime, &tm);
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
			json_array_append_new(a, json_pack("{s:s,s:I,s:s}", "name", e->d_name,
							   "bytes", (json_int_t)st.st_size,
							   "modified", when));
		}
		if (d)
			closedir(d);
		return ad_reply_json(c, MHD_HTTP_OK, json_pack("{s:o}", "recordings", a));
	}
	if (!name_ok(name))
		return ad_reply_error(c, MHD_HTTP_NOT_FOUND, "recording_not_found",
				      "no such recording");
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!strcmp(method, "DELETE")) {
		if (unlink(path))
			return ad_reply_error(c, MHD_HTTP_NOT_FOUND, "recording_not_found",
					      "no such recording");
		ad_audit(s, c, "recording.delete", NULL, name);
		return ad_reply(c, MHD_HTTP_NO_CONTENT, NULL, "", 0);
	}
	if (strcmp(method, "GET"))
		return ad_reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
				      "use GET or DELETE");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		if (fd >= 0)
			close(fd);
		return ad_reply_error(c, MHD_HTTP_NOT_FOUND, "recording_not_found",
				      "no such recording");
	}
	struct MHD_Response *r = MHD_create_response_from_fd64((uint64_t)st.st_size, fd);
	if (!r) {
		close(fd);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "video/webm");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}
