/*
 * The events log (events.h): podman's "file" events backend.  Writers are
 * every cove process, at once; readers are `cove events`, following the
 * file as it grows and rotates.  The file is the engine's own, but a
 * reader trusts none of it: lines are parsed one by one and what does not
 * parse is skipped.
 */
#include "engine/events.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/containers.h"
#include "engine/logfile.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

#define NS_PER_SEC 1000000000LL
/* a file past this is not read whole to find where a rotation left us */
#define RESYNC_MAX (256 * 1024 * 1024)

void cove_event_release(struct cove_event *ev)
{
	if (!ev)
		return;
	json_decref(ev->json);
	*ev = (struct cove_event){0};
}

/* ---- time ---------------------------------------------------------------- */

/* ".123" for 123000000 ns (Go's .999999999: trailing zeros cut), or "" */
static void fraction(int64_t frac, char out[12])
{
	size_t n;

	out[0] = '\0';
	if (frac <= 0)
		return;
	snprintf(out, 12, ".%09lld", (long long)frac);
	n = strlen(out);
	while (n > 1 && out[n - 1] == '0')
		out[--n] = '\0';
}

static void split_ns(int64_t ns, time_t *sec, int64_t *frac)
{
	int64_t s = ns / NS_PER_SEC, f = ns % NS_PER_SEC;

	if (f < 0) {
		f += NS_PER_SEC;
		s--;
	}
	*sec = (time_t)s;
	*frac = f;
}

