#include "engine/logfile.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

/*
 * The reader skips a line longer than this (a log line is at most
 * COVE_LOG_PARTIAL_MAX bytes of text, 6 bytes of JSON per byte at worst).
 */
#define MAX_LINE (1024 * 1024)
#define READ_CHUNK 65536
/* Rotated files looked for: PATH.1 ... PATH.MAX_ROTATED */
#define MAX_ROTATED 1000
/* How often a follower asks whether the writer is done. */
#define FOLLOW_POLL_MS 200

const char *cove_log_stream_name(enum cove_log_stream stream)
{
	return stream == COVE_LOG_STDERR ? "stderr" : "stdout";
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- time stamps --------------------------------------------------------- */

void cove_log_time_format(int64_t ns, char buf[COVE_LOG_TIME_MAX])
{
	int64_t sec = ns / 1000000000, frac = ns % 1000000000;
	time_t t;
	struct tm tm;

	if (frac < 0) {
		frac += 1000000000;
		sec--;
	}
	t = (time_t)sec;
	if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 ||
	    tm.tm_year + 1900 < 0) {
		snprintf(buf, COVE_LOG_TIME_MAX, "1970-01-01T00:00:00.%09dZ",
			 0);
		return;
	}
	snprintf(buf, COVE_LOG_TIME_MAX,
		 "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (long long)frac);
}

/* Exactly @n decimal digits. */
static bool digits(const char **p, int n, int *ret)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*ret = v;
	return true;
}

/* ".ddddddddd" (1 to 9 digits) as nanoseconds; nothing is 0. */
static bool fraction(const char **p, int64_t *ret)
{
	int64_t v = 0;
	int n = 0;

	*ret = 0;
	if (**p != '.' && **p != ',')
		return true;
	(*p)++;
	while (**p >= '0' && **p <= '9') {
		if (n < 9) {
			v = v * 10 + (**p - '0');
			n++;
		}
		(*p)++;
	}
	if (n == 0)
		return false;
	for (; n < 9; n++)
		v *= 10;
	*ret = v;
	return true;
}

enum zone { ZONE_REQUIRED, ZONE_LOCAL };

/*
 * "YYYY-MM-DD" then optionally "THH:MM:SS[.frac]" then a zone ("Z",
 * "+hh:mm"); a missing zone is local time unless ZONE_REQUIRED, which
 * also requires the time of day.
 */
static int parse_rfc3339(const char *s, enum zone zone, int64_t *ret_ns)
{
	struct tm tm = {0}, check;
	int y, mo, d, h = 0, mi = 0, sec = 0, zh, zm;
	int64_t frac = 0, offset = 0;
	bool has_zone = false;
	const char *p = s;
	time_t t;

	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) ||
	    *p++ != '-' || !digits(&p, 2, &d))
		return -EINVAL;
	if (*p == 'T' || *p == 't') {
		p++;
		if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi) ||
		    *p++ != ':' || !digits(&p, 2, &sec) || !fraction(&p, &frac))
			return -EINVAL;
	} else if (zone == ZONE_REQUIRED) {
		return -EINVAL;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
		has_zone = true;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1;
		if (!digits(&p, 2, &zh) || *p++ != ':' || !digits(&p, 2, &zm) ||
		    zh > 23 || zm > 59)
			return -EINVAL;
		offset = sign * ((int64_t)zh * 3600 + zm * 60);
		has_zone = true;
	}
	if (*p || (!has_zone && zone == ZONE_REQUIRED))
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    sec > 60)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	tm.tm_isdst = -1;
	check = tm;
	t = has_zone ? timegm(&tm) : mktime(&tm);
	/* timegm() normalises February 30th; refuse it instead */
	if (t == (time_t)-1 && !(y == 1969 && mo == 12 && d == 31))
		return -EINVAL;
	if (tm.tm_mday != check.tm_mday && sec != 60)
		return -EINVAL;
	/* nanoseconds since the epoch fit in 64 bits from 1678 to 2262 */
	if ((int64_t)t - offset > INT64_MAX / 1000000000 - 1 ||
	    (int64_t)t - offset < INT64_MIN / 1000000000 + 1)
		return -ERANGE;
	*ret_ns = ((int64_t)t - offset) * 1000000000 + frac;
	return 0;
}

