/*
 * The HTTP side of the registry client: one libcurl handle per client,
 * TLS trust, requests with retries, the Basic and Bearer authentication
 * flows, and the ping that picks the scheme.  The distribution-spec
 * operations are in registry.c.
 */
#include "image/registry-internal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "image/auth.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strutil.h"

#ifndef COVE_VERSION
#define COVE_VERSION "0.0.0"
#endif

#define TOKEN_BODY_MAX (256 * 1024)
#define CA_BUNDLE_MAX (16 * 1024 * 1024)
#define PROGRESS_STEP (64 * 1024)
#define RETRY_DELAY_MAX_MS 30000
#define RETRY_AFTER_MAX_S 60
#define DEFAULT_CHUNK (64 * 1024 * 1024)

static bool is_loopback(const char *registry)
{
	static const char *const names[] = {"localhost", "127.0.0.1", "[::1]",
					    "::1"};
	size_t hl;
	const char *colon;

	if (registry[0] == '[') {
		const char *end = strchr(registry, ']');
		hl = end ? (size_t)(end - registry) + 1 : strlen(registry);
	} else {
		colon = strchr(registry, ':');
		hl = colon ? (size_t)(colon - registry) : strlen(registry);
	}
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strlen(names[i]) == hl && !strncmp(names[i], registry, hl))
			return true;
	return false;
}

/* ---- client -------------------------------------------------------------- */

static void tokens_clear(struct cove_registry_client *c)
{
	for (size_t i = 0; i < c->n_tokens; i++) {
		free(c->tokens[i].scope);
		if (c->tokens[i].token)
			explicit_bzero(c->tokens[i].token,
				       strlen(c->tokens[i].token));
		free(c->tokens[i].token);
	}
	c->n_tokens = 0;
}

static void free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void cove_registry_client_free(struct cove_registry_client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	tokens_clear(c);
	free(c->registry);
	free(c->host);
	free(c->base);
	free(c->authfile);
	free(c->user_agent);
	free(c->username);
	free_secret(c->password);
	free(c->ca_blob);
	free(c->realm);
	free(c->service);
	free(c);
}

const char *cove_registry_client_base_url(const struct cove_registry_client *c)
{
	return c->base;
}

static int append_file(char **blob, size_t *len, const char *path,
		       struct cove_error *err)
{
	_cleanup_free_ char *buf = NULL;
	size_t n = 0;
	char *nb;
	int r;

	r = cove_read_file(path, CA_BUNDLE_MAX, &buf, &n);
	if (r < 0)
		return cove_error_setx(err, r, "cannot read CA file %s", path);
	if (*len + n + 2 > CA_BUNDLE_MAX)
		return cove_error_set(err, EFBIG, "too many CA certificates");
	nb = realloc(*blob, *len + n + 2);
	if (!nb)
		return -ENOMEM;
	memcpy(nb + *len, buf, n);
	*len += n;
	nb[(*len)++] = '\n';
	nb[*len] = '\0';
	*blob = nb;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.crt files of DIR/REGISTRY/, docker's and podman's certs.d layout. */
static int certs_d_files(const char *dir, const char *registry, char ***ret)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_strv_ char **v = NULL;
	struct dirent *de;
	int r;

	/* No ".." or "/" tricks through the registry name. */
	if (strchr(registry, '/') || registry[0] == '.')
		return 0;
	path = cove_strdup_printf("%s/%s", dir, registry);
	if (!path)
		return -ENOMEM;
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		_cleanup_free_ char *f = NULL;

		if (de->d_name[0] == '.' || n < 5 ||
		    strcmp(de->d_name + n - 4, ".crt") != 0)
			continue;
		f = cove_strdup_printf("%s/%s", path, de->d_name);
		if (!f || (r = cove_strv_push(&v, f)) < 0)
			return -ENOMEM;
	}
	if (v)
		qsort(v, cove_strv_length(v), sizeof(char *), cmp_str);
	*ret = TAKE_PTR(v);
	return 0;
}

/*
 * libcurl takes one CA bundle; extra CAs (a --ca-file, certs.d) are added
 * to the system bundle in memory so that both stay trusted.
 */
static int build_ca_blob(struct cove_registry_client *c,
			 const struct cove_registry_options *o,
			 struct cove_error *err)
{
	static const char *const certs_d[] = {"/etc/containers/certs.d",
					      "/etc/docker/certs.d"};
	_cleanup_strv_ char **extra = NULL;
	_cleanup_free_ char *blob = NULL;
	const curl_version_info_data *vi;
	size_t len = 0;
	int r;

