/*
 * libFuzzer target for the events log reader (src/engine/events.c): the
 * file is anyone's who can write the runroot, or torn by a crash.  The
 * input's first line is a --filter KEY=VALUE (kept when it is one), the
 * rest the file.  Every line that parses must format as text and as JSON,
 * encode back to one line of at most PIPE_BUF bytes that parses to the
 * same type, status and time, and match the filters without crashing;
 * the file reader must survive the same bytes, streaming or not.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine/events.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check_event(void *data, const struct cove_event *ev)
{
	struct cove_event back;
	char *line = NULL, *text;
	json_t *j;
	size_t len = 0;

	(*(size_t *)data)++;
	if (!ev->type || !ev->status)
		abort();
	text = cove_event_format_human(ev, true);
	free(text);
	for (int t = 0; t < 2; t++) {
		j = cove_event_to_json(ev, t);
		json_decref(j);
	}
	if (cove_event_encode(ev, &line, &len) == 0) {
		if (len > COVE_EVENT_LINE_MAX || line[len - 1] != '\n' ||
		    memchr(line, '\n', len - 1))
			abort();
		if (cove_event_parse(line, len - 1, &back) < 0)
			abort();
		/* values may be cut to fit, never changed; time 0 is "now" */
		if (strncmp(back.status, ev->status, strlen(back.status)) ||
		    strncmp(back.type, ev->type, strlen(back.type)) ||
		    (ev->time_ns && back.time_ns != ev->time_ns))
			abort();
		cove_event_release(&back);
		free(line);
	}
	return 0;
}

static void check_file(const uint8_t *data, size_t size,
		       const struct cove_events_filter *f)
{
	char path[64];
	int fd = memfd_create("events", MFD_CLOEXEC);
	size_t n = 0;
	struct cove_events_read_opts o = {
	    .filter = f, .cb = check_event, .data = &n};
	struct cove_error err = {0};

	if (fd < 0)
		return;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (cove_events_read(path, &o, &err) != 0)
		abort();
	/* streaming with --until now: reads from the start and ends */
	o.stream = true;
	o.until = 1;
	if (cove_events_read(path, &o, &err) != 0)
		abort();
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	const char *nl = memchr(buf, '\n', size);
	struct cove_events_filter f = {0};
	struct cove_events_read_opts o = {0};
	size_t n = 0, used;
	int stop;

	if (size > 256 * 1024)
		return 0;
	if (nl && nl - buf < 256) {
		char *kv = strndup(buf, (size_t)(nl - buf));
		struct cove_error err = {0};
		if (kv)
			(void)cove_events_filter_add(&f, kv, &err);
		free(kv);
	}
	o.filter = &f;
	o.cb = check_event;
	o.data = &n;
	used = cove_events_scan(buf, size, false, &o, &stop);
	if (used > size || stop)
		abort();
	used = cove_events_scan(buf, size, true, &o, &stop);
	if (used != size || stop)
		abort();
	/* time bounds from the input's own bytes */
	if (size >= 16) {
		memcpy(&o.since, data, 8);
		memcpy(&o.until, data + 8, 8);
		(void)cove_events_scan(buf, size, true, &o, &stop);
	}
	check_file(data, size, &f);
	cove_events_filter_release(&f);
	return 0;
}