int cove_log_time_parse(const char *s, int64_t *ret_ns)
{
	return parse_rfc3339(s, ZONE_REQUIRED, ret_ns);
}

/* Go's time.ParseDuration, without the sign: "1h30m", "1.5s", "250ms". */
static int parse_duration(const char *s, int64_t *ret_ns)
{
	static const struct {
		const char *name;
		int64_t ns;
	} units[] = {
	    {"ns", 1},
	    {"us", 1000},
	    {"\xc2\xb5s", 1000}, /* µs */
	    {"ms", 1000000},
	    {"s", 1000000000},
	    {"m", 60LL * 1000000000},
	    {"h", 3600LL * 1000000000},
	};
	const char *p = s;
	int64_t total = 0;

	if (!*p)
		return -EINVAL;
	while (*p) {
		int64_t whole = 0, frac = 0, scale = 1, unit = 0;
		bool any = false;
		size_t ulen = 0;

		while (*p >= '0' && *p <= '9') {
			if (whole > INT64_MAX / 10 - 10)
				return -ERANGE;
			whole = whole * 10 + (*p++ - '0');
			any = true;
		}
		if (*p == '.') {
			p++;
			while (*p >= '0' && *p <= '9') {
				if (scale < 1000000000000000000LL) {
					frac = frac * 10 + (*p - '0');
					scale *= 10;
				}
				p++;
				any = true;
			}
		}
		if (!any)
			return -EINVAL;
		for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
			size_t l = strlen(units[i].name);
			if (l > ulen && !strncmp(p, units[i].name, l)) {
				unit = units[i].ns;
				ulen = l;
			}
		}
		if (!unit)
			return -EINVAL;
		p += ulen;
		if (whole > INT64_MAX / unit)
			return -ERANGE;
		whole *= unit;
		if (whole > INT64_MAX - unit)
			return -ERANGE;
		whole += (int64_t)((long double)frac * unit / scale);
		if (total > INT64_MAX - whole)
			return -ERANGE;
		total += whole;
	}
	*ret_ns = total;
	return 0;
}

/* "1700000000" or "1700000000.123456789" */
static int parse_unix(const char *s, int64_t *ret_ns)
{
	const char *p = s;
	int64_t sec = 0, frac;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	while (*p >= '0' && *p <= '9') {
		if (sec > INT64_MAX / 10 / 1000000000)
			return -ERANGE;
		sec = sec * 10 + (*p++ - '0');
	}
	if (!fraction(&p, &frac) || *p)
		return -EINVAL;
	if (sec > INT64_MAX / 1000000000 - 1)
		return -ERANGE;
	*ret_ns = sec * 1000000000 + frac;
	return 0;
}

int cove_log_parse_since(const char *s, int64_t now, int64_t *ret_ns,
			 struct cove_error *err)
{
	int64_t v;
	bool all_digits = *s != '\0';

	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || *p == '.'))
			all_digits = false;
	if (strlen(s) >= 10 && s[4] == '-') {
		if (parse_rfc3339(s, ZONE_LOCAL, &v) == 0) {
			*ret_ns = v;
			return 0;
		}
	} else if (all_digits) {
		if (parse_unix(s, &v) == 0) {
			*ret_ns = v;
			return 0;
		}
	} else if (parse_duration(s, &v) == 0) {
		*ret_ns = now - v;
		return 0;
	}
	return cove_error_set(err, EINVAL,
			      "invalid time '%s': expected RFC 3339 "
			      "(2026-11-29T10:00:00Z), Unix seconds or a "
			      "duration (10m, 1h30m)",
			      s);
}

