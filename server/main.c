/*
 * tutti: flags and environment, wiring of transport → mixer → admin,
 * signals, and a clean shutdown (participants get a BYE, sockets close,
 * exit 0).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin/admin.h"
#include "common/common.h"
#include "mixer/mixer.h"
#include "transport/transport.h"

struct config {
	const char *http;
	const char *media_port;
	const char *public_ip;
	const char *data_dir;
	const char *admin_key;
	const char *tls_cert;
	const char *tls_key;
	const char *log_level;
	const char *web_dir;
	const char *retention;
	const char *media_nice;
	const char *media_rt;
	const char *send_threads;
	bool demo;
	bool metrics_auth;
	const char *rec_retention;
	const char *ice_servers[5]; /* NULL-terminated */
	size_t n_ice;
};

static void usage(FILE *f)
{
	fputs("Usage: tutti [options]\n"
	      "An MCU media server: WebRTC in, one mixed audio and one composed video\n"
	      "stream out per participant.\n\n"
	      "  --http ADDR:PORT     HTTP listen address (TUTTI_HTTP, default 127.0.0.1:8080)\n"
	      "  --media-port PORT    UDP media port (TUTTI_MEDIA_PORT, default 10000)\n"
	      "  --public-ip IP       address put in ICE candidates (TUTTI_PUBLIC_IP,\n"
	      "                       default: the HTTP bind address)\n"
	      "  --data-dir DIR       state directory (TUTTI_DATA_DIR, default ./tutti-data)\n"
	      "  --admin-key KEY      admin API bearer key (TUTTI_ADMIN_KEY; default: made\n"
	      "                       at first start, stored in DIR/admin.key)\n"
	      "  --tls-cert FILE      serve HTTPS with this PEM certificate (TUTTI_TLS_CERT)\n"
	      "  --tls-key FILE       and this PEM key (TUTTI_TLS_KEY)\n"
	      "  --log-level LEVEL    error, warn, info or debug (TUTTI_LOG_LEVEL, default info)\n"
	      "  --web-dir DIR        the web client's files (TUTTI_WEB_DIR)\n"
	      "  --audit-retention-days N  keep the audit log N days, 0 = forever\n"
	      "                       (TUTTI_AUDIT_RETENTION_DAYS, default 90)\n"
	      "  --media-nice N       nice value of the media threads, -20..19; 0 leaves\n"
	      "                       them as they are (TUTTI_MEDIA_NICE, default -10;\n"
	      "                       needs root or CAP_SYS_NICE, else they run at 0)\n"
	      "  --media-rt PRIO      run the media threads SCHED_RR at PRIO, 1..99, instead\n"
	      "                       (TUTTI_MEDIA_RT, default 0: off; needs root,\n"
	      "                       CAP_SYS_NICE or RLIMIT_RTPRIO, else the nice value)\n"
	      "  --send-threads N     threads that share large rooms' sending with the\n"
	      "                       room threads, 0..64; 0: each room sends on its own\n"
	      "                       thread (TUTTI_SEND_THREADS, default: the online\n"
	      "                       CPUs minus 1, at most 8)\n"
	      "  --metrics-auth       /metrics wants the admin key (TUTTI_METRICS_AUTH=1)\n"
	      "  --recording-retention-days N  delete recordings after N days, 0 = keep\n"
	      "                       (TUTTI_RECORDING_RETENTION_DAYS, default 30)\n"
	      "  --ice-server URL     a STUN/TURN server (stun:host:port, turn:...) given to\n"
	      "                       WHIP/WHEP clients in Link headers; up to 4 times\n"
	      "  --demo               create an open room 'demo' (TUTTI_DEMO=1)\n"
	      "  --help               this text\n",
	      f);
}

static const char *env_or(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v && *v ? v : def;
}

