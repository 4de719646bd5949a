#pragma once
/*
 * Events: what happens to containers, images, volumes and networks, as
 * podman's "file" events backend records it.  One JSON object per line in
 * <runroot>/events/events.log (the runroot is a tmpfs-like state dir, as
 * podman keeps its file in its tmp dir):
 *
 *   {"ContainerExitCode":0,"ID":"...","Image":"...","Name":"...",
 *    "Network":"...","Status":"died","Time":"2026-11-29T13:40:00.1234Z",
 *    "Type":"container","HealthStatus":"...","Attributes":{"k":"v"}}
 *
 * Writing: every event is one open(O_APPEND) + one write() + close(), no
 * fsync, with lines of at most COVE_EVENT_LINE_MAX bytes (PIPE_BUF; long
 * values are cut), so that concurrent cove processes never interleave
 * their lines.  When the file grows past its cap (1 MB, podman's
 * events_logfile_max_size default), the writer that noticed keeps the
 * newest half: under <file>.lock, a temp file + rename.  An event that
 * another process appends to the old file in the instant between the
 * rename and the copy of its tail can be lost; events are a record, not a
 * journal.  Emitting never fails a command: errors go to the handler set
 * with cove_events_setup() (the CLI prints them with --log-level debug).
 *
 * Reading: a line that does not parse (a truncated write, garbage) is
 * skipped; nothing in the file is trusted.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/error.h"

struct cove_ctr;

/* PIPE_BUF: a longer write() could interleave with another writer's */
#define COVE_EVENT_LINE_MAX 4096
/* podman's events_logfile_max_size default */
#define COVE_EVENTS_MAX_SIZE_DEFAULT (1024 * 1024)
/* Lines longer than this are not parsed (podman's own lines are short) */
#define COVE_EVENT_PARSE_MAX (64 * 1024)
/* "2006-01-02 15:04:05.999999999 -0700 MST" and RFC 3339 nano */
#define COVE_EVENT_TIME_MAX 64

/*
 * One event.  To emit, fill the members you have (NULL: none) and leave
 * @json NULL.  A parsed event owns @json and every string points into it.
 */
struct cove_event {
	const char *type;   /* container|image|volume|network|system */
	const char *status; /* podman's: create, start, died, tag, ... */
	const char *id;
	const char *name;
	const char *image;
	const char *network;
	const char *health_status;
	int64_t time_ns; /* ns since the epoch; 0 when emitting: now */
	bool has_exit_code;
	int exit_code;	    /* ContainerExitCode, with has_exit_code */
	json_t *attributes; /* object of strings, or NULL; borrowed */
	json_t *json;	    /* parsed events: the line's object, owned */
};

/* Release a parsed event (NULL members are fine). */
void cove_event_release(struct cove_event *ev);

/* ---- emitting ------------------------------------------------------------ */

/*
 * The process's event log: <@runroot>/events/events.log (NULL: events
 * off, the default).  @on_error (may be NULL) receives a message for each
 * event that could not be written.  Called once by the CLI; the emit
 * helpers below write there.  The cap is COVE_EVENTS_MAX_SIZE_DEFAULT, or
 * $COVE_EVENTS_LOGFILE_MAX_SIZE bytes (0: no cap).
 */
void cove_events_setup(const char *runroot, void (*on_error)(const char *msg));
/* The file cove_events_setup() chose, or NULL. */
const char *cove_events_path(void);

/* Best effort: write @ev to the process's log; never fails. */
void cove_events_emit(const struct cove_event *ev);

/*
 * Container @c's event @status: ID, Image, Name, its labels as
 * Attributes, plus the attribute @key=@value when @key is not NULL.
 */
void cove_events_ctr(const struct cove_ctr *c, const char *status,
		     const char *key, const char *value);
/* "died" with its ContainerExitCode */
void cove_events_ctr_died(const struct cove_ctr *c, int exit_code);
/* "kill" with the signal attribute (its number, as docker's) */
void cove_events_ctr_kill(const struct cove_ctr *c, int sig);
/* "health_status" with HealthStatus and the health_status attribute */
void cove_events_ctr_health(const struct cove_ctr *c, const char *health);
/* An event of @type (image, volume, network) about @id / @name */
void cove_events_object(const char *type, const char *status, const char *id,
			const char *name);

