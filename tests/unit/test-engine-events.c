/*
 * Unit tests for src/engine/events.c: the event line's encoding (podman's
 * members, long and invalid values cut to fit PIPE_BUF), the parser
 * (podman's own lines; garbage, torn and foreign lines refused), time
 * formats, podman's text line, the filters, the scanner's time bounds,
 * appending with the size cap (newest half kept), concurrent writers that
 * never interleave, and a streaming reader that follows rotations.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/containers.h"
#include "engine/events.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

static int setup_tmpdir(void **state)
{
	char *dir = strdup("/tmp/cove-test-events-XXXXXX");

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

	cove_events_setup(NULL, NULL);
	if (dir) {
		cove_rm_rf(dir);
		free(dir);
	}
	return 0;
}

static char *tmp_path(void **state, const char *name)
{
	char *p = cove_strdup_printf("%s/%s", (char *)*state, name);

	assert_non_null(p);
	return p;
}

static void parse_str(const char *line, struct cove_event *ev)
{
	assert_int_equal(cove_event_parse(line, strlen(line), ev), 0);
}

/* ---- encode / parse ------------------------------------------------------ */

static void test_encode_parse_roundtrip(void **state)
{
	_cleanup_json_ json_t *attrs =
	    json_pack("{s:s, s:s}", "a", "b", "signal", "15");
	struct cove_event ev = {.type = "container",
				.status = "died",
				.id = "0123456789abcdef",
				.name = "web",
				.image = "localhost/busybox:latest",
				.time_ns = 1795959600123456789LL,
				.has_exit_code = true,
				.exit_code = 137,
				.attributes = attrs},
			  back;
	_cleanup_free_ char *line = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(cove_event_encode(&ev, &line, &len), 0);
	assert_int_equal(len, strlen(line));
	assert_true(line[len - 1] == '\n');
	assert_null(memchr(line, '\n', len - 1));
	/* podman's members, in podman's order */
	assert_non_null(strstr(line, "{\"ContainerExitCode\":137,\"ID\":"
				     "\"0123456789abcdef\",\"Image\":"));
	assert_non_null(
	    strstr(line, "\"Time\":\"2026-11-29T13:40:00.123456789Z\""));
	assert_int_equal(cove_event_parse(line, len - 1, &back), 0);
	assert_string_equal(back.type, "container");
	assert_string_equal(back.status, "died");
	assert_string_equal(back.id, ev.id);
	assert_string_equal(back.name, "web");
	assert_string_equal(back.image, ev.image);
	assert_true(back.time_ns == ev.time_ns);
	assert_true(back.has_exit_code);
	assert_int_equal(back.exit_code, 137);
	assert_string_equal(
	    json_string_value(json_object_get(back.attributes, "signal")),
	    "15");
	assert_null(back.network);
	cove_event_release(&back);
	assert_null(back.json);
}

static void test_parse_podman_lines(void **state)
{
	struct cove_event ev;

	(void)state;
	/* as podman 4.3 writes them (its image events have null attributes) */
	parse_str(
	    "{\"Name\":\"/tmp/busybox-oci.tar\",\"Status\":"
	    "\"loadfromarchive\",\"Time\":\"2026-11-29T13:37:40.247521618Z"
	    "\",\"Type\":\"image\",\"Attributes\":null}",
	    &ev);
	assert_string_equal(ev.type, "image");
	assert_null(ev.id);
	assert_null(ev.attributes);
	assert_false(ev.has_exit_code);
	cove_event_release(&ev);
	/* a zone offset, and attributes that are not strings (dropped) */
	parse_str("{\"ContainerExitCode\":0,\"ID\":\"abc\",\"Status\":\"died\","
		  "\"Time\":\"2019-04-27T22:47:00.849932843-04:00\",\"Type\":"
		  "\"container\",\"Attributes\":{\"k\":\"v\",\"n\":1,"
		  "\"o\":{}}}",
		  &ev);
	assert_true(ev.time_ns == 1556419620849932843LL);
	assert_true(ev.has_exit_code);
	assert_int_equal(ev.exit_code, 0);
	assert_int_equal(json_object_size(ev.attributes), 1);
	assert_string_equal(
	    json_string_value(json_object_get(ev.attributes, "k")), "v");
	cove_event_release(&ev);
}

