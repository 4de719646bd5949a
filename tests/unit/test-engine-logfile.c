/*
 * Unit tests for src/engine/logfile.c: docker json-file log lines (escaping
 * of every byte, invalid UTF-8), partial lines, size rotation with one, two
 * and three files, tail across rotated files, since/until, corrupt lines,
 * time stamps, and a follower reading a log that another process writes
 * and rotates meanwhile.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/logfile.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

#define REPLACEMENT "\xef\xbf\xbd" /* U+FFFD */

static int setup_tmpdir(void **state)
{
	char *dir = strdup("/tmp/cove-test-logfile-XXXXXX");

	if (!dir || !mkdtemp(dir)) {
		free(dir);
		return -1;
	}
	*state = dir;
	return 0;
}

static int teardown_tmpdir(void **state)
{
	char *dir = *state;

	if (dir) {
		cove_rm_rf(dir);
		free(dir);
	}
	return 0;
}

static char *log_path(void **state, const char *name)
{
	char *p = cove_strdup_printf("%s/%s", (char *)*state, name);

	assert_non_null(p);
	return p;
}

/* ---- collecting what the reader delivers -------------------------------- */

struct entry {
	enum cove_log_stream stream;
	char time[COVE_LOG_TIME_MAX];
	char *text;
	size_t len;
};

struct got {
	struct entry *e;
	size_t n, cap;
	size_t stop_after; /* 0: never stop */
	int ack_fd;	   /* -1, or a byte written per ack_every lines */
	size_t ack_every;
};

static int collect(void *data, enum cove_log_stream stream, const char *time,
		   const char *text, size_t len)
{
	struct got *g = data;
	struct entry *e;

	if (g->n == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 64;
		g->e = realloc(g->e, g->cap * sizeof(*g->e));
		assert_non_null(g->e);
	}
	e = &g->e[g->n++];
	e->stream = stream;
	snprintf(e->time, sizeof(e->time), "%s", time);
	e->text = malloc(len + 1);
	assert_non_null(e->text);
	memcpy(e->text, text, len);
	e->text[len] = '\0';
	e->len = len;
	if (g->ack_fd >= 0 && g->ack_every && g->n % g->ack_every == 0)
		assert_int_equal(write(g->ack_fd, "k", 1), 1);
	if (g->stop_after && g->n == g->stop_after)
		return 7;
	return 0;
}

static void got_release(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->e[i].text);
	free(g->e);
	*g = (struct got){.ack_fd = -1};
}

static void read_log(const char *path, long tail, int64_t since, int64_t until,
		     struct got *g)
{
	struct cove_log_read_opts o = {
	    .tail = tail, .since = since, .until = until};
	struct cove_error err = {0};

	got_release(g);
	if (cove_logfile_read(path, &o, collect, g, &err) != 0)
		fail_msg("read %s: %s", path, err.msg);
}

static struct cove_logfile *open_log(const char *path, uint64_t max_size,
				     unsigned max_files)
{
	struct cove_logfile *lf = NULL;
	struct cove_error err = {0};

	if (cove_logfile_open(path, max_size, max_files, &lf, &err) < 0)
		fail_msg("open %s: %s", path, err.msg);
	return lf;
}

static void write_str(struct cove_logfile *lf, enum cove_log_stream s,
		      const char *text)
{
	assert_int_equal(cove_logfile_write(lf, s, text, strlen(text)), 0);
}

/* Whether every line of @path parses as a JSON object. */
static size_t count_valid_lines(const char *path)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, n = 0;
	char *p, *nl;

	if (cove_read_file(path, 64 << 20, &buf, &len) < 0)
		return 0;
	for (p = buf; p < buf + len; p = nl + 1) {
		json_t *o;

		nl = memchr(p, '\n', (size_t)(buf + len - p));
		assert_non_null(nl); /* every line is complete */
		o = json_loadb(p, (size_t)(nl - p), JSON_ALLOW_NUL, NULL);
		assert_non_null(o);
		assert_true(json_is_object(o));
		json_decref(o);
		n++;
	}
	return n;
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* ---- encoding ----------------------------------------------------------- */