void cove_event_time_rfc3339(int64_t ns, char buf[COVE_EVENT_TIME_MAX])
{
	char frac_s[12];
	struct tm tm;
	int64_t frac;
	time_t sec;

	split_ns(ns, &sec, &frac);
	if (!gmtime_r(&sec, &tm)) {
		snprintf(buf, COVE_EVENT_TIME_MAX, "1970-01-01T00:00:00Z");
		return;
	}
	fraction(frac, frac_s);
	snprintf(buf, COVE_EVENT_TIME_MAX, "%04d-%02d-%02dT%02d:%02d:%02d%sZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, frac_s);
}

void cove_event_time_human(int64_t ns, char buf[COVE_EVENT_TIME_MAX])
{
	char frac_s[12], zone[16];
	struct tm tm;
	int64_t frac;
	time_t sec;
	long off, aoff;

	split_ns(ns, &sec, &frac);
	if (!localtime_r(&sec, &tm)) {
		snprintf(buf, COVE_EVENT_TIME_MAX,
			 "1970-01-01 00:00:00 +0000 UTC");
		return;
	}
	fraction(frac, frac_s);
	off = tm.tm_gmtoff;
	aoff = off < 0 ? -off : off;
	/* Go names a zone without an abbreviation by its offset */
	snprintf(zone, sizeof(zone), "%c%02ld%02ld", off < 0 ? '-' : '+',
		 aoff / 3600, aoff % 3600 / 60);
	snprintf(buf, COVE_EVENT_TIME_MAX,
		 "%04d-%02d-%02d %02d:%02d:%02d%s %s %s", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 frac_s, zone, tm.tm_zone && *tm.tm_zone ? tm.tm_zone : zone);
}

/* ---- encoding ------------------------------------------------------------ */

/*
 * @s as a JSON string of at most @max bytes, cut at a character boundary;
 * bytes of invalid UTF-8 become '?'.
 */
static json_t *jstr(const char *s, size_t max)
{
	size_t n = strlen(s);
	json_t *j;

	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	j = json_stringn(s, n);
	if (!j) {
		_cleanup_free_ char *c = strndup(s, n);
		if (!c)
			return NULL;
		for (char *p = c; *p; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
		j = json_string(c);
	}
	return j;
}

static int set_str(json_t *o, const char *key, const char *v, size_t max)
{
	if (!v || !*v)
		return 0;
	return json_object_set_new(o, key, jstr(v, max)) < 0 ? -ENOMEM : 0;
}

/*
 * The object of one event, podman's members in podman's order.  @str_max
 * cuts every string, @attr_max the attributes' (0: none kept).
 */
static json_t *build(const struct cove_event *ev, int64_t time_ns,
		     size_t str_max, size_t attr_max)
{
	_cleanup_json_ json_t *o = json_object();
	char ts[COVE_EVENT_TIME_MAX];
	json_t *attrs;

	if (!o)
		return NULL;
	if (ev->has_exit_code &&
	    json_object_set_new(o, "ContainerExitCode",
				json_integer(ev->exit_code)) < 0)
		return NULL;
	cove_event_time_rfc3339(time_ns, ts);
	if (set_str(o, "ID", ev->id, str_max) < 0 ||
	    set_str(o, "Image", ev->image, str_max) < 0 ||
	    set_str(o, "Name", ev->name, str_max) < 0 ||
	    set_str(o, "Network", ev->network, str_max) < 0 ||
	    set_str(o, "Status", ev->status, str_max) < 0 ||
	    set_str(o, "Time", ts, sizeof(ts)) < 0 ||
	    set_str(o, "Type", ev->type, str_max) < 0 ||
	    set_str(o, "HealthStatus", ev->health_status, str_max) < 0)
		return NULL;
	if (!json_is_object(ev->attributes)) {
		attrs = json_null();
	} else {
		const char *k;
		json_t *v;
		attrs = json_object();
		if (!attrs)
			return NULL;
		json_object_foreach(ev->attributes, k, v)
		{
			_cleanup_free_ char *key = NULL;
			json_t *s;
			if (!attr_max || !json_is_string(v))
				continue;
			s = jstr(json_string_value(v), attr_max);
			/* a key is cut at a character boundary too */
			key = s ? strdup(k) : NULL;
			if (key && strlen(key) > attr_max) {
				size_t n = attr_max;
				while (n > 0 &&
				       ((unsigned char)key[n] & 0xC0) == 0x80)
					n--;
				key[n] = '\0';
			}
			if (!key || json_object_set_new(attrs, key, s) < 0) {
				json_decref(attrs);
				return NULL;
			}
		}
	}
	if (json_object_set_new(o, "Attributes", attrs) < 0)
		return NULL;
	return TAKE_PTR(o);
}

int cove_event_encode(const struct cove_event *ev, char **ret, size_t *ret_len)
{
	/*
	 * Whole; then attributes cut to 256 bytes and strings to 1024; then
	 * no attributes and strings of 64 bytes, which fits whatever they
	 * hold: 8 strings * 64 bytes * 6 (a "\u0001" escape) < 4 KiB.
	 */
	static const size_t passes[][2] = {
	    {SIZE_MAX, SIZE_MAX}, {1024, 256}, {64, 0}};
	int64_t t = ev->time_ns ? ev->time_ns : cove_now_ns();

	for (size_t i = 0; i < sizeof(passes) / sizeof(passes[0]); i++) {
		_cleanup_json_ json_t *o =
		    build(ev, t, passes[i][0], passes[i][1]);
		char *s;
		size_t n;

		if (!o)
			return -ENOMEM;
		s = json_dumps(o, JSON_COMPACT);
		if (!s)
			return -ENOMEM;
		n = strlen(s);
		if (n + 1 <= COVE_EVENT_LINE_MAX) {
			char *line = realloc(s, n + 2);
			if (!line) {
				free(s);
				return -ENOMEM;
			}
			line[n] = '\n';
			line[n + 1] = '\0';
			*ret = line;
			*ret_len = n + 1;
			return 0;
		}
		free(s);
	}
	return -E2BIG;
}

/* ---- writing ------------------------------------------------------------- */

static char *sink_path;
static void (*sink_error)(const char *msg);

void cove_events_setup(const char *runroot, void (*on_error)(const char *msg))
{
	free(sink_path);
	sink_path = runroot
			? cove_strdup_printf("%s/events/events.log", runroot)
			: NULL;
	sink_error = on_error;
}

const char *cove_events_path(void)
{
	return sink_path;
}

static int open_append(const char *path)
{
	const int flags =
	    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY;
	int fd = open(path, flags, 0600);

	if (fd < 0 && errno == ENOENT) {
		_cleanup_free_ char *dir = strdup(path);
		char *slash = dir ? strrchr(dir, '/') : NULL;
		int r;
		if (!dir)
			return -ENOMEM;
		if (slash && slash != dir) {
			*slash = '\0';
			r = cove_mkdir_p(dir, 0700);
			if (r < 0)
				return r;
		}
		fd = open(path, flags, 0600);
	}
	return fd < 0 ? -errno : fd;
}

static int write_full(int fd, const char *buf, size_t len)
{
	ssize_t n = cove_write_all(fd, buf, len);
	return n < 0 ? (int)n : 0;
}

/*
 * Keep the newest half of @path (at a line boundary) once it is over
 * @max_size: under <path>.lock, the half into a temp file, renamed over
 * the file, then whatever other writers appended to the old file
 * meanwhile.
 */
static int rotate(const char *path, uint64_t max_size, struct cove_error *err)
{
	_cleanup_free_ char *lock = cove_strdup_printf("%s.lock", path);
	_cleanup_free_ char *tmp = cove_strdup_printf("%s.XXXXXX", path);
	_cleanup_free_ char *buf = NULL;
	_cleanup_close_ int lfd = -1, old = -1, nfd = -1;
	uint64_t keep = max_size / 2;
	char chunk[65536];
	size_t start = 1;
	struct stat st;
	ssize_t n;
	off_t from, off;

	if (!lock || !tmp)
		return -ENOMEM;
	lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lfd < 0)
		return cove_error_setx(err, errno, "cannot open %s", lock);
	while (flock(lfd, LOCK_EX) < 0)
		if (errno != EINTR)
			return cove_error_setx(err, errno, "cannot lock %s",
					       lock);
	old = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (old < 0)
		return errno == ENOENT
			   ? 0
			   : cove_error_setx(err, errno, "cannot open %s",
					     path);
	if (fstat(old, &st) < 0)
		return cove_error_setx(err, errno, "cannot stat %s", path);
	if ((uint64_t)st.st_size <= max_size)
		return 0; /* another writer rotated it */
	/* the kept part and the byte before it: does it start a line? */
	from = (off_t)((uint64_t)st.st_size - keep);
	buf = malloc(keep + 1);
	if (!buf)
		return -ENOMEM;
	n = pread(old, buf, keep + 1, from - 1);
	if (n < 0)
		return cove_error_setx(err, errno, "cannot read %s", path);
	if (n > 0 && buf[0] != '\n') {
		char *nl = memchr(buf + 1, '\n', (size_t)n - 1);
		start = nl ? (size_t)(nl - buf) + 1 : (size_t)n;
	}
	nfd = mkostemp(tmp, O_CLOEXEC);
	if (nfd < 0)
		return cove_error_setx(err, errno, "cannot create %s", tmp);
	if ((size_t)n > start &&
	    write_full(nfd, buf + start, (size_t)n - start) < 0) {
		int e = errno;
		unlink(tmp);
		return cove_error_setx(err, e, "cannot write %s", tmp);
	}
	if (rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return cove_error_setx(err, e, "cannot rename %s", tmp);
	}
	/* others append to the new file now: so do we */
	if (fcntl(nfd, F_SETFL, O_APPEND) < 0)
		return cove_error_setx(err, errno, "fcntl %s", path);
	off = from - 1 + n;
	while ((n = pread(old, chunk, sizeof(chunk), off)) > 0) {
		if (write_full(nfd, chunk, (size_t)n) < 0)
			return cove_error_setx(err, errno, "cannot write %s",
					       path);
		off += n;
	}
	return 0;
}

int cove_events_append(const char *path, const struct cove_event *ev,
		       uint64_t max_size, struct cove_error *err)
{
	_cleanup_free_ char *line = NULL;
	_cleanup_close_ int fd = -1;
	size_t len = 0;
	ssize_t n;
	off_t end;
	int r = cove_event_encode(ev, &line, &len);

	if (r < 0)
		return cove_error_setx(err, r, "cannot encode the %s event",
				       ev->status ? ev->status : "");
	fd = open_append(path);
	if (fd < 0)
		return cove_error_setx(err, fd, "cannot open %s", path);
	/* one write() of at most PIPE_BUF bytes: never interleaved */
	n = write(fd, line, len);
	if (n < 0)
		return cove_error_setx(err, errno, "cannot write %s", path);
	if ((size_t)n != len)
		return cove_error_set(err, EIO, "short write to %s", path);
	if (!max_size)
		return 0;
	end = lseek(fd, 0, SEEK_CUR);
	if (end < 0 || (uint64_t)end <= max_size)
		return 0;
	return rotate(path, max_size, err);
}

static uint64_t max_size(void)
{
	const char *s = getenv("COVE_EVENTS_LOGFILE_MAX_SIZE");
	uint64_t v;

	if (s && *s && cove_parse_uint64(s, &v) >= 0)
		return v;
	return COVE_EVENTS_MAX_SIZE_DEFAULT;
}

void cove_events_emit(const struct cove_event *ev)
{
	struct cove_error err = {0};
	int r;

	if (!sink_path)
		return;
	r = cove_events_append(sink_path, ev, max_size(), &err);
	if (r < 0 && sink_error)
		sink_error(err.msg[0] ? err.msg : strerror(-r));
}

static void ctr_event(const struct cove_ctr *c, struct cove_event *ev,
		      const char *key, const char *value)
{
	_cleanup_json_ json_t *attrs = NULL;
	json_t *labels;

	if (!sink_path || !c)
		return;
	labels = json_object_get(c->config, "Labels");
	attrs = json_is_object(labels) ? json_copy(labels) : json_object();
	if (!attrs)
		return;
	if (key && value)
		(void)json_object_set_new(attrs, key, jstr(value, SIZE_MAX));
	ev->type = "container";
	ev->id = c->id;
	ev->name = c->name;
	ev->image = c->image;
	ev->attributes = attrs;
	cove_events_emit(ev);
}

void cove_events_ctr(const struct cove_ctr *c, const char *status,
		     const char *key, const char *value)
{
	struct cove_event ev = {.status = status};

	ctr_event(c, &ev, key, value);
}

void cove_events_ctr_died(const struct cove_ctr *c, int exit_code)
{
	struct cove_event ev = {
	    .status = "died", .has_exit_code = true, .exit_code = exit_code};

	ctr_event(c, &ev, NULL, NULL);
}

void cove_events_ctr_kill(const struct cove_ctr *c, int sig)
{
	char num[16];

	snprintf(num, sizeof(num), "%d", sig);
	cove_events_ctr(c, "kill", "signal", num);
}

void cove_events_ctr_health(const struct cove_ctr *c, const char *health)
{
	struct cove_event ev = {.status = "health_status",
				.health_status = health};

	ctr_event(c, &ev, "health_status", health);
}

void cove_events_object(const char *type, const char *status, const char *id,
			const char *name)
{
	struct cove_event ev = {.type = type, .status = status, .name = name};

	if (!sink_path)
		return;
	/* podman's image ids are bare hex */
	if (id && cove_str_has_prefix(id, "sha256:"))
		id += strlen("sha256:");
	ev.id = id;
	if (!strcmp(type, "network"))
		ev.network = name;
	cove_events_emit(&ev);
}

/* ---- parsing ------------------------------------------------------------- */

static const char *member(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

int cove_event_parse(const char *line, size_t len, struct cove_event *ret)
{
	struct cove_event ev = {0};
	json_t *o, *attrs, *code, *v;
	const char *time_s, *k;
	void *tmp;

	if (!len || len > COVE_EVENT_PARSE_MAX)
		return -EINVAL;
	o = json_loadb(line, len, 0, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		return -EINVAL;
	}
	ev.json = o;
	ev.type = member(o, "Type");
	ev.status = member(o, "Status");
	time_s = member(o, "Time");
	if (!ev.type || !*ev.type || !ev.status || !*ev.status || !time_s ||
	    cove_log_time_parse(time_s, &ev.time_ns) < 0) {
		json_decref(o);
		return -EINVAL;
	}
	ev.id = member(o, "ID");
	ev.name = member(o, "Name");
	ev.image = member(o, "Image");
	ev.network = member(o, "Network");
	ev.health_status = member(o, "HealthStatus");
	code = json_object_get(o, "ContainerExitCode");
	if (json_is_integer(code) && json_integer_value(code) >= INT_MIN &&
	    json_integer_value(code) <= INT_MAX) {
		ev.has_exit_code = true;
		ev.exit_code = (int)json_integer_value(code);
	}
	attrs = json_object_get(o, "Attributes");
	if (json_is_object(attrs)) {
		json_object_foreach_safe(attrs, tmp, k, v)
		{
			if (!json_is_string(v))
				json_object_del(attrs, k);
		}
		ev.attributes = attrs;
	}
	*ret = ev;
	return 0;
}

/* ---- filters ------------------------------------------------------------- */

static const char *const filter_keys[] = {
    "container", "event", "image", "label", "network", "type", "volume",
};

int cove_events_filter_add(struct cove_events_filter *f, const char *kv,
			   struct cove_error *err)
{
	const char *eq = strchr(kv, '=');
	_cleanup_free_ char *key = NULL;
	bool known = false;
	char **keys, **values;

	if (!eq || eq == kv)
		return cove_error_set(
		    err, EINVAL, "invalid filter '%s': must be KEY=VALUE", kv);
	key = strndup(kv, (size_t)(eq - kv));
	if (!key)
		return -ENOMEM;
	for (char *p = key; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	if (!strcmp(key, "status")) {
		free(key);
		key = strdup("event");
		if (!key)
			return -ENOMEM;
	}
	for (size_t i = 0; i < sizeof(filter_keys) / sizeof(filter_keys[0]);
	     i++)
		known = known || !strcmp(key, filter_keys[i]);
	if (!known)
		return cove_error_set(err, EINVAL,
				      "invalid filter '%s': unknown key '%s' "
				      "(container, event, image, label, "
				      "network, type, volume)",
				      kv, key);
	keys = realloc(f->keys, (f->n + 2) * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	f->keys = keys;
	values = realloc(f->values, (f->n + 2) * sizeof(*values));
	if (!values)
		return -ENOMEM;
	f->values = values;
	f->values[f->n] = strdup(eq + 1);
	if (!f->values[f->n])
		return -ENOMEM;
	f->keys[f->n] = TAKE_PTR(key);
	f->n++;
	f->keys[f->n] = NULL;
	f->values[f->n] = NULL;
	return 0;
}

void cove_events_filter_release(struct cove_events_filter *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->keys[i]);
		free(f->values[i]);
	}
	free(f->keys);
	free(f->values);
	*f = (struct cove_events_filter){0};
}

static bool streq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

static bool id_prefix(const char *id, const char *want)
{
	if (!id || !*want)
		return false;
	if (cove_str_has_prefix(id, "sha256:"))
		id += strlen("sha256:");
	if (cove_str_has_prefix(want, "sha256:"))
		want += strlen("sha256:");
	return *want && cove_str_has_prefix(id, want);
}

/*
 * An image name as given matches the full one recorded:
 * "busybox" matches "localhost/busybox:latest".
 */
static bool image_name_match(const char *have, const char *want)
{
	size_t hl, wl;
	const char *slash = strrchr(want, '/');
	bool tagged = strchr(slash ? slash : want, ':') || strchr(want, '@');

	if (!have || !*want)
		return false;
	if (!strcmp(have, want))
		return true;
	hl = strlen(have);
	wl = strlen(want);
	for (int latest = 0; latest < (tagged ? 1 : 2); latest++) {
		size_t n = wl + (latest ? strlen(":latest") : 0);
		const char *tail;
		if (latest && (hl < n || strcmp(have + hl - 7, ":latest")))
			continue;
		if (hl < n)
			continue;
		tail = have + hl - n;
		if (strncmp(tail, want, wl))
			continue;
		if (tail == have || tail[-1] == '/')
			return true;
	}
	return false;
}

static bool match_one(const char *key, const char *v,
		      const struct cove_event *ev)
{
	if (!strcmp(key, "event"))
		return streq(ev->status, v);
	if (!strcmp(key, "type"))
		return streq(ev->type, v);
	if (!strcmp(key, "container"))
		return streq(ev->type, "container") &&
		       (streq(ev->name, v) || id_prefix(ev->id, v));
	if (!strcmp(key, "image"))
		return image_name_match(ev->image, v) ||
		       (streq(ev->type, "image") &&
			(id_prefix(ev->id, v) ||
			 image_name_match(ev->name, v)));
	if (!strcmp(key, "volume"))
		return streq(ev->type, "volume") &&
		       (streq(ev->name, v) || id_prefix(ev->name, v));
	if (!strcmp(key, "network"))
		return streq(ev->type, "network") &&
		       (streq(ev->name, v) || streq(ev->network, v) ||
			id_prefix(ev->id, v));
	if (!strcmp(key, "label")) {
		const char *eq = strchr(v, '=');
		_cleanup_free_ char *k =
		    eq ? strndup(v, (size_t)(eq - v)) : strdup(v);
		const json_t *a = k ? json_object_get(ev->attributes, k) : NULL;
		if (!json_is_string(a))
			return false;
		return !eq || !strcmp(json_string_value(a), eq + 1);
	}
	return false;
}

bool cove_events_filter_match(const struct cove_events_filter *f,
			      const struct cove_event *ev)
{
	for (size_t i = 0; f && i < f->n; i++) {
		bool seen = false, ok = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = !strcmp(f->keys[j], f->keys[i]);
		if (seen)
			continue; /* this key was decided already */
		for (size_t j = i; j < f->n && !ok; j++)
			ok = !strcmp(f->keys[j], f->keys[i]) &&
			     match_one(f->keys[j], f->values[j], ev);
		if (!ok)
			return false;
	}
	return true;
}

/* ---- reading ------------------------------------------------------------- */

static int handle_line(const char *line, size_t len,
		       const struct cove_events_read_opts *o)
{
	struct cove_event ev;
	int r = 0;

	if (cove_event_parse(line, len, &ev) < 0)
		return 0; /* a torn or foreign line: skipped */
	if ((!o->since || ev.time_ns >= o->since) &&
	    (!o->until || ev.time_ns <= o->until) &&
	    cove_events_filter_match(o->filter, &ev) && o->cb)
		r = o->cb(o->data, &ev);
	cove_event_release(&ev);
	return r;
}

size_t cove_events_scan(const char *buf, size_t len, bool final,
			const struct cove_events_read_opts *o, int *ret_stop)
{
	size_t pos = 0;

	*ret_stop = 0;
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - buf) : len;
		int r;

		if (!nl && !final)
			break;
		r = handle_line(buf + pos, end - pos, o);
		pos = nl ? end + 1 : len;
		if (r) {
			*ret_stop = r;
			break;
		}
	}
	return pos;
}

