/*
 * Unit tests for the registry client and its helpers:
 *   - pure parts: base64, auth.json read/write/merge/remove and the docker
 *     config fallback, WWW-Authenticate and Link parsing, error mapping,
 *     registries.conf, name syntax;
 *   - hostile or flaky servers: a scripted HTTP server forked by the test
 *     (digest pinning, resume after a broken download, 503 and 429
 *     retries, oversized manifests);
 *   - a real docker-registry, started through tests/integration/
 *     registry.py on 127.0.0.1: plain HTTP, TLS + Basic (htpasswd), and
 *     TLS + Bearer tokens.  Pushes blobs (monolithic, chunked, mounted) and
 *     manifests, pulls them back by tag and by digest, lists tags with
 *     pagination.  Skipped with a reason when docker-registry (or python3,
 *     openssl, htpasswd) is missing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "image/auth.h"
#include "image/digest.h"
#include "image/registries-conf.h"
#include "image/registry-parse.h"
#include "image/registry.h"
#include "image/store.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strutil.h"

/* ---- helpers ------------------------------------------------------------- */

/* assert_int_equal() that shows the error message of a failed call. */
#define assert_ret(expr, want)                                                 \
	do {                                                                   \
		int _r = (expr);                                               \
		if (_r != (want))                                              \
			print_error("unexpected %d: %s\n", _r, err.msg);       \
		assert_int_equal(_r, want);                                    \
	} while (0)

static char *make_tmpdir(void)
{
	char *dir = strdup("/tmp/cove-test-registry-XXXXXX");

	assert_non_null(dir);
	assert_non_null(mkdtemp(dir));
	return dir;
}

static char *path_in(const char *dir, const char *name)
{
	char *p = cove_strdup_printf("%s/%s", dir, name);

	assert_non_null(p);
	return p;
}

static void write_text(const char *path, const char *text)
{
	assert_int_equal(
	    cove_write_file_atomic_at(AT_FDCWD, path, text, strlen(text), 0600),
	    0);
}

/* ---- base64 -------------------------------------------------------------- */

static void test_base64(void **state)
{
	static const struct {
		const char *plain, *b64;
	} v[] = {{"", ""},
		 {"f", "Zg=="},
		 {"fo", "Zm8="},
		 {"foo", "Zm9v"},
		 {"user:pass", "dXNlcjpwYXNz"},
		 {"a:b:c", "YTpiOmM="}};

	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		_cleanup_free_ char *enc = NULL;
		_cleanup_free_ void *dec = NULL;
		size_t len = 99;

		assert_int_equal(
		    cove_base64_encode(v[i].plain, strlen(v[i].plain), &enc),
		    0);
		assert_string_equal(enc, v[i].b64);
		assert_int_equal(cove_base64_decode(v[i].b64, &dec, &len), 0);
		assert_int_equal(len, strlen(v[i].plain));
		assert_memory_equal(dec, v[i].plain, len);
	}
	{
		_cleanup_free_ void *dec = NULL;
		size_t len;
		assert_int_equal(cove_base64_decode(" Zm9v\n", &dec, &len), 0);
		assert_int_equal(len, 3);
	}
	{
		static const char *const bad[] = {"Zm9",  "Zm9v!",    "Z=9v",
						  "Zg=a", "Zm9v====", "===="};
		for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
			void *dec = NULL;
			size_t len;
			assert_int_equal(cove_base64_decode(bad[i], &dec, &len),
					 -EINVAL);
			assert_null(dec);
		}
	}
}

/* ---- auth.json ----------------------------------------------------------- */

