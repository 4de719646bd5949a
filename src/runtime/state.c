#include "runtime/state.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strutil.h"

#define STATE_FILE "state.json"
#define STATE_MAX (16u << 20)

int cove_id_validate(const char *id, struct cove_error *err)
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0)
		return cove_error_set(err, EINVAL,
				      "container id cannot be empty");
	if (n > 1024)
		return cove_error_set(err, EINVAL, "container id too long");
	if (!isalnum((unsigned char)id[0]))
		goto bad;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]) && !strchr("_+.-", id[i]))
			goto bad;
	if (!strcmp(id, ".") || !strcmp(id, ".."))
		goto bad;
	return 0;
bad:
	return cove_error_set(
	    err, EINVAL,
	    "invalid container id '%s': must match [a-zA-Z0-9][a-zA-Z0-9_+.-]*",
	    id);
}

char *cove_default_root(void)
{
	const char *xdg;

	if (geteuid() == 0)
		return strdup("/run/cove");
	xdg = getenv("XDG_RUNTIME_DIR");
	if (xdg && *xdg)
		return cove_strdup_printf("%s/cove", xdg);
	return cove_strdup_printf("/tmp/cove-%u", (unsigned)geteuid());
}

int cove_state_reserve(const char *root, const char *id, char **ret_dir,
		       struct cove_error *err)
{
	_cleanup_free_ char *dir = NULL;
	int r;

	r = cove_id_validate(id, err);
	if (r < 0)
		return r;
	if (mkdir(root, 0711) < 0 && errno != EEXIST) {
		r = cove_mkdir_p(root, 0711);
		if (r < 0)
			return cove_error_setx(
			    err, r, "cannot create runtime root %s", root);
	}
	dir = cove_strdup_printf("%s/%s", root, id);
	if (!dir)
		return -ENOMEM;
	if (mkdir(dir, 0711) < 0) {
		if (errno == EEXIST)
			return cove_error_set(
			    err, EEXIST, "container '%s' already exists", id);
		return cove_error_setx(err, errno, "cannot create %s", dir);
	}
	*ret_dir = TAKE_PTR(dir);
	return 0;
}

const char *cove_status_name(enum cove_status st)
{
	switch (st) {
	case COVE_STATUS_CREATING:
		return "creating";
	case COVE_STATUS_CREATED:
		return "created";
	case COVE_STATUS_RUNNING:
		return "running";
	case COVE_STATUS_PAUSED:
		return "paused";
	case COVE_STATUS_STOPPED:
		return "stopped";
	}
	return "unknown";
}

/* Reads field 3 (state) and 22 (starttime) of /proc/PID/stat. */
static int proc_stat(pid_t pid, char *ret_state, uint64_t *ret_start)
{
	char path[64], buf[1024];
	_cleanup_close_ int fd = -1;
	ssize_t n;
	char *p;
	int field = 3;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	/* The command name may contain spaces and ')': skip to the last ')'. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return -EIO;
	p += 2;
	*ret_state = *p;
	while (*p && field < 22) {
		if (*p++ == ' ')
			field++;
	}
	if (field != 22)
		return -EIO;
	*ret_start = strtoull(p, NULL, 10);
	return 0;
}

uint64_t cove_proc_start_time(pid_t pid)
{
	char st;
	uint64_t start = 0;

	if (proc_stat(pid, &st, &start) < 0)
		return 0;
	return start;
}

bool cove_proc_alive(pid_t pid, uint64_t start_time)
{
	char st;
	uint64_t start = 0;

	if (pid <= 0 || proc_stat(pid, &st, &start) < 0)
		return false;
	if (st == 'Z' || st == 'X')
		return false;
	return start_time == 0 || start == start_time;
}

char *cove_rfc3339_now(void)
{
	struct timespec ts;
	struct tm tm;

	/*
	 * Formatted by hand: strftime() loads the time zone database, a
	 * file read on every create for a UTC timestamp.
	 */
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	return cove_strdup_printf("%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ",
				  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
				  tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec);
}