/*
 * Append @ev to @path (its directory made when missing) as one line, then
 * keep the file under @max_size bytes (0: no cap).  What
 * cove_events_emit() does; exposed for tests.
 */
int cove_events_append(const char *path, const struct cove_event *ev,
		       uint64_t max_size, struct cove_error *err);

/*
 * @ev as one line of JSON with its newline, at most COVE_EVENT_LINE_MAX
 * bytes (attribute values, then every value cut to fit; -E2BIG if even
 * that does not fit); *ret: caller frees.
 */
int cove_event_encode(const struct cove_event *ev, char **ret, size_t *ret_len);

/* ---- reading ------------------------------------------------------------- */

/*
 * Parse one line (without its newline).  -EINVAL when it is not an event:
 * not a JSON object, no string Type, Status or Time, a Time that is not
 * RFC 3339.  Attributes that are not strings are dropped.
 */
int cove_event_parse(const char *line, size_t len, struct cove_event *ret);

/*
 * --filter KEY=VALUE, podman's: container=NAME|ID-prefix, image=NAME|ID,
 * event=STATUS (or status=), type=TYPE, label=KEY[=VALUE],
 * volume=NAME, network=NAME.  Filters with the same key match when any
 * does; every key must match.
 */
struct cove_events_filter {
	char **keys; /* lowercase */
	char **values;
	size_t n;
};

/* Add "KEY=VALUE"; -EINVAL (with a message) for an unknown key. */
int cove_events_filter_add(struct cove_events_filter *f, const char *kv,
			   struct cove_error *err);
bool cove_events_filter_match(const struct cove_events_filter *f,
			      const struct cove_event *ev);
void cove_events_filter_release(struct cove_events_filter *f);

/* Called for each matching event, oldest first; non-zero stops the read. */
typedef int (*cove_event_cb)(void *data, const struct cove_event *ev);

struct cove_events_read_opts {
	int64_t since, until; /* ns since the epoch, inclusive; 0: none */
	/*
	 * Follow the file (inotify; through rotations) until the callback
	 * stops or the clock passes @until.  Without since/until, only events
	 * written after the start are shown, as podman does.
	 */
	bool stream;
	const struct cove_events_filter *filter; /* may be NULL */
	cove_event_cb cb;
	void *data;
};

/*
 * Read the events of @path.  A missing file has no events (streaming: its
 * first events are waited for).  Returns 0, the callback's non-zero value,
 * or -errno.
 */
int cove_events_read(const char *path, const struct cove_events_read_opts *o,
		     struct cove_error *err);

/*
 * The complete lines of @buf (all of it when @final) through the parser,
 * the time bounds and the filter to the callback.  Returns the bytes used
 * (up to the last newline); *ret_stop gets the callback's non-zero value.
 * The core of cove_events_read(); exposed for tests and fuzzing.
 */
size_t cove_events_scan(const char *buf, size_t len, bool final,
			const struct cove_events_read_opts *o, int *ret_stop);

/* ---- output -------------------------------------------------------------- */

/* @ns as RFC 3339 UTC with nanoseconds, trailing zeros cut (Go's) */
void cove_event_time_rfc3339(int64_t ns, char buf[COVE_EVENT_TIME_MAX]);
/* @ns as Go's time.String() in local time: "2026-11-29 13:40:00.1 +0000 UTC" */
void cove_event_time_human(int64_t ns, char buf[COVE_EVENT_TIME_MAX]);

/*
 * podman's text line for @ev, without a newline (caller frees):
 *   TIME container STATUS ID (image=IMAGE, name=NAME, K=V...)
 *   TIME image STATUS ID NAME
 *   TIME volume|network|system STATUS NAME
 * @trunc: 12-character ids.
 */
char *cove_event_format_human(const struct cove_event *ev, bool trunc);

/*
 * @ev as an object for --format: json (the file's fields) or, with
 * @for_template, with Time as text, TimeNano, and every field present.
 */
json_t *cove_event_to_json(const struct cove_event *ev, bool for_template);