/* Exit with one clear line. */
static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("tutti: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void parse_args(int argc, char **argv, struct config *c)
{
	enum { O_HTTP = 256, O_MEDIA, O_PUBLIC, O_DATA, O_KEY, O_CERT, O_TLSKEY,
	       O_LOG, O_WEB, O_RETENTION, O_NICE, O_RT, O_SEND_THREADS, O_METRICS_AUTH, O_ICE, O_REC_RETENTION, O_DEMO, O_HELP };
	static const struct option opts[] = {
		{ "http", required_argument, NULL, O_HTTP },
		{ "media-port", required_argument, NULL, O_MEDIA },
		{ "public-ip", required_argument, NULL, O_PUBLIC },
		{ "data-dir", required_argument, NULL, O_DATA },
		{ "admin-key", required_argument, NULL, O_KEY },
		{ "tls-cert", required_argument, NULL, O_CERT },
		{ "tls-key", required_argument, NULL, O_TLSKEY },
		{ "log-level", required_argument, NULL, O_LOG },
		{ "web-dir", required_argument, NULL, O_WEB },
		{ "audit-retention-days", required_argument, NULL, O_RETENTION },
		{ "media-nice", required_argument, NULL, O_NICE },
		{ "media-rt", required_argument, NULL, O_RT },
		{ "send-threads", required_argument, NULL, O_SEND_THREADS },
		{ "metrics-auth", no_argument, NULL, O_METRICS_AUTH },
		{ "ice-server", required_argument, NULL, O_ICE },
		{ "recording-retention-days", required_argument, NULL, O_REC_RETENTION },
		{ "demo", no_argument, NULL, O_DEMO },
		{ "help", no_argument, NULL, O_HELP },
		{ 0 },
	};
	int o;

	c->http = env_or("TUTTI_HTTP", "127.0.0.1:8080");
	c->media_port = env_or("TUTTI_MEDIA_PORT", "10000");
	c->public_ip = env_or("TUTTI_PUBLIC_IP", NULL);
	c->data_dir = env_or("TUTTI_DATA_DIR", "./tutti-data");
	c->admin_key = env_or("TUTTI_ADMIN_KEY", NULL);
	c->tls_cert = env_or("TUTTI_TLS_CERT", NULL);
	c->tls_key = env_or("TUTTI_TLS_KEY", NULL);
	c->log_level = env_or("TUTTI_LOG_LEVEL", "info");
	c->web_dir = env_or("TUTTI_WEB_DIR", NULL);
	c->retention = env_or("TUTTI_AUDIT_RETENTION_DAYS", "90");
	c->media_nice = env_or("TUTTI_MEDIA_NICE", "-10");
	c->media_rt = env_or("TUTTI_MEDIA_RT", "0");
	c->send_threads = env_or("TUTTI_SEND_THREADS", NULL);
	c->demo = !strcmp(env_or("TUTTI_DEMO", "0"), "1");
	c->metrics_auth = !strcmp(env_or("TUTTI_METRICS_AUTH", "0"), "1");
	c->rec_retention = env_or("TUTTI_RECORDING_RETENTION_DAYS", "30");

	opterr = 0;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case O_HTTP: c->http = optarg; break;
		case O_MEDIA: c->media_port = optarg; break;
		case O_PUBLIC: c->public_ip = optarg; break;
		case O_DATA: c->data_dir = optarg; break;
		case O_KEY: c->admin_key = optarg; break;
		case O_CERT: c->tls_cert = optarg; break;
		case O_TLSKEY: c->tls_key = optarg; break;
		case O_LOG: c->log_level = optarg; break;
		case O_WEB: c->web_dir = optarg; break;
		case O_RETENTION: c->retention = optarg; break;
		case O_NICE: c->media_nice = optarg; break;
		case O_RT: c->media_rt = optarg; break;
		case O_SEND_THREADS: c->send_threads = optarg; break;
		case O_METRICS_AUTH: c->metrics_auth = true; break;
		case O_REC_RETENTION: c->rec_retention = optarg; break;
		case O_ICE:
			if (c->n_ice == 4)
				die("at most 4 --ice-server");
			if (strncmp(optarg, "stun:", 5) && strncmp(optarg, "turn:", 5) &&
			    strncmp(optarg, "turns:", 6))
				die("--ice-server wants a stun:, turn: or turns: URL, not '%s'", optarg);
			if (strlen(optarg) > 250 || strpbrk(optarg, "<>\"\r\n \t"))
				die("--ice-server '%s': no spaces, quotes or angle brackets, 250 "
				    "characters at most", optarg);
			c->ice_servers[c->n_ice++] = optarg;
			break;
		case O_DEMO: c->demo = true; break;
		case O_HELP: usage(stdout); exit(0);
		default:
			die("unknown or incomplete option '%s' (see --help)",
			    argv[optind - 1]);
		}
	}
	if (optind < argc)
		die("unexpected argument '%s' (see --help)", argv[optind]);
}