	if (o->ca_file && (r = cove_strv_push(&extra, o->ca_file)) < 0)
		return r;
	for (size_t i = 0; i < (o->certs_dir ? 1 : ARRAY_SIZE(certs_d)); i++) {
		_cleanup_strv_ char **files = NULL;
		const char *dir = o->certs_dir ? o->certs_dir : certs_d[i];

		r = certs_d_files(dir, c->registry, &files);
		if (r < 0)
			return r;
		for (char **f = files; f && *f; f++)
			if ((r = cove_strv_push(&extra, *f)) < 0)
				return r;
	}
	if (!extra)
		return 0;
	vi = curl_version_info(CURLVERSION_NOW);
	if (vi && vi->age >= CURLVERSION_SEVENTH && vi->cainfo &&
	    access(vi->cainfo, R_OK) == 0) {
		r = append_file(&blob, &len, vi->cainfo, err);
		if (r < 0)
			return r;
	}
	for (char **f = extra; *f; f++) {
		r = append_file(&blob, &len, *f, err);
		if (r < 0)
			return r;
	}
	c->ca_blob = TAKE_PTR(blob);
	c->ca_blob_len = len;
	return 0;
}

static int dup_opt(char **dst, const char *src)
{
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : -ENOMEM;
}

int cove_registry_client_new(const char *registry,
			     const struct cove_registry_options *opts,
			     struct cove_registry_client **ret,
			     struct cove_error *err)
{
	static const struct cove_registry_options defaults = {0};
	static bool curl_ready;
	const struct cove_registry_options *o = opts ? opts : &defaults;
	struct cove_registry_client *c;
	int r;