static void test_auth_normalize(void **state)
{
	static const struct {
		const char *in, *out;
	} v[] = {
	    {"https://index.docker.io/v1/", "docker.io"},
	    {"index.docker.io", "docker.io"},
	    {"registry-1.docker.io", "docker.io"},
	    {"docker.io/library", "docker.io/library"},
	    {"http://localhost:5000/", "localhost:5000"},
	    {"quay.io/team", "quay.io/team"},
	    {"https://ghcr.io/v2/", "ghcr.io"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		_cleanup_free_ char *n = cove_auth_normalize_key(v[i].in);
		assert_string_equal(n, v[i].out);
	}
}

static void test_auth_set_get_remove(void **state)
{
	_cleanup_free_ char *dir = make_tmpdir();
	_cleanup_free_ char *file = path_in(dir, "sub/auth.json");
	_cleanup_free_ char *user = NULL, *pass = NULL, *text = NULL;
	_cleanup_json_ json_t *root = NULL;
	struct cove_error err = {0};
	struct stat st;

	/* No file: nothing found, no error. */
	assert_ret(cove_auth_get(file, "quay.io", &user, &pass, &err), 0);
	assert_null(user);

	assert_ret(cove_auth_set(file, "quay.io", "alice", "pa:ss", &err), 0);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_ret(cove_auth_set(file, "https://index.docker.io/v1/", "bob",
				 "secret", &err),
		   0);
	/* Replacing an entry keeps the others. */
	assert_ret(cove_auth_set(file, "quay.io", "alice", "new:pw", &err), 0);

	assert_ret(cove_auth_get(file, "quay.io", &user, &pass, &err), 1);
	assert_string_equal(user, "alice");
	assert_string_equal(pass, "new:pw");
	free(user);
	free(pass);
	user = pass = NULL;
	/* A repository under the registry uses the registry's entry. */
	assert_ret(cove_auth_get(file, "quay.io/team/app", &user, &pass, &err),
		   1);
	free(user);
	free(pass);
	user = pass = NULL;
	assert_ret(cove_auth_get(file, "docker.io", &user, &pass, &err), 1);
	assert_string_equal(user, "bob");
	free(user);
	free(pass);
	user = pass = NULL;

	/* On disk: the podman/docker format, keys normalised. */
	assert_int_equal(cove_read_file(file, 65536, &text, NULL), 0);
	root = json_loads(text, 0, NULL);
	assert_non_null(root);
	assert_string_equal(
	    json_string_value(json_object_get(
		json_object_get(json_object_get(root, "auths"), "quay.io"),
		"auth")),
	    "YWxpY2U6bmV3OnB3");
	assert_non_null(
	    json_object_get(json_object_get(root, "auths"), "docker.io"));

	assert_ret(cove_auth_remove(file, "quay.io", &err), 1);
	assert_ret(cove_auth_remove(file, "quay.io", &err), 0);
	assert_ret(cove_auth_get(file, "quay.io", &user, &pass, &err), 0);
	assert_ret(cove_auth_get(file, "docker.io", &user, &pass, &err), 1);

	/* Bad input is refused before anything is written. */
	assert_ret(cove_auth_set(file, "quay.io", "a:b", "x", &err), -EINVAL);
	assert_ret(cove_auth_set(file, "quay.io", "a", "x\ny", &err), -EINVAL);
	cove_rm_rf(dir);
}

static void test_auth_merge_and_fallback(void **state)
{
	_cleanup_free_ char *dir = make_tmpdir();
	_cleanup_free_ char *file = path_in(dir, "auth.json");
	_cleanup_free_ char *dockerdir = path_in(dir, "docker");
	_cleanup_free_ char *dockercfg = path_in(dir, "docker/config.json");
	_cleanup_free_ char *runtime = path_in(dir, "run");
	_cleanup_free_ char *user = NULL, *pass = NULL, *text = NULL;
	struct cove_error err = {0};
	char *saved_env[4];
	static const char *const env_names[] = {
	    "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "DOCKER_CONFIG",
	    "REGISTRY_AUTH_FILE"};

	for (size_t i = 0; i < 4; i++) {
		const char *v = getenv(env_names[i]);
		saved_env[i] = v ? strdup(v) : NULL;
	}
	/* Unknown members of an existing file survive an update. */
	write_text(file, "{\"credHelpers\": {\"gcr.io\": \"gcr\"},"
			 " \"auths\": {\"old.example\": {\"auth\": "
			 "\"eDp5\"}}}");
	assert_ret(cove_auth_set(file, "new.example", "u", "p", &err), 0);
	assert_int_equal(cove_read_file(file, 65536, &text, NULL), 0);
	assert_non_null(strstr(text, "credHelpers"));
	assert_non_null(strstr(text, "old.example"));
	assert_non_null(strstr(text, "new.example"));

	/* Broken files are errors that name the file. */
	write_text(file, "{\"auths\": {\"bad.example\": {\"auth\": \"!!\"}}}");
	assert_ret(cove_auth_get(file, "bad.example", &user, &pass, &err),
		   -EINVAL);
	assert_non_null(strstr(err.msg, file));
	assert_non_null(strstr(err.msg, "auths.bad.example.auth"));
	write_text(file, "[1]");
	assert_ret(cove_auth_get(file, "x.example", &user, &pass, &err),
		   -EINVAL);

	/* The default list: runtime dir first, docker's config last. */
	assert_int_equal(cove_mkdir_p(dockerdir, 0700), 0);
	write_text(dockercfg,
		   "{\"auths\": {\"https://index.docker.io/v1/\": {\"auth\": "
		   "\"ZDpocA==\"}, \"quay.io/team\": {\"auth\": "
		   "\"dDpwdw==\"}, \"quay.io\": {\"auth\": \"cTpwdw==\"}}}");
	setenv("XDG_RUNTIME_DIR", runtime, 1);
	setenv("XDG_CONFIG_HOME", dir, 1);
	setenv("DOCKER_CONFIG", dockerdir, 1);
	unsetenv("REGISTRY_AUTH_FILE");
	assert_ret(cove_auth_get(NULL, "docker.io", &user, &pass, &err), 1);
	assert_string_equal(user, "d");
	assert_string_equal(pass, "hp");
	free(user);
	free(pass);
	user = pass = NULL;
	/* The most specific key wins. */
	assert_ret(cove_auth_get(NULL, "quay.io/team/app", &user, &pass, &err),
		   1);
	assert_string_equal(user, "t");
	free(user);
	free(pass);
	user = pass = NULL;
	assert_ret(cove_auth_get(NULL, "quay.io/other", &user, &pass, &err), 1);
	assert_string_equal(user, "q");
	free(user);
	free(pass);
	user = pass = NULL;
	/* login writes to the runtime dir, which then wins. */
	assert_ret(cove_auth_set(NULL, "docker.io", "mine", "pw", &err), 0);
	{
		_cleanup_free_ char *p = cove_auth_default_path(NULL);
		_cleanup_free_ char *want =
		    path_in(runtime, "containers/auth.json");
		assert_string_equal(p, want);
		assert_int_equal(access(want, F_OK), 0);
	}
	assert_ret(cove_auth_get(NULL, "docker.io", &user, &pass, &err), 1);
	assert_string_equal(user, "mine");
	free(user);
	free(pass);
	user = pass = NULL;
	/* An explicit authfile is the only file read. */
	assert_ret(cove_auth_get(dockercfg, "docker.io", &user, &pass, &err),
		   1);
	assert_string_equal(user, "d");

	for (size_t i = 0; i < 4; i++) {
		if (saved_env[i])
			setenv(env_names[i], saved_env[i], 1);
		else
			unsetenv(env_names[i]);
		free(saved_env[i]);
	}
	cove_rm_rf(dir);
}

/* ---- WWW-Authenticate, Link, small headers ------------------------------- */

static void test_challenge_bearer(void **state)
{
	struct cove_auth_challenge c = {0};
	struct cove_error err = {0};

	assert_int_equal(cove_auth_challenge_parse(
			     "Bearer realm=\"https://auth.docker.io/token\","
			     "service=\"registry.docker.io\","
			     "scope=\"repository:library/busybox:pull\"",
			     &c, &err),
			 0);
	assert_int_equal(c.scheme, COVE_AUTH_SCHEME_BEARER);
	assert_string_equal(c.realm, "https://auth.docker.io/token");
	assert_string_equal(c.service, "registry.docker.io");
	assert_string_equal(c.scope, "repository:library/busybox:pull");
	assert_null(c.error);
	cove_auth_challenge_release(&c);

	/* Case, blanks, token values, escapes, error=. */
	assert_int_equal(cove_auth_challenge_parse(
			     "bearer  realm = \"https://a/t?x=1\" , "
			     "service=svc,error=\"insufficient_scope\","
			     "scope=\"a \\\"b\\\"\"",
			     &c, &err),
			 0);
	assert_string_equal(c.realm, "https://a/t?x=1");
	assert_string_equal(c.service, "svc");
	assert_string_equal(c.error, "insufficient_scope");
	assert_string_equal(c.scope, "a \"b\"");
	cove_auth_challenge_release(&c);
}

static void test_challenge_multiple(void **state)
{
	struct cove_auth_challenge c = {0};
	struct cove_error err = {0};

	assert_int_equal(
	    cove_auth_challenge_parse("Basic realm=\"r\"", &c, &err), 0);
	assert_int_equal(c.scheme, COVE_AUTH_SCHEME_BASIC);
	assert_string_equal(c.realm, "r");
	cove_auth_challenge_release(&c);

	/* Bearer preferred, whatever the order; unknown schemes skipped. */
	assert_int_equal(cove_auth_challenge_parse(
			     "Negotiate abc==, Basic realm=\"x\", Bearer "
			     "realm=\"https://t\",service=\"s\"",
			     &c, &err),
			 0);
	assert_int_equal(c.scheme, COVE_AUTH_SCHEME_BEARER);
	assert_string_equal(c.realm, "https://t");
	cove_auth_challenge_release(&c);
	assert_int_equal(
	    cove_auth_challenge_parse(
		"Bearer realm=\"https://t\", Basic realm=\"x\"", &c, &err),
	    0);
	assert_int_equal(c.scheme, COVE_AUTH_SCHEME_BEARER);
	cove_auth_challenge_release(&c);
	/* Bearer without a realm is unusable: Basic then. */
	assert_int_equal(
	    cove_auth_challenge_parse("Bearer service=\"s\", Basic realm=\"x\"",
				      &c, &err),
	    0);
	assert_int_equal(c.scheme, COVE_AUTH_SCHEME_BASIC);
	cove_auth_challenge_release(&c);
}

static void test_challenge_invalid(void **state)
{
	static const char *const bad[] = {
	    "",
	    "Negotiate",
	    "Bearer service=\"s\"",
	    "Bearer realm=\"unterminated",
	    "Bearer realm=\"a\"b\"",
	    "Bearer realm=\"x\ny\"",
	    "Bearer realm=",
	    "Bearer realm=\"x\" ;",
	};
	struct cove_auth_challenge c = {0};
	struct cove_error err = {0};
	_cleanup_free_ char *huge = malloc(COVE_HTTP_HEADER_MAX + 10);

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(cove_auth_challenge_parse(bad[i], &c, &err),
				 -EINVAL);
		assert_null(c.realm);
	}
	assert_non_null(huge);
	memset(huge, 'a', COVE_HTTP_HEADER_MAX + 9);
	huge[COVE_HTTP_HEADER_MAX + 9] = '\0';
	assert_int_equal(cove_auth_challenge_parse(huge, &c, &err), -EINVAL);
}

static void test_link_header(void **state)
{
	char *url = NULL;

	assert_int_equal(
	    cove_link_next("</v2/foo/tags/list?last=b&n=2>; rel=\"next\"",
			   &url),
	    1);
	assert_string_equal(url, "/v2/foo/tags/list?last=b&n=2");
	free(url);
	url = NULL;
	assert_int_equal(cove_link_next("<https://r/a>; rel=\"prev\", "
					"<https://r/b>; title=\"x, y\"; "
					"rel=\"last next\"",
					&url),
			 1);
	assert_string_equal(url, "https://r/b");
	free(url);
	url = NULL;
	assert_int_equal(cove_link_next("<https://r/a>; rel=prev", &url), 0);
	assert_int_equal(cove_link_next("", &url), 0);
	assert_int_equal(cove_link_next("https://r/a; rel=next", &url),
			 -EINVAL);
	assert_int_equal(cove_link_next("<https://r/a; rel=next", &url),
			 -EINVAL);
	assert_int_equal(cove_link_next("<a b>; rel=next", &url), -EINVAL);
	assert_null(url);
}