static void test_parse_refuses(void **state)
{
	static const char *const bad[] = {
	    "",
	    "garbage",
	    "[]",
	    "\"str\"",
	    "{}",
	    /* a torn write */
	    "{\"ID\":\"abc\",\"Status\":\"start\",\"Time\":\"2026-11-29T13:",
	    "{\"Status\":\"start\",\"Time\":\"2026-11-29T13:00:00Z\"}",
	    "{\"Type\":\"container\",\"Time\":\"2026-11-29T13:00:00Z\"}",
	    "{\"Type\":\"container\",\"Status\":\"start\"}",
	    "{\"Type\":\"container\",\"Status\":\"start\",\"Time\":\"now\"}",
	    "{\"Type\":\"container\",\"Status\":1,\"Time\":"
	    "\"2026-11-29T13:00:00Z\"}",
	    "{\"Type\":\"\",\"Status\":\"start\",\"Time\":"
	    "\"2026-11-29T13:00:00Z\"}",
	    "{\"Type\":\"container\",\"Status\":\"start\",\"Time\":"
	    "\"0001-01-01T00:00:00Z\"}",
	    "{\"Type\":\"container\",\"Status\":\"start\",\"Time\":"
	    "\"2026-11-29T13:00:00Z\"} trailing",
	};
	static const char nul[] = "{\"Type\":\"c\\u0000\",\"Status\":\"s\","
				  "\"Time\":\"2026-11-29T13:00:00Z\"}\0x";
	struct cove_event ev = {0};
	_cleanup_free_ char *huge = malloc(COVE_EVENT_PARSE_MAX + 2);

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cove_event_parse(bad[i], strlen(bad[i]), &ev),
				 -EINVAL);
	/* NUL bytes in the line or in a string */
	assert_int_equal(cove_event_parse(nul, sizeof(nul) - 1, &ev), -EINVAL);
	assert_non_null(huge);
	memset(huge, ' ', COVE_EVENT_PARSE_MAX + 1);
	assert_int_equal(cove_event_parse(huge, COVE_EVENT_PARSE_MAX + 1, &ev),
			 -EINVAL);
	assert_null(ev.json);
}

static bool valid_utf8_json_line(const char *line, size_t len)
{
	json_t *o = json_loadb(line, len - 1, 0, NULL);
	bool ok = json_is_object(o);
	json_decref(o);
	return ok;
}

static void test_encode_cuts_long_values(void **state)
{
	_cleanup_free_ char *big = malloc(20000), *ctl = malloc(5000);
	_cleanup_free_ char *line = NULL, *line2 = NULL;
	_cleanup_json_ json_t *attrs = json_object();
	struct cove_event ev = {.type = "container", .status = "start"}, back;
	size_t len = 0, i;

	(void)state;
	assert_non_null(big);
	assert_non_null(ctl);
	/* multibyte characters: "é" is 2 bytes, cut never inside one */
	for (i = 0; i + 2 < 20000; i += 2)
		memcpy(big + i, "\xc3\xa9", 2);
	big[i] = '\0';
	/* control characters: 6 bytes each once escaped */
	memset(ctl, 1, 4999);
	ctl[4999] = '\0';
	json_object_set_new(attrs, "long", json_string(big));
	json_object_set_new(attrs, "short", json_string("v"));
	ev.attributes = attrs;
	ev.name = "n";
	assert_int_equal(cove_event_encode(&ev, &line, &len), 0);
	assert_true(len <= COVE_EVENT_LINE_MAX);
	assert_true(valid_utf8_json_line(line, len));
	assert_int_equal(cove_event_parse(line, len - 1, &back), 0);
	assert_string_equal(
	    json_string_value(json_object_get(back.attributes, "short")), "v");
	assert_int_equal(
	    strlen(json_string_value(json_object_get(back.attributes, "long"))),
	    256);
	cove_event_release(&back);

	/* every member huge and hostile: still one line under PIPE_BUF */
	ev.name = ctl;
	ev.image = ctl;
	ev.id = big;
	ev.network = ctl;
	ev.health_status = ctl;
	assert_int_equal(cove_event_encode(&ev, &line2, &len), 0);
	assert_true(len <= COVE_EVENT_LINE_MAX);
	assert_true(valid_utf8_json_line(line2, len));
	assert_int_equal(cove_event_parse(line2, len - 1, &back), 0);
	assert_int_equal(strlen(back.name), 64);
	assert_int_equal(strlen(back.id), 64); /* 32 characters of 2 bytes */
	cove_event_release(&back);
}

