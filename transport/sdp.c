/*
 * SDP offer parser (see sdp.h). Each line is copied into a bounded,
 * NUL-terminated buffer and split in place, so no read goes past the
 * line. Anything tutti relies on (credentials, fingerprint, mid, BUNDLE)
 * is refused when it does not fit; what it does not use is skipped.
 * Negotiation and the answer writer live in sdp_answer.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "transport/sdp.h"

#define LINE_MAX_LEN 4096

_Static_assert(sizeof(((struct tp_sdp *)0)->ice_ufrag) ==
		       sizeof(((struct tp_sdp_media *)0)->ice_ufrag) &&
		   sizeof(((struct tp_sdp *)0)->fp) ==
		       sizeof(((struct tp_sdp_media *)0)->fp),
	       "session and media transport fields share sizes");

/* Where ICE/DTLS attributes go: the session or the current m-line. */
struct xport {
	char *ufrag, *pwd, *fp_alg, *fp, *setup;
};

struct parser {
	struct tp_sdp *s;
	struct tp_sdp_media *m; /* current m-line, NULL at session level */
	enum tp_sdp_dir sess_dir;
	unsigned lineno;
	char *err;
	size_t errlen;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int fail(struct parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Records "line N: reason" for the 400 body and returns EBADMSG. */
static int fail(struct parser *p, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	set_err(p->err, p->errlen, "line %u: %s", p->lineno, msg);
	return EBADMSG;
}

/* Splits off the next blank-separated token of *s, or NULL at the end. */
static char *tok(char **s)
{
	char *t = *s, *e;

	t += strspn(t, " \t");
	if (!*t) {
		*s = t;
		return NULL;
	}
	e = t + strcspn(t, " \t");
	if (*e)
		*e++ = '\0';
	*s = e;
	return t;
}

/* Decimal without sign or blanks, at most max. */
static bool parse_uint(const char *t, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!t || !*t)
		return false;
	for (; *t; t++) {
		if (*t < '0' || *t > '9')
			return false;
		v = v * 10 + (unsigned long)(*t - '0');
		if (v > max)
			return false;
	}
	*out = v;
	return true;
}

static bool copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n >= cap)
		return false;
	memcpy(dst, src, n + 1);
	return true;
}

/* RFC 8839 ice-char: ALPHA / DIGIT / "+" / "/". Anything else could
 * break the "local:remote" STUN username tutti demultiplexes on. */
static bool ice_chars(const char *v)
{
	for (; *v; v++) {
		char c = *v;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '+' || c == '/'))
			return false;
	}
	return true;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* "AB:CD:...": hex pairs separated by single colons. */
static bool hex_pairs(const char *v)
{
	for (;;) {
		if (!is_hex(v[0]) || !is_hex(v[1]))
			return false;
		v += 2;
		if (!*v)
			return true;
		if (*v++ != ':')
			return false;
	}
}

static bool parse_dir(const char *name, enum tp_sdp_dir *dir)
{
	static const char *const names[] = {
	    [TP_SDP_SENDRECV] = "sendrecv",
	    [TP_SDP_SENDONLY] = "sendonly",
	    [TP_SDP_RECVONLY] = "recvonly",
	    [TP_SDP_INACTIVE] = "inactive",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(name, names[i])) {
			*dir = (enum tp_sdp_dir)i;
			return true;
		}
	}
	return false;
}

static struct tp_sdp_codec *find_codec(struct tp_sdp_media *m, const char *pt_str)
{
	unsigned long pt;

	if (!m || !parse_uint(pt_str, 127, &pt))
		return NULL;
	for (size_t i = 0; i < m->n_codecs; i++) {
		if (m->codecs[i].pt == pt)
			return &m->codecs[i];
	}
	return NULL;
}

/* m=<media> <port>[/<n>] <proto> <fmt> ...: one codec slot per numeric
 * format, so attributes may come in any order (Firefox writes a=fmtp
 * before a=rtpmap); formats beyond TP_SDP_MAX_CODECS are ignored. */
