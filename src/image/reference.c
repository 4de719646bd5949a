#include "image/reference.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "image/digest.h"
#include "util/cleanup.h"
#include "util/strutil.h"

#define DEFAULT_REGISTRY "docker.io"
#define NAME_MAX_LEN 255
#define TAG_MAX_LEN 128
/* Long enough for any valid reference; bounds the work on hostile input. */
#define REF_MAX_LEN 1024

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool is_word(char c)
{
	return is_alnum(c) || c == '_';
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

static int bad(struct cove_error *err, const char *s, const char *why)
{
	return cove_error_set(err, EINVAL,
			      "invalid image reference '%.300s': %s", s, why);
}

/* A tag: [\w][\w.-]{0,127}. */
static int check_tag(const char *s, const char *tag, size_t n,
		     struct cove_error *err)
{
	if (n == 0)
		return bad(err, s, "empty tag");
	if (n > TAG_MAX_LEN)
		return bad(err, s, "tag longer than 128 characters");
	if (!is_word(tag[0]))
		return bad(err, s,
			   "tag must start with a letter, digit or '_'");
	for (size_t i = 1; i < n; i++)
		if (!is_word(tag[i]) && tag[i] != '.' && tag[i] != '-')
			return bad(err, s,
				   "tag may only contain letters, digits, '_', "
				   "'.' and '-'");
	return 0;
}

/* host[:port], host a domain name or a bracketed IPv6 address. */
static int check_registry(const char *s, const char *reg, size_t n,
			  struct cove_error *err)
{
	size_t i = 0;

	if (n == 0)
		return bad(err, s, "empty registry");
	if (reg[0] == '[') {
		i = 1;
		while (i < n && (is_hex(reg[i]) || reg[i] == ':'))
			i++;
		if (i == 1 || i >= n || reg[i] != ']')
			return bad(err, s, "invalid IPv6 address in registry");
		i++;
	} else {
		for (;;) {
			size_t start = i;
			while (i < n && (is_alnum(reg[i]) || reg[i] == '-'))
				i++;
			if (i == start || reg[start] == '-' ||
			    reg[i - 1] == '-')
				return bad(err, s,
					   "invalid registry host name");
			if (i < n && reg[i] == '.') {
				i++;
				continue;
			}
			break;
		}
	}
	if (i == n)
		return 0;
	if (reg[i] != ':')
		return bad(err, s, "invalid registry host name");
	i++;
	if (i == n)
		return bad(err, s, "empty registry port");
	{
		uint32_t port = 0;
		char buf[8];
		if (n - i > 5)
			return bad(err, s, "invalid registry port");
		memcpy(buf, reg + i, n - i);
		buf[n - i] = '\0';
		for (size_t k = 0; buf[k]; k++)
			if (buf[k] < '0' || buf[k] > '9')
				return bad(err, s, "invalid registry port");
		if (cove_parse_uint32(buf, &port) < 0 || port > 65535)
			return bad(err, s, "invalid registry port");
	}
	return 0;
}

/* path-component ('/' path-component)* */
static int check_path(const char *s, const char *path, size_t n,
		      struct cove_error *err)
{
	size_t i = 0;

	if (n == 0)
		return bad(err, s, "empty repository name");
	for (size_t k = 0; k < n; k++)
		if (path[k] >= 'A' && path[k] <= 'Z')
			return bad(err, s, "repository name must be lowercase");
	for (;;) {
		/* one component: alnum+ (separator alnum+)* */
		if (i >= n || !is_lower_alnum(path[i]))
			return bad(err, s,
				   i >= n || path[i] == '/'
				       ? "empty component in repository name"
				       : "repository name components must "
					 "start with a letter or digit");
		while (i < n && is_lower_alnum(path[i]))
			i++;
		while (i < n && path[i] != '/') {
			if (path[i] == '.') {
				i++;
			} else if (path[i] == '_') {
				i++;
				if (i < n && path[i] == '_')
					i++;
			} else if (path[i] == '-') {
				while (i < n && path[i] == '-')
					i++;
			} else {
				return bad(
				    err, s,
				    "repository name may only contain "
				    "[a-z0-9], '.', '_', '__', '-' and '/'");
			}
			if (i >= n || !is_lower_alnum(path[i]))
				return bad(
				    err, s,
				    "separators in a repository name must be "
				    "followed by a letter or digit");
			while (i < n && is_lower_alnum(path[i]))
				i++;
		}
		if (i == n)
			return 0;
		i++; /* the '/' */
	}
}

static bool looks_like_registry(const char *c, size_t n)
{
	if (n == 9 && !memcmp(c, "localhost", 9))
		return true;
	for (size_t i = 0; i < n; i++)
		if (c[i] == '.' || c[i] == ':' || (c[i] >= 'A' && c[i] <= 'Z'))
			return true;
	return false;
}

int cove_image_ref_parse(const char *s, struct cove_image_ref *ret,
			 struct cove_error *err)
{
	struct cove_image_ref ref = {0};
	const char *at, *slash, *colon, *name_end, *first_slash;
	const char *path;
	size_t len, name_len, path_len, tag_len = 0;
	int r;

	*ret = (struct cove_image_ref){0};
	if (!s || !*s)
		return cove_error_set(err, EINVAL,
				      "invalid image reference '': empty");
	len = strlen(s);
	if (len > REF_MAX_LEN)
		return cove_error_set(err, EINVAL,
				      "invalid image reference '%.64s...': "
				      "longer than %d characters",
				      s, REF_MAX_LEN);
	/* An image id is not a name: docker refuses it the same way. */
	if (len == 64) {
		bool all_hex = true;
		for (size_t i = 0; i < len && all_hex; i++)
			all_hex = is_lower_alnum(s[i]) && is_hex(s[i]);
		if (all_hex)
			return bad(err, s,
				   "a 64-character hexadecimal string is an "
				   "image id, not a name");
	}

	at = strchr(s, '@');
	name_end = at ? at : s + len;
	if (at) {
		r = cove_digest_validate(at + 1, NULL, err);
		if (r < 0)
			return cove_error_wrap(
			    err, "invalid image reference '%.300s'", s);
	}

	/* The tag follows the last ':' after the last '/'. */
	slash = memrchr(s, '/', (size_t)(name_end - s));
	colon = memrchr(slash ? slash : s, ':',
			(size_t)(name_end - (slash ? slash : s)));
	if (colon) {
		tag_len = (size_t)(name_end - colon - 1);
		r = check_tag(s, colon + 1, tag_len, err);
		if (r < 0)
			return r;
		name_end = colon;
	}
	name_len = (size_t)(name_end - s);
	if (name_len == 0)
		return bad(err, s, "empty repository name");

	first_slash = memchr(s, '/', name_len);
	if (first_slash && looks_like_registry(s, (size_t)(first_slash - s))) {
		size_t reg_len = (size_t)(first_slash - s);
		r = check_registry(s, s, reg_len, err);
		if (r < 0)
			return r;
		if (reg_len == 15 && !memcmp(s, "index.docker.io", 15))
			ref.registry = strdup(DEFAULT_REGISTRY);
		else
			ref.registry = strndup(s, reg_len);
		path = first_slash + 1;
	} else {
		ref.registry = strdup(DEFAULT_REGISTRY);
		path = s;
	}
	if (!ref.registry)
		goto nomem;
	path_len = (size_t)(name_end - path);
	r = check_path(s, path, path_len, err);
	if (r < 0)
		goto fail;

	if (!strcmp(ref.registry, DEFAULT_REGISTRY) &&
	    !memchr(path, '/', path_len))
		ref.repository =
		    cove_strdup_printf("library/%.*s", (int)path_len, path);
	else
		ref.repository = strndup(path, path_len);
	if (!ref.repository)
		goto nomem;
	if (strlen(ref.registry) + 1 + strlen(ref.repository) > NAME_MAX_LEN) {
		r = bad(err, s, "repository name longer than 255 characters");
		goto fail;
	}

	if (colon)
		ref.tag = strndup(colon + 1, tag_len);
	else if (!at)
		ref.tag = strdup("latest");
	if ((colon || !at) && !ref.tag)
		goto nomem;
	if (at && !(ref.digest = strdup(at + 1)))
		goto nomem;

	*ret = ref;
	return 0;
nomem:
	r = cove_error_set(err, ENOMEM, "out of memory");
fail:
	cove_image_ref_release(&ref);
	return r;
}

char *cove_image_ref_format(const struct cove_image_ref *ref)
{
	return cove_strdup_printf(
	    "%s/%s%s%s%s%s", ref->registry, ref->repository,
	    ref->tag ? ":" : "", ref->tag ? ref->tag : "",
	    ref->digest ? "@" : "", ref->digest ? ref->digest : "");
}

char *cove_image_ref_name(const struct cove_image_ref *ref)
{
	return cove_strdup_printf("%s/%s", ref->registry, ref->repository);
}

void cove_image_ref_release(struct cove_image_ref *ref)
{
	if (!ref)
		return;
	free(ref->registry);
	free(ref->repository);
	free(ref->tag);
	free(ref->digest);
	*ref = (struct cove_image_ref){0};
}