/* Send threads by default: one per core beside a room thread's own, and
 * no more than a handful (a tick's fan-out is split in chunks of 32
 * receivers; past 8 helpers the hand-off outweighs the gain). */
static long default_send_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 1 ? CM_MIN(n - 1, 8) : 0;
}

/* The host part of "ip:port" or "[ipv6]:port". */
static void http_host(const char *http, char *out, size_t cap)
{
	const char *colon = strrchr(http, ':');
	size_t n = colon ? (size_t)(colon - http) : strlen(http);

	if (n >= 2 && http[0] == '[' && http[n - 1] == ']') {
		http++;
		n -= 2;
	}
	if (n >= cap)
		n = cap - 1;
	memcpy(out, http, n);
	out[n] = '\0';
}

/* Makes the data directory and checks that it is writable. */
static void prepare_data_dir(const char *dir)
{
	char probe[4096];
	int fd;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		die("cannot create data directory %s: %s", dir, strerror(errno));
	snprintf(probe, sizeof(probe), "%s/.write-test", dir);
	fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		die("data directory %s is not writable: %s", dir, strerror(errno));
	close(fd);
	unlink(probe);
}

/* The admin key: given, or read from DIR/admin.key, or made there (0600)
 * and printed once. */
static void admin_key(const struct config *c, char *key, size_t cap)
{
	char path[4096];
	FILE *f;
	int fd;

	if (c->admin_key) {
		if (strlen(c->admin_key) < 16 || strlen(c->admin_key) >= cap)
			die("the admin key must have 16 to %zu characters", cap - 1);
		strcpy(key, c->admin_key);
		return;
	}
	snprintf(path, sizeof(path), "%s/admin.key", c->data_dir);
	f = fopen(path, "r");
	if (f) {
		bool ok = fgets(key, (int)cap, f) != NULL;
		fclose(f);
		key[strcspn(key, "\r\n")] = '\0';
		if (!ok || strlen(key) < 16)
			die("%s holds no usable admin key (16 characters or more)", path);
		return;
	}
	cm_random_token(key, 40);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w")))
		die("cannot write %s: %s", path, strerror(errno));
	fprintf(f, "%s\n", key);
	fclose(f);
	fprintf(stderr, "tutti: a new admin key was made and stored in %s: %s\n", path,
		key);
}