struct reader {
	const char *path;
	const struct cove_events_read_opts *o;
	int fd;
	dev_t dev;
	ino_t ino;
	char *buf; /* what was read and not yet passed on: a partial line */
	size_t len, cap;
	bool discard; /* inside a line too long to parse: drop to its end */
	char *last;   /* the last whole line passed on, for rotations */
	size_t last_len;
	int64_t floor; /* events at or before this were seen */
};

static int grow(struct reader *rd, size_t want)
{
	char *b;
	size_t cap = rd->cap ? rd->cap : 65536;

	if (rd->cap - rd->len >= want)
		return 0;
	while (cap - rd->len < want)
		cap *= 2;
	b = realloc(rd->buf, cap);
	if (!b)
		return -ENOMEM;
	rd->buf = b;
	rd->cap = cap;
	return 0;
}

/* Remember the last whole line of buf[0, used) and its time. */
static void remember_last(struct reader *rd, size_t used)
{
	struct cove_event ev;
	const char *start, *end;
	char *copy;
	size_t n;

	if (!used || rd->buf[used - 1] != '\n')
		return;
	end = rd->buf + used - 1;
	start = memrchr(rd->buf, '\n', (size_t)(end - rd->buf));
	start = start ? start + 1 : rd->buf;
	n = (size_t)(end - start);
	if (!n || n > COVE_EVENT_PARSE_MAX)
		return;
	copy = malloc(n);
	if (!copy)
		return;
	memcpy(copy, start, n);
	free(rd->last);
	rd->last = copy;
	rd->last_len = n;
	if (cove_event_parse(start, n, &ev) == 0) {
		if (ev.time_ns > rd->floor)
			rd->floor = ev.time_ns;
		cove_event_release(&ev);
	}
}