/* ---- encoding ------------------------------------------------------------ */

struct buf {
	char *p;
	size_t len, cap;
};

static int buf_reserve(struct buf *b, size_t more)
{
	size_t need = b->len + more, ncap;
	char *np;

	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 256;
	while (ncap < need)
		ncap *= 2;
	np = realloc(b->p, ncap);
	if (!np)
		return -ENOMEM;
	b->p = np;
	b->cap = ncap;
	return 0;
}

static void buf_add(struct buf *b, const char *s, size_t n)
{
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

/*
 * Length of the valid UTF-8 sequence at @s (at most @n bytes), 0 when it
 * is not one: overlong forms, surrogates and code points past U+10FFFF are
 * invalid, as JSON parsers (jansson) require.
 */
static size_t utf8_valid(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* @text as the body of a JSON string. */
static int escape(struct buf *b, const char *text, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0;

	/* at worst 6 bytes out per byte in ("\u001f", "\ufffd") */
	if (len > (SIZE_MAX - 64) / 6 || buf_reserve(b, len * 6) < 0)
		return -ENOMEM;
	while (i < len) {
		unsigned char c = s[i];
		size_t n;

		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			b->p[b->len++] = (char)c;
			i++;
			continue;
		}
		switch (c) {
		case '"':
			buf_add(b, "\\\"", 2);
			break;
		case '\\':
			buf_add(b, "\\\\", 2);
			break;
		case '\n':
			buf_add(b, "\\n", 2);
			break;
		case '\r':
			buf_add(b, "\\r", 2);
			break;
		case '\t':
			buf_add(b, "\\t", 2);
			break;
		case '\b':
			buf_add(b, "\\b", 2);
			break;
		case '\f':
			buf_add(b, "\\f", 2);
			break;
		default:
			if (c < 0x20) {
				char u[6] = {'\\', 'u',		'0',
					     '0',  hex[c >> 4], hex[c & 15]};
				buf_add(b, u, 6);
				break;
			}
			n = utf8_valid(s + i, len - i);
			if (n == 0) {
				buf_add(b, "\\ufffd", 6);
				break;
			}
			buf_add(b, text + i, n);
			i += n;
			continue;
		}
		i++;
	}
	return 0;
}

static int encode(struct buf *b, enum cove_log_stream stream, int64_t time_ns,
		  const char *text, size_t len)
{
	char ts[COVE_LOG_TIME_MAX];
	char tail[96];
	int n, r;

	b->len = 0;
	if (buf_reserve(b, 8) < 0)
		return -ENOMEM;
	buf_add(b, "{\"log\":\"", 8);
	r = escape(b, text, len);
	if (r < 0)
		return r;
	cove_log_time_format(time_ns, ts);
	n = snprintf(tail, sizeof(tail),
		     "\",\"stream\":\"%s\",\"time\":\"%s\"}\n",
		     cove_log_stream_name(stream), ts);
	if (n < 0 || (size_t)n >= sizeof(tail) || buf_reserve(b, (size_t)n) < 0)
		return -ENOMEM;
	buf_add(b, tail, (size_t)n);
	return 0;
}

int cove_log_encode(enum cove_log_stream stream, int64_t time_ns,
		    const char *text, size_t len, char **ret, size_t *ret_len)
{
	struct buf b = {0};
	int r = encode(&b, stream, time_ns, text, len);

	if (r < 0) {
		free(b.p);
		return r;
	}
	*ret = b.p;
	*ret_len = b.len;
	return 0;
}

/* ---- the writer ---------------------------------------------------------- */

struct pending {
	/* the text of a line without its newline yet; +1 for the newline */
	char buf[COVE_LOG_PARTIAL_MAX + 1];
	size_t len;
};

struct cove_logfile {
	char *path;
	int fd;
	uint64_t size;
	uint64_t max_size;
	unsigned max_files;
	struct pending pend[2];
	struct buf out;
};

static int open_log(const char *path, int *ret_fd, uint64_t *ret_size)
{
	struct stat st;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY,
		  0640);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	*ret_fd = fd;
	*ret_size = (uint64_t)st.st_size;
	return 0;
}