static void test_small_headers(void **state)
{
	_cleanup_free_ char *t1 = NULL, *t2 = NULL, *t3 = NULL;

	assert_int_equal(cove_retry_after_parse("120"), 120);
	assert_int_equal(cove_retry_after_parse(" 7 "), 7);
	assert_int_equal(
	    cove_retry_after_parse("Wed, 21 Oct 2015 07:28:00 GMT"), 0);
	assert_true(cove_retry_after_parse("soon") < 0);
	assert_true(cove_retry_after_parse("-1") < 0);
	t1 = cove_content_type_media_type(
	    "application/vnd.OCI.image.manifest.v1+json; charset=utf-8");
	assert_string_equal(t1, "application/vnd.oci.image.manifest.v1+json");
	t2 = cove_content_type_media_type("  application/json");
	assert_string_equal(t2, "application/json");
	t3 = cove_content_type_media_type("");
	assert_null(t3);
	assert_null(cove_content_type_media_type("a\"b/c"));
}

/* ---- error mapping ------------------------------------------------------- */

static void test_http_errors(void **state)
{
	static const char body404[] =
	    "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":"
	    "\"manifest unknown\",\"detail\":{\"Tag\":\"nope\"}}]}";
	static const char body_hostile[] =
	    "{\"errors\":[{\"code\":\"DENIED\",\"message\":\"go \\u001b[31maway"
	    "\\nnow\"}]}";
	struct cove_http_failure f = {.registry = "r.example",
				      .subject = "r.example/app:nope",
				      .retry_after = -1};
	struct cove_error err = {0};

	f.status = 401;
	assert_int_equal(cove_registry_http_error(&f, &err), -EACCES);
	assert_string_equal(err.msg, "authentication required for r.example: "
				     "run `cove login r.example`");
	f.user = "alice";
	assert_int_equal(cove_registry_http_error(&f, &err), -EACCES);
	assert_non_null(strstr(err.msg, "refused the credentials of user "
					"'alice'"));
	f.user = NULL;

	f.status = 404;
	f.body = body404;
	f.body_len = strlen(body404);
	assert_int_equal(cove_registry_http_error(&f, &err), -ENOENT);
	assert_string_equal(err.msg, "manifest unknown: r.example/app:nope");
	f.body = "not json";
	f.body_len = 8;
	assert_int_equal(cove_registry_http_error(&f, &err), -ENOENT);
	assert_string_equal(err.msg, "not found: r.example/app:nope");

	f.status = 403;
	f.body = body_hostile;
	f.body_len = strlen(body_hostile);
	assert_int_equal(cove_registry_http_error(&f, &err), -EPERM);
	assert_string_equal(
	    err.msg, "access denied to r.example/app:nope: go ?[31maway?now");

	f.status = 429;
	f.body = NULL;
	f.body_len = 0;
	f.retry_after = 30;
	assert_int_equal(cove_registry_http_error(&f, &err), -EAGAIN);
	assert_string_equal(err.msg, "too many requests to r.example: retry "
				     "after 30 seconds");
	f.retry_after = -1;
	f.status = 503;
	assert_int_equal(cove_registry_http_error(&f, &err), -EIO);
	assert_string_equal(err.msg, "registry r.example failed with HTTP 503 "
				     "for r.example/app:nope");
	f.status = 418;
	assert_int_equal(cove_registry_http_error(&f, &err), -EPROTO);
	f.status = 400;
	f.body = "{\"errors\":[{\"code\":\"MANIFEST_INVALID\",\"message\":"
		 "\"bad\"}]}";
	f.body_len = strlen(f.body);
	assert_int_equal(cove_registry_http_error(&f, &err), -EINVAL);
	assert_string_equal(err.msg,
			    "manifest invalid: r.example/app:nope: bad");
}

static void test_names(void **state)
{
	static const char *const good[] = {"a", "library/busybox", "a-b__c.d/e",
					   "a--b", "0/1/2"};
	static const char *const bad[] = {"",	  "A",	    "a/",    "/a",
					  "a//b", "a..b",   "a___b", "-a",
					  "a-",	  "a/../b", "a?b",   "a b"};

	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		assert_true(cove_registry_repository_valid(good[i]));
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_false(cove_registry_repository_valid(bad[i]));
	assert_true(cove_registry_tag_valid("latest"));
	assert_true(cove_registry_tag_valid("_v1.2-rc"));
	assert_false(cove_registry_tag_valid(".x"));
	assert_false(cove_registry_tag_valid("a/b"));
	assert_false(cove_registry_tag_valid(""));
}

/* ---- registries.conf ----------------------------------------------------- */

static void test_registries_conf(void **state)
{
	static const char text[] =
	    "# comment\n"
	    "unqualified-search-registries = [\"docker.io\", # inline\n"
	    "  'quay.io',\n"
	    "]\n"
	    "short-name-mode = \"enforcing\"\n"
	    "\n"
	    "[[registry]]\n"
	    "location = \"localhost:5000\"\n"
	    "insecure = true\n"
	    "\n"
	    "[[registry.mirror]]\n"
	    "location = \"mirror.example:5000\"\n"
	    "insecure = true\n"
	    "\n"
	    "[[registry]]\n"
	    "prefix = \"quay.io/bad\"\n"
	    "location = \"quay.io/bad\"\n"
	    "blocked = true\n"
	    "\n"
	    "[[registry]]\n"
	    "prefix = \"*.internal.example\"\n"
	    "insecure = true\n"
	    "mirror = [{location = \"x\", insecure = false}]\n"
	    "\n"
	    "[aliases]\n"
	    "  \"fedora\" = \"registry.fedoraproject.org/fedora\"\n"
	    "\n"
	    "[registries.insecure]\n"
	    "registries = ['old.example:443']\n";
	struct cove_registries_conf *c = cove_registries_conf_new();
	struct cove_error err = {0};
	char *const *search;

	assert_non_null(c);
	assert_ret(
	    cove_registries_conf_parse(c, "t.conf", text, strlen(text), &err),
	    0);
	search = cove_registries_conf_search(c);
	assert_int_equal(cove_strv_length(search), 2);
	assert_string_equal(search[0], "docker.io");
	assert_string_equal(search[1], "quay.io");
	assert_true(cove_registries_conf_insecure(c, "localhost:5000", NULL));
	assert_true(cove_registries_conf_insecure(c, "localhost:5000", "a/b"));
	assert_false(cove_registries_conf_insecure(c, "localhost:50001", NULL));
	assert_false(cove_registries_conf_insecure(c, "localhost", NULL));
	/* The mirror's insecure flag belongs to the mirror only. */
	assert_false(
	    cove_registries_conf_insecure(c, "mirror.example:5000", NULL));
	assert_true(cove_registries_conf_blocked(c, "quay.io", "bad/app"));
	assert_true(cove_registries_conf_blocked(c, "quay.io", "bad"));
	assert_false(cove_registries_conf_blocked(c, "quay.io", "badder"));
	assert_false(cove_registries_conf_blocked(c, "quay.io", "good"));
	assert_true(
	    cove_registries_conf_insecure(c, "a.internal.example:5000", "x"));
	assert_false(cove_registries_conf_insecure(c, "internal.example", "x"));
	assert_true(cove_registries_conf_insecure(c, "old.example:443", NULL));

	/* A later file overrides an entry with the same prefix. */
	assert_ret(
	    cove_registries_conf_parse(c, "d.conf",
				       "[[registry]]\nlocation="
				       "\"localhost:5000\"\ninsecure=false\n",
				       54, &err),
	    0);
	assert_false(cove_registries_conf_insecure(c, "localhost:5000", NULL));
	cove_registries_conf_free(c);
}

static void test_registries_conf_errors(void **state)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
	    {"[[registry]]\nlocation = \"x\"\ninsecure = \"yes\"\n",
	     "t.conf:3: 'insecure' and 'blocked' must be true or false"},
	    {"a = \"unterminated\n", "t.conf:1: unterminated string"},
	    {"[registry\n", "t.conf:1: expected ']' after table name"},
	    {"a = [1, 2\n", "t.conf:2: expected ',' or ']' in array"},
	    {"a = 1 b = 2\n", "t.conf:1: expected end of line"},
	    {"unqualified-search-registries = \"docker.io\"\n",
	     "t.conf:1: 'unqualified-search-registries' must be an array of "
	     "strings"},
	    {"a = \"\"\"x\"\"\"\n",
	     "t.conf:1: multi-line strings are not supported"},
	    {"= 1\n", "t.conf:1: expected a key"},
	};
	struct cove_error err = {0};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct cove_registries_conf *c = cove_registries_conf_new();
		assert_ret(cove_registries_conf_parse(c, "t.conf", bad[i].text,
						      strlen(bad[i].text),
						      &err),
			   -EINVAL);
		assert_string_equal(err.msg, bad[i].msg);
		cove_registries_conf_free(c);
	}
}