void cove_state_refresh(struct cove_state *s)
{
	char fifo[PATH_MAX];
	bool frozen = false;

	if (!cove_proc_alive(s->pid, s->pid_start_time)) {
		s->status = COVE_STATUS_STOPPED;
		return;
	}
	snprintf(fifo, sizeof(fifo), "%s/exec.fifo", s->dir);
	if (access(fifo, F_OK) == 0) {
		s->status = COVE_STATUS_CREATED;
		return;
	}
	s->status = COVE_STATUS_RUNNING;
	if (s->cgroup_path) {
		_cleanup_cgroup_ struct cove_cgroup *cg = NULL;
		if (cove_cgroup_open(NULL, s->cgroup_mode, s->cgroup_path, &cg,
				     NULL) >= 0 &&
		    cove_cgroup_is_frozen(cg, &frozen) >= 0 && frozen)
			s->status = COVE_STATUS_PAUSED;
	}
}

json_t *cove_state_to_json(const struct cove_state *s)
{
	json_t *j = json_object();

	json_object_set_new(j, "ociVersion", json_string("1.2.0"));
	json_object_set_new(j, "id", json_string(s->id));
	json_object_set_new(j, "status",
			    json_string(cove_status_name(s->status)));
	json_object_set_new(
	    j, "pid",
	    json_integer(s->status == COVE_STATUS_STOPPED ? 0 : s->pid));
	json_object_set_new(j, "bundle", json_string(s->bundle));
	json_object_set_new(j, "rootfs", json_string(s->rootfs));
	json_object_set_new(j, "created", json_string(s->created));
	json_object_set_new(j, "owner", json_string(""));
	json_object_set_new(j, "annotations",
			    s->annotations ? json_deep_copy(s->annotations)
					   : json_object());
	return j;
}

int cove_state_save(const struct cove_state *s, struct cove_error *err)
{
	_cleanup_json_ json_t *j = json_object();
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int dfd = -1;
	int r;

	json_object_set_new(j, "id", json_string(s->id));
	json_object_set_new(j, "pid", json_integer(s->pid));
	json_object_set_new(j, "pidStartTime",
			    json_integer((json_int_t)s->pid_start_time));
	json_object_set_new(j, "bundle", json_string(s->bundle));
	json_object_set_new(j, "rootfs", json_string(s->rootfs));
	json_object_set_new(j, "created", json_string(s->created));
	json_object_set_new(j, "owner", json_integer(s->owner));
	if (s->cgroup_path)
		json_object_set_new(j, "cgroupPath",
				    json_string(s->cgroup_path));
	json_object_set_new(j, "cgroupMode", json_integer(s->cgroup_mode));
	json_object_set_new(j, "cgroupCreated",
			    json_integer(s->cgroup_created));
	if (s->cgroup_created_map)
		json_object_set(j, "cgroupCreatedByHierarchy",
				s->cgroup_created_map);
	json_object_set_new(j, "rootless", json_boolean(s->rootless));
	json_object_set_new(j, "terminal", json_boolean(s->terminal));
	json_object_set_new(j, "systemdCgroup",
			    json_boolean(s->systemd_cgroup));
	if (s->annotations)
		json_object_set(j, "annotations", s->annotations);
	if (s->config)
		json_object_set(j, "config", s->config);
	text = json_dumps(j, JSON_COMPACT);
	if (!text)
		return -ENOMEM;
	dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return cove_error_setx(err, errno, "cannot open %s", s->dir);
	r = cove_write_file_replace_at(dfd, STATE_FILE, text, strlen(text),
				       0600);
	if (r < 0)
		return cove_error_setx(err, r, "cannot write %s/%s", s->dir,
				       STATE_FILE);
	return 0;
}

static char *dup_str(json_t *j, const char *key)
{
	const char *s = json_string_value(json_object_get(j, key));
	return s ? strdup(s) : NULL;
}

int cove_state_load(const char *root, const char *id, struct cove_state **ret,
		    struct cove_error *err)
{
	_cleanup_free_ char *dir = NULL, *file = NULL;
	_cleanup_json_ json_t *j = NULL;
	json_t *created_map;
	json_int_t created;
	struct cove_state *s;
	int r;