static void check_roundtrip(const char *in, size_t in_len, const char *want,
			    size_t want_len)
{
	_cleanup_free_ char *line = NULL;
	_cleanup_json_ json_t *o = NULL;
	json_error_t jerr;
	size_t len;
	json_t *log;

	assert_int_equal(cove_log_encode(COVE_LOG_STDERR, 1234567890123456789LL,
					 in, in_len, &line, &len),
			 0);
	assert_true(len > 0 && line[len - 1] == '\n');
	assert_null(memchr(line, '\n', len - 1)); /* one line */
	o = json_loadb(line, len - 1, JSON_ALLOW_NUL, &jerr);
	if (!o)
		fail_msg("not JSON (%s): %.*s", jerr.text, (int)len, line);
	log = json_object_get(o, "log");
	assert_true(json_is_string(log));
	assert_int_equal(json_string_length(log), want_len);
	assert_memory_equal(json_string_value(log), want, want_len);
	assert_string_equal(json_string_value(json_object_get(o, "stream")),
			    "stderr");
	assert_string_equal(json_string_value(json_object_get(o, "time")),
			    "2009-02-13T23:31:30.123456789Z");
	/* docker's member order */
	assert_true(cove_str_has_prefix(line, "{\"log\":\""));
}

static void test_escape_roundtrip(void **state)
{
	static const char ctl[] = "\x00\x01\x07\x08\t\n\x0b\x0c\r\x1b\x1f\x7f";
	static const char utf8[] = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 "
				   "\xf4\x8f\xbf\xbf";
	char all[256];
	(void)state;

	check_roundtrip("hello\n", 6, "hello\n", 6);
	check_roundtrip("", 0, "", 0);
	check_roundtrip("say \"hi\" \\o/ </script>", 22,
			"say \"hi\" \\o/ </script>", 22);
	check_roundtrip(ctl, sizeof(ctl) - 1, ctl, sizeof(ctl) - 1);
	check_roundtrip(utf8, sizeof(utf8) - 1, utf8, sizeof(utf8) - 1);
	/* invalid UTF-8: each bad byte becomes U+FFFD */
	check_roundtrip("a\xff"
			"b",
			3, "a" REPLACEMENT "b", 5);
	check_roundtrip("\xc3", 1, REPLACEMENT, 3); /* truncated */
	check_roundtrip("\xc3(", 2, REPLACEMENT "(", 4);
	check_roundtrip("\xc0\xaf", 2, REPLACEMENT REPLACEMENT,
			6); /* overlong */
	check_roundtrip("\xe0\x80\xaf", 3, REPLACEMENT REPLACEMENT REPLACEMENT,
			9);
	check_roundtrip("\xed\xa0\x80", 3, /* a surrogate */
			REPLACEMENT REPLACEMENT REPLACEMENT, 9);
	check_roundtrip("\xf4\x90\x80\x80", 4, /* past U+10FFFF */
			REPLACEMENT REPLACEMENT REPLACEMENT REPLACEMENT, 12);
	/* every byte alone */
	for (int b = 0; b < 256; b++) {
		char c = (char)b;

		if (b < 0x80)
			check_roundtrip(&c, 1, &c, 1);
		else
			check_roundtrip(&c, 1, REPLACEMENT, 3);
	}
	/* and all of them at once, through a file and the reader */
	for (int b = 0; b < 256; b++)
		all[b] = (char)b;
	{
		_cleanup_free_ char *path = log_path(state, "bin.log");
		struct cove_logfile *lf = open_log(path, 0, 1);
		struct got g = {.ack_fd = -1};
		size_t lines = 0;

		assert_int_equal(
		    cove_logfile_write(lf, COVE_LOG_STDOUT, all, sizeof(all)),
		    0);
		assert_int_equal(cove_logfile_close(lf), 0);
		assert_int_equal(count_valid_lines(path), 2); /* \n at 10 */
		read_log(path, -1, 0, 0, &g);
		assert_int_equal(g.n, 2);
		assert_int_equal(g.e[0].len, 11);
		assert_memory_equal(g.e[0].text, all, 11);
		/* 0x0b..0x7f kept, 0x80..0xff replaced, no newline (EOF) */
		assert_int_equal(g.e[1].len, (0x80 - 11) + 128 * 3);
		assert_memory_equal(g.e[1].text, all + 11, 0x80 - 11);
		for (size_t i = 0; i < 128; i++)
			assert_memory_equal(g.e[1].text + (0x80 - 11) + 3 * i,
					    REPLACEMENT, 3);
		for (size_t i = 0; i < g.n; i++) {
			lines++;
			assert_int_equal(g.e[i].stream, COVE_LOG_STDOUT);
		}
		assert_int_equal(lines, 2);
		got_release(&g);
	}
}