static void test_registries_conf_load(void **state)
{
	_cleanup_free_ char *dir = make_tmpdir();
	_cleanup_free_ char *file = path_in(dir, "registries.conf");
	struct cove_registries_conf *c = NULL;
	struct cove_error err = {0};

	write_text(file, "[[registry]]\nlocation = \"127.0.0.1:5000\"\n"
			 "insecure = true\n");
	assert_ret(cove_registries_conf_load(file, &c, &err), 0);
	assert_true(cove_registries_conf_insecure(c, "127.0.0.1:5000", NULL));
	cove_registries_conf_free(c);
	c = NULL;
	/* A missing file is an empty configuration. */
	unlink(file);
	assert_ret(cove_registries_conf_load(file, &c, &err), 0);
	assert_false(cove_registries_conf_insecure(c, "127.0.0.1:5000", NULL));
	cove_registries_conf_free(c);
	cove_rm_rf(dir);
}

/* ---- a scripted HTTP server ---------------------------------------------- */

/*
 * Answers GET /v2/ with 200 itself and every other request with the next
 * response of its script, closing the connection after each; logs each
 * request line and Range header to a file.  Forked by the test, killed by
 * pid.
 */
struct fake_server {
	pid_t pid;
	int port;
	char *log;
};

struct fake_response {
	const char *head; /* status line and headers, without the blank line */
	const void *body;
	size_t body_len;
	size_t send_len; /* bytes of @body actually sent (a broken transfer) */
};

static pid_t fake_pids[8];

static void fake_serve(int lfd, const struct fake_response *script, size_t n,
		       const char *log)
{
	size_t next = 0;

	for (;;) {
		char req[8192];
		size_t len = 0;
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		FILE *lf;
		char *eol, *range;

		if (fd < 0)
			_exit(1);
		while (len < sizeof(req) - 1) {
			ssize_t r = read(fd, req + len, sizeof(req) - 1 - len);
			if (r <= 0)
				break;
			/* A TLS ClientHello: this server speaks plain HTTP. */
			if (len == 0 && req[0] == 0x16) {
				len = 0;
				break;
			}
			len += (size_t)r;
			req[len] = '\0';
			if (strstr(req, "\r\n\r\n"))
				break;
		}
		req[len] = '\0';
		if (len == 0) {
			close(fd);
			continue;
		}
		eol = strstr(req, "\r\n");
		range = strcasestr(req, "\r\nRange: ");
		lf = fopen(log, "ae");
		if (lf) {
			fprintf(lf, "%.*s", eol ? (int)(eol - req) : 0, req);
			if (strcasestr(req, "\r\nAuthorization: "))
				fprintf(lf, " auth");
			if (range)
				fprintf(lf, " range=%.*s",
					(int)strcspn(range + 9, "\r"),
					range + 9);
			fputc('\n', lf);
			fclose(lf);
		}
		if (strncmp(req, "GET /v2/ ", 9) == 0) {
			static const char ok[] =
			    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
			    "Connection: close\r\n\r\n{}";
			(void)!write(fd, ok, sizeof(ok) - 1);
		} else if (next < n) {
			const struct fake_response *r = &script[next++];
			_cleanup_free_ char *head = cove_strdup_printf(
			    "%s\r\nConnection: close\r\n\r\n", r->head);
			(void)!write(fd, head, strlen(head));
			if (r->body)
				(void)!write(fd, r->body,
					     r->send_len ? r->send_len
							 : r->body_len);
		}
		shutdown(fd, SHUT_RDWR);
		close(fd);
	}
}

static void fake_start(struct fake_server *s, const char *dir,
		       const struct fake_response *script, size_t n)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	s->port = ntohs(a.sin_port);
	s->log = path_in(dir, "fake.log");
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		/* Never outlive the test, even when an assertion fails. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(120);
		fake_serve(fd, script, n, s->log);
	}
	close(fd);
	for (size_t i = 0; i < ARRAY_SIZE(fake_pids); i++)
		if (!fake_pids[i]) {
			fake_pids[i] = s->pid;
			break;
		}
}

/* Teardown: whatever fake servers a failed test left behind. */
static int fake_teardown(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(fake_pids); i++)
		if (fake_pids[i] > 0) {
			kill(fake_pids[i], SIGKILL);
			waitpid(fake_pids[i], NULL, 0);
			fake_pids[i] = 0;
		}
	return 0;
}

static void fake_stop(struct fake_server *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		for (size_t i = 0; i < ARRAY_SIZE(fake_pids); i++)
			if (fake_pids[i] == s->pid)
				fake_pids[i] = 0;
		s->pid = 0;
	}
	free(s->log);
	s->log = NULL;
}

static struct cove_registry_client *fake_client(struct fake_server *s)
{
	struct cove_registry_options o = {.insecure_localhost = true,
					  .retry_delay_ms = 10,
					  .max_retries = 3,
					  .authfile = "/nonexistent/auth.json"};
	struct cove_registry_client *c = NULL;
	struct cove_error err = {0};
	char host[64];

	snprintf(host, sizeof(host), "127.0.0.1:%d", s->port);
	assert_ret(cove_registry_client_new(host, &o, &c, &err), 0);
	return c;
}

static void test_fake_digest_pinning(void **state)
{
	static const char manifest[] = "{\"schemaVersion\":2}";
	static const char evil[] = "{\"schemaVersion\":2,\"evil\":1}";
	char pinned[COVE_DIGEST_MAX], head[512];
	_cleanup_free_ char *dir = make_tmpdir();
	struct fake_response script[3];
	struct cove_registry_manifest m = {0};
	struct cove_error err = {0};
	struct fake_server s = {0};
	struct cove_registry_client *c;

	assert_int_equal(cove_digest_buffer(COVE_DIGEST_SHA256, manifest,
					    strlen(manifest), pinned),
			 0);
	snprintf(head, sizeof(head),
		 "HTTP/1.1 200 OK\r\nContent-Type: "
		 "application/vnd.oci.image.manifest.v1+json\r\n"
		 "Docker-Content-Digest: %s\r\nContent-Length: %zu",
		 pinned, strlen(evil));
	/* 1: by digest, other bytes; 2: by tag, bytes != header digest. */
	script[0] = (struct fake_response){head, evil, strlen(evil), 0};
	script[1] = (struct fake_response){head, evil, strlen(evil), 0};
	fake_start(&s, dir, script, 2);
	c = fake_client(&s);
	assert_ret(
	    cove_registry_get_manifest(c, "app", pinned, NULL, 0, &m, &err),
	    -EBADMSG);
	assert_non_null(strstr(err.msg, "digest mismatch"));
	assert_ret(
	    cove_registry_get_manifest(c, "app", "latest", NULL, 0, &m, &err),
	    -EBADMSG);
	assert_null(m.data);
	cove_registry_client_free(c);
	fake_stop(&s);
	cove_rm_rf(dir);
}

static void test_fake_manifest_too_large(void **state)
{
	_cleanup_free_ char *dir = make_tmpdir();
	_cleanup_free_ char *big = malloc(5000);
	struct cove_registry_manifest m = {0};
	struct fake_response script[1];
	struct cove_error err = {0};
	struct fake_server s = {0};
	struct cove_registry_client *c;

	assert_non_null(big);
	memset(big, ' ', 5000);
	script[0] = (struct fake_response){
	    "HTTP/1.1 200 OK\r\nContent-Length: 5000", big, 5000, 0};
	fake_start(&s, dir, script, 1);
	c = fake_client(&s);
	assert_ret(cove_registry_get_manifest(c, "app", "latest", NULL, 4096,
					      &m, &err),
		   -EFBIG);
	assert_non_null(strstr(err.msg, "larger than 4096 bytes"));
	cove_registry_client_free(c);
	fake_stop(&s);
	cove_rm_rf(dir);
}

struct progress_log {
	int calls;
	int64_t last_done, last_total;
};

static void on_progress(void *data, const char *digest, int64_t done,
			int64_t total)
{
	struct progress_log *p = data;

	p->calls++;
	p->last_done = done;
	p->last_total = total;
}

