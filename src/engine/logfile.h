#pragma once
/*
 * Container log files in docker's json-file format: one JSON object per
 * line of output,
 *
 *   {"log":"text\n","stream":"stdout","time":"2026-11-29T10:00:00.123456789Z"}
 *
 * written by the container's monitor (the process holding its stdout and
 * stderr pipes) and read by `cove logs`.  "log" is the line with its
 * newline; a line longer than COVE_LOG_PARTIAL_MAX bytes is cut into
 * pieces whose "log" has no trailing newline (docker's partial messages),
 * as is the end of output that did not end with one.  Text that is not
 * valid UTF-8 has each invalid byte replaced by U+FFFD (as docker does), so
 * every line is valid JSON; everything else round-trips exactly (NUL and
 * control characters are \u-escaped).
 *
 * Rotation (docker's max-size / max-file): before a line would take the
 * file past max_size, PATH.(max_files-2) is renamed to PATH.(max_files-1),
 * ..., PATH to PATH.1, and a new PATH is begun; with max_files 1 the old
 * content is dropped.  Readers see PATH.(n-1) ... PATH.1 PATH, oldest
 * first.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* The longest piece of a line that one JSON line carries (docker's). */
#define COVE_LOG_PARTIAL_MAX 16384
/* "2026-11-29T10:00:00.123456789Z" and its NUL */
#define COVE_LOG_TIME_MAX 32

enum cove_log_stream {
	COVE_LOG_STDOUT,
	COVE_LOG_STDERR,
};

/* "stdout" or "stderr" */
const char *cove_log_stream_name(enum cove_log_stream stream);

/* ---- writing ------------------------------------------------------------- */

struct cove_logfile;

/*
 * Open @path for appending (created 0640 when missing).  @max_size is the
 * size in bytes past which the file is rotated (0: never); @max_files the
 * number of files kept, PATH included (0 is taken as 1).
 */
int cove_logfile_open(const char *path, uint64_t max_size, unsigned max_files,
		      struct cove_logfile **ret, struct cove_error *err);

/*
 * Log @len bytes that @stream produced.  Complete lines are written at
 * once, each with one write(2) (O_APPEND, no fsync); the rest of the
 * data waits for its newline, for COVE_LOG_PARTIAL_MAX bytes, for
 * cove_logfile_flush() or for close.  Returns 0 or -errno (ENOSPC, ...);
 * nothing is kept of data that could not be written, and later calls go
 * on trying.  Not thread-safe: one writer per file.
 */
int cove_logfile_write(struct cove_logfile *lf, enum cove_log_stream stream,
		       const char *buf, size_t len);

/* Write what @stream has without its newline yet (at the stream's EOF). */
int cove_logfile_flush(struct cove_logfile *lf, enum cove_log_stream stream);

/*
 * Flush both streams and close.  Returns 0 or the flush's -errno; @lf is
 * freed either way (NULL is fine).
 */
int cove_logfile_close(struct cove_logfile *lf);

/*
 * One log line as JSON, with its newline, to a new buffer (*ret, *ret_len;
 * caller frees).  @time_ns is nanoseconds since the epoch.  What
 * cove_logfile_write() writes; exposed for tests and fuzzing.
 */
int cove_log_encode(enum cove_log_stream stream, int64_t time_ns,
		    const char *text, size_t len, char **ret, size_t *ret_len);

/* ---- time stamps --------------------------------------------------------- */

/* @ns since the epoch as RFC 3339 UTC with nanoseconds (docker's). */
void cove_log_time_format(int64_t ns, char buf[COVE_LOG_TIME_MAX]);

/*
 * RFC 3339 ("2026-11-29T10:00:00Z", with an optional fraction of up to 9
 * digits and "Z" or "+hh:mm"/"-hh:mm") to nanoseconds since the epoch.
 * -EINVAL when @s is not one, -ERANGE outside the years 1678 to 2262.
 */
int cove_log_time_parse(const char *s, int64_t *ret_ns);

/*
 * docker's --since/--until values: RFC 3339 (as above, or without the zone:
 * UTC, or a date alone), Unix seconds with an optional fraction
 * ("1700000000.5"), or a duration before @now_ns ("90s", "10m", "1h30m",
 * "1.5h").  -EINVAL (with @err naming @s) otherwise.
 */
int cove_log_parse_since(const char *s, int64_t now_ns, int64_t *ret_ns,
			 struct cove_error *err);

/* ---- reading ------------------------------------------------------------- */

/*
 * Called once per log line, oldest first: @time is the line's time stamp
 * as written, @text the line (with its newline, unless a partial line;
 * may contain NUL bytes).  Returning non-zero stops the read, which then
 * returns that value.
 */
typedef int (*cove_log_cb)(void *data, enum cove_log_stream stream,
			   const char *time, const char *text, size_t len);

struct cove_log_read_opts {
	/* -1: every line; N >= 0: only the last N lines (of all files) */
	long tail;
	/* nanoseconds since the epoch; 0: no bound.  Both inclusive. */
	int64_t since;
	int64_t until;
	/*
	 * Keep reading as the file grows and rotates, until @done says the
	 * writer has finished (the container exited and its monitor closed
	 * the log) and what it wrote has been read; with @until, also once
	 * the clock passes @until.  @done NULL: until the callback stops.
	 */
	bool follow;
	bool (*done)(void *done_data);
	void *done_data;
};

/*
 * Read the log at @path (and its rotated files), calling @cb for each line
 * that falls within the options' bounds.  Lines that are not valid log
 * objects are skipped.  The tail is found by reading backwards from the
 * end, so a large file is not read whole.  Without follow, a log that does
 * not exist is -ENOENT; with follow it is waited for.  Returns 0, the
 * callback's non-zero value, or -errno (with @err).
 */
int cove_logfile_read(const char *path, const struct cove_log_read_opts *o,
		      cove_log_cb cb, void *data, struct cove_error *err);