static void test_encode_invalid_utf8(void **state)
{
	struct cove_event ev = {.type = "image",
				.status = "loadfromarchive",
				.name = "/tmp/\xff\xfe.tar"},
			  back;
	_cleanup_free_ char *line = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(cove_event_encode(&ev, &line, &len), 0);
	assert_int_equal(cove_event_parse(line, len - 1, &back), 0);
	assert_string_equal(back.name, "/tmp/??.tar");
	cove_event_release(&back);
}

/* ---- time and text ------------------------------------------------------- */

static void test_time_formats(void **state)
{
	char buf[COVE_EVENT_TIME_MAX];

	(void)state;
	cove_event_time_rfc3339(1795959600000000000LL, buf);
	assert_string_equal(buf, "2026-11-29T13:40:00Z");
	cove_event_time_rfc3339(1795959600500000000LL, buf);
	assert_string_equal(buf, "2026-11-29T13:40:00.5Z");
	cove_event_time_rfc3339(1795959600123456789LL, buf);
	assert_string_equal(buf, "2026-11-29T13:40:00.123456789Z");
	setenv("TZ", "UTC", 1);
	tzset();
	cove_event_time_human(1795959600123456789LL, buf);
	assert_string_equal(buf, "2026-11-29 13:40:00.123456789 +0000 UTC");
	cove_event_time_human(1795959600000000000LL, buf);
	assert_string_equal(buf, "2026-11-29 13:40:00 +0000 UTC");
	setenv("TZ", "EST5", 1);
	tzset();
	cove_event_time_human(1795959600120000000LL, buf);
	assert_string_equal(buf, "2026-11-29 08:40:00.12 -0500 EST");
	setenv("TZ", "UTC", 1);
	tzset();
}

static void test_human_lines(void **state)
{
	_cleanup_json_ json_t *attrs = json_pack("{s:s}", "a", "b");
	struct cove_event c = {.type = "container",
			       .status = "start",
			       .id = "0123456789abcdef0123",
			       .name = "web",
			       .image = "localhost/busybox",
			       .time_ns = 1795959600123456789LL,
			       .attributes = attrs};
	struct cove_event img = {.type = "image",
				 .status = "tag",
				 .id = "sha256:abcdef0123456789",
				 .name = "foo:1",
				 .time_ns = 1795959600000000000LL};
	struct cove_event vol = {.type = "volume",
				 .status = "create",
				 .name = "v1",
				 .time_ns = 1795959600000000000LL};
	struct cove_event hc = c;
	char *s;

	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	s = cove_event_format_human(&c, false);
	assert_string_equal(s, "2026-11-29 13:40:00.123456789 +0000 UTC "
			       "container start 0123456789abcdef0123 "
			       "(image=localhost/busybox, name=web, a=b)");
	free(s);
	s = cove_event_format_human(&c, true);
	assert_non_null(strstr(s, " container start 0123456789ab (image="));
	free(s);
	s = cove_event_format_human(&img, false);
	assert_string_equal(s, "2026-11-29 13:40:00 +0000 UTC image tag "
			       "abcdef0123456789 foo:1");
	free(s);
	s = cove_event_format_human(&vol, false);
	assert_string_equal(s,
			    "2026-11-29 13:40:00 +0000 UTC volume create v1");
	free(s);
	hc.status = "health_status";
	hc.health_status = "healthy";
	hc.attributes = NULL;
	s = cove_event_format_human(&hc, false);
	assert_non_null(strstr(s, "name=web, health_status=healthy)"));
	free(s);
}