/* A download that breaks off is resumed with a Range request. */
static void test_fake_resume(void **state)
{
	enum { SIZE = 300000, CUT = 120000 };
	_cleanup_free_ char *dir = make_tmpdir();
	_cleanup_free_ char *store_dir = path_in(dir, "store");
	_cleanup_free_ char *blob = malloc(SIZE), *log = NULL;
	_cleanup_free_ char *h1 = NULL, *h2 = NULL;
	char digest[COVE_DIGEST_MAX];
	struct fake_response script[3];
	struct progress_log prog = {0};
	struct cove_store *store = NULL;
	struct cove_error err = {0};
	struct fake_server s = {0};
	struct cove_registry_client *c;
	struct cove_registry_options o = {.insecure_localhost = true,
					  .retry_delay_ms = 10,
					  .progress = on_progress,
					  .progress_data = &prog};
	char host[64];

	assert_non_null(blob);
	for (size_t i = 0; i < SIZE; i++)
		blob[i] = (char)(i * 7 + i / 256);
	assert_int_equal(
	    cove_digest_buffer(COVE_DIGEST_SHA256, blob, SIZE, digest), 0);
	h1 = cove_strdup_printf("HTTP/1.1 200 OK\r\nContent-Length: %d", SIZE);
	h2 = cove_strdup_printf("HTTP/1.1 206 Partial Content\r\n"
				"Content-Range: bytes %d-%d/%d\r\n"
				"Content-Length: %d",
				CUT, SIZE - 1, SIZE, SIZE - CUT);
	/* 1: cut at CUT; 2: a 503; 3: the rest as 206. */
	script[0] = (struct fake_response){h1, blob, SIZE, CUT};
	script[1] = (struct fake_response){
	    "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0", NULL, 0,
	    0};
	script[2] = (struct fake_response){h2, blob + CUT, SIZE - CUT, 0};
	fake_start(&s, dir, script, 3);
	snprintf(host, sizeof(host), "127.0.0.1:%d", s.port);
	assert_ret(cove_registry_client_new(host, &o, &c, &err), 0);
	assert_ret(cove_store_open(store_dir, &store, &err), 0);
	assert_ret(cove_registry_pull_blob(c, store, "app", digest, SIZE, &err),
		   1);
	assert_true(cove_store_has(store, digest));
	assert_true(prog.calls >= 2);
	assert_int_equal(prog.last_done, SIZE);
	assert_int_equal(prog.last_total, SIZE);
	assert_int_equal(cove_read_file(s.log, 65536, &log, NULL), 0);
	assert_non_null(strstr(log, "range=bytes=120000-"));
	cove_store_free(store);
	cove_registry_client_free(c);
	fake_stop(&s);
	cove_rm_rf(dir);
}

/* A server that ignores Range sends everything again: the prefix is
 * dropped.  A body longer than the descriptor's size is refused. */
static void test_fake_range_ignored_and_overlong(void **state)
{
	enum { SIZE = 100000, CUT = 40000 };
	_cleanup_free_ char *dir = make_tmpdir();
	_cleanup_free_ char *store_dir = path_in(dir, "store");
	_cleanup_free_ char *blob = malloc(SIZE + 10), *h1 = NULL, *h2 = NULL;
	char digest[COVE_DIGEST_MAX];
	struct fake_response script[4];
	struct cove_store *store = NULL;
	struct cove_error err = {0};
	struct fake_server s = {0};
	struct cove_registry_client *c;
	struct cove_ingest *in = NULL;

	assert_non_null(blob);
	for (size_t i = 0; i < SIZE + 10; i++)
		blob[i] = (char)(i * 13);
	assert_int_equal(
	    cove_digest_buffer(COVE_DIGEST_SHA256, blob, SIZE, digest), 0);
	h1 = cove_strdup_printf("HTTP/1.1 200 OK\r\nContent-Length: %d", SIZE);
	h2 = cove_strdup_printf("HTTP/1.1 200 OK\r\nContent-Length: %d",
				SIZE + 10);
	script[0] = (struct fake_response){h1, blob, SIZE, CUT};
	script[1] = (struct fake_response){h1, blob, SIZE, 0};
	script[2] = (struct fake_response){h2, blob, SIZE + 10, 0};
	fake_start(&s, dir, script, 3);
	c = fake_client(&s);
	assert_ret(cove_store_open(store_dir, &store, &err), 0);
	assert_ret(cove_registry_pull_blob(c, store, "app", digest, SIZE, &err),
		   1);
	assert_true(cove_store_has(store, digest));
	/* Overlong: refused, not retried (not transient). */
	assert_ret(cove_ingest_begin(store, NULL, -1, &in, &err), 0);
	assert_ret(cove_registry_fetch_blob(c, "app", digest, SIZE, in, &err),
		   -EBADMSG);
	assert_non_null(strstr(err.msg, "more bytes than"));
	cove_ingest_abort(in);
	cove_store_free(store);
	cove_registry_client_free(c);
	fake_stop(&s);
	cove_rm_rf(dir);
}

/*
 * Blobs may be served from elsewhere (a CDN): the redirect is followed,
 * but the registry's credentials stay with the registry.
 */
static void test_fake_redirect_keeps_credentials(void **state)
{
	static const char data[] = "blob from the cdn";
	_cleanup_free_ char *dir = make_tmpdir(), *dir_b = make_tmpdir();
	_cleanup_free_ char *redirect = NULL, *h_ok = NULL;
	_cleanup_free_ char *log_a = NULL, *log_b = NULL;
	_cleanup_free_ char *store_dir = path_in(dir, "store");
	char digest[COVE_DIGEST_MAX], host[64];
	struct fake_response script_a[2], script_b[1];
	struct cove_registry_options o = {.insecure_localhost = true,
					  .retry_delay_ms = 10,
					  .username = "u",
					  .password = "p"};
	struct cove_store *store = NULL;
	struct cove_error err = {0};
	struct fake_server a = {0}, b = {0};
	struct cove_registry_client *c;

	assert_int_equal(
	    cove_digest_buffer(COVE_DIGEST_SHA256, data, strlen(data), digest),
	    0);
	h_ok = cove_strdup_printf("HTTP/1.1 200 OK\r\nContent-Length: %zu",
				  strlen(data));
	script_b[0] = (struct fake_response){h_ok, data, strlen(data), 0};
	fake_start(&b, dir_b, script_b, 1);
	redirect = cove_strdup_printf(
	    "HTTP/1.1 307 Temporary Redirect\r\nLocation: "
	    "http://127.0.0.1:%d/cdn/blob\r\nContent-Length: 0",
	    b.port);
	script_a[0] = (struct fake_response){
	    "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic "
	    "realm=\"fake\"\r\nContent-Length: 0",
	    NULL, 0, 0};
	script_a[1] = (struct fake_response){redirect, NULL, 0, 0};
	fake_start(&a, dir, script_a, 2);
	snprintf(host, sizeof(host), "127.0.0.1:%d", a.port);
	assert_ret(cove_registry_client_new(host, &o, &c, &err), 0);
	assert_ret(cove_store_open(store_dir, &store, &err), 0);
	assert_ret(cove_registry_pull_blob(c, store, "app", digest,
					   (int64_t)strlen(data), &err),
		   1);
	assert_int_equal(cove_read_file(a.log, 65536, &log_a, NULL), 0);
	assert_int_equal(cove_read_file(b.log, 65536, &log_b, NULL), 0);
	/* Registry: anonymous, then with credentials. */
	assert_non_null(strstr(log_a, "GET /v2/app/blobs/"));
	assert_non_null(strstr(log_a, "HTTP/1.1 auth\n"));
	/* CDN: the blob, without them. */
	assert_string_equal(log_b, "GET /cdn/blob HTTP/1.1\n");
	cove_store_free(store);
	cove_registry_client_free(c);
	fake_stop(&a);
	fake_stop(&b);
	cove_rm_rf(dir);
	cove_rm_rf(dir_b);
}