static int parse_m(struct parser *p, char *v)
{
	struct tp_sdp_media *m;
	char *kind = tok(&v), *port = tok(&v), *proto = tok(&v), *slash, *t;
	unsigned long n;
	size_t len;

	if (p->s->n_media == TP_SDP_MAX_MEDIA)
		return fail(p, "more than %d m-lines", TP_SDP_MAX_MEDIA);
	v += strspn(v, " \t");
	if (!kind || !port || !proto || !*v)
		return fail(p, "m-line needs a media type, port, protocol and formats");
	m = &p->s->media[p->s->n_media++];
	p->m = m;
	m->dir = p->sess_dir;
	if (!copy_str(m->kind_name, sizeof(m->kind_name), kind))
		return fail(p, "m-line media type too long");
	if (!strcmp(kind, "audio"))
		m->kind = TP_SDP_AUDIO;
	else if (!strcmp(kind, "video"))
		m->kind = TP_SDP_VIDEO;
	else if (!strcmp(kind, "application"))
		m->kind = TP_SDP_APPLICATION;
	else
		m->kind = TP_SDP_OTHER;
	slash = strchr(port, '/');
	if (slash)
		*slash = '\0';
	if (!parse_uint(port, 65535, &n))
		return fail(p, "m-line port is not a number 0..65535");
	m->port = (uint16_t)n;
	if (!copy_str(m->proto, sizeof(m->proto), proto))
		return fail(p, "m-line protocol too long");
	len = strlen(v);
	if (len >= sizeof(m->fmt_list))
		return fail(p, "m-line format list too long");
	memcpy(m->fmt_list, v, len + 1);
	while ((t = tok(&v))) {
		if (m->n_codecs == TP_SDP_MAX_CODECS)
			break;
		if (!parse_uint(t, 127, &n) || find_codec(m, t))
			continue;
		m->codecs[m->n_codecs].pt = (uint8_t)n;
		m->codecs[m->n_codecs].apt = -1;
		m->n_codecs++;
	}
	return 0;
}

/* a=fingerprint:<alg> <hex pairs>. Several may be offered: the first
 * sha-256 one wins; an unusable other hash too long for the field is
 * skipped, a sha-256 one never. */
static int parse_fingerprint(struct parser *p, char *v, const struct xport *x)
{
	char *alg = tok(&v), *fp = tok(&v);

	if (!alg || !fp)
		return fail(p, "a=fingerprint needs a hash function and a value");
	for (char *c = alg; *c; c++) {
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	}
	if (!hex_pairs(fp))
		return fail(p,
			    "a=fingerprint value is not hex pairs separated by colons");
	if (!strcmp(x->fp_alg, "sha-256"))
		return 0;
	if (strlen(alg) >= sizeof(p->s->fp_alg) || strlen(fp) >= sizeof(p->s->fp)) {
		if (!strcmp(alg, "sha-256"))
			return fail(p, "a=fingerprint sha-256 value too long");
		return 0;
	}
	strcpy(x->fp_alg, alg);
	strcpy(x->fp, fp);
	return 0;
}

static int parse_bundle(struct parser *p, char *v)
{
	struct tp_sdp *s = p->s;
	char *sem = tok(&v), *mid;

	if (!sem || strcmp(sem, "BUNDLE") || s->n_bundle)
		return 0; /* other groups (LS, FID), or a second BUNDLE group */
	while ((mid = tok(&v))) {
		if (s->n_bundle == TP_SDP_MAX_BUNDLE)
			return fail(p, "a=group:BUNDLE lists more than %d mids",
				    TP_SDP_MAX_BUNDLE);
		if (!copy_str(s->bundle[s->n_bundle], sizeof(s->bundle[0]), mid))
			return fail(p, "a=group:BUNDLE mid too long (max %zu)",
				    sizeof(s->bundle[0]) - 1);
		s->n_bundle++;
	}
	return 0;
}

/* a=rtpmap:<pt> <name>/<clock>[/<channels>]. Malformed → ignored. */
static void parse_rtpmap(struct parser *p, char *v)
{
	struct tp_sdp_codec *c = find_codec(p->m, tok(&v));
	char *enc = tok(&v), *name, *clock, *ch;
	unsigned long rate, n = 0;

	if (!c || !enc)
		return;
	name = enc;
	clock = strchr(name, '/');
	if (!clock)
		return;
	*clock++ = '\0';
	ch = strchr(clock, '/');
	if (ch)
		*ch++ = '\0';
	if (!parse_uint(clock, UINT32_MAX, &rate) || (ch && !parse_uint(ch, 255, &n)))
		return;
	/* A name too long for the field is no codec tutti uses: leave it
	 * unnamed rather than truncated into something else. */
	if (!copy_str(c->name, sizeof(c->name), name))
		c->name[0] = '\0';
	c->clock = (uint32_t)rate;
	c->channels = (uint8_t)n;
}

/* a=fmtp:<pt> <params>. The rtx "apt=" is read even when the whole
 * value is too long to keep (then fmtp stays ""). */
static void parse_fmtp(struct parser *p, char *v)
{
	struct tp_sdp_codec *c = find_codec(p->m, tok(&v));
	unsigned long apt;
	char *param;

	if (!c)
		return;
	v += strspn(v, " \t");
	if (!copy_str(c->fmtp, sizeof(c->fmtp), v))
		c->fmtp[0] = '\0';
	while ((param = strsep(&v, ";"))) {
		param += strspn(param, " \t");
		if (!strncmp(param, "apt=", 4) && parse_uint(param + 4, 127, &apt))
			c->apt = (int)apt;
	}
}