int cove_logfile_open(const char *path, uint64_t max_size, unsigned max_files,
		      struct cove_logfile **ret, struct cove_error *err)
{
	struct cove_logfile *lf;
	int r;

	/*
	 * malloc, not calloc, and the fields set one by one: the two pending
	 * buffers (32 KiB) stay untouched pages until a line needs them, in
	 * every detached container's monitor.
	 */
	lf = malloc(sizeof(*lf));
	if (!lf)
		return cove_error_set(err, ENOMEM, "out of memory");
	lf->size = 0;
	lf->pend[0].len = lf->pend[1].len = 0;
	memset(&lf->out, 0, sizeof(lf->out));
	lf->fd = -1;
	lf->max_size = max_size;
	lf->max_files = max_files ? max_files : 1;
	lf->path = strdup(path);
	if (!lf->path) {
		free(lf);
		return cove_error_set(err, ENOMEM, "out of memory");
	}
	r = open_log(path, &lf->fd, &lf->size);
	if (r < 0) {
		free(lf->path);
		free(lf);
		return cove_error_setx(err, r, "cannot open log file '%s'",
				       path);
	}
	*ret = lf;
	return 0;
}

static char *rotated_name(const char *path, unsigned i)
{
	return i ? cove_strdup_printf("%s.%u", path, i) : strdup(path);
}

/*
 * Shift PATH.(max-2) -> PATH.(max-1), ..., PATH -> PATH.1 (with one file
 * kept: drop PATH) and begin a new PATH.  When no new file can be made the
 * old fd stays in use: lines go on being kept, in the renamed file.
 */
static int rotate(struct cove_logfile *lf)
{
	int fd = -1, r;
	uint64_t size;

	if (lf->max_files <= 1) {
		if (unlink(lf->path) < 0 && errno != ENOENT)
			return -errno;
	} else {
		for (unsigned i = lf->max_files - 1; i >= 1; i--) {
			_cleanup_free_ char *from =
			    rotated_name(lf->path, i - 1);
			_cleanup_free_ char *to = rotated_name(lf->path, i);

			if (!from || !to)
				return -ENOMEM;
			if (rename(from, to) < 0 && errno != ENOENT)
				return -errno;
		}
	}
	r = open_log(lf->path, &fd, &size);
	if (r < 0)
		return r;
	close(lf->fd);
	lf->fd = fd;
	lf->size = size;
	return 0;
}

/* One JSON line, rotating first when it would not fit. */
static int emit(struct cove_logfile *lf, enum cove_log_stream stream,
		int64_t ts, const char *text, size_t len)
{
	int r, rot = 0;
	ssize_t w;

	r = encode(&lf->out, stream, ts, text, len);
	if (r < 0)
		return r;
	if (lf->max_size && lf->size > 0 &&
	    lf->size + lf->out.len > lf->max_size)
		rot = rotate(lf);
	w = cove_write_all(lf->fd, lf->out.p, lf->out.len);
	if (w < 0 || (size_t)w != lf->out.len) {
		r = w < 0 ? (int)w : -EIO;
		/* no torn line: the next one would be glued to it */
		if (ftruncate(lf->fd, (off_t)lf->size) < 0)
			return r;
		return r;
	}
	lf->size += lf->out.len;
	return rot;
}

/*
 * Where to cut a full pending buffer: not inside a UTF-8 sequence, so that
 * the character is not replaced in both pieces.
 */