/* ---- partial lines ------------------------------------------------------ */

static void test_partial_lines(void **state)
{
	_cleanup_free_ char *path = log_path(state, "p.log");
	_cleanup_free_ char *big = malloc(40001);
	struct cove_logfile *lf = open_log(path, 0, 1);
	struct got g = {.ack_fd = -1};
	size_t total = 0;
	char exact[COVE_LOG_PARTIAL_MAX + 1];
	char utf[COVE_LOG_PARTIAL_MAX + 1];

	assert_non_null(big);
	/* a line in pieces, streams interleaved */
	write_str(lf, COVE_LOG_STDOUT, "hel");
	write_str(lf, COVE_LOG_STDERR, "error one\nerr");
	write_str(lf, COVE_LOG_STDOUT, "lo\nwor");
	write_str(lf, COVE_LOG_STDOUT, "ld\n\n");
	/* 40000 bytes without a newline: two partial pieces, then the rest */
	memset(big, 'x', 40000);
	big[40000] = '\0';
	write_str(lf, COVE_LOG_STDOUT, big);
	write_str(lf, COVE_LOG_STDOUT, "\n");
	/* exactly COVE_LOG_PARTIAL_MAX bytes and the newline: one line */
	memset(exact, 'y', COVE_LOG_PARTIAL_MAX);
	exact[COVE_LOG_PARTIAL_MAX] = '\n';
	assert_int_equal(
	    cove_logfile_write(lf, COVE_LOG_STDOUT, exact, sizeof(exact)), 0);
	/* a cut never splits a UTF-8 character */
	memset(utf, 'z', COVE_LOG_PARTIAL_MAX - 1);
	memcpy(utf + COVE_LOG_PARTIAL_MAX - 1, "\xc3\xa9", 2);
	assert_int_equal(
	    cove_logfile_write(lf, COVE_LOG_STDOUT, utf, sizeof(utf)), 0);
	write_str(lf, COVE_LOG_STDOUT, "\n");
	/* the end of output without a newline is flushed at close */
	write_str(lf, COVE_LOG_STDOUT, "no newline at the end");
	assert_int_equal(cove_logfile_close(lf), 0);

	read_log(path, -1, 0, 0, &g);
	assert_int_equal(g.n, 12);
	assert_int_equal(g.e[0].stream, COVE_LOG_STDERR);
	assert_string_equal(g.e[0].text, "error one\n");
	assert_int_equal(g.e[1].stream, COVE_LOG_STDOUT);
	assert_string_equal(g.e[1].text, "hello\n");
	assert_string_equal(g.e[2].text, "world\n");
	assert_string_equal(g.e[3].text, "\n");
	assert_int_equal(g.e[4].len, COVE_LOG_PARTIAL_MAX);
	assert_int_equal(g.e[5].len, COVE_LOG_PARTIAL_MAX);
	assert_true(g.e[4].text[g.e[4].len - 1] == 'x');
	for (size_t i = 4; i <= 6; i++)
		total += g.e[i].len;
	assert_int_equal(total, 40001);
	assert_true(g.e[6].text[g.e[6].len - 1] == '\n');
	assert_int_equal(g.e[7].len, COVE_LOG_PARTIAL_MAX + 1);
	assert_int_equal(g.e[8].len, COVE_LOG_PARTIAL_MAX - 1);
	assert_string_equal(g.e[9].text, "\xc3\xa9\n");
	assert_string_equal(g.e[10].text, "no newline at the end");
	/* the stderr piece that never got its newline, flushed last */
	assert_int_equal(g.e[11].stream, COVE_LOG_STDERR);
	assert_string_equal(g.e[11].text, "err");
	got_release(&g);
}

/* ---- rotation ------------------------------------------------------------ */

/* Write lines "line NNNN\n" first..first+n-1. */
static void write_numbered(struct cove_logfile *lf, int first, int n)
{
	for (int i = first; i < first + n; i++) {
		char line[32];

		snprintf(line, sizeof(line), "line %04d\n", i);
		write_str(lf, i % 3 ? COVE_LOG_STDOUT : COVE_LOG_STDERR, line);
	}
}

