/*
 * libFuzzer target for the admin API's request bodies (admin/json.c): the
 * bytes go through ad_json_object() as a POST or PATCH body would, and an
 * object through ad_room_from_json() both as a room to create and as a
 * change to a room. Whatever is accepted must be a valid room (the
 * mixer's own check) whose JSON form reads back, as a create body, to the
 * same room: that is what the store keeps and what a restart restores.
 * Refusals must say why. The first byte picks nothing: the whole input is
 * the body, as the server sees it (up to AD_MAX_BODY).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "admin/internal.h"

#define EXPECT(c)                                                                        \
	do {                                                                             \
		if (!(c))                                                                \
			abort();                                                         \
	} while (0)

/* The room's JSON form, parsed again as a create body, gives the same room. */
static void round_trip(const char *name, const struct mx_room_cfg *cfg)
{
	char back_name[MX_ROOM_NAME_MAX + 1];
	struct mx_room_cfg back;
	const char *why;
	json_t *j = ad_room_to_json(name, cfg), *o;
	char *text;

	EXPECT(j);
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	EXPECT(text);
	o = ad_json_object(text, strlen(text), &why);
	EXPECT(o && !why);
	mx_room_cfg_init(&back);
	EXPECT(ad_room_from_json(o, true, &back, back_name, &why) == 0 && !why);
	EXPECT(!strcmp(back_name, name));
	EXPECT(back.mode == cfg->mode && back.layout == cfg->layout && back.open == cfg->open &&
	       back.locked == cfg->locked && back.max_participants == cfg->max_participants &&
	       back.speakers == cfg->speakers && back.max_tiles == cfg->max_tiles &&
	       back.fps == cfg->fps && back.n_tiers == cfg->n_tiers);
	for (unsigned i = 0; i < cfg->n_tiers; i++)
		EXPECT(back.tiers[i].width == cfg->tiers[i].width &&
		       back.tiers[i].height == cfg->tiers[i].height &&
		       back.tiers[i].kbps == cfg->tiers[i].kbps);
	json_decref(o);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[MX_ROOM_NAME_MAX + 1];
	struct mx_room_cfg cfg;
	const char *why = NULL;
	json_t *j;

	if (size > AD_MAX_BODY)
		return 0;
	j = ad_json_object((const char *)data, size, &why);
	if (!j) {
		EXPECT(why && *why);
		return 0;
	}
	EXPECT(json_is_object(j) && !why);

	/* POST /api/v1/rooms */
	mx_room_cfg_init(&cfg);
	memset(name, 0x55, sizeof(name));
	if (ad_room_from_json(j, true, &cfg, name, &why) == 0) {
		EXPECT(!why && mx_room_name_valid(name));
		EXPECT(mx_room_cfg_check(&cfg, NULL) == 0);
		round_trip(name, &cfg);
	} else {
		EXPECT(why && *why);
	}

	/* PATCH /api/v1/rooms/{room}: over a default room */
	mx_room_cfg_init(&cfg);
	why = NULL;
	if (ad_room_from_json(j, false, &cfg, name, &why) == 0) {
		EXPECT(!why);
		EXPECT(mx_room_cfg_check(&cfg, NULL) == 0);
		round_trip("patched", &cfg);
	} else {
		EXPECT(why && *why);
	}
	json_decref(j);
	return 0;
}
