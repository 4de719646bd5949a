#include "image/auth.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strutil.h"

/* ---- base64 -------------------------------------------------------------- */

int cove_base64_encode(const void *buf, size_t len, char **ret)
{
	size_t out_len;
	char *out;
	int n;

	/* EVP_EncodeBlock takes an int length. */
	if (len > (size_t)(1 << 28))
		return -EFBIG;
	out_len = 4 * ((len + 2) / 3) + 1;
	out = malloc(out_len);
	if (!out)
		return -ENOMEM;
	n = EVP_EncodeBlock((unsigned char *)out, buf, (int)len);
	if (n < 0) {
		free(out);
		return -EINVAL;
	}
	out[n] = '\0';
	*ret = out;
	return 0;
}

static bool is_b64(unsigned char c)
{
	return isalnum(c) || c == '+' || c == '/';
}

int cove_base64_decode(const char *s, void **ret, size_t *ret_len)
{
	size_t start = 0, end = strlen(s), len, pad = 0;
	unsigned char *out;
	int n;

	while (start < end && isspace((unsigned char)s[start]))
		start++;
	while (end > start && isspace((unsigned char)s[end - 1]))
		end--;
	len = end - start;
	if (len % 4 != 0 || len > (size_t)(1 << 28))
		return -EINVAL;
	/*
	 * EVP_DecodeBlock decodes padding as zero bytes and skips some
	 * characters on its own; validate strictly first so that "what we
	 * decoded" and "what the file said" cannot differ.
	 */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[start + i];
		if (c == '=') {
			if (i < len - 2)
				return -EINVAL;
			pad++;
			continue;
		}
		if (pad || !is_b64(c))
			return -EINVAL;
	}
	out = malloc(len / 4 * 3 + 1);
	if (!out)
		return -ENOMEM;
	n = EVP_DecodeBlock(out, (const unsigned char *)s + start, (int)len);
	if (n < 0 || (size_t)n < pad) {
		free(out);
		return -EINVAL;
	}
	n -= (int)pad;
	out[n] = '\0';
	*ret = out;
	*ret_len = (size_t)n;
	return 0;
}

/* ---- keys ---------------------------------------------------------------- */

static bool is_docker_hub(const char *host, size_t len)
{
	static const char *const aliases[] = {"docker.io", "index.docker.io",
					      "registry-1.docker.io",
					      "registry.hub.docker.com"};

	for (size_t i = 0; i < ARRAY_SIZE(aliases); i++)
		if (strlen(aliases[i]) == len && !memcmp(aliases[i], host, len))
			return true;
	return false;
}

char *cove_auth_normalize_key(const char *key)
{
	const char *p = key, *slash;
	size_t len, host_len;
	char *out;

	if (cove_str_has_prefix(p, "https://"))
		p += 8;
	else if (cove_str_has_prefix(p, "http://"))
		p += 7;
	len = strlen(p);
	while (len > 0 && p[len - 1] == '/')
		len--;
	/* docker's "https://index.docker.io/v1/" and friends. */
	if (len >= 3 && p[len - 3] == '/' && p[len - 2] == 'v' &&
	    (p[len - 1] == '1' || p[len - 1] == '2'))
		len -= 3;
	while (len > 0 && p[len - 1] == '/')
		len--;
	slash = memchr(p, '/', len);
	host_len = slash ? (size_t)(slash - p) : len;
	if (is_docker_hub(p, host_len))
		return cove_strdup_printf("docker.io%.*s",
					  (int)(len - host_len), p + host_len);
	out = strndup(p, len);
	return out;
}

/* ---- files --------------------------------------------------------------- */

static char *runtime_path(void)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (xdg && *xdg)
		return cove_strdup_printf("%s/containers/auth.json", xdg);
	return cove_strdup_printf("/run/containers/%u/auth.json",
				  (unsigned)getuid());
}

char *cove_auth_default_path(const char *authfile)
{
	const char *env;

	if (authfile && *authfile)
		return strdup(authfile);
	env = getenv("REGISTRY_AUTH_FILE");
	if (env && *env)
		return strdup(env);
	return runtime_path();
}

/* The files cove_auth_get() reads, in order. */
static int search_list(const char *authfile, char ***ret)
{
	_cleanup_strv_ char **v = NULL;
	const char *env, *home = getenv("HOME");
	_cleanup_free_ char *p = NULL;
	int r;

	if (authfile && *authfile) {
		r = cove_strv_push(&v, authfile);
		if (r < 0)
			return r;
		*ret = TAKE_PTR(v);
		return 0;
	}
	env = getenv("REGISTRY_AUTH_FILE");
	if (env && *env && (r = cove_strv_push(&v, env)) < 0)
		return r;
	p = runtime_path();
	if (!p || (r = cove_strv_push(&v, p)) < 0)
		return -ENOMEM;
	free(TAKE_PTR(p));
	env = getenv("XDG_CONFIG_HOME");
	if (env && *env)
		p = cove_strdup_printf("%s/containers/auth.json", env);
	else if (home && *home)
		p = cove_strdup_printf("%s/.config/containers/auth.json", home);
	if (p && (r = cove_strv_push(&v, p)) < 0)
		return r;
	free(TAKE_PTR(p));
	env = getenv("DOCKER_CONFIG");
	if (env && *env)
		p = cove_strdup_printf("%s/config.json", env);
	else if (home && *home)
		p = cove_strdup_printf("%s/.docker/config.json", home);
	if (p && (r = cove_strv_push(&v, p)) < 0)
		return r;
	*ret = TAKE_PTR(v);
	return 0;
}