	if (!registry || !*registry || strlen(registry) > 255)
		return cove_error_set(err, EINVAL, "invalid registry name");
	for (const char *p = registry; *p; p++)
		if (!(isalnum((unsigned char)*p) || strchr(".-:[]_", *p)))
			return cove_error_set(err, EINVAL,
					      "invalid registry name '%.256s'",
					      registry);
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return cove_error_set(err, ENOMEM,
					      "cannot initialise libcurl");
		curl_ready = true;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->registry = strdup(registry);
	/* Docker Hub's name and its API endpoint differ. */
	c->host = strdup(strcmp(registry, "docker.io") == 0 ||
				 strcmp(registry, "index.docker.io") == 0
			     ? "registry-1.docker.io"
			     : registry);
	c->user_agent = o->user_agent ? strdup(o->user_agent)
				      : strdup("cove/" COVE_VERSION);
	c->curl = curl_easy_init();
	if (!c->registry || !c->host || !c->user_agent || !c->curl ||
	    dup_opt(&c->authfile, o->authfile) < 0 ||
	    dup_opt(&c->username, o->username) < 0 ||
	    dup_opt(&c->password, o->password) < 0) {
		cove_registry_client_free(c);
		return -ENOMEM;
	}
	if (o->username) {
		c->creds_loaded = true;
		if (!o->password) {
			cove_registry_client_free(c);
			return cove_error_set(err, EINVAL,
					      "a user name needs a password");
		}
	}
	c->insecure =
	    o->insecure || (o->insecure_localhost && is_loopback(registry));
	c->connect_timeout = o->connect_timeout > 0 ? o->connect_timeout : 30;
	c->stall_timeout = o->stall_timeout > 0 ? o->stall_timeout : 60;
	c->max_retries = o->max_retries == 0  ? 4
			 : o->max_retries < 0 ? 0
					      : o->max_retries;
	c->retry_delay_ms = o->retry_delay_ms > 0 ? o->retry_delay_ms : 500;
	c->chunk_size = o->chunk_size == 0 ? DEFAULT_CHUNK : o->chunk_size;
	c->tag_page_size = o->tag_page_size > 0 ? o->tag_page_size : 0;
	c->progress = o->progress;
	c->progress_data = o->progress_data;
	r = build_ca_blob(c, o, err);
	if (r < 0) {
		cove_registry_client_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

static int load_credentials(struct cove_registry_client *c,
			    struct cove_error *err)
{
	int r;

	if (c->creds_loaded)
		return 0;
	r = cove_auth_get(c->authfile, c->registry, &c->username, &c->password,
			  err);
	if (r < 0)
		return r;
	c->creds_loaded = true;
	return 0;
}

/* ---- one HTTP exchange --------------------------------------------------- */

static void xfer_reset_response(struct cove_xfer *x)
{
	free(x->body);
	x->body = NULL;
	x->len = x->cap = 0;
	x->status = 0;
	x->too_large = false;
	x->sink_failed = false;
	cove_error_clear(&x->sink_err);
	x->cc = CURLE_OK;
	x->curl_msg[0] = '\0';
	x->sent_credentials = false;
}

void cove_registry_xfer_release(struct cove_xfer *x)
{
	free(x->body);
	x->body = NULL;
}

void cove_registry_report(struct cove_registry_client *c, const char *digest,
			  int64_t done, int64_t total, int64_t *reported,
			  bool force)
{
	if (!c->progress || !digest)
		return;
	if (!force && done - *reported < PROGRESS_STEP &&
	    !(total >= 0 && done == total))
		return;
	*reported = done;
	c->progress(c->progress_data, digest, done, total);
}

static bool buffer_append(struct cove_xfer *x, const char *p, size_t n)
{
	size_t max = x->max_body ? x->max_body : ERROR_BODY_MAX;

	if (x->len + n > max) {
		x->too_large = true;
		n = max - x->len;
	}
	if (x->len + n + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 4096;
		char *b;

		while (cap < x->len + n + 1)
			cap *= 2;
		b = realloc(x->body, cap);
		if (!b)
			return false;
		x->body = b;
		x->cap = cap;
	}
	memcpy(x->body + x->len, p, n);
	x->len += n;
	x->body[x->len] = '\0';
	return true;
}

/* Where does a 206 start?  "bytes START-END/TOTAL". */
static int64_t content_range_start(CURL *curl)
{
	struct curl_header *h;
	uint64_t v;
	char buf[32];
	size_t n;
	const char *p;

	if (curl_easy_header(curl, "Content-Range", 0, CURLH_HEADER, -1, &h) !=
	    CURLHE_OK)
		return -1;
	p = h->value;
	if (strncasecmp(p, "bytes ", 6) != 0)
		return -1;
	p += 6;
	n = strcspn(p, "-");
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	if (cove_parse_uint64(buf, &v) < 0 || v > INT64_MAX)
		return -1;
	return (int64_t)v;
}

static size_t sink_fail(struct cove_xfer *x, int code, const char *msg)
{
	x->sink_failed = true;
	cove_error_set(&x->sink_err, code, "%s", msg);
	return 0;
}

static size_t download_write(struct cove_xfer *x, char *p, size_t n)
{
	struct cove_download *d = x->down;
	int64_t off;

	if (!d->started) {
		d->started = true;
		if (x->status == 206) {
			if (content_range_start(x->c->curl) != d->range_from)
				return sink_fail(
				    x, EPROTO,
				    "registry answered a range "
				    "request with the wrong range");
		} else if (d->range_from > 0) {
			/* A 200 to a Range request: the whole blob again. */
			d->skip = d->range_from;
		}
	}
	if (d->skip > 0) {
		size_t drop = (int64_t)n < d->skip ? n : (size_t)d->skip;
		d->skip -= (int64_t)drop;
		p += drop;
		n -= drop;
		if (n == 0)
			return drop;
	}
	off = cove_ingest_offset(d->in);
	if (d->limit >= 0 && (uint64_t)n > (uint64_t)(d->limit - off))
		return sink_fail(x, EBADMSG,
				 "registry sent more bytes than the blob's "
				 "size");
	if (cove_ingest_write(d->in, p, n, &x->sink_err) < 0) {
		x->sink_failed = true;
		return 0;
	}
	cove_registry_report(x->c, d->digest, off + (int64_t)n, d->limit,
			     &d->reported, false);
	return n;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud)
{
	struct cove_xfer *x = ud;
	size_t n = size * nmemb;

	if (!x->status)
		curl_easy_getinfo(x->c->curl, CURLINFO_RESPONSE_CODE,
				  &x->status);
	if (x->down && (x->status == 200 || x->status == 206)) {
		size_t done = download_write(x, p, n);
		/* download_write() may drop a prefix: report all consumed. */
		return x->sink_failed ? 0 : (done ? n : 0);
	}
	if (!buffer_append(x, p, n))
		return sink_fail(x, ENOMEM, "out of memory");
	/* A success body beyond the cap is an error; an error body is cut. */
	if (x->too_large && x->status >= 200 && x->status < 300)
		return sink_fail(x, EFBIG, "response larger than allowed");
	return n;
}

static size_t on_read(char *p, size_t size, size_t nmemb, void *ud)
{
	struct cove_xfer *x = ud;
	struct cove_upload *u = x->up;
	size_t want = size * nmemb;
	int64_t left = u->len - u->pos;
	ssize_t n;

	if (left <= 0)
		return 0;
	if ((int64_t)want > left)
		want = (size_t)left;
	if (u->buf) {
		memcpy(p, u->buf + u->pos, want);
		n = (ssize_t)want;
	} else {
		do
			n = pread(u->fd, p, want, u->off + u->pos);
		while (n < 0 && errno == EINTR);
		if (n <= 0) {
			x->sink_failed = true;
			cove_error_setx(&x->sink_err, n < 0 ? errno : EIO,
					"cannot read the blob to upload");
			return CURL_READFUNC_ABORT;
		}
	}
	u->pos += n;
	cove_registry_report(x->c, u->digest, u->base + u->pos, u->total,
			     &u->reported, false);
	return (size_t)n;
}

static int on_seek(void *ud, curl_off_t offset, int origin)
{
	struct cove_xfer *x = ud;

	if (origin != SEEK_SET || offset < 0 || offset > x->up->len)
		return CURL_SEEKFUNC_CANTSEEK;
	x->up->pos = offset;
	return CURL_SEEKFUNC_OK;
}

bool cove_registry_transient(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

static int curl_error(struct cove_registry_client *c, struct cove_xfer *x,
		      struct cove_error *err)
{
	const char *detail =
	    x->curl_msg[0] ? x->curl_msg : curl_easy_strerror(x->cc);

	switch (x->cc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return cove_error_set(err, EHOSTUNREACH,
				      "cannot reach registry %s: %s",
				      c->registry, detail);
	case CURLE_COULDNT_CONNECT:
		return cove_error_set(err, ECONNREFUSED,
				      "cannot connect to registry %s: %s",
				      c->registry, detail);
	case CURLE_OPERATION_TIMEDOUT:
		return cove_error_set(err, ETIMEDOUT,
				      "registry %s timed out: %s", c->registry,
				      detail);
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
		return cove_error_set(
		    err, EKEYREJECTED,
		    "TLS certificate of registry %s not trusted: %s: add its "
		    "CA to /etc/containers/certs.d/%s/ca.crt, or mark the "
		    "registry insecure in registries.conf",
		    c->registry, detail, c->registry);
	case CURLE_SSL_CONNECT_ERROR:
		return cove_error_set(err, EPROTO,
				      "TLS handshake with registry %s failed: "
				      "%s",
				      c->registry, detail);
	case CURLE_UNSUPPORTED_PROTOCOL:
		return cove_error_set(err, EPROTO,
				      "registry %s: redirect to an unsupported "
				      "or insecure URL refused: %s",
				      c->registry, detail);
	case CURLE_TOO_MANY_REDIRECTS:
		return cove_error_set(
		    err, ELOOP, "registry %s: too many redirects", c->registry);
	default:
		return cove_error_set(err, EIO,
				      "transfer from registry %s failed: %s",
				      c->registry, detail);
	}
}

char *cove_registry_header(CURL *curl, const char *name)
{
	struct curl_header *h;

	if (curl_easy_header(curl, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
		return NULL;
	return strdup(h->value);
}

/* All WWW-Authenticate headers of the last response, joined by ", ". */
static char *www_authenticate(CURL *curl)
{
	struct curl_header *h;
	_cleanup_free_ char *out = NULL;
	size_t amount;

	if (curl_easy_header(curl, "WWW-Authenticate", 0, CURLH_HEADER, -1,
			     &h) != CURLHE_OK)
		return NULL;
	amount = h->amount;
	out = strdup(h->value);
	for (size_t i = 1; out && i < amount && i < 8; i++) {
		char *n;
		if (curl_easy_header(curl, "WWW-Authenticate", i, CURLH_HEADER,
				     -1, &h) != CURLHE_OK)
			break;
		n = cove_strdup_printf("%s, %s", out, h->value);
		free(out);
		out = n;
	}
	return TAKE_PTR(out);
}

/* Scheme, host and port of @url are those of the registry's base URL. */
bool cove_registry_same_origin(const char *base, const char *url)
{
	CURLU *a = curl_url(), *b = curl_url();
	static const CURLUPart parts[] = {CURLUPART_SCHEME, CURLUPART_HOST,
					  CURLUPART_PORT};
	bool same = a && b;

	if (same && (curl_url_set(a, CURLUPART_URL, base, 0) != CURLUE_OK ||
		     curl_url_set(b, CURLUPART_URL, url, 0) != CURLUE_OK))
		same = false;
	for (size_t i = 0; same && i < ARRAY_SIZE(parts); i++) {
		char *va = NULL, *vb = NULL;
		curl_url_get(a, parts[i], &va, CURLU_DEFAULT_PORT);
		curl_url_get(b, parts[i], &vb, CURLU_DEFAULT_PORT);
		same = va && vb && strcasecmp(va, vb) == 0;
		curl_free(va);
		curl_free(vb);
	}
	curl_url_cleanup(a);
	curl_url_cleanup(b);
	return same;
}

static int auth_header(struct cove_registry_client *c, struct cove_xfer *x,
		       char **ret, struct cove_error *err);

/* One request and its response; no retries.  0 when a response came. */
static int perform(struct cove_registry_client *c, struct cove_xfer *x,
		   struct cove_error *err)
{
	struct curl_slist *headers = NULL, *tmp;
	_cleanup_free_ char *authz = NULL;
	char range[64];
	CURL *h = c->curl;
	int r = 0;

	xfer_reset_response(x);
	if (x->up)
		x->up->pos = 0;
	if (x->down) {
		x->down->started = false;
		x->down->skip = 0;
		x->down->range_from = cove_ingest_offset(x->down->in);
	}
	if (x->auth_header) {
		authz = strdup(x->auth_header);
		if (!authz)
			return -ENOMEM;
	} else if (!x->no_auth && cove_registry_same_origin(c->base, x->url)) {
		/* Only the registry itself gets its credentials. */
		r = auth_header(c, x, &authz, err);
		if (r < 0)
			return r;
	}
	x->sent_credentials =
	    authz && c->username && c->scheme != COVE_AUTH_SCHEME_NONE;

	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, x->url);
	/*
	 * CURLOPT_NOSIGNAL stays off: the threaded resolver needs no alarm,
	 * and with it on libcurl would stop shielding us from SIGPIPE.
	 */
	curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->curl_msg);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR,
			 c->insecure ? "http,https" : "https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, c->connect_timeout);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, c->stall_timeout);
	if (c->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (c->ca_blob) {
		struct curl_blob blob = {.data = c->ca_blob,
					 .len = c->ca_blob_len,
					 .flags = CURL_BLOB_COPY};
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
	}
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);

	/* Some servers wait a second for "Expect: 100-continue". */
	headers = curl_slist_append(headers, "Expect:");
	if (authz && headers) {
		_cleanup_free_ char *line =
		    cove_strdup_printf("Authorization: %s", authz);
		tmp = line ? curl_slist_append(headers, line) : NULL;
		if (line)
			explicit_bzero(line, strlen(line));
		if (!tmp)
			r = -ENOMEM;
		else
			headers = tmp;
		explicit_bzero(authz, strlen(authz));
	}
	for (const char *const *e = x->extra; e && *e && headers; e++) {
		tmp = curl_slist_append(headers, *e);
		if (!tmp)
			r = -ENOMEM;
		else
			headers = tmp;
	}
	if (!headers || r < 0) {
		curl_slist_free_all(headers);
		return -ENOMEM;
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);

	if (strcmp(x->method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(x->method, "GET") != 0) {
		if (x->up) {
			curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
			curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
			curl_easy_setopt(h, CURLOPT_READDATA, x);
			curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
			curl_easy_setopt(h, CURLOPT_SEEKDATA, x);
			curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
					 (curl_off_t)x->up->len);
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, x->method);
		} else {
			curl_easy_setopt(h, CURLOPT_POST, 1L);
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, x->method);
		}
		/* Never follow a redirect with a body or a state change. */
		curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	}
	if (x->down && x->down->range_from > 0) {
		snprintf(range, sizeof(range), "%" PRId64 "-",
			 x->down->range_from);
		curl_easy_setopt(h, CURLOPT_RANGE, range);
	}

	x->cc = curl_easy_perform(h);
	curl_slist_free_all(headers);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &x->status);
	if (x->sink_failed) {
		if (err)
			*err = x->sink_err;
		return -(x->sink_err.code ? x->sink_err.code : EIO);
	}
	if (x->cc != CURLE_OK)
		return curl_error(c, x, err);
	return 0;
}

