#include "image/registry-parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "util/cleanup.h"
#include "util/strutil.h"

/* ---- RFC 7230 lexical pieces --------------------------------------------- */

static bool is_tchar(char c)
{
	return isalnum((unsigned char)c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static const char *skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* A token; returns its end (== p when there is none). */
static const char *scan_token(const char *p)
{
	while (is_tchar(*p))
		p++;
	return p;
}

/*
 * A quoted-string starting at *p ('"'); the unescaped value goes to
 * *ret.  Returns the position after the closing quote, or NULL.
 */
static const char *scan_quoted(const char *p, char **ret)
{
	_cleanup_free_ char *out = NULL;
	size_t n = 0;

	out = malloc(strlen(p) + 1);
	if (!out)
		return NULL;
	for (p++; *p && *p != '"'; p++) {
		if (*p == '\\') {
			p++;
			if (!*p)
				return NULL;
		}
		/* Control characters have no business in a header value. */
		if ((unsigned char)*p < 0x20 && *p != '\t')
			return NULL;
		out[n++] = *p;
	}
	if (*p != '"')
		return NULL;
	out[n] = '\0';
	*ret = TAKE_PTR(out);
	return p + 1;
}

/* ---- WWW-Authenticate ---------------------------------------------------- */

void cove_auth_challenge_release(struct cove_auth_challenge *c)
{
	if (!c)
		return;
	free(c->realm);
	free(c->service);
	free(c->scope);
	free(c->error);
	memset(c, 0, sizeof(*c));
}

static enum cove_auth_scheme scheme_of(const char *s, size_t n)
{
	if (n == 6 && strncasecmp(s, "bearer", 6) == 0)
		return COVE_AUTH_SCHEME_BEARER;
	if (n == 5 && strncasecmp(s, "basic", 5) == 0)
		return COVE_AUTH_SCHEME_BASIC;
	return COVE_AUTH_SCHEME_NONE;
}

static void set_param(struct cove_auth_challenge *c, const char *name, size_t n,
		      char **value)
{
	char **slot = NULL;

	if (n == 5 && strncasecmp(name, "realm", 5) == 0)
		slot = &c->realm;
	else if (n == 7 && strncasecmp(name, "service", 7) == 0)
		slot = &c->service;
	else if (n == 5 && strncasecmp(name, "scope", 5) == 0)
		slot = &c->scope;
	else if (n == 5 && strncasecmp(name, "error", 5) == 0)
		slot = &c->error;
	/* The first occurrence counts; a repeated parameter is ignored. */
	if (slot && !*slot)
		*slot = TAKE_PTR(*value);
}

int cove_auth_challenge_parse(const char *header,
			      struct cove_auth_challenge *ret,
			      struct cove_error *err)
{
	struct cove_auth_challenge best = {0}, cur = {0};
	const char *p = header;

	if (!header || strlen(header) > COVE_HTTP_HEADER_MAX)
		return cove_error_set(err, EINVAL,
				      "invalid WWW-Authenticate header: too "
				      "long or missing");
	for (;;) {
		const char *s, *e;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		s = p;
		e = scan_token(p);
		if (e == s)
			goto malformed;
		cur.scheme = scheme_of(s, (size_t)(e - s));
		p = skip_ows(e);
		/* auth-params (or a token68) up to the next challenge. */
		for (;;) {
			_cleanup_free_ char *value = NULL;
			const char *ns = p, *ne = scan_token(p), *q;

			if (ne == ns)
				break;
			q = skip_ows(ne);
			if (*q != '=') {
				/* A token68 ("Basic abc==") or the next scheme.
				 */
				break;
			}
			q = skip_ows(q + 1);
			if (*q == '=' || *q == ',' || !*q) {
				/* token68 with padding: skip it. */
				while (*q == '=')
					q++;
				p = skip_ows(q);
				break;
			}
			if (*q == '"') {
				q = scan_quoted(q, &value);
				if (!q)
					goto malformed;
			} else {
				const char *ve = scan_token(q);
				if (ve == q)
					goto malformed;
				value = strndup(q, (size_t)(ve - q));
				if (!value) {
					cove_auth_challenge_release(&cur);
					cove_auth_challenge_release(&best);
					return -ENOMEM;
				}
				q = ve;
			}
			set_param(&cur, ns, (size_t)(ne - ns), &value);
			p = skip_ows(q);
			if (*p != ',')
				break;
			p = skip_ows(p + 1);
		}
		if (cur.scheme != COVE_AUTH_SCHEME_NONE &&
		    cur.scheme > best.scheme &&
		    (cur.scheme != COVE_AUTH_SCHEME_BEARER || cur.realm)) {
			cove_auth_challenge_release(&best);
			best = cur;
			memset(&cur, 0, sizeof(cur));
		} else {
			cove_auth_challenge_release(&cur);
		}
		if (*p && *p != ',' && !is_tchar(*p))
			goto malformed;
	}
	if (best.scheme == COVE_AUTH_SCHEME_NONE)
		return cove_error_set(
		    err, EINVAL,
		    "unsupported WWW-Authenticate challenge "
		    "(neither Basic nor Bearer with a realm)");
	*ret = best;
	return 0;

malformed:
	cove_auth_challenge_release(&cur);
	cove_auth_challenge_release(&best);
	return cove_error_set(err, EINVAL, "malformed WWW-Authenticate header");
}

/* ---- Link ---------------------------------------------------------------- */

/* Does the rel value (a space-separated list) contain "next"? */
static bool rel_has_next(const char *v)
{
	const char *p = v;

	while (*p) {
		const char *s;

		while (*p == ' ')
			p++;
		s = p;
		while (*p && *p != ' ')
			p++;
		if (p - s == 4 && strncasecmp(s, "next", 4) == 0)
			return true;
	}
	return false;
}

int cove_link_next(const char *header, char **ret_url)
{
	const char *p = header;

	if (!header || strlen(header) > COVE_HTTP_HEADER_MAX)
		return -EINVAL;
	for (;;) {
		const char *us, *ue;
		bool next = false;

		p = skip_ows(p);
		while (*p == ',')
			p = skip_ows(p + 1);
		if (!*p)
			return 0;
		if (*p != '<')
			return -EINVAL;
		us = p + 1;
		ue = strchr(us, '>');
		if (!ue)
			return -EINVAL;
		p = skip_ows(ue + 1);
		while (*p == ';') {
			_cleanup_free_ char *value = NULL;
			const char *ns, *ne;

			p = skip_ows(p + 1);
			ns = p;
			ne = scan_token(p);
			if (ne == ns)
				return -EINVAL;
			p = skip_ows(ne);
			if (*p == '=') {
				p = skip_ows(p + 1);
				if (*p == '"') {
					p = scan_quoted(p, &value);
					if (!p)
						return -EINVAL;
				} else {
					const char *ve = scan_token(p);
					value = strndup(p, (size_t)(ve - p));
					if (!value)
						return -ENOMEM;
					p = ve;
				}
				if (ne - ns == 3 &&
				    strncasecmp(ns, "rel", 3) == 0 &&
				    rel_has_next(value))
					next = true;
			}
			p = skip_ows(p);
		}
		if (*p && *p != ',')
			return -EINVAL;
		if (next) {
			char *url;

			for (const char *c = us; c < ue; c++)
				if ((unsigned char)*c <= 0x20 || *c == 0x7f)
					return -EINVAL;
			url = strndup(us, (size_t)(ue - us));
			if (!url)
				return -ENOMEM;
			*ret_url = url;
			return 1;
		}
	}
}

/* ---- small header values ------------------------------------------------- */

long cove_retry_after_parse(const char *value)
{
	uint64_t secs;
	time_t when, now;

	if (!value)
		return -EINVAL;
	value = skip_ows(value);
	if (isdigit((unsigned char)*value)) {
		_cleanup_free_ char *v = strdup(value);
		size_t n;

		if (!v)
			return -ENOMEM;
		n = strlen(v);
		while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
			v[--n] = '\0';
		if (cove_parse_uint64(v, &secs) < 0)
			return -EINVAL;
		return secs > 86400 * 365 ? 86400 * 365 : (long)secs;
	}
	when = curl_getdate(value, NULL);
	if (when == (time_t)-1)
		return -EINVAL;
	now = time(NULL);
	return when > now ? (long)(when - now) : 0;
}

char *cove_content_type_media_type(const char *value)
{
	const char *s, *e;
	char *out;

	if (!value)
		return NULL;
	s = skip_ows(value);
	e = s;
	while (*e && *e != ';' && *e != ' ' && *e != '\t')
		e++;
	if (e == s || e - s > 255)
		return NULL;
	for (const char *c = s; c < e; c++)
		if (!is_tchar(*c) && *c != '/')
			return NULL;
	out = strndup(s, (size_t)(e - s));
	if (!out)
		return NULL;
	for (char *c = out; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return out;
}

/* ---- error bodies -------------------------------------------------------- */

#define REGISTRY_MSG_MAX 256

/* Copy hostile text for a message: printable ASCII, capped. */
static void sanitize(char *dst, size_t dst_size, const char *src)
{
	size_t n = 0;

	for (; src && *src && n + 4 < dst_size; src++) {
		unsigned char c = (unsigned char)*src;
		dst[n++] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
	}
	if (src && *src && n + 4 >= dst_size) {
		memcpy(dst + n, "...", 3);
		n += 3;
	}
	dst[n] = '\0';
}

/*
 * The first error of {"errors":[{"code":"MANIFEST_UNKNOWN","message":...,
 * "detail":...}]}: code as words ("manifest unknown") and message.
 */
static void parse_error_body(const char *body, size_t len, char *code,
			     size_t code_size, char *msg, size_t msg_size)
{
	_cleanup_json_ json_t *root = NULL;
	json_t *errors, *first, *v;

	code[0] = msg[0] = '\0';
	if (!body || len == 0)
		return;
	root = json_loadb(body, len, 0, NULL);
	if (!json_is_object(root))
		return;
	errors = json_object_get(root, "errors");
	if (!json_is_array(errors) || json_array_size(errors) == 0)
		return;
	first = json_array_get(errors, 0);
	if (!json_is_object(first))
		return;
	v = json_object_get(first, "code");
	if (json_is_string(v)) {
		sanitize(code, code_size, json_string_value(v));
		for (char *c = code; *c; c++)
			*c = *c == '_' ? ' ' : (char)tolower((unsigned char)*c);
	}
	v = json_object_get(first, "message");
	if (json_is_string(v))
		sanitize(msg, msg_size, json_string_value(v));
}

int cove_registry_http_error(const struct cove_http_failure *f,
			     struct cove_error *err)
{
	char code[64], msg[REGISTRY_MSG_MAX], tail[REGISTRY_MSG_MAX + 4];
	const char *reg = f->registry ? f->registry : "registry";
	const char *subject = f->subject ? f->subject : reg;

	parse_error_body(f->body, f->body_len, code, sizeof(code), msg,
			 sizeof(msg));
	/* The registry's message, unless it only repeats the code. */
	tail[0] = '\0';
	if (msg[0] && strcasecmp(msg, code) != 0)
		snprintf(tail, sizeof(tail), ": %s", msg);

	switch (f->status) {
	case 401:
		if (f->user)
			return cove_error_set(
			    err, EACCES,
			    "authentication failed for %s: the registry "
			    "refused the credentials of user '%s'%s: run "
			    "`cove login %s`",
			    reg, f->user, tail, reg);
		return cove_error_set(err, EACCES,
				      "authentication required for %s: run "
				      "`cove login %s`",
				      reg, reg);
	case 403:
		return cove_error_set(err, EPERM, "access denied to %s%s",
				      subject, tail);
	case 404:
		return cove_error_set(err, ENOENT, "%s: %s%s",
				      code[0] ? code : "not found", subject,
				      tail);
	case 429:
		if (f->retry_after >= 0)
			return cove_error_set(err, EAGAIN,
					      "too many requests to %s: retry "
					      "after %ld seconds",
					      reg, f->retry_after);
		return cove_error_set(
		    err, EAGAIN, "too many requests to %s: retry later", reg);
	default:
		break;
	}
	if (f->status >= 500 && f->status <= 599)
		return cove_error_set(err, EIO,
				      "registry %s failed with HTTP %ld for "
				      "%s%s",
				      reg, f->status, subject, tail);
	if (code[0])
		return cove_error_set(err,
				      f->status == 405	 ? EOPNOTSUPP
				      : f->status == 413 ? EFBIG
							 : EINVAL,
				      "%s: %s%s", code, subject, tail);
	return cove_error_set(err, EPROTO,
			      "unexpected HTTP %ld from %s for %s%s", f->status,
			      reg, subject, tail);
}