static size_t utf8_cut(const char *buf, size_t len)
{
	for (size_t back = 1; back <= 3 && back <= len; back++) {
		unsigned char c = (unsigned char)buf[len - back];
		size_t need;

		if ((c & 0xc0) == 0x80)
			continue; /* a continuation byte: look further back */
		if (c >= 0xf0)
			need = 4;
		else if (c >= 0xe0)
			need = 3;
		else if (c >= 0xc0)
			need = 2;
		else
			return len;
		return need > back ? len - back : len;
	}
	return len;
}

int cove_logfile_write(struct cove_logfile *lf, enum cove_log_stream stream,
		       const char *buf, size_t len)
{
	struct pending *p = &lf->pend[stream == COVE_LOG_STDERR];
	int64_t ts = now_ns();
	int first = 0, r;

	while (len > 0) {
		size_t room = COVE_LOG_PARTIAL_MAX - p->len;
		size_t look = len < room + 1 ? len : room + 1;
		const char *nl = memchr(buf, '\n', look);

		if (nl) {
			size_t n = (size_t)(nl - buf) + 1;

			if (p->len == 0) {
				r = emit(lf, stream, ts, buf, n);
			} else {
				memcpy(p->buf + p->len, buf, n);
				r = emit(lf, stream, ts, p->buf, p->len + n);
				p->len = 0;
			}
			if (r < 0 && !first)
				first = r;
			buf += n;
			len -= n;
			continue;
		}
		if (look > room)
			look = room;
		memcpy(p->buf + p->len, buf, look);
		p->len += look;
		buf += look;
		len -= look;
		if (p->len == COVE_LOG_PARTIAL_MAX) {
			/* docker's partial message: no newline in "log" */
			size_t cut = utf8_cut(p->buf, p->len);

			r = emit(lf, stream, ts, p->buf, cut);
			if (r < 0 && !first)
				first = r;
			memmove(p->buf, p->buf + cut, p->len - cut);
			p->len -= cut;
		}
	}
	return first;
}

int cove_logfile_flush(struct cove_logfile *lf, enum cove_log_stream stream)
{
	struct pending *p = &lf->pend[stream == COVE_LOG_STDERR];
	int r;

	if (p->len == 0)
		return 0;
	r = emit(lf, stream, now_ns(), p->buf, p->len);
	p->len = 0;
	return r;
}

int cove_logfile_close(struct cove_logfile *lf)
{
	int r, r2;

	if (!lf)
		return 0;
	r = cove_logfile_flush(lf, COVE_LOG_STDOUT);
	r2 = cove_logfile_flush(lf, COVE_LOG_STDERR);
	if (r >= 0)
		r = r2;
	if (lf->fd >= 0 && close(lf->fd) < 0 && r >= 0)
		r = -errno;
	free(lf->out.p);
	free(lf->path);
	free(lf);
	return r;
}

/* ---- the reader ---------------------------------------------------------- */

struct reader {
	const struct cove_log_read_opts *o;
	cove_log_cb cb;
	void *data;
	struct cove_error *err;
	const char *path;
	int stop; /* the callback's non-zero result */
	/* the current file and the part of a line read from it */
	int fd;
	dev_t dev;
	ino_t ino;
	struct buf line;
	size_t scanned; /* bytes of line known to hold no newline */
	bool skipping;	/* the rest of an over-long line */
};

/* One JSON line; anything that is not a log object is skipped. */
static void process_line(struct reader *rd, const char *s, size_t len)
{
	_cleanup_json_ json_t *o = NULL;
	json_t *log, *stream, *time;
	enum cove_log_stream st;
	const char *sn;
	int64_t t;

	if (len == 0 || rd->stop)
		return;
	o = json_loadb(s, len, JSON_ALLOW_NUL, NULL);
	if (!o || !json_is_object(o))
		return;
	log = json_object_get(o, "log");
	stream = json_object_get(o, "stream");
	time = json_object_get(o, "time");
	if (!json_is_string(log) || !json_is_string(stream) ||
	    !json_is_string(time))
		return;
	sn = json_string_value(stream);
	if (!strcmp(sn, "stdout"))
		st = COVE_LOG_STDOUT;
	else if (!strcmp(sn, "stderr"))
		st = COVE_LOG_STDERR;
	else
		return;
	if (cove_log_time_parse(json_string_value(time), &t) < 0)
		return;
	if ((rd->o->since && t < rd->o->since) ||
	    (rd->o->until && t > rd->o->until))
		return;
	rd->stop = rd->cb(rd->data, st, json_string_value(time),
			  json_string_value(log), json_string_length(log));
}