int main(int argc, char **argv)
{
	struct config cfg = { 0 };
	struct tp_server *tp = NULL;
	struct mx_engine *mx = NULL;
	struct ad_server *ad = NULL;
	enum cm_log_level level;
	char host[64], key[128], public_url[160];
	char *end;
	long port, retention, nice, rec_retention, send_threads;
	sigset_t sigs;
	int sig, err;

	parse_args(argc, argv, &cfg);
	if (cm_log_parse_level(cfg.log_level, &level))
		die("bad log level '%s' (error, warn, info or debug)", cfg.log_level);
	cm_log_set_level(level);
	port = strtol(cfg.media_port, &end, 10);
	if (*end || port < 1 || port > 65535)
		die("bad media port '%s'", cfg.media_port);
	retention = strtol(cfg.retention, &end, 10);
	if (*end || retention < 0 || retention > 36500)
		die("bad audit retention '%s' (days, 0 to 36500)", cfg.retention);
	nice = strtol(cfg.media_nice, &end, 10);
	if (!*cfg.media_nice || *end || nice < -20 || nice > 19)
		die("bad media nice value '%s' (-20 to 19)", cfg.media_nice);
	cm_media_nice_set((int)nice);
	nice = strtol(cfg.media_rt, &end, 10);
	if (!*cfg.media_rt || *end || nice < 0 || nice > 99)
		die("bad media real-time priority '%s' (0 to 99)", cfg.media_rt);
	cm_media_rt_set((int)nice);
	send_threads = default_send_threads();
	if (cfg.send_threads) {
		send_threads = strtol(cfg.send_threads, &end, 10);
		if (!*cfg.send_threads || *end || send_threads < 0 || send_threads > 64)
			die("bad number of send threads '%s' (0 to 64)", cfg.send_threads);
	}
	rec_retention = strtol(cfg.rec_retention, &end, 10);
	if (!*cfg.rec_retention || *end || rec_retention < 0 || rec_retention > 36500)
		die("bad recording retention '%s' (days, 0 to 36500)", cfg.rec_retention);
	if ((cfg.tls_cert != NULL) != (cfg.tls_key != NULL))
		die("--tls-cert and --tls-key go together");
	prepare_data_dir(cfg.data_dir);
	admin_key(&cfg, key, sizeof(key));

	/* Signals are taken by sigwait below, in this thread only: block
	 * them before any other thread starts, so all inherit the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	http_host(cfg.http, host, sizeof(host));
	if (!cfg.public_ip && (!strcmp(host, "0.0.0.0") || !strcmp(host, "::")))
		die("--public-ip is needed when listening on all addresses (%s)",
		    cfg.http);
	err = tp_server_new(&tp, &(struct tp_server_config){
					 .bind_ip = host,
					 .port = (uint16_t)port,
					 .public_ip = cfg.public_ip,
				 });
	if (err)
		die("cannot open media port udp %s:%ld: %s", host, port, strerror(err));
	err = mx_engine_new(&mx, tp, (unsigned)send_threads);
	if (err)
		die("cannot start the mixer: %s", strerror(err));
	cm_info("server", "%ld send thread%s", send_threads, send_threads == 1 ? "" : "s");
	if (cfg.demo) {
		struct mx_room_cfg rc;
		mx_room_cfg_init(&rc);
		rc.open = true;
		mx_room_add(mx, "demo", &rc);
		cm_info("server", "open room 'demo' created");
	}
	snprintf(public_url, sizeof(public_url), "%s://%s", cfg.tls_cert ? "https" : "http",
		 cfg.http);
	err = ad_server_new(&ad,
			    &(struct ad_config){
				    .http_addr = cfg.http,
				    .web_dir = cfg.web_dir,
				    .admin_key = key,
				    .data_dir = cfg.data_dir,
				    .audit_retention_days = (unsigned)retention,
				    .public_url = public_url,
				    .tls_cert = cfg.tls_cert,
				    .tls_key = cfg.tls_key,
				    .metrics_auth = cfg.metrics_auth,
				    .ice_servers = cfg.ice_servers,
				    .recording_retention_days = (unsigned)rec_retention,
			    },
			    mx);
	if (err == EIO)
		die("cannot open the store in %s (see the error above)", cfg.data_dir);
	if (err == ENOTSUP)
		die("this libmicrohttpd has no TLS: run tutti behind a TLS reverse proxy");
	if (err == EBADMSG)
		die("cannot read the TLS certificate %s or key %s", cfg.tls_cert, cfg.tls_key);
	if (err)
		die("cannot listen on http %s: %s", cfg.http, strerror(err));
	cm_info("server", "tutti is up: http://%s/%s", cfg.http, cfg.demo ? "r/demo" : "");

	while (sigwait(&sigs, &sig) != 0 || (sig != SIGINT && sig != SIGTERM))
		;
	cm_info("server", "%s: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
	ad_server_set_draining(ad, true);
	ad_server_free(&ad);
	mx_engine_free(&mx);
	tp_server_free(&tp);
	cm_info("server", "bye");
	return 0;
}