/* Load @path; -ENOENT (err untouched) when it does not exist. */
static int load_file(const char *path, json_t **ret, struct cove_error *err)
{
	_cleanup_json_ json_t *root = NULL;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r;

	r = cove_read_file(path, COVE_AUTH_FILE_MAX, &buf, &len);
	if (r == -ENOENT)
		return r;
	if (r == -EFBIG)
		return cove_error_set(err, EFBIG,
				      "%s: file larger than %d bytes", path,
				      COVE_AUTH_FILE_MAX);
	if (r < 0)
		return cove_error_setx(err, r, "cannot read %s", path);
	/* An empty file is what `touch authfile` leaves: no entries. */
	if (len == 0)
		root = json_object();
	else if ((r = cove_json_load_buffer(path, buf, len, &root, err)) < 0)
		return r;
	if (!root)
		return -ENOMEM;
	if (!json_is_object(root))
		return cove_error_set(err, EINVAL, "%s: expected a JSON object",
				      path);
	*ret = TAKE_PTR(root);
	return 0;
}

/* Does normalised entry key @k cover normalised @want (same or prefix)? */
static size_t key_match(const char *k, const char *want)
{
	size_t n = strlen(k);

	if (n == 0 || strncmp(k, want, n) != 0)
		return 0;
	if (want[n] != '\0' && want[n] != '/')
		return 0;
	return n;
}

static int decode_entry(const char *file, const char *key, json_t *entry,
			char **ret_user, char **ret_password,
			struct cove_error *err)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_free_ void *raw = NULL;
	const char *auth = NULL;
	char *colon, *user, *pass;
	size_t len;
	int r;

	path = cove_strdup_printf("auths.%s", key);
	if (!path)
		return -ENOMEM;
	if (!json_is_object(entry))
		return cove_error_set(err, EINVAL,
				      "%s: invalid '%s': expected an object",
				      file, path);
	r = cove_json_string(entry, path, "auth", &auth, err);
	if (r < 0)
		return cove_error_wrap(err, "%s", file);
	if (!auth || !*auth)
		return 0; /* e.g. an entry that only a credsStore fills */
	if (cove_base64_decode(auth, &raw, &len) < 0 || memchr(raw, 0, len))
		return cove_error_set(err, EINVAL,
				      "%s: invalid '%s.auth': not base64 of "
				      "\"user:password\"",
				      file, path);
	colon = strchr(raw, ':');
	if (!colon)
		return cove_error_set(err, EINVAL,
				      "%s: invalid '%s.auth': no ':' between "
				      "user and password",
				      file, path);
	user = strndup(raw, (size_t)(colon - (char *)raw));
	pass = strdup(colon + 1);
	if (!user || !pass) {
		free(user);
		free(pass);
		return -ENOMEM;
	}
	*ret_user = user;
	*ret_password = pass;
	return 1;
}

static int lookup_file(const char *file, const char *want, char **ret_user,
		       char **ret_password, struct cove_error *err)
{
	_cleanup_json_ json_t *root = NULL;
	json_t *auths = NULL, *entry, *best = NULL;
	const char *k, *best_key = NULL;
	size_t best_len = 0;
	int r;

	r = load_file(file, &root, err);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	r = cove_json_object(root, "", "auths", &auths, err);
	if (r < 0)
		return cove_error_wrap(err, "%s", file);
	if (!auths)
		return 0;
	json_object_foreach(auths, k, entry)
	{
		_cleanup_free_ char *nk = cove_auth_normalize_key(k);
		size_t n;

		if (!nk)
			return -ENOMEM;
		n = key_match(nk, want);
		if (n > best_len) {
			best_len = n;
			best = entry;
			best_key = k;
		}
	}
	if (!best)
		return 0;
	return decode_entry(file, best_key, best, ret_user, ret_password, err);
}