static void test_template_object(void **state)
{
	struct cove_event ev = {.type = "container",
				.status = "died",
				.id = "abc",
				.time_ns = 1795959600000000001LL,
				.has_exit_code = true,
				.exit_code = 3};
	_cleanup_json_ json_t *t = cove_event_to_json(&ev, true);
	_cleanup_json_ json_t *j = cove_event_to_json(&ev, false);

	(void)state;
	assert_non_null(t);
	assert_int_equal(
	    json_integer_value(json_object_get(t, "ContainerExitCode")), 3);
	assert_true(json_integer_value(json_object_get(t, "TimeNano")) ==
		    1795959600000000001LL);
	assert_string_equal(json_string_value(json_object_get(t, "Name")), "");
	assert_true(json_is_object(json_object_get(t, "Attributes")));
	assert_string_equal(json_string_value(json_object_get(j, "Time")),
			    "2026-11-29T13:40:00.000000001Z");
	assert_null(json_object_get(j, "Name"));
}

/* ---- filters ------------------------------------------------------------- */

static bool matches(const char *const *filters, const struct cove_event *ev)
{
	struct cove_events_filter f = {0};
	struct cove_error err = {0};
	bool m;

	for (const char *const *p = filters; *p; p++)
		assert_int_equal(cove_events_filter_add(&f, *p, &err), 0);
	m = cove_events_filter_match(&f, ev);
	cove_events_filter_release(&f);
	return m;
}

#define M(ev, ...) matches((const char *const[]){__VA_ARGS__, NULL}, ev)

static void test_filters(void **state)
{
	_cleanup_json_ json_t *attrs =
	    json_pack("{s:s, s:s}", "app", "web", "tier", "");
	struct cove_event c = {.type = "container",
			       .status = "start",
			       .id = "0123456789abcdef",
			       .name = "web1",
			       .image = "localhost/busybox:latest",
			       .attributes = attrs};
	struct cove_event img = {.type = "image",
				 .status = "tag",
				 .id = "abcdef0123",
				 .name = "docker.io/library/foo:1"};
	struct cove_event vol = {
	    .type = "volume", .status = "create", .name = "data"};
	struct cove_event net = {.type = "network",
				 .status = "create",
				 .name = "n1",
				 .network = "n1"};
	struct cove_events_filter f = {0};
	struct cove_error err = {0};

	(void)state;
	assert_true(matches((const char *const[]){NULL}, &c));
	assert_true(M(&c, "container=web1"));
	assert_true(M(&c, "container=0123"));
	assert_false(M(&c, "container=web"));
	assert_false(M(&c, "container=")); /* an empty prefix is no match */
	assert_false(M(&img, "container=abcdef"));
	assert_true(M(&c, "event=start"));
	assert_true(M(&c, "status=start"));
	assert_true(M(&c, "EVENT=start")); /* keys are podman's, any case */
	assert_false(M(&c, "event=stop"));
	assert_true(M(&c, "event=stop", "event=start"));  /* one key: OR */
	assert_false(M(&c, "event=start", "type=image")); /* keys: AND */
	assert_true(M(&c, "event=start", "type=container", "container=web1"));
	assert_true(M(&c, "label=app"));
	assert_true(M(&c, "label=app=web"));
	assert_true(M(&c, "label=tier="));
	assert_false(M(&c, "label=app=db"));
	assert_false(M(&c, "label=nope"));
	assert_false(M(&img, "label=app"));
	assert_true(M(&c, "image=localhost/busybox:latest"));
	assert_true(M(&c, "image=localhost/busybox"));
	assert_true(M(&c, "image=busybox"));
	assert_false(M(&c, "image=box"));
	assert_false(M(&c, "image=busybox:1"));
	assert_true(M(&img, "image=foo:1"));
	assert_true(M(&img, "image=abcdef"));
	assert_true(M(&img, "image=sha256:abcdef"));
	assert_false(M(&img, "image=foo"));
	assert_true(M(&vol, "volume=data"));
	assert_false(M(&vol, "volume=other"));
	assert_false(M(&c, "volume=data"));
	assert_true(M(&net, "network=n1"));
	assert_false(M(&vol, "network=n1"));
	assert_true(M(&net, "type=network"));

	assert_int_equal(cove_events_filter_add(&f, "pod=x", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "unknown key 'pod'"));
	assert_int_equal(cove_events_filter_add(&f, "event", &err), -EINVAL);
	assert_int_equal(cove_events_filter_add(&f, "=x", &err), -EINVAL);
	assert_int_equal(f.n, 0);
	cove_events_filter_release(&f);
}