static void test_fake_retry_429(void **state)
{
	static const char body[] = "{\"name\":\"app\",\"tags\":[\"a\",\"b\"]}";
	_cleanup_free_ char *dir = make_tmpdir(), *h = NULL, *log = NULL;
	_cleanup_strv_ char **tags = NULL;
	struct fake_response script[3];
	struct cove_error err = {0};
	struct fake_server s = {0};
	struct cove_registry_client *c;

	h = cove_strdup_printf("HTTP/1.1 200 OK\r\nContent-Length: %zu",
			       strlen(body));
	script[0] = (struct fake_response){
	    "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0\r\n"
	    "Content-Length: 0",
	    NULL, 0, 0};
	script[1] = (struct fake_response){h, body, strlen(body), 0};
	fake_start(&s, dir, script, 2);
	c = fake_client(&s);
	assert_ret(cove_registry_list_tags(c, "app", &tags, &err), 0);
	assert_int_equal(cove_strv_length(tags), 2);
	assert_string_equal(tags[1], "b");
	cove_registry_client_free(c);
	fake_stop(&s);

	/* Too many 429s: the error says so. */
	script[0].head = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0\r\n"
			 "Content-Length: 0";
	script[1] = script[0];
	script[2] = script[0];
	fake_start(&s, dir, script, 3);
	{
		struct cove_registry_options o = {.insecure_localhost = true,
						  .retry_delay_ms = 10,
						  .max_retries = 2};
		char host[64];
		snprintf(host, sizeof(host), "127.0.0.1:%d", s.port);
		assert_ret(cove_registry_client_new(host, &o, &c, &err), 0);
	}
	cove_strv_free(tags);
	tags = NULL;
	assert_ret(cove_registry_list_tags(c, "app", &tags, &err), -EAGAIN);
	assert_non_null(strstr(err.msg, "too many requests"));
	cove_registry_client_free(c);
	fake_stop(&s);
	cove_rm_rf(dir);
}

/* Nothing a caller passes can reach the URL unchecked. */
static void test_client_rejects_bad_names(void **state)
{
	struct cove_registry_client *c = NULL;
	struct cove_registry_manifest m = {0};
	struct cove_error err = {0};

	assert_ret(cove_registry_client_new("a/b", NULL, &c, &err), -EINVAL);
	assert_ret(cove_registry_client_new("", NULL, &c, &err), -EINVAL);
	assert_ret(cove_registry_client_new("127.0.0.1:1", NULL, &c, &err), 0);
	assert_ret(
	    cove_registry_get_manifest(c, "App", "latest", NULL, 0, &m, &err),
	    -EINVAL);
	assert_string_equal(err.msg, "invalid repository name 'App'");
	assert_ret(
	    cove_registry_get_manifest(c, "app", "a/../b", NULL, 0, &m, &err),
	    -EINVAL);
	assert_ret(cove_registry_get_manifest(c, "app", "sha256:xyz", NULL, 0,
					      &m, &err),
		   -EINVAL);
	assert_null(cove_registry_client_base_url(c));
	cove_registry_client_free(c);
}

/* ---- a real docker-registry ---------------------------------------------- */

struct test_registry {
	pid_t pid;    /* the helper (it stops the registry by pid) */
	int stdin_fd; /* closing it stops the helper */
	char *dir;
	char host[64];
	char *ca_file, *user, *password;
	char *skip; /* why the group is skipped, or NULL */
};

static const char *helper_path(void)
{
	static char path[4096];
	const char *src = getenv("COVE_SOURCE_DIR");

	snprintf(path, sizeof(path), "%s/tests/integration/registry.py",
		 src ? src : ".");
	return path;
}

static char *dup_json_string(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v ? strdup(v) : NULL;
}