void cove_registry_backoff(struct cove_registry_client *c, int attempt,
			   long retry_after)
{
	long ms = c->retry_delay_ms;
	struct timespec ts;

	for (int i = 0; i < attempt && ms < RETRY_DELAY_MAX_MS; i++)
		ms *= 2;
	if (ms > RETRY_DELAY_MAX_MS)
		ms = RETRY_DELAY_MAX_MS;
	if (retry_after >= 0)
		ms = (retry_after > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S
						      : retry_after) *
		     1000;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static long retry_after_of(struct cove_registry_client *c)
{
	_cleanup_free_ char *v = cove_registry_header(c->curl, "Retry-After");

	return v ? cove_retry_after_parse(v) : -1;
}

/* perform(), retrying transient failures of idempotent requests. */
static int perform_retry(struct cove_registry_client *c, struct cove_xfer *x,
			 struct cove_error *err)
{
	for (int attempt = 0;; attempt++) {
		bool last = !x->retry || attempt >= c->max_retries;
		int r = perform(c, x, err);

		if (r < 0) {
			if (last || x->sink_failed ||
			    !cove_registry_transient(x->cc))
				return r;
		} else if (x->status == 429 || x->status == 502 ||
			   x->status == 503 || x->status == 504) {
			if (last)
				return 0;
		} else {
			return 0;
		}
		cove_registry_backoff(c, attempt,
				      x->status == 429 || x->status == 503
					  ? retry_after_of(c)
					  : -1);
	}
}

/* ---- authentication ------------------------------------------------------ */

static int basic_value(struct cove_registry_client *c, char **ret)
{
	_cleanup_free_ char *pair = NULL, *b64 = NULL;
	int r;

	pair = cove_strdup_printf("%s:%s", c->username, c->password);
	if (!pair)
		return -ENOMEM;
	r = cove_base64_encode(pair, strlen(pair), &b64);
	explicit_bzero(pair, strlen(pair));
	if (r < 0)
		return r;
	*ret = cove_strdup_printf("Basic %s", b64);
	explicit_bzero(b64, strlen(b64));
	return *ret ? 0 : -ENOMEM;
}

static struct cove_token *token_find(struct cove_registry_client *c,
				     const char *scope)
{
	for (size_t i = 0; i < c->n_tokens; i++)
		if (strcmp(c->tokens[i].scope, scope) == 0)
			return &c->tokens[i];
	return NULL;
}

static void token_drop(struct cove_registry_client *c, const char *scope)
{
	struct cove_token *t = token_find(c, scope);

	if (t)
		t->expires = 0;
}

static bool token_chars_ok(const char *t)
{
	if (!*t)
		return false;
	for (; *t; t++)
		if (!(isalnum((unsigned char)*t) || strchr("-._~+/=", *t)))
			return false;
	return true;
}

/* The token URL: realm?service=S&scope=A&scope=B (scopes space-separated). */
static char *token_url(struct cove_registry_client *c, const char *scope)
{
	_cleanup_free_ char *url = NULL, *copy = NULL;
	char sep = strchr(c->realm, '?') ? '&' : '?';
	char *save = NULL;

	url = strdup(c->realm);
	if (!url)
		return NULL;
	if (c->service) {
		char *e = curl_easy_escape(NULL, c->service, 0);
		char *n = e ? cove_strdup_printf("%s%cservice=%s", url, sep, e)
			    : NULL;
		curl_free(e);
		if (!n)
			return NULL;
		free(url);
		url = n;
		sep = '&';
	}
	if (scope) {
		copy = strdup(scope);
		if (!copy)
			return NULL;
		for (char *s = strtok_r(copy, " ", &save); s;
		     s = strtok_r(NULL, " ", &save)) {
			char *e = curl_easy_escape(NULL, s, 0);
			char *n =
			    e ? cove_strdup_printf("%s%cscope=%s", url, sep, e)
			      : NULL;
			curl_free(e);
			if (!n)
				return NULL;
			free(url);
			url = n;
			sep = '&';
		}
	}
	return TAKE_PTR(url);
}

/* A Bearer token for @scope (NULL: none), from the cache or the realm. */
static int get_token(struct cove_registry_client *c, const char *scope,
		     const char **ret, struct cove_error *err)
{
	const char *key = scope ? scope : "";
	_cleanup_json_ json_t *root = NULL;
	_cleanup_free_ char *url = NULL, *basic = NULL;
	const char *authz = NULL;
	struct cove_xfer x = {0};
	struct cove_token *t;
	const char *tok = NULL;
	int64_t expires_in = 60;
	bool present = false;
	int r;

	t = token_find(c, key);
	if (t && t->expires > time(NULL)) {
		*ret = t->token;
		return 0;
	}
	if (!c->realm)
		return cove_error_set(err, EPROTO,
				      "registry %s wants a token but named no "
				      "token service",
				      c->registry);
	if (!cove_str_has_prefix(c->realm, "https://") &&
	    !(c->insecure && cove_str_has_prefix(c->realm, "http://")))
		return cove_error_set(err, EPROTO,
				      "registry %s: refusing token service "
				      "'%.200s': not an HTTPS URL",
				      c->registry, c->realm);
	r = load_credentials(c, err);
	if (r < 0)
		return r;
	url = token_url(c, scope);
	if (!url)
		return -ENOMEM;
	if (c->username) {
		r = basic_value(c, &basic);
		if (r < 0)
			return r;
		authz = basic;
	}
	x.c = c;
	x.method = "GET";
	x.url = url;
	x.retry = true;
	x.max_body = TOKEN_BODY_MAX;
	x.no_auth = true;
	x.auth_header = authz;
	r = perform_retry(c, &x, err);
	if (basic)
		explicit_bzero(basic, strlen(basic));
	if (r < 0) {
		cove_registry_xfer_release(&x);
		return cove_error_wrap(err, "token service of %s", c->registry);
	}
	if (x.status != 200) {
		struct cove_http_failure f = {
		    .status = x.status == 403 ? 401 : x.status,
		    .body = x.body,
		    .body_len = x.len,
		    .registry = c->registry,
		    .subject = c->registry,
		    .retry_after = retry_after_of(c),
		    .user = c->username};
		r = cove_registry_http_error(&f, err);
		cove_registry_xfer_release(&x);
		return r;
	}
	r = cove_json_load_buffer("token response", x.body, x.len, &root, err);
	cove_registry_xfer_release(&x);
	if (r < 0)
		return cove_error_wrap(err, "registry %s", c->registry);
	if (!json_is_object(root))
		return cove_error_set(err, EPROTO,
				      "registry %s: token response is not a "
				      "JSON object",
				      c->registry);
	if (cove_json_string(root, "", "token", &tok, err) < 0 ||
	    (!tok && cove_json_string(root, "", "access_token", &tok, err) < 0))
		return cove_error_wrap(err, "registry %s: token response",
				       c->registry);
	if (!tok || !token_chars_ok(tok))
		return cove_error_set(err, EPROTO,
				      "registry %s: token response has no "
				      "valid 'token'",
				      c->registry);
	if (cove_json_int64(root, "", "expires_in", &expires_in, &present,
			    err) < 0)
		return cove_error_wrap(err, "registry %s: token response",
				       c->registry);
	/* The spec's default and minimum is 60 seconds. */
	if (!present || expires_in < 60)
		expires_in = 60;
	if (expires_in > 86400)
		expires_in = 86400;
	if (!t) {
		if (c->n_tokens == TOKENS_MAX)
			tokens_clear(c);
		t = &c->tokens[c->n_tokens];
		memset(t, 0, sizeof(*t));
		t->scope = strdup(key);
		if (!t->scope)
			return -ENOMEM;
		c->n_tokens++;
	}
	free_secret(t->token);
	t->token = strdup(tok);
	if (!t->token) {
		t->expires = 0;
		return -ENOMEM;
	}
	/* Renew a little early rather than race the expiry. */
	t->expires = time(NULL) + (time_t)expires_in - 10;
	*ret = t->token;
	return 0;
}

/* The Authorization value for a request to the registry, or NULL. */
static int auth_header(struct cove_registry_client *c, struct cove_xfer *x,
		       char **ret, struct cove_error *err)
{
	const char *tok;
	int r;

	*ret = NULL;
	switch (c->scheme) {
	case COVE_AUTH_SCHEME_NONE:
		return 0;
	case COVE_AUTH_SCHEME_BASIC:
		r = load_credentials(c, err);
		if (r < 0 || !c->username)
			return r;
		return basic_value(c, ret);
	case COVE_AUTH_SCHEME_BEARER:
		r = get_token(c, x->scope, &tok, err);
		if (r < 0)
			return r;
		*ret = cove_strdup_printf("Bearer %s", tok);
		return *ret ? 0 : -ENOMEM;
	}
	return 0;
}

/* Take the registry's challenge: which scheme, which token service. */
static int take_challenge(struct cove_registry_client *c,
			  struct cove_error *err)
{
	_cleanup_free_ char *hdr = www_authenticate(c->curl);
	struct cove_auth_challenge ch = {0};
	int r;

	if (!hdr)
		return cove_error_set(err, EPROTO,
				      "registry %s answered 401 without a "
				      "WWW-Authenticate challenge",
				      c->registry);
	r = cove_auth_challenge_parse(hdr, &ch, err);
	if (r < 0)
		return cove_error_wrap(err, "registry %s", c->registry);
	c->scheme = ch.scheme;
	if (ch.scheme == COVE_AUTH_SCHEME_BEARER) {
		bool changed = !c->realm || strcmp(c->realm, ch.realm) != 0 ||
			       (c->service && ch.service
				    ? strcmp(c->service, ch.service) != 0
				    : c->service != ch.service);
		if (changed)
			tokens_clear(c);
		free(c->realm);
		free(c->service);
		c->realm = TAKE_PTR(ch.realm);
		c->service = TAKE_PTR(ch.service);
	}
	cove_auth_challenge_release(&ch);
	return 0;
}

/* ---- ping ---------------------------------------------------------------- */

static int ping(struct cove_registry_client *c, struct cove_error *err)
{
	static const char *const secure[] = {"https", NULL};
	static const char *const insecure[] = {"https", "http", NULL};
	struct cove_error first = {0};
	int r = -EIO;

	for (const char *const *s = c->insecure ? insecure : secure; *s; s++) {
		_cleanup_free_ char *url = NULL;
		struct cove_xfer x = {0};

		free(c->base);
		c->base = cove_strdup_printf("%s://%s", *s, c->host);
		url = cove_strdup_printf("%s/v2/", c->base);
		if (!c->base || !url)
			return -ENOMEM;
		x.c = c;
		x.method = "GET";
		x.url = url;
		x.no_auth = true;
		x.retry = !c->insecure;
		r = perform_retry(c, &x, err);
		cove_registry_xfer_release(&x);
		if (r < 0) {
			if (s == (c->insecure ? insecure : secure) && err)
				first = *err;
			continue;
		}
		if (x.status == 200) {
			c->scheme = COVE_AUTH_SCHEME_NONE;
		} else if (x.status == 401) {
			r = take_challenge(c, err);
			if (r < 0)
				return r;
		} else if (x.status == 404) {
			return cove_error_set(err, EPROTO,
					      "%s does not serve the registry "
					      "API (GET /v2/ answered 404)",
					      c->registry);
		} else {
			struct cove_http_failure f = {.status = x.status,
						      .registry = c->registry,
						      .subject = c->registry,
						      .retry_after = -1};
			return cove_registry_http_error(&f, err);
		}
		c->pinged = true;
		return 0;
	}
	free(c->base);
	c->base = NULL;
	/* The HTTPS failure says more than "plain HTTP failed too". */
	if (err && first.code)
		*err = first;
	return r;
}

int cove_registry_ensure_ping(struct cove_registry_client *c,
			      struct cove_error *err)
{
	return c->pinged ? 0 : ping(c, err);
}

/*
 * A request to the registry: authentication (with one retry on 401, after
 * taking the new challenge and dropping the cached token), and retries of
 * transient failures when @x->retry.  0 when a final response came; the
 * caller interprets x->status.
 */
int cove_registry_request(struct cove_registry_client *c, struct cove_xfer *x,
			  struct cove_error *err)
{
	int r;

	r = cove_registry_ensure_ping(c, err);
	if (r < 0)
		return r;
	x->c = c;
	for (int auth_tries = 0;; auth_tries++) {
		enum cove_auth_scheme before = c->scheme;

		r = perform_retry(c, x, err);
		if (r < 0 || x->status != 401 || auth_tries > 0 ||
		    !cove_registry_same_origin(c->base, x->url))
			return r;
		r = take_challenge(c, err);
		if (r < 0)
			return r;
		if (c->scheme == COVE_AUTH_SCHEME_BASIC) {
			r = load_credentials(c, err);
			if (r < 0)
				return r;
			/* Nothing new to offer: report the 401. */
			if (!c->username || before == COVE_AUTH_SCHEME_BASIC)
				return 0;
		} else if (c->scheme == COVE_AUTH_SCHEME_BEARER) {
			token_drop(c, x->scope ? x->scope : "");
		}
	}
}

/* Fill @err from a response that is not what was expected. */
int cove_registry_http_fail(struct cove_registry_client *c, struct cove_xfer *x,
			    const char *subject, struct cove_error *err)
{
	struct cove_http_failure f = {.status = x->status,
				      .body = x->body,
				      .body_len = x->len,
				      .registry = c->registry,
				      .subject = subject,
				      .retry_after = retry_after_of(c),
				      .user = x->sent_credentials ? c->username
								  : NULL};

	return cove_registry_http_error(&f, err);
}

int cove_registry_ping(struct cove_registry_client *c, struct cove_error *err)
{
	_cleanup_free_ char *url = NULL;
	struct cove_xfer x = {0};
	int r;

	c->pinged = false;
	r = ping(c, err);
	if (r < 0 || c->scheme == COVE_AUTH_SCHEME_NONE)
		return r;
	r = load_credentials(c, err);
	if (r < 0)
		return r;
	/* Anonymous access needs no check; credentials do. */
	if (!c->username && c->scheme == COVE_AUTH_SCHEME_BASIC)
		return 0;
	url = cove_strdup_printf("%s/v2/", c->base);
	if (!url)
		return -ENOMEM;
	x.method = "GET";
	x.url = url;
	x.retry = true;
	r = cove_registry_request(c, &x, err);
	if (r >= 0 && x.status != 200)
		r = cove_registry_http_fail(c, &x, c->registry, err);
	cove_registry_xfer_release(&x);
	return r;
}