/* ---- scanning ------------------------------------------------------------ */

struct seen {
	int n;
	char names[64][16];
	int stop_after; /* 0: never */
};

static int collect(void *data, const struct cove_event *ev)
{
	struct seen *s = data;

	if (s->n < 64)
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s",
			 ev->name ? ev->name : "");
	s->n++;
	return s->stop_after && s->n >= s->stop_after ? 7 : 0;
}

#define LINE(name, secs)                                                       \
	"{\"Name\":\"" name "\",\"Status\":\"create\",\"Time\":"               \
	"\"2026-11-29T13:40:" secs "Z\",\"Type\":\"volume\"}\n"

static void test_scan(void **state)
{
	static const char buf[] = LINE(
	    "a",
	    "01") "garbage\n"
		  "\n" LINE("b", "02") "{\"Name\":\"torn\",\"Sta" LINE(
		      "c",
		      "03") "{\"Type\":\"volume\"}\n" LINE("d",
							   "04") "{\"Name\":"
								 "\"partial\","
								 "\"Status\":"
								 "\"create\","
								 "\"Time\":"
								 "\"2026-11-"
								 "29T13:40:"
								 "05Z\","
								 "\"Type\":"
								 "\"volume\"}";
	struct seen s = {0};
	struct cove_events_read_opts o = {.cb = collect, .data = &s};
	size_t len = sizeof(buf) - 1, used;
	int stop;

	(void)state;
	/* a torn line runs into the next: both are lost, nothing else */
	used = cove_events_scan(buf, len, false, &o, &stop);
	assert_int_equal(stop, 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.names[0], "a");
	assert_string_equal(s.names[1], "b");
	assert_string_equal(s.names[2], "d");
	assert_true(used < len);
	assert_int_equal(buf[used - 1], '\n');
	/* the partial last line only when final */
	s.n = 0;
	used = cove_events_scan(buf, len, true, &o, &stop);
	assert_int_equal(used, len);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.names[3], "partial");

	/* since/until, inclusive: 13:40:02 .. 13:40:04 */
	s.n = 0;
	o.since = 1795959602000000000LL;
	o.until = 1795959604000000000LL;
	cove_events_scan(buf, len, true, &o, &stop);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.names[0], "b");
	assert_string_equal(s.names[1], "d");

	/* the callback stops the scan */
	s.n = 0;
	s.stop_after = 1;
	o.since = o.until = 0;
	used = cove_events_scan(buf, len, true, &o, &stop);
	assert_int_equal(stop, 7);
	assert_int_equal(s.n, 1);
	assert_int_equal(used, strlen(LINE("a", "01")));
}