/* Pass the whole lines of the buffer on (all of it when @final). */
static int consume(struct reader *rd, const struct cove_events_read_opts *o,
		   bool final)
{
	size_t used;
	int stop = 0;

	if (rd->discard) {
		char *nl = memchr(rd->buf, '\n', rd->len);
		if (!nl) {
			rd->len = 0;
			return 0;
		}
		used = (size_t)(nl - rd->buf) + 1;
		memmove(rd->buf, rd->buf + used, rd->len - used);
		rd->len -= used;
		rd->discard = false;
	}
	used = cove_events_scan(rd->buf, rd->len, final, o, &stop);
	remember_last(rd, used);
	memmove(rd->buf, rd->buf + used, rd->len - used);
	rd->len -= used;
	if (rd->len > COVE_EVENT_PARSE_MAX) {
		rd->len = 0;
		rd->discard = true;
	}
	return stop;
}

/* Read what the file has now and pass its whole lines on. */
static int pump(struct reader *rd, bool final)
{
	for (;;) {
		ssize_t n;
		int r = grow(rd, 65536);
		if (r < 0)
			return r;
		n = read(rd->fd, rd->buf + rd->len, rd->cap - rd->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		rd->len += (size_t)n;
		r = consume(rd, rd->o, false);
		if (r)
			return r;
	}
	return final ? consume(rd, rd->o, true) : 0;
}

/* The position after the last line of buf[0, len) equal to rd->last. */
static bool find_last(const struct reader *rd, size_t len, size_t *ret)
{
	bool found = false;
	size_t pos = 0;

	if (!rd->last)
		return false;
	while (pos + rd->last_len < len) {
		const char *nl = memchr(rd->buf + pos, '\n', len - pos);
		size_t end;
		if (!nl)
			break;
		end = (size_t)(nl - rd->buf);
		if (end - pos == rd->last_len &&
		    !memcmp(rd->buf + pos, rd->last, rd->last_len)) {
			found = true;
			*ret = end + 1;
		}
		pos = end + 1;
	}
	return found;
}

/*
 * @fd is a new file at the path (rotated: the newest half of the old one,
 * then new events) or the old one truncated: read it whole and go on
 * after the last line already passed on, or, when a rotation dropped it,
 * after the newest time already seen.
 */
static int resync(struct reader *rd, int fd, const struct stat *st)
{
	struct cove_events_read_opts o = *rd->o;
	size_t from = 0;
	int r, stop;

	if (rd->fd >= 0 && rd->fd != fd)
		close(rd->fd);
	rd->fd = fd;
	rd->dev = st->st_dev;
	rd->ino = st->st_ino;
	rd->len = 0;
	rd->discard = false;
	if (st->st_size > RESYNC_MAX) {
		(void)lseek(fd, 0, SEEK_END);
		return 0;
	}
	for (;;) {
		ssize_t n;
		r = grow(rd, 65536);
		if (r < 0)
			return r;
		n = read(fd, rd->buf + rd->len, rd->cap - rd->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		rd->len += (size_t)n;
	}
	if (!find_last(rd, rd->len, &from) && rd->floor &&
	    (!o.since || o.since <= rd->floor))
		o.since = rd->floor + 1;
	memmove(rd->buf, rd->buf + from, rd->len - from);
	rd->len -= from;
	stop = consume(rd, &o, false);
	return stop;
}

/* Whether the path now names another file, or ours shrank: resync. */
static int check_rotation(struct reader *rd)
{
	struct stat st;
	off_t pos;
	int fd;

	if (stat(rd->path, &st) < 0)
		return 0; /* gone: wait for the next one */
	if (rd->fd >= 0 && st.st_dev == rd->dev && st.st_ino == rd->ino) {
		pos = lseek(rd->fd, 0, SEEK_CUR);
		if (pos < 0 || st.st_size >= pos)
			return 0;
		if (lseek(rd->fd, 0, SEEK_SET) < 0)
			return -errno;
		return resync(rd, rd->fd, &st);
	}
	fd = open(rd->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return resync(rd, fd, &st);
}

static int follow(struct reader *rd, struct cove_error *err)
{
	_cleanup_free_ char *dir = strdup(rd->path);
	_cleanup_close_ int ifd = -1;
	char *slash = dir ? strrchr(dir, '/') : NULL;
	char evbuf[4096];
	int r;

	if (!dir)
		return -ENOMEM;
	if (slash && slash != dir) {
		*slash = '\0';
		(void)cove_mkdir_p(dir, 0700);
	}
	ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ifd >= 0 && inotify_add_watch(ifd, dir,
					  IN_MODIFY | IN_CREATE | IN_MOVED_TO |
					      IN_CLOSE_WRITE | IN_DELETE) < 0) {
		close(ifd);
		ifd = -1;
	}
	for (;;) {
		/* inotify wakes us; the timeout is a safety net */
		int timeout = ifd >= 0 ? 1000 : 200;
		struct pollfd p = {.fd = ifd, .events = POLLIN};

		if (rd->o->until) {
			int64_t left = rd->o->until - cove_now_ns();
			if (left < 0)
				return 0;
			if (left / 1000000 + 1 < timeout)
				timeout = (int)(left / 1000000 + 1);
		}
		if (poll(&p, 1, timeout) < 0 && errno != EINTR)
			return cove_error_setx(err, errno, "poll");
		if (ifd >= 0)
			while (read(ifd, evbuf, sizeof(evbuf)) > 0)
				;
		if (rd->fd >= 0) {
			r = pump(rd, false);
			if (r)
				return r < 0 ? cove_error_setx(err, r,
							       "cannot read %s",
							       rd->path)
					     : r;
		}
		r = check_rotation(rd);
		if (r)
			return r < 0 ? cove_error_setx(err, r, "cannot read %s",
						       rd->path)
				     : r;
	}
}

int cove_events_read(const char *path, const struct cove_events_read_opts *o,
		     struct cove_error *err)
{
	struct reader rd = {.path = path, .o = o, .fd = -1};
	bool at_end = o->stream && !o->since && !o->until;
	struct stat st;
	int r = 0;

	rd.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (rd.fd < 0 && errno != ENOENT)
		return cove_error_setx(err, errno, "cannot open %s", path);
	if (rd.fd >= 0) {
		if (fstat(rd.fd, &st) < 0) {
			r = cove_error_setx(err, errno, "cannot stat %s", path);
			goto out;
		}
		rd.dev = st.st_dev;
		rd.ino = st.st_ino;
		if (at_end) {
			/* only what comes next, as podman does */
			rd.floor = cove_now_ns();
			if (lseek(rd.fd, 0, SEEK_END) < 0) {
				r = cove_error_setx(err, errno,
						    "cannot seek %s", path);
				goto out;
			}
		}
		r = pump(&rd, !o->stream);
		if (r < 0)
			r = cove_error_setx(err, r, "cannot read %s", path);
		if (r)
			goto out;
	}
	if (o->stream)
		r = follow(&rd, err);
out:
	if (rd.fd >= 0)
		close(rd.fd);
	free(rd.buf);
	free(rd.last);
	return r;
}

/* ---- output -------------------------------------------------------------- */

char *cove_event_format_human(const struct cove_event *ev, bool trunc)
{
	char ts[COVE_EVENT_TIME_MAX], id[13];
	const char *idp = ev->id ? ev->id : "";
	char *s = NULL;
	size_t n = 0;
	FILE *f;

	cove_event_time_human(ev->time_ns, ts);
	if (cove_str_has_prefix(idp, "sha256:"))
		idp += strlen("sha256:");
	if (trunc && strlen(idp) > 12) {
		memcpy(id, idp, 12);
		id[12] = '\0';
		idp = id;
	}
	f = open_memstream(&s, &n);
	if (!f)
		return NULL;
	if (streq(ev->type, "container") || streq(ev->type, "pod")) {
		const char *k;
		json_t *v;
		fprintf(f, "%s %s %s %s (image=%s, name=%s", ts, ev->type,
			ev->status, idp, ev->image ? ev->image : "",
			ev->name ? ev->name : "");
		if (ev->health_status &&
		    !json_object_get(ev->attributes, "health_status"))
			fprintf(f, ", health_status=%s", ev->health_status);
		json_object_foreach(ev->attributes, k, v)
		{
			if (json_is_string(v))
				fprintf(f, ", %s=%s", k, json_string_value(v));
		}
		fputc(')', f);
	} else if (streq(ev->type, "image")) {
		fprintf(f, "%s image %s %s %s", ts, ev->status, idp,
			ev->name ? ev->name : "");
	} else if (streq(ev->type, "network") && *idp) {
		fprintf(f, "%s network %s %s (container=%s, name=%s)", ts,
			ev->status, idp, idp,
			ev->network ? ev->network : (ev->name ? ev->name : ""));
	} else {
		fprintf(f, "%s %s %s %s", ts, ev->type, ev->status,
			ev->name ? ev->name : (ev->network ? ev->network : ""));
	}
	if (fclose(f) != 0) {
		free(s);
		return NULL;
	}
	return s;
}

json_t *cove_event_to_json(const struct cove_event *ev, bool for_template)
{
	_cleanup_json_ json_t *o = NULL;
	char ts[COVE_EVENT_TIME_MAX];
	json_t *attrs;

	if (!for_template)
		return build(ev, ev->time_ns, SIZE_MAX, SIZE_MAX);
	o = json_object();
	attrs = json_is_object(ev->attributes) ? json_copy(ev->attributes)
					       : json_object();
	if (!o || !attrs) {
		json_decref(attrs);
		return NULL;
	}
	cove_event_time_human(ev->time_ns, ts);
	if (json_object_set_new(o, "Attributes", attrs) < 0 ||
	    json_object_set_new(o, "ID", jstr(ev->id ? ev->id : "", SIZE_MAX)) <
		0 ||
	    json_object_set_new(
		o, "Image", jstr(ev->image ? ev->image : "", SIZE_MAX)) < 0 ||
	    json_object_set_new(o, "Name",
				jstr(ev->name ? ev->name : "", SIZE_MAX)) < 0 ||
	    json_object_set_new(
		o, "Network", jstr(ev->network ? ev->network : "", SIZE_MAX)) <
		0 ||
	    json_object_set_new(o, "Status", jstr(ev->status, SIZE_MAX)) < 0 ||
	    json_object_set_new(o, "Type", jstr(ev->type, SIZE_MAX)) < 0 ||
	    json_object_set_new(o, "Time", json_string(ts)) < 0 ||
	    json_object_set_new(o, "TimeNano", json_integer(ev->time_ns)) < 0 ||
	    json_object_set_new(o, "HealthStatus",
				jstr(ev->health_status ? ev->health_status : "",
				     SIZE_MAX)) < 0 ||
	    json_object_set_new(o, "ContainerExitCode",
				json_integer(ev->exit_code)) < 0)
		return NULL;
	return TAKE_PTR(o);
}