	r = cove_id_validate(id, err);
	if (r < 0)
		return r;
	dir = cove_strdup_printf("%s/%s", root, id);
	file = cove_strdup_printf("%s/%s/%s", root, id, STATE_FILE);
	if (!dir || !file)
		return -ENOMEM;
	if (access(file, F_OK) < 0) {
		if (errno == ENOENT)
			return cove_error_set(
			    err, ENOENT, "container '%s' does not exist", id);
		return cove_error_setx(err, errno, "cannot access %s", file);
	}
	r = cove_json_load_file(file, STATE_MAX, &j, err);
	if (r < 0)
		return r;
	if (!json_is_object(j))
		return cove_error_set(err, EINVAL, "%s: not a JSON object",
				      file);
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->id = strdup(id);
	s->dir = TAKE_PTR(dir);
	s->pid = (pid_t)json_integer_value(json_object_get(j, "pid"));
	s->pid_start_time =
	    (uint64_t)json_integer_value(json_object_get(j, "pidStartTime"));
	s->bundle = dup_str(j, "bundle");
	s->rootfs = dup_str(j, "rootfs");
	s->created = dup_str(j, "created");
	s->owner = (uid_t)json_integer_value(json_object_get(j, "owner"));
	s->cgroup_path = dup_str(j, "cgroupPath");
	s->cgroup_mode = (enum cove_cgroup_mode)json_integer_value(
	    json_object_get(j, "cgroupMode"));
	created = json_integer_value(json_object_get(j, "cgroupCreated"));
	s->cgroup_created =
	    created > 0 && created <= UINT_MAX ? (unsigned)created : 0;
	/* anything but an object: as in an older state (one number) */
	created_map = json_object_get(j, "cgroupCreatedByHierarchy");
	if (json_is_object(created_map))
		s->cgroup_created_map = json_incref(created_map);
	s->rootless = json_is_true(json_object_get(j, "rootless"));
	s->terminal = json_is_true(json_object_get(j, "terminal"));
	s->systemd_cgroup = json_is_true(json_object_get(j, "systemdCgroup"));
	s->annotations = json_incref(json_object_get(j, "annotations"));
	s->config = json_incref(json_object_get(j, "config"));
	if (!s->bundle)
		s->bundle = strdup("");
	if (!s->rootfs)
		s->rootfs = strdup("");
	if (!s->created)
		s->created = strdup("");
	cove_state_refresh(s);
	*ret = s;
	return 0;
}

int cove_state_remove(const struct cove_state *s)
{
	return cove_rm_rf(s->dir);
}

void cove_state_free(struct cove_state *s)
{
	if (!s)
		return;
	free(s->id);
	free(s->bundle);
	free(s->rootfs);
	free(s->created);
	free(s->cgroup_path);
	free(s->dir);
	if (s->cgroup_created_map)
		json_decref(s->cgroup_created_map);
	if (s->annotations)
		json_decref(s->annotations);
	if (s->config)
		json_decref(s->config);
	free(s);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int cove_state_list(const char *root, char ***ret_ids, struct cove_error *err)
{
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_strv_ char **ids = NULL;
	struct dirent *de;

	ids = calloc(1, sizeof(char *));
	if (!ids)
		return -ENOMEM;
	d = opendir(root);
	if (!d) {
		if (errno == ENOENT) {
			*ret_ids = TAKE_PTR(ids);
			return 0;
		}
		return cove_error_setx(err, errno, "cannot open %s", root);
	}
	while ((de = readdir(d))) {
		char file[PATH_MAX];
		if (de->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "%s/%s/%s", root, de->d_name,
			 STATE_FILE);
		if (access(file, F_OK) < 0)
			continue;
		if (cove_strv_push(&ids, de->d_name) < 0)
			return -ENOMEM;
	}
	qsort(ids, cove_strv_length(ids), sizeof(char *), cmp_str);
	*ret_ids = TAKE_PTR(ids);
	return 0;
}