/* a=rtcp-fb:<pt|*> <type> [<param>]: "*" applies to every codec. */
static void parse_rtcp_fb(struct parser *p, char *v)
{
	char *pt = tok(&v), *type = tok(&v), *param = tok(&v);
	struct tp_sdp_codec *one;
	size_t i, n;

	if (!p->m || !pt || !type)
		return;
	if (!strcmp(pt, "*")) {
		one = p->m->codecs;
		n = p->m->n_codecs;
	} else {
		one = find_codec(p->m, pt);
		n = one ? 1 : 0;
	}
	for (i = 0; i < n; i++) {
		struct tp_sdp_codec *c = &one[i];

		if (!strcmp(type, "nack") && !param)
			c->fb_nack = true;
		else if (!strcmp(type, "nack") && !strcmp(param, "pli"))
			c->fb_pli = true;
		else if (!strcmp(type, "ccm") && param && !strcmp(param, "fir"))
			c->fb_fir = true;
		else if (!strcmp(type, "goog-remb"))
			c->fb_remb = true;
		else if (!strcmp(type, "transport-cc"))
			c->fb_twcc = true;
	}
}

/* a=extmap:<id>[/<direction>] <uri> [<attributes>] (RFC 8285). */
static void parse_extmap(struct parser *p, char *v)
{
	struct tp_sdp_media *m = p->m;
	char *id_str = tok(&v), *uri = tok(&v), *slash;
	unsigned long id;

	if (!m || !id_str || !uri || m->n_ext == TP_SDP_MAX_EXT)
		return;
	slash = strchr(id_str, '/');
	if (slash)
		*slash = '\0';
	if (!parse_uint(id_str, 255, &id) || id == 0 ||
	    strlen(uri) >= sizeof(m->ext[0].uri))
		return;
	for (size_t i = 0; i < m->n_ext; i++) {
		if (m->ext[i].id == id)
			return;
	}
	m->ext[m->n_ext].id = (uint8_t)id;
	strcpy(m->ext[m->n_ext].uri, uri);
	m->n_ext++;
}

static void parse_ssrc(struct parser *p, char *v)
{
	struct tp_sdp_media *m = p->m;
	unsigned long id;

	if (!m || !parse_uint(tok(&v), UINT32_MAX, &id) || m->n_ssrc == TP_SDP_MAX_SSRC)
		return;
	for (size_t i = 0; i < m->n_ssrc; i++) {
		if (m->ssrc[i] == id)
			return;
	}
	m->ssrc[m->n_ssrc++] = (uint32_t)id;
}

/* Sets a credential/setup field that must not be truncated. */
static int set_field(struct parser *p, char *dst, size_t cap, const char *v,
		     const char *what, bool ice)
{
	if (!*v)
		return fail(p, "%s is empty", what);
	if (!copy_str(dst, cap, v))
		return fail(p, "%s too long (max %zu)", what, cap - 1);
	if (ice && !ice_chars(v))
		return fail(p, "%s has characters outside A-Z a-z 0-9 + /", what);
	return 0;
}

static int parse_a(struct parser *p, char *v)
{
	struct tp_sdp *s = p->s;
	struct tp_sdp_media *m = p->m;
	struct xport x =
	    m ? (struct xport){m->ice_ufrag, m->ice_pwd, m->fp_alg, m->fp, m->setup}
	      : (struct xport){s->ice_ufrag, s->ice_pwd, s->fp_alg, s->fp, s->setup};
	char *val = strchr(v, ':');
	enum tp_sdp_dir dir;

	if (val)
		*val++ = '\0';
	else
		val = v + strlen(v);
	if (!strcmp(v, "ice-ufrag"))
		return set_field(p, x.ufrag, sizeof(s->ice_ufrag), val, "a=ice-ufrag",
				 true);
	if (!strcmp(v, "ice-pwd"))
		return set_field(p, x.pwd, sizeof(s->ice_pwd), val, "a=ice-pwd", true);
	if (!strcmp(v, "setup"))
		return set_field(p, x.setup, sizeof(s->setup), val, "a=setup", false);
	if (!strcmp(v, "fingerprint"))
		return parse_fingerprint(p, val, &x);
	if (!strcmp(v, "group"))
		return parse_bundle(p, val);
	if (parse_dir(v, &dir)) {
		if (m)
			m->dir = dir;
		else
			p->sess_dir = dir;
		return 0;
	}
	if (!m)
		return 0; /* other session attributes: not needed */
	if (!strcmp(v, "mid"))
		return set_field(p, m->mid, sizeof(m->mid), val, "a=mid", false);
	if (!strcmp(v, "rtcp-mux"))
		m->rtcp_mux = true;
	else if (!strcmp(v, "rtcp-rsize"))
		m->rtcp_rsize = true;
	else if (!strcmp(v, "bundle-only"))
		m->bundle_only = true;
	else if (!strcmp(v, "rtpmap"))
		parse_rtpmap(p, val);
	else if (!strcmp(v, "fmtp"))
		parse_fmtp(p, val);
	else if (!strcmp(v, "rtcp-fb"))
		parse_rtcp_fb(p, val);
	else if (!strcmp(v, "extmap"))
		parse_extmap(p, val);
	else if (!strcmp(v, "ssrc"))
		parse_ssrc(p, val);
	else if (!strcmp(v, "msid") && !copy_str(m->msid, sizeof(m->msid), val))
		m->msid[0] = '\0'; /* informational only */
	return 0;
}

