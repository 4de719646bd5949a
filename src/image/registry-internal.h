#pragma once
/*
 * Internals shared by registry-http.c (the HTTP exchange: libcurl,
 * retries, authentication, ping) and registry.c (the distribution-spec
 * operations on top of it).  Not part of libcove's API.
 */
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <curl/curl.h>

#include "image/registry-parse.h"
#include "image/registry.h"

/* Error bodies are kept for messages, cut at this size. */
#define ERROR_BODY_MAX (64 * 1024)
#define TOKENS_MAX 64

struct cove_token {
	char *scope;
	char *token;
	time_t expires;
};

struct cove_registry_client {
	char *registry; /* as given: the name in messages and auth lookups */
	char *host;	/* host[:port] the API is served from */
	char *base;	/* "https://host" once pinged */
	bool insecure;
	bool pinged;

	char *authfile, *user_agent;
	char *username, *password;
	bool creds_loaded;
	char *ca_blob; /* system CAs + extra CAs (PEM), NULL: curl default */
	size_t ca_blob_len;

	enum cove_auth_scheme scheme;
	char *realm, *service;
	struct cove_token tokens[TOKENS_MAX];
	size_t n_tokens;

	CURL *curl;
	long connect_timeout, stall_timeout, retry_delay_ms;
	int max_retries;
	int64_t chunk_size;
	int tag_page_size;
	cove_registry_progress_fn progress;
	void *progress_data;
};

/* A request body: memory or a file read with pread. */
struct cove_upload {
	const char *buf; /* memory body, or */
	int fd;		 /* a file read with pread */
	int64_t off;	 /* where the body starts in @fd */
	int64_t len;
	int64_t pos;
	/* progress of the whole blob this body is part of */
	const char *digest;
	int64_t base, total, reported;
};

/* A response body streamed into an ingest. */
struct cove_download {
	struct cove_ingest *in;
	int64_t limit; /* the descriptor's size, -1 unknown */
	int64_t skip;  /* bytes to drop: the server ignored our Range */
	int64_t range_from;
	bool started;
	const char *digest;
	int64_t reported;
};

/* One request and its response. */
struct cove_xfer {
	struct cove_registry_client *c;
	/* request */
	const char *method;
	const char *url;
	const char *scope;	  /* Bearer scope, NULL: none */
	const char *const *extra; /* more headers, NULL-terminated */
	struct cove_upload *up;
	struct cove_download *down;
	size_t max_body;
	bool retry;		 /* idempotent: retry transient failures */
	bool no_auth;		 /* send no registry credentials */
	const char *auth_header; /* explicit "Authorization: ..." */
	/* response */
	long status;
	char *body;
	size_t len, cap;
	bool too_large;
	bool sink_failed;
	struct cove_error sink_err;
	CURLcode cc;
	char curl_msg[CURL_ERROR_SIZE];
	bool sent_credentials;
};

/* Free the response body of @x. */
void cove_registry_xfer_release(struct cove_xfer *x);

/*
 * Ping once per client: scheme (HTTPS, or HTTP when insecure) and the
 * authentication the registry wants.
 */
int cove_registry_ensure_ping(struct cove_registry_client *c,
			      struct cove_error *err);

/*
 * A request to the registry: authentication (with one retry on 401, after
 * taking the new challenge and dropping the cached token), and retries of
 * transient failures when @x->retry.  Returns 0 when a final response
 * came (the caller reads x->status), -errno on transport failures.
 */
int cove_registry_request(struct cove_registry_client *c, struct cove_xfer *x,
			  struct cove_error *err);

/* Fill @err from an unexpected response (registry-parse.h mapping). */
int cove_registry_http_fail(struct cove_registry_client *c, struct cove_xfer *x,
			    const char *subject, struct cove_error *err);

/* A header of the last response (caller frees), NULL when absent. */
char *cove_registry_header(CURL *curl, const char *name);

/* Same scheme, host and port. */
bool cove_registry_same_origin(const char *base, const char *url);

/* curl failures worth a retry (connection reset, timeout, ...). */
bool cove_registry_transient(CURLcode cc);

/* Sleep before retry @attempt: exponential, or Retry-After (capped). */
void cove_registry_backoff(struct cove_registry_client *c, int attempt,
			   long retry_after);

/* Progress callback, throttled to PROGRESS_STEP unless @force. */
void cove_registry_report(struct cove_registry_client *c, const char *digest,
			  int64_t done, int64_t total, int64_t *reported,
			  bool force);