/* Start the helper; 0 with r->skip set when the registry can't run. */
static int registry_start(struct test_registry *r, const char *tls,
			  const char *auth)
{
	int in[2], out[2];
	char line[4096];
	size_t len = 0;
	_cleanup_json_ json_t *info = NULL;
	const char *argv[10];
	int argc = 0;

	memset(r, 0, sizeof(*r));
	r->stdin_fd = -1;
	if (access("/usr/bin/python3", X_OK) != 0 ||
	    access(helper_path(), R_OK) != 0) {
		r->skip = strdup("python3 or tests/integration/registry.py "
				 "missing (run from the source tree or set "
				 "COVE_SOURCE_DIR)");
		return 0;
	}
	r->dir = make_tmpdir();
	argv[argc++] = "python3";
	argv[argc++] = helper_path();
	argv[argc++] = "run";
	argv[argc++] = "--dir";
	argv[argc++] = r->dir;
	if (tls)
		argv[argc++] = tls;
	if (auth) {
		argv[argc++] = "--auth";
		argv[argc++] = auth;
	}
	argv[argc] = NULL;
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	r->pid = fork();
	assert_true(r->pid >= 0);
	if (r->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		execv("/usr/bin/python3", (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	r->stdin_fd = in[1];
	/* One JSON line once /v2/ answers. */
	while (len < sizeof(line) - 1) {
		struct pollfd p = {.fd = out[0], .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 90000) <= 0)
			break;
		n = read(out[0], line + len, sizeof(line) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		line[len] = '\0';
		if (strchr(line, '\n'))
			break;
	}
	close(out[0]);
	line[len] = '\0';
	info = json_loads(line, 0, NULL);
	if (!info || json_object_get(info, "error")) {
		print_error("registry helper failed: %s\n", line);
		return -1;
	}
	if (json_object_get(info, "skip")) {
		r->skip = dup_json_string(info, "skip");
		return 0;
	}
	snprintf(r->host, sizeof(r->host), "%s",
		 json_string_value(json_object_get(info, "host")));
	r->ca_file = dup_json_string(info, "ca_file");
	r->user = dup_json_string(info, "user");
	r->password = dup_json_string(info, "password");
	return 0;
}

static void registry_stop(struct test_registry *r)
{
	if (r->stdin_fd >= 0)
		close(r->stdin_fd);
	if (r->pid > 0) {
		int status;
		/* The helper stops the registry when its stdin closes. */
		for (int i = 0; i < 300; i++) {
			if (waitpid(r->pid, &status, WNOHANG) == r->pid) {
				r->pid = 0;
				break;
			}
			usleep(50000);
		}
		if (r->pid > 0) {
			kill(r->pid, SIGTERM);
			waitpid(r->pid, &status, 0);
		}
	}
	if (r->dir) {
		cove_rm_rf(r->dir);
		free(r->dir);
	}
	free(r->ca_file);
	free(r->user);
	free(r->password);
	free(r->skip);
}

static int group_setup(void **state, const char *tls, const char *auth)
{
	struct test_registry *r = calloc(1, sizeof(*r));

	if (!r)
		return -1;
	*state = r;
	if (registry_start(r, tls, auth) < 0)
		return -1;
	if (r->skip)
		print_message("[  SKIP    ] docker-registry tests: %s\n",
			      r->skip);
	return 0;
}

static int setup_plain(void **state)
{
	return group_setup(state, NULL, NULL);
}

static int setup_tls(void **state)
{
	return group_setup(state, "--tls", "htpasswd");
}

static int setup_token(void **state)
{
	return group_setup(state, "--tls", "token");
}

static int group_teardown(void **state)
{
	struct test_registry *r = *state;

	if (r) {
		registry_stop(r);
		free(r);
	}
	return 0;
}

static struct cove_registry_client *
client_for(struct test_registry *r, bool with_creds,
	   struct cove_registry_options *extra)
{
	struct cove_registry_options o = {0};
	struct cove_registry_client *c = NULL;
	struct cove_error err = {0};

	if (extra)
		o = *extra;
	o.insecure_localhost = !r->ca_file;
	o.ca_file = r->ca_file;
	o.retry_delay_ms = 10;
	if (!o.authfile)
		o.authfile = "/nonexistent/auth.json";
	if (with_creds && r->user) {
		o.username = r->user;
		o.password = r->password;
	}
	assert_ret(cove_registry_client_new(r->host, &o, &c, &err), 0);
	return c;
}

/* A blob in a file, its digest, and an fd to push it from. */
struct blob {
	char digest[COVE_DIGEST_MAX];
	int64_t size;
	int fd;
};

static void make_blob(struct blob *b, const char *dir, const char *name,
		      size_t size, unsigned seed)
{
	_cleanup_free_ char *path = path_in(dir, name);
	_cleanup_free_ char *data = malloc(size ? size : 1);

	assert_non_null(data);
	for (size_t i = 0; i < size; i++)
		data[i] = (char)((i * 31 + seed) ^ (i >> 9));
	assert_int_equal(
	    cove_digest_buffer(COVE_DIGEST_SHA256, data, size, b->digest), 0);
	assert_int_equal(
	    cove_write_file_atomic_at(AT_FDCWD, path, data, size, 0600), 0);
	b->size = (int64_t)size;
	b->fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(b->fd >= 0);
}

static char *config_and_manifest(const struct blob *config,
				 const struct blob *layer, size_t *ret_len)
{
	char *m = cove_strdup_printf(
	    "{\"schemaVersion\":2,\"mediaType\":"
	    "\"application/vnd.oci.image.manifest.v1+json\","
	    "\"config\":{\"mediaType\":"
	    "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\","
	    "\"size\":%lld},\"layers\":[{\"mediaType\":"
	    "\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\","
	    "\"size\":%lld}]}",
	    config->digest, (long long)config->size, layer->digest,
	    (long long)layer->size);

	assert_non_null(m);
	*ret_len = strlen(m);
	return m;
}

/*
 * The round trip every flavour must pass: push two blobs (one chunked),
 * push a manifest by tag, mount a blob into another repository, then
 * HEAD/GET the manifest by tag and by digest, pull the blobs into a
 * store (one resumed from a partial ingest), list tags with pagination.
 */
static void roundtrip(struct test_registry *r)
{
	struct cove_registry_options o = {.chunk_size = 100000,
					  .tag_page_size = 2};
	struct progress_log prog = {0};
	_cleanup_free_ char *dir = make_tmpdir();
	_cleanup_free_ char *store_dir = path_in(dir, "store");
	_cleanup_free_ char *manifest = NULL, *mt = NULL;
	_cleanup_strv_ char **tags = NULL;
	struct cove_registry_manifest got = {0};
	struct cove_registry_client *c;
	struct cove_store *store = NULL;
	struct cove_ingest *in = NULL;
	struct cove_error err = {0};
	struct blob config, layer;
	char digest[COVE_DIGEST_MAX], head_digest[COVE_DIGEST_MAX];
	size_t mlen;
	int64_t size = 0;

	o.progress = on_progress;
	o.progress_data = &prog;
	c = client_for(r, true, &o);
	assert_ret(cove_registry_ping(c, &err), 0);
	assert_non_null(cove_registry_client_base_url(c));
	assert_true(cove_str_has_prefix(cove_registry_client_base_url(c),
					r->ca_file ? "https://" : "http://"));

	make_blob(&config, dir, "config", 1234, 1);
	make_blob(&layer, dir, "layer", 350000, 2); /* 4 chunks */

	assert_ret(
	    cove_registry_blob_exists(c, "test/app", layer.digest, NULL, &err),
	    0);
	assert_ret(cove_registry_push_blob(c, "test/app", config.digest,
					   config.size, config.fd, NULL, &err),
		   0);
	prog.calls = 0;
	assert_ret(cove_registry_push_blob(c, "test/app", layer.digest,
					   layer.size, layer.fd, NULL, &err),
		   0);
	assert_true(prog.calls >= 4);
	assert_int_equal(prog.last_done, layer.size);
	assert_int_equal(prog.last_total, layer.size);
	/* Pushed again: already there. */
	assert_ret(cove_registry_push_blob(c, "test/app", layer.digest,
					   layer.size, layer.fd, NULL, &err),
		   1);
	assert_ret(
	    cove_registry_blob_exists(c, "test/app", layer.digest, &size, &err),
	    1);
	assert_int_equal(size, layer.size);
	/* Cross-repository mount. */
	assert_ret(cove_registry_push_blob(c, "test/other", layer.digest,
					   layer.size, layer.fd, "test/app",
					   &err),
		   1);
	assert_ret(cove_registry_blob_exists(c, "test/other", layer.digest,
					     NULL, &err),
		   1);
	assert_ret(cove_registry_push_blob(c, "test/other", config.digest,
					   config.size, config.fd, NULL, &err),
		   0);

	manifest = config_and_manifest(&config, &layer, &mlen);
	assert_ret(cove_registry_put_manifest(c, "test/app", "v1",
					      COVE_MEDIA_OCI_MANIFEST, manifest,
					      mlen, digest, &err),
		   0);
	for (int i = 2; i <= 5; i++) {
		char tag[8];
		snprintf(tag, sizeof(tag), "v%d", i);
		assert_ret(cove_registry_put_manifest(
			       c, "test/app", tag, COVE_MEDIA_OCI_MANIFEST,
			       manifest, mlen, NULL, &err),
			   0);
	}
	assert_ret(cove_registry_put_manifest(c, "test/other", digest,
					      COVE_MEDIA_OCI_MANIFEST, manifest,
					      mlen, NULL, &err),
		   0);

	assert_ret(cove_registry_head_manifest(c, "test/app", "v1", head_digest,
					       &mt, &size, &err),
		   1);
	assert_string_equal(head_digest, digest);
	assert_string_equal(mt, COVE_MEDIA_OCI_MANIFEST);
	assert_int_equal(size, (int64_t)mlen);
	assert_ret(cove_registry_head_manifest(c, "test/app", "nope",
					       head_digest, NULL, NULL, &err),
		   0);

	assert_ret(cove_registry_get_manifest(c, "test/app", "v1", NULL, 0,
					      &got, &err),
		   0);
	assert_int_equal(got.len, mlen);
	assert_memory_equal(got.data, manifest, mlen);
	assert_string_equal(got.digest, digest);
	assert_string_equal(got.media_type, COVE_MEDIA_OCI_MANIFEST);
	cove_registry_manifest_release(&got);
	assert_ret(cove_registry_get_manifest(c, "test/other", digest, NULL, 0,
					      &got, &err),
		   0);
	assert_string_equal(got.digest, digest);
	cove_registry_manifest_release(&got);

	/* 404s name what is missing. */
	assert_ret(cove_registry_get_manifest(c, "test/app", "nope", NULL, 0,
					      &got, &err),
		   -ENOENT);
	{
		_cleanup_free_ char *want = cove_strdup_printf(
		    "manifest unknown: %s/test/app:nope", r->host);
		assert_string_equal(err.msg, want);
	}

	/* Pull: a fresh blob, and one resumed from a partial ingest. */
	assert_ret(cove_store_open(store_dir, &store, &err), 0);
	assert_ret(cove_registry_pull_blob(c, store, "test/app", config.digest,
					   config.size, &err),
		   1);
	assert_ret(cove_registry_pull_blob(c, store, "test/app", config.digest,
					   config.size, &err),
		   0);
	{
		char part[1000];
		assert_int_equal(pread(layer.fd, part, sizeof(part), 0),
				 (ssize_t)sizeof(part));
		assert_ret(cove_ingest_begin(store, layer.digest, layer.size,
					     &in, &err),
			   0);
		assert_ret(cove_ingest_write(in, part, sizeof(part), &err), 0);
		assert_ret(cove_registry_fetch_blob(c, "test/other",
						    layer.digest, layer.size,
						    in, &err),
			   0);
		assert_ret(cove_ingest_commit(in, NULL, &err), 0);
		assert_true(cove_store_has(store, layer.digest));
	}
	/* A blob the registry doesn't have. */
	assert_ret(cove_registry_pull_blob(c, store, "test/app",
					   "sha256:0000000000000000000000"
					   "000000000000000000000000000000"
					   "000000000000",
					   10, &err),
		   -ENOENT);
	assert_non_null(strstr(err.msg, "blob unknown"));

	/* Five tags in pages of two. */
	assert_ret(cove_registry_list_tags(c, "test/app", &tags, &err), 0);
	assert_int_equal(cove_strv_length(tags), 5);
	for (int i = 1; i <= 5; i++) {
		char tag[8];
		snprintf(tag, sizeof(tag), "v%d", i);
		assert_true(cove_strv_contains(tags, tag));
	}

	cove_store_free(store);
	close(config.fd);
	close(layer.fd);
	cove_registry_client_free(c);
	cove_rm_rf(dir);
}

#define SKIP_UNLESS_REGISTRY(r)                                                \
	do {                                                                   \
		if ((r)->skip)                                                 \
			skip();                                                \
	} while (0)

static void test_plain_roundtrip(void **state)
{
	struct test_registry *r = *state;

	SKIP_UNLESS_REGISTRY(r);
	roundtrip(r);
}

static void test_plain_needs_insecure(void **state)
{
	struct test_registry *r = *state;
	struct cove_registry_options o = {.retry_delay_ms = 1,
					  .max_retries = -1};
	struct cove_registry_client *c = NULL;
	struct cove_error err = {0};

	SKIP_UNLESS_REGISTRY(r);
	/* TLS is the default: a plain-HTTP registry fails the handshake. */
	assert_ret(cove_registry_client_new(r->host, &o, &c, &err), 0);
	assert_ret(cove_registry_ping(c, &err), -EPROTO);
	assert_non_null(strstr(err.msg, "TLS handshake"));
	cove_registry_client_free(c);
}

static void test_tls_roundtrip(void **state)
{
	struct test_registry *r = *state;

	SKIP_UNLESS_REGISTRY(r);
	roundtrip(r);
}

static void test_tls_auth_errors(void **state)
{
	struct test_registry *r = *state;
	struct cove_registry_options o = {.ca_file = r->ca_file,
					  .retry_delay_ms = 1,
					  .authfile = "/nonexistent/auth.json"};
	struct cove_registry_manifest m = {0};
	struct cove_registry_client *c = NULL;
	struct cove_error err = {0};
	_cleanup_free_ char *want = NULL;

	SKIP_UNLESS_REGISTRY(r);
	/* Anonymous: ping passes, an operation says to log in. */
	assert_ret(cove_registry_client_new(r->host, &o, &c, &err), 0);
	assert_ret(cove_registry_ping(c, &err), 0);
	assert_ret(
	    cove_registry_get_manifest(c, "test/app", "v1", NULL, 0, &m, &err),
	    -EACCES);
	want = cove_strdup_printf("authentication required for %s: run `cove "
				  "login %s`",
				  r->host, r->host);
	assert_string_equal(err.msg, want);
	cove_registry_client_free(c);

	/* A wrong password fails the login check. */
	o.username = r->user;
	o.password = "wrong";
	assert_ret(cove_registry_client_new(r->host, &o, &c, &err), 0);
	assert_ret(cove_registry_ping(c, &err), -EACCES);
	assert_non_null(strstr(err.msg, "authentication failed"));
	cove_registry_client_free(c);

	/* Without the test CA, the certificate is not trusted. */
	o.ca_file = NULL;
	o.username = NULL;
	o.password = NULL;
	assert_ret(cove_registry_client_new(r->host, &o, &c, &err), 0);
	assert_ret(cove_registry_ping(c, &err), -EKEYREJECTED);
	assert_non_null(strstr(err.msg, "not trusted"));
	cove_registry_client_free(c);

	/* Insecure: unverified TLS is accepted. */
	o.insecure = true;
	o.username = r->user;
	o.password = r->password;
	assert_ret(cove_registry_client_new(r->host, &o, &c, &err), 0);
	assert_ret(cove_registry_ping(c, &err), 0);
	assert_true(
	    cove_str_has_prefix(cove_registry_client_base_url(c), "https://"));
	cove_registry_client_free(c);
}

/* Credentials from an auth file, as `cove login` leaves them. */
static void test_tls_authfile(void **state)
{
	struct test_registry *r = *state;
	_cleanup_free_ char *dir = NULL, *file = NULL;
	_cleanup_strv_ char **tags = NULL;
	struct cove_registry_options o = {0};
	struct cove_registry_client *c;
	struct cove_error err = {0};

	SKIP_UNLESS_REGISTRY(r);
	dir = make_tmpdir();
	file = path_in(dir, "auth.json");
	assert_ret(cove_auth_set(file, r->host, r->user, r->password, &err), 0);
	o.authfile = file;
	c = client_for(r, false, &o);
	assert_ret(cove_registry_ping(c, &err), 0);
	assert_ret(cove_registry_list_tags(c, "test/none", &tags, &err),
		   -ENOENT);
	assert_non_null(strstr(err.msg, "name unknown"));
	cove_registry_client_free(c);
	cove_rm_rf(dir);
}

static void test_token_roundtrip(void **state)
{
	struct test_registry *r = *state;
	_cleanup_free_ char *log_path = NULL, *log = NULL;
	size_t lines = 0;

	SKIP_UNLESS_REGISTRY(r);
	roundtrip(r);
	/*
	 * Tokens are cached per scope: one request per distinct scope, with
	 * the user's credentials; the mount asks for both repositories.
	 */
	log_path = path_in(r->dir, "token-requests.log");
	assert_int_equal(cove_read_file(log_path, 1 << 20, &log, NULL), 0);
	for (const char *p = log; *p; p++)
		lines += *p == '\n';
	assert_true(lines >= 4);
	assert_true(lines <= 8);
	assert_null(strstr(log, "\"basic\": false"));
	assert_non_null(strstr(log, "\"repository:test/other:pull,push\", "
				    "\"repository:test/app:pull\""));
	assert_non_null(strstr(log, "\"service\": [\"cove-test-registry\"]"));
}

static void test_token_auth_errors(void **state)
{
	struct test_registry *r = *state;
	struct cove_registry_options o = {0};
	struct cove_registry_manifest m = {0};
	struct cove_registry_client *c;
	struct cove_error err = {0};
	_cleanup_free_ char *want = NULL;

	SKIP_UNLESS_REGISTRY(r);
	/* Anonymous tokens carry no access here. */
	c = client_for(r, false, &o);
	assert_ret(cove_registry_ping(c, &err), 0);
	assert_ret(
	    cove_registry_get_manifest(c, "test/app", "v1", NULL, 0, &m, &err),
	    -EACCES);
	want = cove_strdup_printf("authentication required for %s: run `cove "
				  "login %s`",
				  r->host, r->host);
	assert_string_equal(err.msg, want);
	cove_registry_client_free(c);

	/* The token service refuses a wrong password. */
	o.username = r->user;
	o.password = "wrong";
	o.ca_file = r->ca_file;
	o.retry_delay_ms = 1;
	o.authfile = "/nonexistent/auth.json";
	assert_ret(cove_registry_client_new(r->host, &o, &c, &err), 0);
	assert_ret(cove_registry_ping(c, &err), -EACCES);
	assert_non_null(strstr(err.msg, "authentication failed"));
	cove_registry_client_free(c);
}

int main(void)
{
	const struct CMUnitTest pure[] = {
	    cmocka_unit_test(test_base64),
	    cmocka_unit_test(test_auth_normalize),
	    cmocka_unit_test(test_auth_set_get_remove),
	    cmocka_unit_test(test_auth_merge_and_fallback),
	    cmocka_unit_test(test_challenge_bearer),
	    cmocka_unit_test(test_challenge_multiple),
	    cmocka_unit_test(test_challenge_invalid),
	    cmocka_unit_test(test_link_header),
	    cmocka_unit_test(test_small_headers),
	    cmocka_unit_test(test_http_errors),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_registries_conf),
	    cmocka_unit_test(test_registries_conf_errors),
	    cmocka_unit_test(test_registries_conf_load),
	    cmocka_unit_test(test_client_rejects_bad_names),
	    cmocka_unit_test_teardown(test_fake_digest_pinning, fake_teardown),
	    cmocka_unit_test_teardown(test_fake_manifest_too_large,
				      fake_teardown),
	    cmocka_unit_test_teardown(test_fake_resume, fake_teardown),
	    cmocka_unit_test_teardown(test_fake_range_ignored_and_overlong,
				      fake_teardown),
	    cmocka_unit_test_teardown(test_fake_retry_429, fake_teardown),
	    cmocka_unit_test_teardown(test_fake_redirect_keeps_credentials,
				      fake_teardown),
	};
	const struct CMUnitTest plain[] = {
	    cmocka_unit_test(test_plain_roundtrip),
	    cmocka_unit_test(test_plain_needs_insecure),
	};
	const struct CMUnitTest tls[] = {
	    cmocka_unit_test(test_tls_roundtrip),
	    cmocka_unit_test(test_tls_auth_errors),
	    cmocka_unit_test(test_tls_authfile),
	};
	const struct CMUnitTest token[] = {
	    cmocka_unit_test(test_token_roundtrip),
	    cmocka_unit_test(test_token_auth_errors),
	};
	int failed = 0;

	/* A proxy from the environment must not see loopback traffic. */
	setenv("no_proxy", "127.0.0.1,localhost", 1);
	setenv("NO_PROXY", "127.0.0.1,localhost", 1);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	failed +=
	    cmocka_run_group_tests_name("registry-pure", pure, NULL, NULL);
	failed += cmocka_run_group_tests_name("registry-plain", plain,
					      setup_plain, group_teardown);
	failed += cmocka_run_group_tests_name("registry-tls", tls, setup_tls,
					      group_teardown);
	failed += cmocka_run_group_tests_name("registry-token", token,
					      setup_token, group_teardown);
	return failed ? 1 : 0;
}
