#include "util/strutil.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cove_parse_int64(const char *s, int64_t *ret)
{
	char *end;
	long long v;

	if (!s || (*s != '-' && (*s < '0' || *s > '9')))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end || end == s)
		return -EINVAL;
	*ret = v;
	return 0;
}

int cove_parse_uint64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end || end == s)
		return -EINVAL;
	*ret = v;
	return 0;
}

int cove_parse_int(const char *s, int *ret)
{
	int64_t v;
	int r = cove_parse_int64(s, &v);
	if (r < 0)
		return r;
	if (v < INT_MIN || v > INT_MAX)
		return -ERANGE;
	*ret = (int)v;
	return 0;
}

int cove_parse_uint32(const char *s, uint32_t *ret)
{
	uint64_t v;
	int r = cove_parse_uint64(s, &v);
	if (r < 0)
		return r;
	if (v > UINT32_MAX)
		return -ERANGE;
	*ret = (uint32_t)v;
	return 0;
}

size_t cove_strv_length(char *const *v)
{
	size_t n = 0;
	if (v)
		while (v[n])
			n++;
	return n;
}

char **cove_strv_copy(char *const *v)
{
	size_t n = cove_strv_length(v);
	char **c = calloc(n + 1, sizeof(char *));
	if (!c)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		c[i] = strdup(v[i]);
		if (!c[i]) {
			for (size_t j = 0; j < i; j++)
				free(c[j]);
			free(c);
			return NULL;
		}
	}
	return c;
}

int cove_strv_push(char ***v, const char *s)
{
	size_t n = cove_strv_length(*v);
	char **nv = realloc(*v, (n + 2) * sizeof(char *));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[n] = strdup(s);
	nv[n + 1] = NULL;
	if (!nv[n])
		return -ENOMEM;
	return 0;
}

char *cove_strv_join(char *const *v, const char *sep)
{
	size_t len = 1, seplen = strlen(sep), pos = 0;
	char *out;

	for (size_t i = 0; v && v[i]; i++)
		len += strlen(v[i]) + (i ? seplen : 0);
	out = malloc(len);
	if (!out)
		return NULL;
	for (size_t i = 0; v && v[i]; i++) {
		size_t n = strlen(v[i]);
		if (i) {
			memcpy(out + pos, sep, seplen);
			pos += seplen;
		}
		memcpy(out + pos, v[i], n);
		pos += n;
	}
	out[pos] = '\0';
	return out;
}

bool cove_strv_contains(char *const *v, const char *s)
{
	if (v)
		for (; *v; v++)
			if (!strcmp(*v, s))
				return true;
	return false;
}

char *cove_strdup_printf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	return r < 0 ? NULL : s;
}

bool cove_str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}
