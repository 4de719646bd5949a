/*
 * libFuzzer target for container log files: any text encodes to one line
 * of valid JSON that decodes to the text itself when it is valid UTF-8;
 * time stamps that parse format back to the same instant; and the reader
 * survives any file content, with and without a tail.
 */
#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine/logfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_cb(void *data, enum cove_log_stream stream, const char *time,
		    const char *text, size_t len)
{
	int64_t ns;

	if (stream != COVE_LOG_STDOUT && stream != COVE_LOG_STDERR)
		abort();
	if (cove_log_time_parse(time, &ns) < 0 || (len && !text))
		abort();
	(*(size_t *)data)++;
	return 0;
}

static void check_encode(const char *s, size_t size)
{
	char *line = NULL;
	json_t *o, *log, *valid;
	size_t len;

	if (cove_log_encode(COVE_LOG_STDOUT, 1, s, size, &line, &len) < 0)
		return;
	if (len == 0 || line[len - 1] != '\n' || memchr(line, '\n', len - 1))
		abort();
	o = json_loadb(line, len - 1, JSON_ALLOW_NUL, NULL);
	log = o ? json_object_get(o, "log") : NULL;
	if (!json_is_string(log))
		abort();
	valid = json_stringn(s, size);
	if (valid && (json_string_length(log) != size ||
		      memcmp(json_string_value(log), s, size)))
		abort();
	json_decref(valid);
	json_decref(o);
	free(line);
}

static void check_time(const char *s)
{
	char buf[COVE_LOG_TIME_MAX];
	int64_t ns, again;
	struct cove_error err = {0};

	if (cove_log_time_parse(s, &ns) == 0) {
		cove_log_time_format(ns, buf);
		if (cove_log_time_parse(buf, &again) < 0 || again != ns)
			abort();
	}
	if (cove_log_parse_since(s, 1764410400LL * 1000000000, &ns, &err) < 0 &&
	    (err.code != EINVAL || !err.msg[0]))
		abort();
}

static void check_read(const uint8_t *data, size_t size)
{
	static const long tails[] = {-1, 0, 1, 3};
	char path[64];
	int fd = memfd_create("log", MFD_CLOEXEC);

	if (fd < 0)
		return;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		struct cove_log_read_opts o = {.tail = tails[i]};
		struct cove_error err = {0};
		size_t n = 0;

		if (cove_logfile_read(path, &o, count_cb, &n, &err) != 0)
			abort();
		if (tails[i] >= 0 && n > (size_t)tails[i])
			abort();
	}
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size > 65536)
		return 0;
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	check_encode(s, size);
	if (size < 128)
		check_time(s);
	check_read(data, size);
	free(s);
	return 0;
}
