/*
 * The web client's files from web/: "/" → index.html, "/r/{room}" →
 * room.html, "/static/{file}" → that file. File names are checked
 * against a strict pattern, so no path can leave web/.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "admin/internal.h"

#define MAX_FILE (1 << 20)

static const char *mime_of(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (!dot)
		return "application/octet-stream";
	if (!strcmp(dot, ".html"))
		return "text/html; charset=utf-8";
	if (!strcmp(dot, ".js") || !strcmp(dot, ".mjs"))
		return "text/javascript; charset=utf-8";
	if (!strcmp(dot, ".css"))
		return "text/css; charset=utf-8";
	if (!strcmp(dot, ".svg"))
		return "image/svg+xml";
	if (!strcmp(dot, ".png"))
		return "image/png";
	if (!strcmp(dot, ".ico"))
		return "image/x-icon";
	return "application/octet-stream";
}

/* [A-Za-z0-9_-] and single dots, not first: no "..", no "/", no hidden. */
static bool safe_name(const char *n)
{
	size_t len = strlen(n);

	if (len == 0 || len > 64 || n[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = n[i];
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' ||
			  (ch == '.' && n[i - 1] != '.');
		if (!ok)
			return false;
	}
	return true;
}

static enum MHD_Result send_file(struct ad_server *s, struct MHD_Connection *c,
				 const char *name)
{
	char path[PATH_MAX + 80];
	FILE *f;
	char *buf;
	size_t n;
	enum MHD_Result ret;

	snprintf(path, sizeof(path), "%s/%s", s->web_dir, name);
	f = fopen(path, "rb");
	if (!f)
		return ad_reply_error(c, MHD_HTTP_NOT_FOUND, "not_found", "no such file");
	buf = malloc(MAX_FILE);
	n = buf ? fread(buf, 1, MAX_FILE, f) : 0;
	fclose(f);
	if (!buf)
		return MHD_NO;
	ret = ad_reply(c, MHD_HTTP_OK, mime_of(name), buf, n);
	free(buf);
	return ret;
}

bool ad_static(struct ad_server *s, struct MHD_Connection *c, const char *url,
	       enum MHD_Result *ret)
{
	if (!strcmp(url, "/") || !strcmp(url, "/index.html")) {
		*ret = send_file(s, c, "index.html");
		return true;
	}
	if (!strncmp(url, "/r/", 3)) {
		if (!mx_room_name_valid(url + 3) || !mx_room_exists(s->mx, url + 3)) {
			/* A person typed this: answer with a page. */
			static const char page[] =
				"<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">"
				"<title>No such room - tutti</title>"
				"<link rel=\"stylesheet\" href=\"/static/tutti.css\">"
				"<main><h1>No such room</h1><p>Check the link you were "
				"given, or <a href=\"/\">pick a room</a>.</p></main></html>";
			*ret = ad_reply(c, MHD_HTTP_NOT_FOUND, "text/html; charset=utf-8", page,
					sizeof(page) - 1);
		}
		else
			*ret = send_file(s, c, "room.html");
		return true;
	}
	if (!strncmp(url, "/static/", 8)) {
		if (!safe_name(url + 8))
			*ret = ad_reply_error(c, MHD_HTTP_NOT_FOUND, "not_found",
					      "no such file");
		else
			*ret = send_file(s, c, url + 8);
		return true;
	}
	return false;
}
