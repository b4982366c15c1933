/*
 * Join tokens: round trips, a vector made by an independent implementation,
 * forged, tampered, expired and malformed tokens, and the key file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/common.h"
#include "admin/jwt.h"
#include "check.h"

#define NOW 1700000000LL

static const uint8_t key[AD_JWT_KEY_LEN] = "tutti-jwt-test-vector-key-32byt";
static const uint8_t key2[AD_JWT_KEY_LEN] = "another-key-another-key-another";

static struct ad_token good(void)
{
	struct ad_token t = {
	    .room = "demo-1",
	    .role = AD_ROLE_PRESENTER,
	    .name = "Zo\xc3\xab \"the\" \\ O'Brien",
	    .iat = NOW,
	    .exp = NOW + 3600,
	    .jti = "AbCdEf0123456789AbCdEf0123456789",
	};
	return t;
}

static int verify(const char *jwt, struct ad_token *t)
{
	return ad_jwt_verify(key, jwt, strlen(jwt), NOW + 10, t);
}

/* Signs a hand-written header and payload with the test key. */
static int verify_raw(const char *header, const char *payload)
{
	char jwt[AD_JWT_MAX * 2];
	struct ad_token t;

	if (ad_jwt_sign_raw(key, header, strlen(header), payload, strlen(payload), jwt,
			    sizeof(jwt)))
		return -1;
	return verify(jwt, &t);
}