/* The entries are "line N" for consecutive N ending at @last. */
static void check_consecutive(const struct got *g, int last)
{
	for (size_t i = 0; i < g->n; i++) {
		char want[32];
		int num = last - (int)(g->n - 1 - i);

		snprintf(want, sizeof(want), "line %04d\n", num);
		assert_string_equal(g->e[i].text, want);
		assert_int_equal(g->e[i].stream,
				 num % 3 ? COVE_LOG_STDOUT : COVE_LOG_STDERR);
		if (i > 0)
			assert_true(strcmp(g->e[i - 1].time, g->e[i].time) <=
				    0);
	}
}

static size_t file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (size_t)st.st_size;
}

static void rotation_case(void **state, unsigned max_files)
{
	_cleanup_free_ char *path = log_path(state, "r.log");
	_cleanup_free_ char *p1 = cove_strdup_printf("%s.1", path);
	_cleanup_free_ char *p2 = cove_strdup_printf("%s.2", path);
	_cleanup_free_ char *p3 = cove_strdup_printf("%s.3", path);
	/* a line is 80 bytes of JSON: 5 lines a file */
	const uint64_t max_size = 400;
	struct cove_logfile *lf = open_log(path, max_size, max_files);
	struct got g = {.ack_fd = -1};
	size_t lines = 0;

	write_numbered(lf, 0, 40);
	assert_int_equal(cove_logfile_close(lf), 0);

	assert_true(exists(path));
	assert_int_equal(exists(p1), max_files >= 2);
	assert_int_equal(exists(p2), max_files >= 3);
	assert_false(exists(p3));
	assert_true(file_size(path) <= max_size);
	lines += count_valid_lines(path);
	if (max_files >= 2) {
		assert_true(file_size(p1) <= max_size);
		assert_true(file_size(p1) > max_size - 80);
		lines += count_valid_lines(p1);
	}
	if (max_files >= 3) {
		assert_true(file_size(p2) <= max_size);
		lines += count_valid_lines(p2);
	}
	read_log(path, -1, 0, 0, &g);
	assert_int_equal(g.n, lines);
	assert_true(g.n >= (max_files - 1) * 4 + 1);
	check_consecutive(&g, 39);

	/* reopening appends to the current file, and rotates on */
	lf = open_log(path, max_size, max_files);
	write_numbered(lf, 40, 3);
	assert_int_equal(cove_logfile_close(lf), 0);
	read_log(path, -1, 0, 0, &g);
	check_consecutive(&g, 42);
	assert_true(file_size(path) <= max_size);
	got_release(&g);
}

static void test_rotation_one_file(void **state)
{
	rotation_case(state, 1);
}

static void test_rotation_two_files(void **state)
{
	rotation_case(state, 2);
}

static void test_rotation_three_files(void **state)
{
	rotation_case(state, 3);
}

/* ---- tail -----------------------------------------------------------------
 */

static void test_tail_across_files(void **state)
{
	_cleanup_free_ char *path = log_path(state, "t.log");
	_cleanup_free_ char *p1 = cove_strdup_printf("%s.1", path);
	_cleanup_free_ char *p2 = cove_strdup_printf("%s.2", path);
	struct cove_logfile *lf = open_log(path, 400, 3);
	struct got g = {.ack_fd = -1};
	size_t in_path, in_p1, in_p2, total;

	write_numbered(lf, 0, 13);
	assert_int_equal(cove_logfile_close(lf), 0);
	in_path = count_valid_lines(path);
	in_p1 = count_valid_lines(p1);
	in_p2 = count_valid_lines(p2);
	total = in_path + in_p1 + in_p2;
	assert_true(in_path > 0 && in_p1 > 0 && in_p2 > 0);

	for (long tail = 0; tail <= (long)total + 2; tail++) {
		read_log(path, tail, 0, 0, &g);
		assert_int_equal(g.n,
				 (size_t)tail < total ? (size_t)tail : total);
		check_consecutive(&g, 12);
	}
	/* a log that does not end with a newline: the fragment is a line */
	{
		_cleanup_close_ int fd =
		    open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
		static const char frag[] = "{\"log\":\"line 0013\\n\","
					   "\"stream\":\"stdout\","
					   "\"time\":\"2030-01-01T00:00:00Z\"}";

		assert_true(fd >= 0);
		assert_int_equal(write(fd, frag, sizeof(frag) - 1),
				 (ssize_t)sizeof(frag) - 1);
	}
	read_log(path, 2, 0, 0, &g);
	assert_int_equal(g.n, 2);
	check_consecutive(&g, 13);
	got_release(&g);
}