/* Lines complete in the buffer; the rest waits for more. */
static void process_buffer(struct reader *rd)
{
	size_t start = 0;

	while (!rd->stop) {
		char *nl = memchr(rd->line.p + rd->scanned, '\n',
				  rd->line.len - rd->scanned);
		size_t end;

		if (!nl) {
			rd->scanned = rd->line.len;
			break;
		}
		end = (size_t)(nl - rd->line.p);
		if (rd->skipping)
			rd->skipping = false;
		else
			process_line(rd, rd->line.p + start, end - start);
		start = end + 1;
		rd->scanned = start;
	}
	if (start) {
		memmove(rd->line.p, rd->line.p + start, rd->line.len - start);
		rd->line.len -= start;
		rd->scanned -= start;
	}
	if (rd->line.len > MAX_LINE) {
		rd->skipping = true;
		rd->line.len = rd->scanned = 0;
	}
}

/* The last line of a file that did not end with a newline. */
static void finish_file(struct reader *rd)
{
	if (rd->line.len && !rd->skipping)
		process_line(rd, rd->line.p, rd->line.len);
	rd->line.len = rd->scanned = 0;
	rd->skipping = false;
}

/* Read the current file to its end. */
static int drain(struct reader *rd)
{
	while (!rd->stop) {
		ssize_t n;

		if (buf_reserve(&rd->line, READ_CHUNK) < 0)
			return cove_error_set(rd->err, ENOMEM, "out of memory");
		n = read(rd->fd, rd->line.p + rd->line.len, READ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cove_error_setx(rd->err, errno,
					       "cannot read log file '%s'",
					       rd->path);
		if (n == 0)
			return 0;
		rd->line.len += (size_t)n;
		process_buffer(rd);
	}
	return 0;
}

static void set_current(struct reader *rd, int fd, const struct stat *st)
{
	if (rd->fd >= 0)
		close(rd->fd);
	rd->fd = fd;
	rd->dev = st->st_dev;
	rd->ino = st->st_ino;
	rd->line.len = rd->scanned = 0;
	rd->skipping = false;
}

struct logset {
	struct {
		int fd;
		struct stat st;
	} f[MAX_ROTATED + 1];
	size_t n;
};

static void logset_release(struct logset *ls)
{
	for (size_t i = 0; i < ls->n; i++)
		if (ls->f[i].fd >= 0)
			close(ls->f[i].fd);
	ls->n = 0;
}

/*
 * Open PATH, PATH.1, PATH.2, ... newest first, into @ls oldest first.
 * Newest first, because a rotation between two opens then shows a file
 * twice (dropped: same inode) rather than not at all.  A rotation renames
 * one file at a time, so there is at most one gap in the numbers.
 */
static int logset_open(struct logset *ls, const char *path)
{
	unsigned missing = 0;

	ls->n = 0;
	for (unsigned i = 0; i <= MAX_ROTATED && missing < 2; i++) {
		_cleanup_free_ char *name = rotated_name(path, i);
		struct stat st;
		bool dup = false;
		int fd;

		if (!name)
			return -ENOMEM;
		fd = open(name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0) {
			if (errno != ENOENT)
				return -errno;
			if (i > 0)
				missing++;
			continue;
		}
		missing = 0;
		if (fstat(fd, &st) < 0) {
			int r = -errno;
			close(fd);
			return r;
		}
		for (size_t k = 0; k < ls->n; k++)
			if (ls->f[k].st.st_ino == st.st_ino &&
			    ls->f[k].st.st_dev == st.st_dev)
				dup = true;
		if (dup || !S_ISREG(st.st_mode)) {
			close(fd);
			continue;
		}
		ls->f[ls->n].fd = fd;
		ls->f[ls->n].st = st;
		ls->n++;
	}
	for (size_t a = 0, b = ls->n ? ls->n - 1 : 0; a < b; a++, b--) {
		__typeof__(ls->f[0]) t = ls->f[a];
		ls->f[a] = ls->f[b];
		ls->f[b] = t;
	}
	return 0;
}

/*
 * Offset of the first of the last @*want lines of @fd (of @size bytes),
 * reading backwards.  When the file has fewer lines, 0, and *want is
 * lowered by the number it has.
 */
static int tail_offset(int fd, off_t size, long *want, off_t *ret)
{
	char buf[READ_CHUNK];
	off_t end = size;
	bool first_block = true;

	*ret = 0;
	if (*want <= 0) {
		*ret = size;
		return 0;
	}
	while (end > 0) {
		off_t start =
		    end > (off_t)sizeof(buf) ? end - (off_t)sizeof(buf) : 0;
		size_t n = (size_t)(end - start);
		ssize_t got = pread(fd, buf, n, start);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if ((size_t)got != n)
			return -EIO; /* truncated meanwhile */
		for (size_t i = n; i > 0; i--) {
			if (buf[i - 1] != '\n')
				continue;
			/* the file's final newline ends its last line */
			if (first_block && start + (off_t)i == size)
				continue;
			if (--*want == 0) {
				*ret = start + (off_t)i;
				return 0;
			}
		}
		first_block = false;
		end = start;
	}
	if (size > 0)
		--*want; /* the first line of the file */
	if (*want == 0)
		*ret = 0;
	return 0;
}

/* Block until the log directory changes, or FOLLOW_POLL_MS. */
static void wait_for_change(int ifd)
{
	if (ifd >= 0) {
		struct pollfd p = {.fd = ifd, .events = POLLIN};
		char ev[4096];

		if (poll(&p, 1, FOLLOW_POLL_MS) > 0)
			while (read(ifd, ev, sizeof(ev)) > 0)
				;
		return;
	}
	struct timespec ts = {0, 100 * 1000000};
	nanosleep(&ts, NULL);
}

static int watch_dir(const char *path)
{
	_cleanup_free_ char *dir = NULL;
	const char *slash = strrchr(path, '/');
	int ifd;

	dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path))
		    : strdup(".");
	if (!dir)
		return -1;
	ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ifd < 0)
		return -1;
	if (inotify_add_watch(ifd, dir,
			      IN_MODIFY | IN_CREATE | IN_MOVED_TO |
				  IN_MOVED_FROM | IN_DELETE | IN_CLOSE_WRITE) <
	    0) {
		close(ifd);
		return -1;
	}
	return ifd;
}