/* Media-level ICE/DTLS attributes fall back to the session level; mids
 * must be unique for BUNDLE and the answer to make sense. */
static int finish(struct parser *p)
{
	struct tp_sdp *s = p->s;

	for (size_t i = 0; i < s->n_media; i++) {
		struct tp_sdp_media *m = &s->media[i];

		if (!m->ice_ufrag[0])
			strcpy(m->ice_ufrag, s->ice_ufrag);
		if (!m->ice_pwd[0])
			strcpy(m->ice_pwd, s->ice_pwd);
		if (!m->fp_alg[0]) {
			strcpy(m->fp_alg, s->fp_alg);
			strcpy(m->fp, s->fp);
		}
		if (!m->setup[0])
			strcpy(m->setup, s->setup);
		for (size_t j = 0; j < i && m->mid[0]; j++) {
			if (!strcmp(m->mid, s->media[j].mid)) {
				set_err(p->err, p->errlen,
					"mid \"%s\" is used by two m-lines", m->mid);
				return EBADMSG;
			}
		}
	}
	return 0;
}

static int parse_line(struct parser *p, char *line)
{
	if (line[0] == 'm')
		return parse_m(p, line + 2);
	if (line[0] == 'a')
		return parse_a(p, line + 2);
	return 0; /* o=, s=, c=, t=, b=, ...: nothing tutti needs */
}

int tp_sdp_parse(struct tp_sdp *s, const char *text, size_t len, char *err, size_t errlen)
{
	struct parser p = {
	    .s = s, .sess_dir = TP_SDP_SENDRECV, .err = err, .errlen = errlen};
	char line[LINE_MAX_LEN + 1];
	const char *pos, *end;
	bool seen_v = false;
	int ret;

	if (!s || (!text && len))
		return EINVAL;
	pos = text ? text : "";
	end = pos + len;
	memset(s, 0, sizeof(*s));
	if (len > TP_SDP_MAX_LEN) {
		set_err(err, errlen, "offer too large (%zu bytes, max %d)", len,
			TP_SDP_MAX_LEN);
		return EBADMSG;
	}
	while (pos < end) {
		const char *nl = memchr(pos, '\n', (size_t)(end - pos));
		size_t n = (nl ? (size_t)(nl - pos) : (size_t)(end - pos));

		p.lineno++;
		line[0] = '\0';
		if (n > LINE_MAX_LEN + 1 || (n == LINE_MAX_LEN + 1 && pos[n - 1] != '\r'))
			return fail(&p, "line longer than %d bytes", LINE_MAX_LEN);
		memcpy(line, pos, n);
		pos += n + (nl ? 1 : 0);
		while (n &&
		       (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
			n--;
		line[n] = '\0';
		for (size_t i = 0; i < n; i++) {
			/* A stray CR or NUL could smuggle a line into the answer. */
			if ((unsigned char)line[i] < 0x20 && line[i] != '\t')
				return fail(&p, "control character in the offer");
		}
		if (!n)
			continue; /* blank lines, e.g. a trailing one */
		if (!seen_v) {
			if (strcmp(line, "v=0"))
				return fail(&p,
					    "not an SDP offer: it must start with v=0");
			seen_v = true;
			continue;
		}
		if (n < 2 || line[1] != '=' || line[0] < 'a' || line[0] > 'z')
			return fail(&p, "not an SDP line (<letter>=<value>)");
		ret = parse_line(&p, line);
		if (ret)
			return ret;
	}
	if (!seen_v) {
		set_err(err, errlen, "empty offer");
		return EBADMSG;
	}
	return finish(&p);
}