/* A big file: the tail is found from its end, and is right. */
static void test_tail_big_file(void **state)
{
	_cleanup_free_ char *path = log_path(state, "big.log");
	struct cove_logfile *lf = open_log(path, 0, 1);
	struct got g = {.ack_fd = -1};

	write_numbered(lf, 0, 9999);
	assert_int_equal(cove_logfile_close(lf), 0);
	assert_true(file_size(path) > 3 * 65536);
	read_log(path, 1, 0, 0, &g);
	assert_int_equal(g.n, 1);
	check_consecutive(&g, 9998);
	read_log(path, 5000, 0, 0, &g);
	assert_int_equal(g.n, 5000);
	check_consecutive(&g, 9998);
	got_release(&g);
}

/* ---- since, until, corrupt lines ----------------------------------------- */

static void append_line(int fd, enum cove_log_stream s, int64_t t,
			const char *text)
{
	_cleanup_free_ char *line = NULL;
	size_t len;

	assert_int_equal(cove_log_encode(s, t, text, strlen(text), &line, &len),
			 0);
	assert_int_equal(write(fd, line, len), (ssize_t)len);
}

static void append_raw(int fd, const char *raw)
{
	assert_int_equal(write(fd, raw, strlen(raw)), (ssize_t)strlen(raw));
}

static void test_since_until_corrupt(void **state)
{
	_cleanup_free_ char *path = log_path(state, "s.log");
	_cleanup_close_ int fd = open(
	    path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_APPEND, 0600);
	const int64_t s = 1000000000;
	const int64_t t0 = 1764410400LL * s; /* 2025-11-29T10:00:00Z */
	struct got g = {.ack_fd = -1};

	assert_true(fd >= 0);
	append_line(fd, COVE_LOG_STDOUT, t0, "zero\n");
	append_raw(fd, "not json at all\n");
	append_line(fd, COVE_LOG_STDOUT, t0 + 1 * s, "one\n");
	append_raw(fd, "[1,2,3]\n");
	append_raw(fd, "{\"log\":\"x\\n\",\"stream\":\"stdin\","
		       "\"time\":\"2025-11-29T10:00:01Z\"}\n");
	append_raw(fd, "{\"log\":\"x\\n\",\"stream\":\"stdout\","
		       "\"time\":\"yesterday\"}\n");
	append_raw(fd, "{\"log\":7,\"stream\":\"stdout\","
		       "\"time\":\"2025-11-29T10:00:01Z\"}\n");
	append_raw(fd, "\n{\"log\":\"trunc");
	append_raw(fd, "\n");
	append_line(fd, COVE_LOG_STDERR, t0 + 2 * s, "two\n");
	/* docker's own time stamps: trailing zeros trimmed, other zones */
	append_raw(fd, "{\"log\":\"three\\n\",\"stream\":\"stdout\","
		       "\"time\":\"2025-11-29T11:00:03.5+01:00\","
		       "\"attrs\":{\"a\":\"b\"}}\n");
	append_line(fd, COVE_LOG_STDOUT, t0 + 4 * s, "four\n");

	read_log(path, -1, 0, 0, &g);
	assert_int_equal(g.n, 5);
	assert_string_equal(g.e[0].text, "zero\n");
	assert_string_equal(g.e[1].text, "one\n");
	assert_string_equal(g.e[2].text, "two\n");
	assert_int_equal(g.e[2].stream, COVE_LOG_STDERR);
	assert_string_equal(g.e[2].time, "2025-11-29T10:00:02.000000000Z");
	assert_string_equal(g.e[3].text, "three\n");
	assert_string_equal(g.e[3].time, "2025-11-29T11:00:03.5+01:00");
	assert_string_equal(g.e[4].text, "four\n");

	/* both bounds inclusive */
	read_log(path, -1, t0 + 1 * s, t0 + 3 * s + s / 2, &g);
	assert_int_equal(g.n, 3);
	assert_string_equal(g.e[0].text, "one\n");
	assert_string_equal(g.e[2].text, "three\n");
	read_log(path, -1, t0 + 1, 0, &g);
	assert_int_equal(g.n, 4);
	read_log(path, -1, 0, t0, &g);
	assert_int_equal(g.n, 1);
	/* tail first, then the bounds (docker's order) */
	read_log(path, 2, t0 + 4 * s, 0, &g);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.e[0].text, "four\n");
	got_release(&g);
}