/* ---- writing and reading a file ------------------------------------------ */

static struct cove_event vol_event(const char *name)
{
	return (struct cove_event){
	    .type = "volume", .status = "create", .name = name};
}

static int count_lines(const char *path, int *ret_bad)
{
	_cleanup_free_ char *buf = NULL;
	struct cove_event ev;
	int n = 0, bad = 0;
	char *p, *nl;

	assert_int_equal(cove_read_file(path, 64 << 20, &buf, NULL), 0);
	for (p = buf; (nl = strchr(p, '\n')); p = nl + 1) {
		n++;
		if (cove_event_parse(p, (size_t)(nl - p), &ev) < 0)
			bad++;
		else
			cove_event_release(&ev);
	}
	assert_int_equal(*p, '\0'); /* no partial line */
	if (ret_bad)
		*ret_bad = bad;
	return n;
}

static void test_append_and_read(void **state)
{
	_cleanup_free_ char *path = tmp_path(state, "run/events/events.log");
	struct cove_error err = {0};
	struct seen s = {0};
	struct cove_events_filter f = {0};
	struct cove_events_read_opts o = {.cb = collect, .data = &s};
	struct cove_event ev;
	struct stat st;
	int fd;

	/* the directory is made on first use */
	ev = vol_event("one");
	assert_int_equal(cove_events_append(path, &ev, 0, &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* a corrupted file: garbage and a torn line between events */
	fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_true(write(fd, "\x01\x02 garbage\n{\"ID\":\"x\",\"Sta", 26) ==
		    26);
	close(fd);
	ev = vol_event("two");
	assert_int_equal(cove_events_append(path, &ev, 0, &err), 0);
	ev = vol_event("three");
	assert_int_equal(cove_events_append(path, &ev, 0, &err), 0);
	assert_int_equal(cove_events_read(path, &o, &err), 0);
	/* "two" ran into the torn line and is lost with it */
	assert_int_equal(s.n, 2);
	assert_string_equal(s.names[0], "one");
	assert_string_equal(s.names[1], "three");

	s.n = 0;
	assert_int_equal(cove_events_filter_add(&f, "volume=three", &err), 0);
	o.filter = &f;
	assert_int_equal(cove_events_read(path, &o, &err), 0);
	assert_int_equal(s.n, 1);
	cove_events_filter_release(&f);

	/* no file: no events */
	free(path);
	path = tmp_path(state, "none/events.log");
	s.n = 0;
	o.filter = NULL;
	assert_int_equal(cove_events_read(path, &o, &err), 0);
	assert_int_equal(s.n, 0);
}

static void test_rotation_keeps_newest_half(void **state)
{
	_cleanup_free_ char *path = tmp_path(state, "events.log");
	_cleanup_free_ char *buf = NULL;
	struct cove_error err = {0};
	struct stat st;
	char name[32];
	int bad = -1, n;

	for (int i = 0; i < 500; i++) {
		struct cove_event ev;
		snprintf(name, sizeof(name), "vol%04d", i);
		ev = vol_event(name);
		assert_int_equal(cove_events_append(path, &ev, 8192, &err), 0);
		assert_int_equal(stat(path, &st), 0);
		assert_true(st.st_size <= 8192);
	}
	n = count_lines(path, &bad);
	assert_int_equal(bad, 0);
	assert_true(n > 20);
	assert_int_equal(cove_read_file(path, 1 << 20, &buf, NULL), 0);
	assert_non_null(strstr(buf, "vol0499"));
	assert_null(strstr(buf, "vol0000"));
	/* the lock file stays; no temp file is left */
	free(buf);
	buf = tmp_path(state, "events.log.lock");
	assert_int_equal(access(buf, F_OK), 0);
}

/* Children append at once: every line stays whole. */
static void writers(const char *path, uint64_t max, int procs, int each)
{
	char *value = malloc(1000);

	assert_non_null(value);
	memset(value, 'x', 999);
	value[999] = '\0';
	for (int p = 0; p < procs; p++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			json_t *attrs = json_pack("{s:s}", "big", value);
			struct cove_event ev = vol_event("w");
			struct cove_error err = {0};
			ev.attributes = attrs;
			for (int i = 0; i < each; i++)
				if (cove_events_append(path, &ev, max, &err) <
				    0)
					_exit(1);
			_exit(0);
		}
	}
	for (int p = 0; p < procs; p++) {
		int status;
		assert_true(wait(&status) > 0);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	free(value);
}

static void test_concurrent_writers(void **state)
{
	_cleanup_free_ char *path = tmp_path(state, "events.log");
	_cleanup_free_ char *capped = tmp_path(state, "capped.log");
	int bad = -1;

	writers(path, 0, 4, 200);
	assert_int_equal(count_lines(path, &bad), 800);
	assert_int_equal(bad, 0);
	/* and while they rotate the file */
	writers(capped, 64 * 1024, 4, 200);
	assert_true(count_lines(capped, &bad) > 0);
	assert_int_equal(bad, 0);
}

struct follow_state {
	int n;
	int last_seq;
	bool out_of_order;
};

static int follow_cb(void *data, const struct cove_event *ev)
{
	struct follow_state *s = data;
	int seq;

	if (!strcmp(ev->name, "end"))
		return 1;
	if (cove_parse_int(ev->name, &seq) < 0 || seq <= s->last_seq)
		s->out_of_order = true;
	s->last_seq = seq;
	s->n++;
	return 0;
}

static void test_stream_follows_rotation(void **state)
{
	_cleanup_free_ char *path = tmp_path(state, "ev/events.log");
	struct follow_state s = {.last_seq = -1};
	struct cove_events_read_opts o = {
	    .stream = true, .cb = follow_cb, .data = &s};
	struct cove_error err = {0};
	struct cove_event old = vol_event("-5");
	int status;
	pid_t pid;

	/* an old event: streaming without --since starts after it */
	assert_int_equal(cove_events_append(path, &old, 0, &err), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char name[16];
		usleep(200000);
		for (int i = 0; i < 300; i++) {
			struct cove_event ev;
			snprintf(name, sizeof(name), "%d", i);
			ev = vol_event(name);
			(void)cove_events_append(path, &ev, 4096, &err);
			if (i % 20 == 0)
				usleep(20000);
		}
		{
			struct cove_event end = vol_event("end");
			(void)cove_events_append(path, &end, 4096, &err);
		}
		_exit(0);
	}
	alarm(60); /* the "end" event stops the read; a bug must not hang */
	assert_int_equal(cove_events_read(path, &o, &err), 1);
	alarm(0);
	assert_true(waitpid(pid, &status, 0) == pid);
	/* no event twice, none out of order, the old one not at all */
	assert_false(s.out_of_order);
	assert_true(s.n > 0);
	/* a reader that keeps up loses none (one that lags may) */
	assert_true(s.n >= 100);
	assert_true(s.last_seq == 299);
}

static void test_stream_waits_for_file(void **state)
{
	_cleanup_free_ char *path = tmp_path(state, "later/events.log");
	struct seen s = {.stop_after = 1};
	struct cove_events_read_opts o = {.stream = true,
					  .cb = collect,
					  .data = &s,
					  .until = cove_now_ns() +
						   10 * 1000000000LL};
	struct cove_error err = {0};
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct cove_event ev = vol_event("first");
		usleep(200000);
		(void)cove_events_append(path, &ev, 0, &err);
		_exit(0);
	}
	assert_int_equal(cove_events_read(path, &o, &err), 7);
	assert_string_equal(s.names[0], "first");
	assert_true(waitpid(pid, &status, 0) == pid);

	/* --until passed: the stream ends */
	s = (struct seen){0};
	o.until = cove_now_ns() + 100000000LL;
	assert_int_equal(cove_events_read(path, &o, &err), 0);
	assert_int_equal(s.n, 1); /* with --until: from the start */
}

/* ---- the process's sink -------------------------------------------------- */

static char last_error[256];

static void on_error(const char *msg)
{
	snprintf(last_error, sizeof(last_error), "%s", msg);
}

static void test_sink(void **state)
{
	_cleanup_free_ char *runroot = tmp_path(state, "rr");
	_cleanup_free_ char *path = NULL, *buf = NULL, *file = NULL;
	_cleanup_json_ json_t *labels =
	    json_pack("{s:{s:s}}", "Labels", "k", "v");
	struct cove_ctr c = {.id = "0123456789abcdef",
			     .name = "web",
			     .image = "busybox",
			     .config = labels};

	/* off by default: nothing written, nothing made */
	cove_events_object("volume", "create", NULL, "v");
	assert_null(cove_events_path());
	cove_events_setup(runroot, on_error);
	path = cove_strdup_printf("%s/events/events.log", runroot);
	assert_string_equal(cove_events_path(), path);
	cove_events_ctr(&c, "start", NULL, NULL);
	cove_events_ctr_kill(&c, 15);
	cove_events_ctr_died(&c, 3);
	cove_events_ctr_health(&c, "healthy");
	cove_events_object("image", "tag", "sha256:abc", "foo:1");
	cove_events_object("network", "create", NULL, "n1");
	assert_int_equal(count_lines(path, NULL), 6);
	assert_int_equal(cove_read_file(path, 1 << 20, &buf, NULL), 0);
	assert_non_null(strstr(buf, "\"Status\":\"start\",\"Time\""));
	assert_non_null(strstr(buf, "\"Status\":\"kill\",\"Time\":\"20"));
	assert_non_null(strstr(buf, "\"Attributes\":{\"k\":\"v\",\"signal\":"
				    "\"15\"}"));
	assert_non_null(strstr(buf, "{\"ContainerExitCode\":3,\"ID\""));
	assert_non_null(strstr(buf, "\"HealthStatus\":\"healthy\","
				    "\"Attributes\":{\"k\":\"v\","
				    "\"health_status\":\"healthy\"}"));
	assert_non_null(strstr(buf, "{\"ID\":\"abc\",\"Name\":\"foo:1\""));
	assert_non_null(strstr(buf, "\"Name\":\"n1\",\"Network\":\"n1\""));
	/* the labels of the container are not changed */
	assert_int_equal(json_object_size(json_object_get(labels, "Labels")),
			 1);

	/* a runroot that cannot hold the file: the handler hears of it */
	file = tmp_path(state, "file");
	assert_int_equal(
	    cove_write_file_replace_at(AT_FDCWD, file, "x", 1, 0600), 0);
	cove_events_setup(file, on_error);
	last_error[0] = '\0';
	cove_events_ctr(&c, "start", NULL, NULL);
	assert_non_null(strstr(last_error, "cannot open"));
	cove_events_setup(NULL, NULL);
	assert_null(cove_events_path());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup_tmpdir, teardown_tmpdir)
	    T(test_encode_parse_roundtrip),
	    T(test_parse_podman_lines),
	    T(test_parse_refuses),
	    T(test_encode_cuts_long_values),
	    T(test_encode_invalid_utf8),
	    T(test_time_formats),
	    T(test_human_lines),
	    T(test_template_object),
	    T(test_filters),
	    T(test_scan),
	    T(test_append_and_read),
	    T(test_rotation_keeps_newest_half),
	    T(test_concurrent_writers),
	    T(test_stream_follows_rotation),
	    T(test_stream_waits_for_file),
	    T(test_sink),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