static int verify_claims(const char *payload)
{
	return verify_raw("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload);
}

static void test_round_trip(void)
{
	struct ad_token t = good(), back;
	char jwt[AD_JWT_MAX];

	CHECK_EQ(ad_jwt_sign(key, &t, jwt, sizeof(jwt)), 0);
	CHECK_EQ(verify(jwt, &back), 0);
	CHECK(!strcmp(back.room, t.room) && !strcmp(back.name, t.name));
	CHECK(!strcmp(back.jti, t.jti));
	CHECK_EQ(back.role, AD_ROLE_PRESENTER);
	CHECK_EQ(back.iat, t.iat);
	CHECK_EQ(back.exp, t.exp);

	t.role = AD_ROLE_ATTENDEE;
	CHECK_EQ(ad_jwt_sign(key, &t, jwt, sizeof(jwt)), 0);
	CHECK_EQ(verify(jwt, &back), 0);
	CHECK_EQ(back.role, AD_ROLE_ATTENDEE);
	CHECK_EQ(ad_jwt_sign(key, &t, jwt, strlen(jwt)), ENOSPC); /* no room for NUL */
}

// clang-format off
/* Made with Python's standard library, key and claims fixed:
 * python3 -c 'import hmac,hashlib,base64,json;e=lambda b:base64.urlsafe_b64encode(b).rstrip(b"=");k=b"tutti-jwt-test-vector-key-32byte";m=e(json.dumps({"typ":"JWT","alg":"HS256"}).encode())+b"."+e(json.dumps({"room":"demo-1","role":"presenter","name":"Zo\u00eb O\u0027Brien","iat":1700000000,"exp":1700003600,"jti":"vector1"}).encode());print((m+b"."+e(hmac.new(k,m,hashlib.sha256).digest())).decode())'
 */
// clang-format on
static void test_python_vector(void)
{
	static const char vec[] =
	    "eyJ0eXAiOiAiSldUIiwgImFsZyI6ICJIUzI1NiJ9.eyJyb29tIjogImRlbW8tMSIsICJyb2"
	    "xlIjogInByZXNlbnRlciIsICJuYW1lIjogIlpvXHUwMGViIE8nQnJpZW4iLCAiaWF0IjogMTc"
	    "wMDAwMDAwMCwgImV4cCI6IDE3MDAwMDM2MDAsICJqdGkiOiAidmVjdG9yMSJ9.NXhMSp-pLmU9"
	    "a2NxTJIGV2RJEYRA-w3WUs0QSQim1QU";
	static const uint8_t pykey[AD_JWT_KEY_LEN] = {
	    't', 'u', 't', 't', 'i', '-', 'j', 'w', 't', '-', 't',
	    'e', 's', 't', '-', 'v', 'e', 'c', 't', 'o', 'r', '-',
	    'k', 'e', 'y', '-', '3', '2', 'b', 'y', 't', 'e'};
	struct ad_token t;

	CHECK_EQ(ad_jwt_verify(pykey, vec, strlen(vec), NOW + 100, &t), 0);
	CHECK(!strcmp(t.room, "demo-1"));
	CHECK(!strcmp(t.name, "Zo\xc3\xab O'Brien"));
	CHECK(!strcmp(t.jti, "vector1"));
	CHECK_EQ(t.role, AD_ROLE_PRESENTER);
	CHECK_EQ(t.iat, 1700000000);
	CHECK_EQ(t.exp, 1700003600);
	CHECK_EQ(ad_jwt_verify(pykey, vec, strlen(vec), 1700003600, &t), ETIMEDOUT);
	CHECK_EQ(ad_jwt_verify(key, vec, strlen(vec), NOW + 100, &t), EACCES);
}

static void test_other_key(void)
{
	struct ad_token t = good();
	char jwt[AD_JWT_MAX];

	CHECK_EQ(ad_jwt_sign(key2, &t, jwt, sizeof(jwt)), 0);
	CHECK_EQ(verify(jwt, &t), EACCES);
	CHECK_EQ(t.room[0], '\0'); /* nothing leaks out of a refused token */
}

/* Replaces the character at i by another of the alphabet. */
static int flip_at(const char *jwt, size_t i)
{
	char bad[AD_JWT_MAX];
	struct ad_token t;

	strcpy(bad, jwt);
	bad[i] = bad[i] == 'A' ? 'B' : 'A';
	return verify(bad, &t);
}

static void test_flipped_character(void)
{
	struct ad_token t = good();
	char jwt[AD_JWT_MAX];
	size_t d1, d2;

	CHECK_EQ(ad_jwt_sign(key, &t, jwt, sizeof(jwt)), 0);
	d1 = strchr(jwt, '.') - jwt;
	d2 = strrchr(jwt, '.') - jwt;
	CHECK_EQ(flip_at(jwt, 0), EBADMSG); /* "{" becomes a byte JSON refuses */
	for (size_t i = d1 + 1; i < d2; i++)
		CHECK_EQ(flip_at(jwt, i), EACCES);
	for (size_t i = d2 + 1; i < strlen(jwt) - 1; i++)
		CHECK_EQ(flip_at(jwt, i), EACCES);
	/* The last character ends in 2 padding bits: A<->B differs only there. */
	CHECK_EQ(flip_at(jwt, strlen(jwt) - 1), EBADMSG);
}

static void test_wrong_alg(void)
{
	static const char claims[] =
	    "{\"room\":\"demo\",\"role\":\"presenter\",\"name\":\"x\","
	    "\"iat\":1700000000,\"exp\":1800000000,\"jti\":\"j\"}";
	static const char none[] = "{\"alg\":\"none\",\"typ\":\"JWT\"}";
	char h[128], p[256], jwt[512];
	struct ad_token t;

	/* alg "none", unsigned: header.payload. */
	CHECK_EQ(
	    ad_jwt_b64_encode((const uint8_t *)none, strlen(none), h, sizeof(h), NULL),
	    0);
	CHECK_EQ(ad_jwt_b64_encode((const uint8_t *)claims, strlen(claims), p, sizeof(p),
				   NULL),
		 0);
	snprintf(jwt, sizeof(jwt), "%s.%s.", h, p);
	CHECK_EQ(verify(jwt, &t), EACCES);
	CHECK_EQ(verify_raw("{\"alg\":\"none\"}", claims), EACCES);
	CHECK_EQ(verify_raw("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", claims), EACCES);
	CHECK_EQ(verify_raw("{\"alg\":\"hs256\"}", claims), EACCES);
	CHECK_EQ(verify_raw("{\"alg\":\"HS256\"}", claims), 0);
	/* Headers that are not ours: malformed. */
	CHECK_EQ(verify_raw("{\"typ\":\"JWT\"}", claims), EBADMSG);
	CHECK_EQ(verify_raw("{\"alg\":256}", claims), EBADMSG);
	CHECK_EQ(verify_raw("{\"alg\":\"HS256\",\"typ\":\"JWE\"}", claims), EBADMSG);
	CHECK_EQ(verify_raw("{\"alg\":\"HS256\",\"kid\":\"1\"}", claims), EBADMSG);
	CHECK_EQ(verify_raw("{\"alg\":\"HS256\",\"alg\":\"HS256\"}", claims), EBADMSG);
	CHECK_EQ(verify_raw("[\"HS256\"]", claims), EBADMSG);
	CHECK_EQ(verify_raw("{\"alg\":\"HS256\"", claims), EBADMSG);
}

static void test_times(void)
{
	struct ad_token t = good(), back;
	char jwt[AD_JWT_MAX];

	t.exp = NOW + 10; /* verify() runs at NOW + 10: no leeway */
	CHECK_EQ(ad_jwt_sign(key, &t, jwt, sizeof(jwt)), 0);
	CHECK_EQ(verify(jwt, &back), ETIMEDOUT);
	CHECK_EQ(ad_jwt_verify(key, jwt, strlen(jwt), NOW + 9, &back), 0);

	t = good();
	t.iat = NOW + 10 + 61;
	t.exp = t.iat + 100;
	CHECK_EQ(ad_jwt_sign(key, &t, jwt, sizeof(jwt)), 0);
	CHECK_EQ(verify(jwt, &back), EINVAL);
	t.iat = NOW + 10 + 60; /* clock skew of a minute is fine */
	CHECK_EQ(ad_jwt_sign(key, &t, jwt, sizeof(jwt)), 0);
	CHECK_EQ(verify(jwt, &back), 0);

	t = good();
	t.exp = t.iat; /* never valid */
	CHECK_EQ(ad_jwt_sign(key, &t, jwt, sizeof(jwt)), EINVAL);
	t.iat = -1;
	CHECK_EQ(ad_jwt_sign(key, &t, jwt, sizeof(jwt)), EINVAL);
}

#define C_ROOM "\"room\":\"demo\","
#define C_ROLE "\"role\":\"attendee\","
#define C_NAME "\"name\":\"Ann\","
#define C_IAT  "\"iat\":1700000000,"
#define C_EXP  "\"exp\":1700003600,"
#define C_JTI  "\"jti\":\"j1\""

static void test_claims(void)
{
	CHECK_EQ(verify_claims("{" C_ROOM C_ROLE C_NAME C_IAT C_EXP C_JTI "}"), 0);
	/* missing */
	CHECK_EQ(verify_claims("{" C_ROLE C_NAME C_IAT C_EXP C_JTI "}"), EINVAL);
	CHECK_EQ(verify_claims("{" C_ROOM C_ROLE C_NAME C_IAT C_EXP "\"x\":1}"), EINVAL);
	CHECK_EQ(verify_claims("{}"), EINVAL);
	/* extra */
	CHECK_EQ(verify_claims("{" C_ROOM C_ROLE C_NAME C_IAT C_EXP C_JTI ",\"x\":1}"),
		 EINVAL);
	/* duplicate: malformed, whatever the parser would keep */
	CHECK_EQ(verify_claims("{" C_ROOM C_ROLE C_NAME C_IAT C_EXP C_JTI
			       ",\"room\":\"other\"}"),
		 EBADMSG);
	/* wrong types */
	CHECK_EQ(verify_claims("{\"room\":1," C_ROLE C_NAME C_IAT C_EXP C_JTI "}"),
		 EINVAL);
	CHECK_EQ(verify_claims("{" C_ROOM C_ROLE C_NAME
			       "\"iat\":\"1700000000\"," C_EXP C_JTI "}"),
		 EINVAL);
	CHECK_EQ(verify_claims("{" C_ROOM C_ROLE C_NAME C_IAT
			       "\"exp\":1700003600.0," C_JTI "}"),
		 EINVAL);
	CHECK_EQ(verify_claims("{" C_ROOM C_ROLE "\"name\":null," C_IAT C_EXP C_JTI "}"),
		 EINVAL);
	CHECK_EQ(verify_claims("{" C_ROOM C_ROLE C_NAME C_IAT C_EXP "\"jti\":[\"j1\"]}"),
		 EINVAL);
	/* names: control characters, NUL, too long */
	CHECK_EQ(
	    verify_claims("{" C_ROOM C_ROLE "\"name\":\"a\\nb\"," C_IAT C_EXP C_JTI "}"),
	    EINVAL);
	CHECK_EQ(verify_claims("{" C_ROOM C_ROLE
			       "\"name\":\"a\\u0085\"," C_IAT C_EXP C_JTI "}"),
		 EINVAL);
	CHECK_EQ(verify_claims("{" C_ROOM C_ROLE
			       "\"name\":\"a\\u0000\"," C_IAT C_EXP C_JTI "}"),
		 EBADMSG);
	CHECK_EQ(verify_claims("{" C_ROOM C_ROLE "\"name\":\"\"," C_IAT C_EXP C_JTI "}"),
		 EINVAL);
	CHECK_EQ(verify_claims("[1,2]"), EBADMSG);
	CHECK_EQ(verify_claims("not json"), EBADMSG);
}

static void test_role_and_room(void)
{
	static const char *rooms[] = {
	    "Demo", "",
	    "a/b",  "a.b",
	    "x x",  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
	static const char *names[] = {"tab\there", "del\x7f", "c1 \xc2\x85",
				      "bad \xff utf8"};
	struct ad_token t = good();
	char jwt[AD_JWT_MAX], payload[256];

	CHECK_EQ(
	    verify_claims("{" C_ROOM "\"role\":\"admin\"," C_NAME C_IAT C_EXP C_JTI "}"),
	    EINVAL);
	CHECK_EQ(verify_claims("{" C_ROOM
			       "\"role\":\"Presenter\"," C_NAME C_IAT C_EXP C_JTI "}"),
		 EINVAL);
	t.role = (enum ad_role)7;
	CHECK_EQ(ad_jwt_sign(key, &t, jwt, sizeof(jwt)), EINVAL);

	for (size_t i = 0; i < CM_ARRAY_SIZE(rooms); i++) {
		snprintf(payload, sizeof(payload),
			 "{\"room\":\"%s\"," C_ROLE C_NAME C_IAT C_EXP C_JTI "}",
			 rooms[i]);
		CHECK_EQ(verify_claims(payload), EINVAL);
		t = good();
		if (strlen(rooms[i]) < sizeof(t.room)) {
			strcpy(t.room, rooms[i]);
			CHECK_EQ(ad_jwt_sign(key, &t, jwt, sizeof(jwt)), EINVAL);
		}
	}
	for (size_t i = 0; i < CM_ARRAY_SIZE(names); i++) {
		t = good();
		strcpy(t.name, names[i]);
		CHECK_EQ(ad_jwt_sign(key, &t, jwt, sizeof(jwt)), EINVAL);
	}
	t = good();
	strcpy(t.jti, "no.dots");
	CHECK_EQ(ad_jwt_sign(key, &t, jwt, sizeof(jwt)), EINVAL);
}

static void test_malformed(void)
{
	struct ad_token t = good();
	char jwt[AD_JWT_MAX], bad[AD_JWT_MAX * 2], big[1700];
	size_t n;

	CHECK_EQ(ad_jwt_sign(key, &t, jwt, sizeof(jwt)), 0);
	n = strlen(jwt);
	/* Too long, even with a valid signature. */
	memset(big, ' ', sizeof(big) - 1);
	big[0] = '[';
	strcpy(big + sizeof(big) - 3, "]");
	CHECK_EQ(verify_claims(big), EBADMSG);
	memset(bad, 'A', sizeof(bad));
	CHECK_EQ(ad_jwt_verify(key, bad, AD_JWT_MAX + 1, NOW, &t), EBADMSG);
	CHECK_EQ(ad_jwt_verify(key, jwt, 0, NOW, &t), EBADMSG);
	/* Padding and the standard alphabet. */
	snprintf(bad, sizeof(bad), "%s=", jwt);
	CHECK_EQ(verify(bad, &t), EBADMSG);
	strcpy(bad, jwt);
	bad[strchr(jwt, '.') - jwt + 2] = '+';
	CHECK_EQ(verify(bad, &t), EBADMSG);
	strcpy(bad, jwt);
	bad[n - 5] = '/';
	CHECK_EQ(verify(bad, &t), EBADMSG);
	/* Parts: two, four, empty; an embedded NUL. */
	CHECK_EQ(verify(strrchr(jwt, '.') + 1, &t), EBADMSG);
	*strrchr(strcpy(bad, jwt), '.') = '\0';
	CHECK_EQ(verify(bad, &t), EBADMSG);
	snprintf(bad, sizeof(bad), "%s.AAAA", jwt);
	CHECK_EQ(verify(bad, &t), EBADMSG);
	CHECK_EQ(verify("..", &t), EBADMSG);
	snprintf(bad, sizeof(bad), ".%s", strchr(jwt, '.') + 1);
	CHECK_EQ(verify(bad, &t), EBADMSG);
	CHECK_EQ(ad_jwt_verify(key, jwt, n + 1, NOW + 10, &t), EBADMSG);
	/* A signature of 33 bytes is a wrong one. */
	snprintf(bad, sizeof(bad), "%sA", jwt);
	CHECK_EQ(verify(bad, &t), EACCES);
}

static void test_base64url(void)
{
	static const char *enc[] = {"",       "Zg",      "Zm8",     "Zm9v",
				    "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
	uint8_t raw[16], all[3] = {0xfb, 0xff, 0xfe};
	char out[16];
	size_t n;

	for (size_t i = 0; i < CM_ARRAY_SIZE(enc); i++) {
		CHECK_EQ(
		    ad_jwt_b64_encode((const uint8_t *)"foobar", i, out, sizeof(out), &n),
		    0);
		CHECK(!strcmp(out, enc[i]));
		CHECK_EQ(ad_jwt_b64_decode(enc[i], strlen(enc[i]), raw, sizeof(raw), &n),
			 0);
		CHECK(n == i && !memcmp(raw, "foobar", i));
	}
	CHECK_EQ(ad_jwt_b64_encode(all, 3, out, sizeof(out), &n), 0);
	CHECK(!strcmp(out, "-__-"));
	CHECK_EQ(ad_jwt_b64_decode("Zh", 2, raw, sizeof(raw), &n),
		 EBADMSG); /* not canonical */
	CHECK_EQ(ad_jwt_b64_decode("Zm9vY", 5, raw, sizeof(raw), &n), EBADMSG);
	CHECK_EQ(ad_jwt_b64_decode("Zm9v", 4, raw, 2, &n), ENOSPC);
	CHECK_EQ(ad_jwt_b64_encode((const uint8_t *)"foo", 3, out, 4, &n), ENOSPC);
	CHECK_EQ(ad_jwt_b64_decode("Zm+v", 4, raw, sizeof(raw), &n), EBADMSG);
}

static void test_key_file(void)
{
	char dir[] = "/tmp/tutti-jwt-XXXXXX", path[64];
	uint8_t k1[AD_JWT_KEY_LEN], k2[AD_JWT_KEY_LEN], zero[AD_JWT_KEY_LEN] = {0};
	struct stat st;
	int fd;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/jwt.key", dir);
	CHECK_EQ(ad_jwt_key_load(dir, k1), 0);
	CHECK_EQ(stat(path, &st), 0);
	CHECK_EQ(st.st_mode & 0777, 0600);
	CHECK_EQ(st.st_size, AD_JWT_KEY_LEN);
	CHECK(memcmp(k1, zero, sizeof(zero)) != 0);
	CHECK_EQ(ad_jwt_key_load(dir, k2), 0);
	CHECK(!memcmp(k1, k2, sizeof(k1)));

	CHECK_EQ(truncate(path, 31), 0);
	CHECK_EQ(ad_jwt_key_load(dir, k2), EIO);
	CHECK_EQ(truncate(path, 33), 0);
	CHECK_EQ(ad_jwt_key_load(dir, k2), EIO);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	CHECK(fd >= 0);
	close(fd);
	CHECK_EQ(ad_jwt_key_load(dir, k2), EIO); /* empty: not silently replaced */
	unlink(path);
	rmdir(dir);
	CHECK_EQ(ad_jwt_key_load(dir, k2), EIO); /* no such directory */
}

int main(void)
{
	RUN(test_round_trip);
	RUN(test_python_vector);
	RUN(test_other_key);
	RUN(test_flipped_character);
	RUN(test_wrong_alg);
	RUN(test_times);
	RUN(test_claims);
	RUN(test_role_and_room);
	RUN(test_malformed);
	RUN(test_base64url);
	RUN(test_key_file);
	return check_report();
}