static void test_callback_stops_and_missing(void **state)
{
	_cleanup_free_ char *path = log_path(state, "c.log");
	_cleanup_free_ char *missing = log_path(state, "missing.log");
	struct cove_log_read_opts o = {.tail = -1};
	struct cove_logfile *lf = open_log(path, 0, 1);
	struct cove_error err = {0};
	struct got g = {.ack_fd = -1, .stop_after = 2};

	write_numbered(lf, 0, 5);
	assert_int_equal(cove_logfile_close(lf), 0);
	assert_int_equal(cove_logfile_read(path, &o, collect, &g, &err), 7);
	assert_int_equal(g.n, 2);
	got_release(&g);
	assert_int_equal(cove_logfile_read(missing, &o, collect, &g, &err),
			 -ENOENT);
	assert_non_null(strstr(err.msg, "missing.log"));
	assert_int_equal(g.n, 0);
	/* an unwritable log is an error at open, naming it */
	assert_int_equal(
	    cove_logfile_open("/nonexistent-dir/x.log", 0, 1, &lf, &err),
	    -ENOENT);
	assert_non_null(strstr(err.msg, "/nonexistent-dir/x.log"));
}

/* ---- time stamps -----------------------------------------------------------
 */

static void test_time(void **state)
{
	const int64_t s = 1000000000, t0 = 1764410400LL * s;
	char buf[COVE_LOG_TIME_MAX];
	struct cove_error err = {0};
	int64_t v;
	(void)state;

	cove_log_time_format(t0 + 123456789, buf);
	assert_string_equal(buf, "2025-11-29T10:00:00.123456789Z");
	cove_log_time_format(0, buf);
	assert_string_equal(buf, "1970-01-01T00:00:00.000000000Z");

	assert_int_equal(cove_log_time_parse("2025-11-29T10:00:00Z", &v), 0);
	assert_true(v == t0);
	assert_int_equal(
	    cove_log_time_parse("2025-11-29T10:00:00.123456789Z", &v), 0);
	assert_true(v == t0 + 123456789);
	assert_int_equal(cove_log_time_parse("2025-11-29T10:00:00.5Z", &v), 0);
	assert_true(v == t0 + s / 2);
	assert_int_equal(
	    cove_log_time_parse("2025-11-29T12:30:00.25+02:30", &v), 0);
	assert_true(v == t0 + s / 4);
	assert_int_equal(cove_log_time_parse("2025-11-29T09:00:00-01:00", &v),
			 0);
	assert_true(v == t0);
	assert_int_equal(cove_log_time_parse("2024-02-29T00:00:00Z", &v), 0);
	assert_int_equal(cove_log_time_parse("2025-02-29T00:00:00Z", &v),
			 -EINVAL);
	assert_int_equal(cove_log_time_parse("2025-11-29T10:00:00", &v),
			 -EINVAL);
	assert_int_equal(cove_log_time_parse("2025-11-29", &v), -EINVAL);
	assert_int_equal(cove_log_time_parse("2025-11-29T10:00:00.Z", &v),
			 -EINVAL);
	assert_int_equal(cove_log_time_parse("2025-13-29T10:00:00Z", &v),
			 -EINVAL);
	assert_int_equal(cove_log_time_parse("2025-11-29T10:00:00Zjunk", &v),
			 -EINVAL);
	assert_int_equal(cove_log_time_parse("", &v), -EINVAL);
	/* nanoseconds since the epoch hold 1678 to 2262 */
	assert_int_equal(cove_log_time_parse("9999-12-31T23:59:59Z", &v),
			 -ERANGE);
	assert_int_equal(cove_log_time_parse("1000-01-01T00:00:00Z", &v),
			 -ERANGE);
	assert_int_equal(cove_log_time_parse("2262-01-01T00:00:00Z", &v), 0);
	cove_log_time_format(v, buf);
	assert_string_equal(buf, "2262-01-01T00:00:00.000000000Z");
	assert_int_equal(cove_log_time_parse("1960-06-01T00:00:00.25Z", &v), 0);
	cove_log_time_format(v, buf);
	assert_string_equal(buf, "1960-06-01T00:00:00.250000000Z");

	/* --since / --until values */
	assert_int_equal(
	    cove_log_parse_since("2025-11-29T10:00:00Z", 0, &v, &err), 0);
	assert_true(v == t0);
	assert_int_equal(cove_log_parse_since("1764410400", 0, &v, &err), 0);
	assert_true(v == t0);
	assert_int_equal(
	    cove_log_parse_since("1764410400.000000001", 0, &v, &err), 0);
	assert_true(v == t0 + 1);
	assert_int_equal(cove_log_parse_since("10m", t0, &v, &err), 0);
	assert_true(v == t0 - 600 * s);
	assert_int_equal(cove_log_parse_since("1h30m", t0, &v, &err), 0);
	assert_true(v == t0 - 5400 * s);
	assert_int_equal(cove_log_parse_since("1.5h", t0, &v, &err), 0);
	assert_true(v == t0 - 5400 * s);
	assert_int_equal(cove_log_parse_since("250ms", t0, &v, &err), 0);
	assert_true(v == t0 - s / 4);
	setenv("TZ", "UTC", 1);
	tzset();
	assert_int_equal(cove_log_parse_since("2025-11-29", 0, &v, &err), 0);
	assert_true(v == t0 - 10 * 3600 * s);
	assert_int_equal(
	    cove_log_parse_since("2025-11-29T10:00:00", 0, &v, &err), 0);
	assert_true(v == t0);
	assert_int_equal(cove_log_parse_since("10 minutes", t0, &v, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "'10 minutes'"));
	assert_int_equal(cove_log_parse_since("", t0, &v, &err), -EINVAL);
	assert_int_equal(cove_log_parse_since("5x", t0, &v, &err), -EINVAL);
	assert_int_equal(cove_log_parse_since("1.2.3", t0, &v, &err), -EINVAL);
	assert_int_equal(cove_log_parse_since("99999999999", t0, &v, &err),
			 -EINVAL);
	assert_int_equal(
	    cove_log_parse_since("9999999999999999999h", t0, &v, &err),
	    -EINVAL);
}