/*
 * After a rotation: the file that follows the current one.  It is found in
 * a fresh set by the current file's inode (now PATH.k, next PATH.(k-1));
 * when the current file is gone (max_files 1, or rotated past the last
 * kept), the oldest file there is.  0: switched, 1: nothing newer yet.
 */
static int next_file(struct reader *rd)
{
	struct logset *ls;
	size_t next = 0;
	int r;

	ls = calloc(1, sizeof(*ls));
	if (!ls)
		return cove_error_set(rd->err, ENOMEM, "out of memory");
	r = logset_open(ls, rd->path);
	if (r < 0) {
		logset_release(ls);
		free(ls);
		return cove_error_setx(rd->err, r, "cannot open log file '%s'",
				       rd->path);
	}
	for (size_t i = 0; i < ls->n; i++)
		if (ls->f[i].st.st_ino == rd->ino &&
		    ls->f[i].st.st_dev == rd->dev)
			next = i + 1;
	r = 1;
	if (next < ls->n) {
		set_current(rd, ls->f[next].fd, &ls->f[next].st);
		ls->f[next].fd = -1;
		r = 0;
	}
	logset_release(ls);
	free(ls);
	return r;
}

/* Whether PATH is no longer the current file. */
static bool rotated(struct reader *rd)
{
	struct stat st;

	if (stat(rd->path, &st) < 0)
		return true;
	return st.st_ino != rd->ino || st.st_dev != rd->dev;
}