int cove_auth_get(const char *authfile, const char *key, char **ret_user,
		  char **ret_password, struct cove_error *err)
{
	_cleanup_strv_ char **files = NULL;
	_cleanup_free_ char *want = NULL;
	int r;

	want = cove_auth_normalize_key(key);
	if (!want)
		return -ENOMEM;
	if (!*want)
		return cove_error_set(err, EINVAL, "empty registry name");
	r = search_list(authfile, &files);
	if (r < 0)
		return cove_error_setx(err, r, "cannot list auth files");
	for (char **f = files; *f; f++) {
		r = lookup_file(*f, want, ret_user, ret_password, err);
		if (r != 0)
			return r;
	}
	return 0;
}

static int save_file(const char *path, json_t *root, struct cove_error *err)
{
	_cleanup_free_ char *dir = NULL, *text = NULL;
	char *slash;
	int r;

	dir = strdup(path);
	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		r = cove_mkdir_p(dir, 0700);
		if (r < 0)
			return cove_error_setx(err, r, "cannot create %s", dir);
	}
	text = json_dumps(root, JSON_INDENT(8) | JSON_SORT_KEYS);
	if (!text)
		return -ENOMEM;
	r = cove_write_file_atomic_at(AT_FDCWD, path, text, strlen(text), 0600);
	if (r < 0)
		return cove_error_setx(err, r, "cannot write %s", path);
	return 0;
}

/* Load (or start) the write file and its "auths" object. */
static int load_for_update(const char *path, json_t **ret_root,
			   json_t **ret_auths, struct cove_error *err)
{
	_cleanup_json_ json_t *root = NULL;
	json_t *auths = NULL;
	int r;

	r = load_file(path, &root, err);
	if (r == -ENOENT) {
		root = json_object();
		if (!root)
			return -ENOMEM;
	} else if (r < 0) {
		return r;
	}
	r = cove_json_object(root, "", "auths", &auths, err);
	if (r < 0)
		return cove_error_wrap(err, "%s", path);
	if (!auths) {
		auths = json_object();
		if (!auths || json_object_set_new(root, "auths", auths) < 0)
			return -ENOMEM;
	}
	*ret_auths = auths;
	*ret_root = TAKE_PTR(root);
	return 0;
}

/* Entries whose normalised key equals @want (docker writes URLs). */
static int remove_matching(json_t *auths, const char *want)
{
	const char *k;
	json_t *v;
	void *tmp;
	int n = 0;

	json_object_foreach_safe(auths, tmp, k, v)
	{
		_cleanup_free_ char *nk = cove_auth_normalize_key(k);

		if (!nk)
			return -ENOMEM;
		if (strcmp(nk, want) == 0) {
			json_object_del(auths, k);
			n++;
		}
	}
	return n;
}

static int check_field(const char *what, const char *s, bool allow_colon,
		       struct cove_error *err)
{
	if (!s || !*s)
		return cove_error_set(err, EINVAL, "empty %s", what);
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f ||
		    (!allow_colon && *p == ':'))
			return cove_error_set(err, EINVAL,
					      "invalid character in %s", what);
	return 0;
}

int cove_auth_set(const char *authfile, const char *registry, const char *user,
		  const char *password, struct cove_error *err)
{
	_cleanup_free_ char *path = NULL, *key = NULL, *pair = NULL;
	_cleanup_free_ char *b64 = NULL;
	_cleanup_json_ json_t *root = NULL;
	json_t *auths = NULL, *entry;
	int r;

	if ((r = check_field("registry name", registry, true, err)) < 0 ||
	    (r = check_field("user name", user, false, err)) < 0 ||
	    (r = check_field("password", password, true, err)) < 0)
		return r;
	key = cove_auth_normalize_key(registry);
	path = cove_auth_default_path(authfile);
	pair = cove_strdup_printf("%s:%s", user, password);
	if (!key || !path || !pair)
		return -ENOMEM;
	if (!*key)
		return cove_error_set(err, EINVAL, "empty registry name");
	r = cove_base64_encode(pair, strlen(pair), &b64);
	if (r < 0)
		return r;
	r = load_for_update(path, &root, &auths, err);
	if (r < 0)
		return r;
	r = remove_matching(auths, key);
	if (r < 0)
		return r;
	entry = json_pack("{s:s}", "auth", b64);
	if (!entry || json_object_set_new(auths, key, entry) < 0)
		return -ENOMEM;
	return save_file(path, root, err);
}

int cove_auth_remove(const char *authfile, const char *registry,
		     struct cove_error *err)
{
	_cleanup_free_ char *path = NULL, *key = NULL;
	_cleanup_json_ json_t *root = NULL;
	json_t *auths = NULL;
	int r, n;

	key = cove_auth_normalize_key(registry);
	path = cove_auth_default_path(authfile);
	if (!key || !path)
		return -ENOMEM;
	r = load_file(path, &root, err);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	r = cove_json_object(root, "", "auths", &auths, err);
	if (r < 0)
		return cove_error_wrap(err, "%s", path);
	if (!auths)
		return 0;
	n = remove_matching(auths, key);
	if (n <= 0)
		return n;
	r = save_file(path, root, err);
	return r < 0 ? r : 1;
}