/* ---- follow -----------------------------------------------------------------
 */

static pid_t follow_child;
static int follow_child_status = -1;

static bool child_done(void *data)
{
	(void)data;
	if (follow_child_status == -1) {
		int st;
		if (waitpid(follow_child, &st, WNOHANG) == follow_child)
			follow_child_status = st;
	}
	return follow_child_status != -1;
}

/*
 * The writer: waits before making the file (the reader must wait for it),
 * then writes @total numbered lines in batches of @batch, each batch once
 * the reader has acknowledged the one before (so that it never falls more
 * than a rotation behind, which loses lines by design), then a last line
 * without its newline, flushed by close.
 */
static void follow_writer(const char *path, uint64_t max_size,
			  unsigned max_files, int total, int batch, int ack_fd)
{
	struct cove_logfile *lf = NULL;
	struct timespec ts = {0, 50 * 1000000};
	char c;

	nanosleep(&ts, NULL);
	if (cove_logfile_open(path, max_size, max_files, &lf, NULL) < 0)
		_exit(2);
	for (int i = 0; i < total; i += batch) {
		for (int k = i; k < i + batch && k < total; k++) {
			char line[32];

			snprintf(line, sizeof(line), "line %04d\n", k);
			if (cove_logfile_write(
				lf, k % 3 ? COVE_LOG_STDOUT : COVE_LOG_STDERR,
				line, strlen(line)) < 0)
				_exit(3);
		}
		if (read(ack_fd, &c, 1) != 1)
			_exit(4);
	}
	if (cove_logfile_write(lf, COVE_LOG_STDOUT, "bye", 3) < 0 ||
	    cove_logfile_close(lf) < 0)
		_exit(5);
	_exit(0);
}

static void follow_case(void **state, unsigned max_files)
{
	_cleanup_free_ char *path = log_path(state, "f.log");
	struct cove_log_read_opts o = {
	    .tail = -1, .follow = true, .done = child_done};
	struct cove_error err = {0};
	struct got g = {.ack_fd = -1};
	/*
	 * 5 lines a file, batches of 4 lines: rotations fall inside batches,
	 * at most one in each
	 */
	const int total = 60, batch = 4;
	int acks[2];
	int r;

	assert_int_equal(pipe2(acks, O_CLOEXEC), 0);
	follow_child_status = -1;
	follow_child = fork();
	assert_true(follow_child >= 0);
	if (follow_child == 0) {
		close(acks[1]);
		follow_writer(path, 400, max_files, total, batch, acks[0]);
	}
	close(acks[0]);
	g.ack_fd = acks[1];
	g.ack_every = (size_t)batch;
	alarm(60);
	r = cove_logfile_read(path, &o, collect, &g, &err);
	alarm(0);
	close(acks[1]);
	if (r != 0)
		fail_msg("follow: %s", err.msg);
	assert_true(WIFEXITED(follow_child_status));
	assert_int_equal(WEXITSTATUS(follow_child_status), 0);
	assert_int_equal(g.n, (size_t)total + 1);
	assert_string_equal(g.e[total].text, "bye");
	g.n--;
	check_consecutive(&g, total - 1);
	g.n++;
	got_release(&g);
}