static int follow(struct reader *rd)
{
	const struct cove_log_read_opts *o = rd->o;
	_cleanup_close_ int ifd = watch_dir(rd->path);
	int r;

	for (;;) {
		bool done = o->done && o->done(o->done_data);

		if (rd->fd < 0) {
			/* no log yet: wait for the writer to make it */
			r = next_file(rd);
			if (r < 0)
				return r;
		}
		if (rd->fd >= 0) {
			r = drain(rd);
			if (r < 0 || rd->stop)
				return r < 0 ? r : rd->stop;
			if (rotated(rd)) {
				/* lines written before the rename */
				r = drain(rd);
				if (r < 0 || rd->stop)
					return r < 0 ? r : rd->stop;
				/* the writer is done with the renamed file */
				finish_file(rd);
				r = next_file(rd);
				if (r < 0)
					return r;
				if (r == 0)
					continue;
			}
		}
		if (done) {
			finish_file(rd);
			return rd->stop;
		}
		if (o->until && now_ns() > o->until)
			return 0;
		wait_for_change(ifd);
	}
}

int cove_logfile_read(const char *path, const struct cove_log_read_opts *o,
		      cove_log_cb cb, void *data, struct cove_error *err)
{
	struct reader rd = {
	    .o = o, .cb = cb, .data = data, .err = err, .path = path, .fd = -1};
	struct logset *ls = NULL;
	size_t first = 0;
	off_t offset = 0;
	int r;

	ls = calloc(1, sizeof(*ls));
	if (!ls)
		return cove_error_set(err, ENOMEM, "out of memory");
	r = logset_open(ls, path);
	if (r < 0) {
		r = cove_error_setx(err, r, "cannot open log file '%s'", path);
		goto out;
	}
	if (ls->n == 0 && !o->follow) {
		r = cove_error_set(err, ENOENT, "no log file '%s'", path);
		goto out;
	}
	if (o->tail >= 0 && ls->n > 0) {
		long want = o->tail;

		first = ls->n - 1;
		for (size_t i = ls->n; i-- > 0;) {
			r = tail_offset(ls->f[i].fd, ls->f[i].st.st_size, &want,
					&offset);
			if (r < 0) {
				r = cove_error_setx(
				    err, r, "cannot read log file '%s'", path);
				goto out;
			}
			first = i;
			if (want == 0)
				break;
		}
	}
	for (size_t i = first; i < ls->n; i++) {
		set_current(&rd, ls->f[i].fd, &ls->f[i].st);
		ls->f[i].fd = -1;
		if (i == first && lseek(rd.fd, offset, SEEK_SET) < 0) {
			r = cove_error_setx(err, errno,
					    "cannot read log file '%s'", path);
			goto out;
		}
		r = drain(&rd);
		if (r < 0 || rd.stop)
			goto out;
		/* the newest file may be being written: a follower waits */
		if (i + 1 < ls->n || !o->follow)
			finish_file(&rd);
	}
	r = o->follow && !rd.stop ? follow(&rd) : 0;
out:
	if (r >= 0 && rd.stop)
		r = rd.stop;
	if (rd.fd >= 0)
		close(rd.fd);
	free(rd.line.p);
	logset_release(ls);
	free(ls);
	return r;
}