static void test_follow_rotating_three_files(void **state)
{
	follow_case(state, 3);
}

static void test_follow_rotating_one_file(void **state)
{
	follow_case(state, 1);
}

/* follow with a tail: the last lines, then what comes */
static void test_follow_tail(void **state)
{
	_cleanup_free_ char *path = log_path(state, "ft.log");
	struct cove_log_read_opts o = {
	    .tail = 2, .follow = true, .done = child_done};
	struct cove_logfile *lf = open_log(path, 0, 1);
	struct cove_error err = {0};
	struct got g = {.ack_fd = -1};

	write_numbered(lf, 0, 10);
	assert_int_equal(cove_logfile_close(lf), 0);
	follow_child_status = -1;
	follow_child = fork();
	assert_true(follow_child >= 0);
	if (follow_child == 0) {
		struct timespec ts = {0, 100 * 1000000};

		nanosleep(&ts, NULL);
		if (cove_logfile_open(path, 0, 1, &lf, NULL) < 0)
			_exit(2);
		for (int i = 10; i < 13; i++) {
			char line[32];

			snprintf(line, sizeof(line), "line %04d\n", i);
			if (cove_logfile_write(
				lf, i % 3 ? COVE_LOG_STDOUT : COVE_LOG_STDERR,
				line, strlen(line)) < 0)
				_exit(3);
			nanosleep(&ts, NULL);
		}
		_exit(cove_logfile_close(lf) < 0 ? 4 : 0);
	}
	alarm(60);
	assert_int_equal(cove_logfile_read(path, &o, collect, &g, &err), 0);
	alarm(0);
	assert_int_equal(WEXITSTATUS(follow_child_status), 0);
	assert_int_equal(g.n, 5);
	check_consecutive(&g, 12);
	got_release(&g);
}

/*
 * A line that a reader sees half written (write(2) to a file is not atomic
 * for readers) is completed, not skipped, by a follower.
 */
static void test_follow_torn_write(void **state)
{
	_cleanup_free_ char *path = log_path(state, "torn.log");
	struct cove_log_read_opts o = {
	    .tail = -1, .follow = true, .done = child_done};
	struct cove_error err = {0};
	struct got g = {.ack_fd = -1};
	_cleanup_free_ char *line = NULL;
	size_t len;
	int fd;

	assert_int_equal(cove_log_encode(COVE_LOG_STDOUT,
					 1764410400LL * 1000000000, "torn\n", 5,
					 &line, &len),
			 0);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, line, 10), 10);
	follow_child_status = -1;
	follow_child = fork();
	assert_true(follow_child >= 0);
	if (follow_child == 0) {
		struct timespec ts = {0, 300 * 1000000};

		nanosleep(&ts, NULL);
		if (write(fd, line + 10, len - 10) != (ssize_t)(len - 10))
			_exit(2);
		nanosleep(&ts, NULL);
		_exit(0);
	}
	close(fd);
	alarm(60);
	assert_int_equal(cove_logfile_read(path, &o, collect, &g, &err), 0);
	alarm(0);
	assert_int_equal(WEXITSTATUS(follow_child_status), 0);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.e[0].text, "torn\n");
	got_release(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup_tmpdir, teardown_tmpdir)
	    T(test_escape_roundtrip),
	    T(test_partial_lines),
	    T(test_rotation_one_file),
	    T(test_rotation_two_files),
	    T(test_rotation_three_files),
	    T(test_tail_across_files),
	    T(test_tail_big_file),
	    T(test_since_until_corrupt),
	    T(test_callback_stops_and_missing),
	    T(test_time),
	    T(test_follow_rotating_three_files),
	    T(test_follow_rotating_one_file),
	    T(test_follow_tail),
	    T(test_follow_torn_write),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
