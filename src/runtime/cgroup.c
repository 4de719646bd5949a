/*
 * Control groups, common part: layout detection, path checks, finding the
 * hierarchies, creating and removing the directories, joining, listing
 * pids, and dispatch to the backend of the layout (cgroup-v1.c handles v1
 * and hybrid, cgroup-v2.c the unified layout).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include <linux/magic.h>

#include "runtime/cgroup-internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

#define CG_FILE_MAX (4 * 1024 * 1024)

void (*cove_cg_mkdir_hook)(const char *dir, void *data);
void (*cove_cg_rmdir_hook)(const char *dir, void *data);
void *cove_cg_hook_data;

/* ---- small helpers ---------------------------------------------------- */

char *cove_cg_join(const char *dir, const char *file)
{
	return cove_strdup_printf("%s/%s", dir, file);
}

static int write_mode(const char *dir, const char *file, const char *value,
		      int flags, struct cove_error *err)
{
	_cleanup_free_ char *p = cove_cg_join(dir, file);
	_cleanup_close_ int fd = -1;
	ssize_t n;

	if (!p)
		return -ENOMEM;
	fd = open(p, O_WRONLY | O_CLOEXEC | O_NOCTTY | flags);
	if (fd < 0)
		return cove_error_setx(err, errno, "cannot open %s", p);
	n = cove_write_all(fd, value, strlen(value));
	if (n < 0)
		return cove_error_setx(err, (int)-n, "cannot write '%s' to %s",
				       value, p);
	return 0;
}

int cove_cg_write(const char *dir, const char *file, const char *value,
		  struct cove_error *err)
{
	return write_mode(dir, file, value, O_TRUNC, err);
}

int cove_cg_append(const char *dir, const char *file, const char *value,
		   struct cove_error *err)
{
	return write_mode(dir, file, value, O_APPEND, err);
}

int cove_cg_writef(const char *dir, const char *file, struct cove_error *err,
		   const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return cove_error_set(err, EINVAL, "value for %s/%s too long",
				      dir, file);
	return cove_cg_write(dir, file, buf, err);
}

int cove_cg_read(const char *dir, const char *file, char **ret)
{
	_cleanup_free_ char *p = cove_cg_join(dir, file);

	if (!p)
		return -ENOMEM;
	return cove_read_file(p, CG_FILE_MAX, ret, NULL);
}

int cove_cg_read_u64(const char *dir, const char *file, uint64_t *ret)
{
	_cleanup_free_ char *buf = NULL;
	int r = cove_cg_read(dir, file, &buf);

	if (r < 0)
		return r;
	buf[strcspn(buf, "\n")] = '\0';
	if (!strcmp(buf, "max")) {
		*ret = UINT64_MAX;
		return 0;
	}
	return cove_parse_uint64(buf, ret);
}

int cove_cg_read_keyed(const char *dir, const char *file, const char *key,
		       uint64_t *ret)
{
	_cleanup_free_ char *buf = NULL;
	size_t klen = strlen(key);
	char *line, *save = NULL;
	int r = cove_cg_read(dir, file, &buf);

	if (r < 0)
		return r;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, key, klen) && line[klen] == ' ')
			return cove_parse_uint64(line + klen + 1, ret);
	}
	return -ENOENT;
}

bool cove_cg_exists(const char *dir, const char *file)
{
	_cleanup_free_ char *p = cove_cg_join(dir, file);

	return p && access(p, F_OK) == 0;
}

struct cove_cg_hier *cove_cg_find_v1(struct cove_cgroup *cg,
				     const char *controller)
{
	size_t len = strlen(controller);

	for (size_t i = 0; i < cg->n_hiers; i++) {
		const char *c = cg->hiers[i].controllers;
		if (cg->hiers[i].v2 || !c)
			continue;
		/* an entry of the comma-separated list */
		while (*c) {
			size_t n = strcspn(c, ",");
			if (n == len && !strncmp(c, controller, len))
				return &cg->hiers[i];
			c += n;
			if (*c == ',')
				c++;
		}
	}
	return NULL;
}

struct cove_cg_hier *cove_cg_find_v2(struct cove_cgroup *cg)
{
	for (size_t i = 0; i < cg->n_hiers; i++)
		if (cg->hiers[i].v2)
			return &cg->hiers[i];
	return NULL;
}

int64_t cove_cg_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cove_cg_sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int cove_cg_json_set_u64(json_t *obj, const char *key, uint64_t v)
{
	/* jansson integers are signed; "unlimited" reads as INT64_MAX */
	json_int_t i = v > INT64_MAX ? INT64_MAX : (json_int_t)v;

	return json_object_set_new(obj, key, json_integer(i)) ? -ENOMEM : 0;
}

json_t *cove_cg_json_child(json_t *obj, const char *key)
{
	json_t *c = json_object_get(obj, key);

	if (c)
		return c;
	c = json_object();
	if (!c || json_object_set_new(obj, key, c))
		return NULL;
	return c;
}

int cove_cg_json_keyed(json_t *obj, const char *dir, const char *file)
{
	_cleanup_free_ char *buf = NULL;
	char *line, *save = NULL;
	int r = cove_cg_read(dir, file, &buf);

	if (r < 0)
		return r;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' ');
		uint64_t v;
		if (!sp)
			continue;
		*sp = '\0';
		if (cove_parse_uint64(sp + 1, &v) < 0)
			continue;
		r = cove_cg_json_set_u64(obj, line, v);
		if (r < 0)
			return r;
	}
	return 0;
}

const char *cove_cgroup_mode_name(enum cove_cgroup_mode mode)
{
	switch (mode) {
	case COVE_CGROUP_NONE:
		return "disabled";
	case COVE_CGROUP_V1:
		return "v1";
	case COVE_CGROUP_V2:
		return "v2";
	case COVE_CGROUP_HYBRID:
		return "hybrid";
	}
	return "unknown";
}

const char *cove_cgroup_get_path(const struct cove_cgroup *cg)
{
	return cg->path;
}

enum cove_cgroup_mode cove_cgroup_get_mode(const struct cove_cgroup *cg)
{
	return cg->mode;
}

/* ---- path checks ------------------------------------------------------ */

/*
 * The cgroup path is appended to every hierarchy's mount point, so it
 * decides which directory cove writes limits into and later removes.  A
 * ".." component or a relative path would reach cgroups outside the fs
 * root (or the runtime's own), so only plain, normalized absolute paths
 * are accepted; cgroupfs has no symlinks, and creation walks component by
 * component refusing anything that is not a directory.
 */
int cove_cgroup_path_check(const char *path, const char *field,
			   struct cove_error *err)
{
	const char *p;

	if (!field)
		field = "cgroupsPath";
	if (!path || path[0] != '/')
		return cove_error_set(err, EINVAL,
				      "invalid '%s': '%s' is not an absolute "
				      "path",
				      field, path ? path : "");
	if (!path[1])
		return cove_error_set(err, EINVAL,
				      "invalid '%s': the root cgroup cannot "
				      "be used",
				      field);
	if (strlen(path) >= PATH_MAX / 2)
		return cove_error_set(err, ENAMETOOLONG,
				      "invalid '%s': path too long", field);
	for (p = path + 1;;) {
		size_t n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return cove_error_set(err, EINVAL,
					      "invalid '%s': '%s' is not a "
					      "normalized path (empty, '.' or "
					      "'..' component)",
					      field, path);
		if (n > NAME_MAX)
			return cove_error_set(err, ENAMETOOLONG,
					      "invalid '%s': component too "
					      "long in '%s'",
					      field, path);
		if (memchr(p, '\n', n))
			return cove_error_set(err, EINVAL,
					      "invalid '%s': newline in '%s'",
					      field, path);
		if (!p[n])
			break;
		p += n + 1;
	}
	return 0;
}

/* ---- detection -------------------------------------------------------- */

enum dir_kind {
	DIR_OTHER,
	DIR_V1,
	DIR_V2,
};

/*
 * A real hierarchy is recognised by its file-system magic; a fake tree in
 * a test directory by its files: cgroup.controllers exists only in
 * cgroup2, cgroup.procs in both.
 */
static enum dir_kind dir_kind(const char *dir)
{
	struct statfs sfs;

	if (statfs(dir, &sfs) < 0)
		return DIR_OTHER;
	if (sfs.f_type == CGROUP2_SUPER_MAGIC)
		return DIR_V2;
	if (sfs.f_type == CGROUP_SUPER_MAGIC)
		return DIR_V1;
	if (cove_cg_exists(dir, "cgroup.controllers"))
		return DIR_V2;
	if (cove_cg_exists(dir, "cgroup.procs"))
		return DIR_V1;
	return DIR_OTHER;
}

struct mount_ent {
	char *dir;
	char *controllers; /* NULL for cgroup2 */
};

static void mounts_free(struct mount_ent *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(m[i].dir);
		free(m[i].controllers);
	}
	free(m);
}

/* Undo the octal escapes of /proc/self/mountinfo ("\040" for space). */
static void unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
				      (s[3] - '0'));
			s += 3;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

/* The v1 controllers among a cgroup mount's super options. */
static char *controllers_from_options(const char *opts)
{
	_cleanup_free_ char *copy = strdup(opts);
	_cleanup_free_ char *out = NULL;
	char *tok, *save = NULL;
	size_t len = 0;

	if (!copy)
		return NULL;
	out = calloc(1, strlen(opts) + 1);
	if (!out)
		return NULL;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "rw") || !strcmp(tok, "ro") ||
		    !strcmp(tok, "noprefix") ||
		    !strcmp(tok, "clone_children") || !strcmp(tok, "xattr") ||
		    !strcmp(tok, "cpuset_v2_mode") ||
		    !strcmp(tok, "favordynmods") ||
		    cove_str_has_prefix(tok, "release_agent="))
			continue;
		if (len)
			out[len++] = ',';
		memcpy(out + len, tok, strlen(tok));
		len += strlen(tok);
	}
	return TAKE_PTR(out);
}

static int mounts_push(struct mount_ent **m, size_t *n, const char *dir,
		       const char *controllers)
{
	struct mount_ent *nm = realloc(*m, (*n + 1) * sizeof(**m));

	if (!nm)
		return -ENOMEM;
	*m = nm;
	nm[*n].dir = strdup(dir);
	nm[*n].controllers = controllers ? strdup(controllers) : NULL;
	if (!nm[*n].dir || (controllers && !nm[*n].controllers)) {
		free(nm[*n].dir);
		free(nm[*n].controllers);
		return -ENOMEM;
	}
	(*n)++;
	return 0;
}

/* cgroup and cgroup2 mounts directly below @fsroot, from mountinfo. */
static int mounts_from_mountinfo(const char *fsroot, struct mount_ent **m,
				 size_t *n)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	_cleanup_free_ char *line = NULL;
	size_t cap = 0, rootlen = strlen(fsroot);

	while (rootlen > 1 && fsroot[rootlen - 1] == '/')
		rootlen--;

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		char *fields[12], *save = NULL, *tok, *sep;
		_cleanup_free_ char *ctl = NULL;
		size_t nf = 0;
		const char *fstype, *mnt, *opts;
		int r;

		line[strcspn(line, "\n")] = '\0';
		sep = strstr(line, " - ");
		if (!sep)
			continue;
		*sep = '\0';
		for (tok = strtok_r(line, " ", &save); tok && nf < 6;
		     tok = strtok_r(NULL, " ", &save))
			fields[nf++] = tok;
		if (nf < 5)
			continue;
		mnt = fields[4];
		save = NULL;
		fstype = strtok_r(sep + 3, " ", &save);
		if (!fstype || !strtok_r(NULL, " ", &save))
			continue;
		opts = strtok_r(NULL, " ", &save);
		if (!opts)
			continue;
		if (strcmp(fstype, "cgroup") && strcmp(fstype, "cgroup2"))
			continue;
		unescape(fields[4]);
		if (strncmp(mnt, fsroot, rootlen) || mnt[rootlen] != '/' ||
		    strchr(mnt + rootlen + 1, '/') || !mnt[rootlen + 1])
			continue;
		if (!strcmp(fstype, "cgroup")) {
			ctl = controllers_from_options(opts);
			if (!ctl)
				return -ENOMEM;
		}
		r = mounts_push(m, n, mnt, ctl);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Hierarchies below @fsroot: from mountinfo for the real thing, else (a
 * fake tree in a test) from its subdirectories, named after their
 * controllers as the usual mount points are.
 */
static int list_mounts(const char *fsroot, struct mount_ent **ret,
		       size_t *ret_n)
{
	struct mount_ent *m = NULL;
	size_t n = 0;
	int r;

	r = mounts_from_mountinfo(fsroot, &m, &n);
	if (r < 0 && r != -ENOENT)
		goto fail;
	if (n == 0) {
		_cleanup_closedir_ DIR *d = opendir(fsroot);
		struct dirent *de;

		if (!d) {
			r = -errno;
			goto fail;
		}
		while ((de = readdir(d))) {
			_cleanup_free_ char *p = NULL;
			enum dir_kind k;

			if (de->d_name[0] == '.')
				continue;
			p = cove_cg_join(fsroot, de->d_name);
			if (!p) {
				r = -ENOMEM;
				goto fail;
			}
			k = dir_kind(p);
			if (k == DIR_OTHER)
				continue;
			r = mounts_push(&m, &n, p,
					k == DIR_V1 ? de->d_name : NULL);
			if (r < 0)
				goto fail;
		}
	}
	*ret = m;
	*ret_n = n;
	return 0;
fail:
	mounts_free(m, n);
	return r;
}

static int detect(const char *fsroot, enum cove_cgroup_mode *ret);

int cove_cgroup_detect(const char *fsroot, enum cove_cgroup_mode *ret)
{
	/*
	 * The host's layout does not change under a command, and callers
	 * of a create (the engine's config, the warm-up, the runtime) each
	 * ask: read the mount table once per process.
	 */
	static enum cove_cgroup_mode cached;
	static int cached_rc = 1;

	if (fsroot)
		return detect(fsroot, ret);
	if (cached_rc > 0)
		cached_rc = detect(NULL, &cached);
	if (cached_rc == 0)
		*ret = cached;
	return cached_rc;
}

static int detect(const char *fsroot, enum cove_cgroup_mode *ret)
{
	struct mount_ent *m = NULL;
	bool v1 = false, v2 = false;
	size_t n = 0;
	int r;

	if (!fsroot)
		fsroot = COVE_CGROUP_DEFAULT_ROOT;
	if (access(fsroot, F_OK) < 0)
		return -errno;
	switch (dir_kind(fsroot)) {
	case DIR_V2:
		*ret = COVE_CGROUP_V2;
		return 0;
	case DIR_V1:
		/* a single v1 hierarchy is not a layout cove knows */
		return -ENOMEDIUM;
	case DIR_OTHER:
		break;
	}
	r = list_mounts(fsroot, &m, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		if (m[i].controllers)
			v1 = true;
		else
			v2 = true;
	}
	mounts_free(m, n);
	if (v2)
		*ret = COVE_CGROUP_HYBRID;
	else if (v1)
		*ret = COVE_CGROUP_V1;
	else
		return -ENOMEDIUM;
	return 0;
}

/* ---- the handle ------------------------------------------------------- */

void cove_cgroup_free(struct cove_cgroup *cg)
{
	if (!cg)
		return;
	for (size_t i = 0; i < cg->n_hiers; i++) {
		free(cg->hiers[i].controllers);
		free(cg->hiers[i].mount);
		free(cg->hiers[i].dir);
	}
	free(cg->hiers);
	free(cg->fsroot);
	free(cg->path);
	free(cg);
}

static int hier_push(struct cove_cgroup *cg, const char *mount,
		     const char *controllers, bool v2)
{
	struct cove_cg_hier *nh, *h;

	nh = realloc(cg->hiers, (cg->n_hiers + 1) * sizeof(*nh));
	if (!nh)
		return -ENOMEM;
	cg->hiers = nh;
	h = &nh[cg->n_hiers];
	memset(h, 0, sizeof(*h));
	h->v2 = v2;
	h->created_from = -1;
	h->mount = strdup(mount);
	h->dir = cove_strdup_printf("%s%s", mount, cg->path);
	h->controllers = controllers ? strdup(controllers) : NULL;
	if (!h->mount || !h->dir || (controllers && !h->controllers)) {
		free(h->mount);
		free(h->dir);
		free(h->controllers);
		return -ENOMEM;
	}
	cg->n_hiers++;
	return 0;
}

static int cgroup_new(const char *fsroot, enum cove_cgroup_mode mode,
		      const char *path, struct cove_cgroup **ret,
		      struct cove_error *err)
{
	struct cove_cgroup *cg;
	struct mount_ent *m = NULL;
	size_t n = 0;
	int r;

	r = cove_cgroup_path_check(path, "cgroupsPath", err);
	if (r < 0)
		return r;
	cg = calloc(1, sizeof(*cg));
	if (!cg)
		return -ENOMEM;
	cg->mode = mode;
	cg->fsroot = strdup(fsroot ? fsroot : COVE_CGROUP_DEFAULT_ROOT);
	cg->path = strdup(path);
	if (!cg->fsroot || !cg->path) {
		cove_cgroup_free(cg);
		return -ENOMEM;
	}
	for (const char *p = path; *p; p++)
		if (*p == '/')
			cg->depth++;

	switch (mode) {
	case COVE_CGROUP_NONE:
		break;
	case COVE_CGROUP_V2:
		cg->ops = &cove_cg_v2_ops;
		r = hier_push(cg, cg->fsroot, NULL, true);
		break;
	case COVE_CGROUP_V1:
	case COVE_CGROUP_HYBRID:
		cg->ops = &cove_cg_v1_ops;
		r = list_mounts(cg->fsroot, &m, &n);
		if (r < 0) {
			cove_error_setx(err, r,
					"cannot list the cgroup "
					"hierarchies under %s",
					cg->fsroot);
			break;
		}
		for (size_t i = 0; i < n && r >= 0; i++) {
			if (!m[i].controllers && mode == COVE_CGROUP_V1)
				continue;
			r = hier_push(cg, m[i].dir, m[i].controllers,
				      !m[i].controllers);
		}
		mounts_free(m, n);
		if (r >= 0 && cg->n_hiers == 0)
			r = cove_error_set(err, ENOMEDIUM,
					   "no cgroup hierarchy found under "
					   "%s",
					   cg->fsroot);
		break;
	default:
		r = cove_error_set(err, EINVAL, "unknown cgroup mode %d",
				   (int)mode);
	}
	if (r < 0) {
		cove_cgroup_free(cg);
		return r;
	}
	*ret = cg;
	return 0;
}

/* The directory of the first @level components of the path in @h. */
char *cove_cg_level_dir(struct cove_cgroup *cg, struct cove_cg_hier *h,
			size_t level)
{
	const char *p = cg->path;
	size_t len = 0;

	for (size_t i = 0; i < level; i++) {
		p = strchr(p + 1, '/');
		if (!p) {
			len = strlen(cg->path);
			break;
		}
		len = (size_t)(p - cg->path);
	}
	return cove_strdup_printf("%s%.*s", h->mount, (int)len, cg->path);
}

static bool is_denied(int r)
{
	return r == -EACCES || r == -EPERM || r == -EROFS;
}

static int make_dirs(struct cove_cgroup *cg, struct cove_cg_hier *h,
		     struct cove_error *err)
{
	h->created_from = (int)cg->depth;
	for (size_t i = 1; i <= cg->depth; i++) {
		_cleanup_free_ char *parent = cove_cg_level_dir(cg, h, i - 1);
		_cleanup_free_ char *dir = cove_cg_level_dir(cg, h, i);
		bool created = false;
		struct stat st;
		int r;

		if (!parent || !dir)
			return -ENOMEM;
		if (mkdir(dir, 0755) == 0) {
			created = true;
			if (h->created_from == (int)cg->depth)
				h->created_from = (int)i - 1;
			if (cove_cg_mkdir_hook)
				cove_cg_mkdir_hook(dir, cove_cg_hook_data);
		} else if (errno != EEXIST) {
			return cove_error_setx(err, errno,
					       "cannot create cgroup %s", dir);
		}
		/* an existing entry must be a real directory */
		if (lstat(dir, &st) < 0)
			return cove_error_setx(err, errno, "cannot stat %s",
					       dir);
		if (!S_ISDIR(st.st_mode))
			return cove_error_set(
			    err, ENOTDIR, "cgroup %s is not a directory", dir);
		r = cg->ops->level(cg, h, parent, dir, created, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* rmdir, tolerating a directory that is already gone. */
static int rmdir_cg(const char *dir)
{
	if (cove_cg_rmdir_hook)
		cove_cg_rmdir_hook(dir, cove_cg_hook_data);
	if (rmdir(dir) == 0 || errno == ENOENT)
		return 0;
	return -errno;
}

/*
 * Remove the ancestors of the leaf in @h: those cove created when known,
 * otherwise any that are empty, up to (never including) the mount point.
 * A non-empty ancestor is shared with another container and stops the
 * walk; that is not an error.
 */
static void remove_ancestors(struct cove_cgroup *cg, struct cove_cg_hier *h)
{
	for (size_t i = cg->depth - 1; i >= 1; i--) {
		_cleanup_free_ char *dir = NULL;
		if (h->created_from >= 0 && (int)i - 1 < h->created_from)
			break;
		dir = cove_cg_level_dir(cg, h, i);
		if (!dir || rmdir_cg(dir) < 0)
			break;
	}
}

/* Undo make_dirs() after a failed create: only what cove made. */
static void remove_created(struct cove_cgroup *cg, struct cove_cg_hier *h)
{
	if (h->created_from < 0 || h->created_from >= (int)cg->depth)
		return;
	if (rmdir_cg(h->dir) == 0)
		remove_ancestors(cg, h);
}

static void hier_drop(struct cove_cgroup *cg, size_t i)
{
	free(cg->hiers[i].controllers);
	free(cg->hiers[i].mount);
	free(cg->hiers[i].dir);
	memmove(&cg->hiers[i], &cg->hiers[i + 1],
		(cg->n_hiers - i - 1) * sizeof(cg->hiers[0]));
	cg->n_hiers--;
}

int cove_cgroup_create(const char *fsroot, enum cove_cgroup_mode mode,
		       const char *path, pid_t pid,
		       const struct cove_cgroup_resources *res, unsigned flags,
		       struct cove_cgroup **ret, struct cove_error *err)
{
	_cleanup_cgroup_ struct cove_cgroup *cg = NULL;
	bool lenient = (flags & COVE_CGROUP_BEST_EFFORT) &&
		       cove_cgroup_resources_empty(res);
	int r;

	r = cgroup_new(fsroot, mode, path, &cg, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < cg->n_hiers;) {
		r = make_dirs(cg, &cg->hiers[i], err);
		if (r < 0 && lenient && is_denied(r)) {
			/* rootless without delegation: go on without it */
			remove_created(cg, &cg->hiers[i]);
			hier_drop(cg, i);
			cove_error_clear(err);
			continue;
		}
		if (r < 0)
			goto fail;
		i++;
	}
	if (cg->n_hiers && !cove_cgroup_resources_empty(res)) {
		r = cg->ops->apply(cg, res, err);
		if (r < 0)
			goto fail;
	}
	if (pid > 0) {
		for (size_t i = 0; i < cg->n_hiers;) {
			char buf[32];
			snprintf(buf, sizeof(buf), "%d", (int)pid);
			r = cove_cg_write(cg->hiers[i].dir, "cgroup.procs", buf,
					  err);
			if (r < 0 && lenient && is_denied(r)) {
				remove_created(cg, &cg->hiers[i]);
				hier_drop(cg, i);
				cove_error_clear(err);
				continue;
			}
			if (r < 0)
				goto fail;
			i++;
		}
	}
	if (cg->n_hiers == 0)
		cg->ops = NULL;
	*ret = TAKE_PTR(cg);
	return 0;
fail:
	for (size_t i = 0; i < cg->n_hiers; i++)
		remove_created(cg, &cg->hiers[i]);
	return r;
}

int cove_cgroup_open(const char *fsroot, enum cove_cgroup_mode mode,
		     const char *path, struct cove_cgroup **ret,
		     struct cove_error *err)
{
	_cleanup_cgroup_ struct cove_cgroup *cg = NULL;
	size_t total;
	int r;

	r = cgroup_new(fsroot, mode, path, &cg, err);
	if (r < 0)
		return r;
	total = cg->n_hiers;
	/* hierarchies skipped at creation (best effort) are left out */
	for (size_t i = 0; i < cg->n_hiers;) {
		if (access(cg->hiers[i].dir, F_OK) < 0) {
			hier_drop(cg, i);
			continue;
		}
		i++;
	}
	if (total && !cg->n_hiers)
		return cove_error_set(err, ENOENT,
				      "cgroup '%s' does not exist under %s",
				      path, cg->fsroot);
	if (!cg->n_hiers)
		cg->ops = NULL;
	*ret = TAKE_PTR(cg);
	return 0;
}

size_t cove_cgroup_hierarchy_count(const struct cove_cgroup *cg)
{
	return cg ? cg->n_hiers : 0;
}

unsigned cove_cgroup_get_created(const struct cove_cgroup *cg)
{
	unsigned levels = 0;

	for (size_t i = 0; i < cg->n_hiers; i++) {
		int from = cg->hiers[i].created_from;
		if (from >= 0 && cg->depth - (size_t)from > levels)
			levels = (unsigned)(cg->depth - (size_t)from);
	}
	return levels;
}

static void hier_set_created(struct cove_cgroup *cg, struct cove_cg_hier *h,
			     uint64_t levels)
{
	size_t n = levels < cg->depth ? (size_t)levels : cg->depth;

	h->created_from = (int)(cg->depth - n);
}

void cove_cgroup_set_created(struct cove_cgroup *cg, unsigned levels)
{
	for (size_t i = 0; i < cg->n_hiers; i++)
		hier_set_created(cg, &cg->hiers[i], levels);
}

/*
 * Keyed by mount point: unique per hierarchy of a handle (the controller
 * list is not when one hierarchy is mounted twice), and the same at
 * create and at delete, which run in the same mount namespace.
 */
int cove_cgroup_get_created_map(const struct cove_cgroup *cg, json_t **ret)
{
	_cleanup_json_ json_t *map = json_object();

	if (!map)
		return -ENOMEM;
	for (size_t i = 0; i < cg->n_hiers; i++) {
		const struct cove_cg_hier *h = &cg->hiers[i];
		if (h->created_from < 0)
			continue;
		if (json_object_set_new(
			map, h->mount,
			json_integer(
			    (json_int_t)(cg->depth - (size_t)h->created_from))))
			return -ENOMEM;
	}
	*ret = TAKE_PTR(map);
	return 0;
}

void cove_cgroup_set_created_map(struct cove_cgroup *cg, const json_t *map)
{
	for (size_t i = 0; i < cg->n_hiers; i++) {
		json_t *v = json_object_get(map, cg->hiers[i].mount);
		json_int_t levels =
		    json_is_integer(v) ? json_integer_value(v) : 0;
		hier_set_created(cg, &cg->hiers[i],
				 levels > 0 ? (uint64_t)levels : 0);
	}
}

int cove_cgroup_enter(struct cove_cgroup *cg, pid_t pid, struct cove_error *err)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%d", (int)pid);
	for (size_t i = 0; i < cg->n_hiers; i++) {
		int r =
		    cove_cg_write(cg->hiers[i].dir, "cgroup.procs", buf, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int cove_cgroup_apply(struct cove_cgroup *cg,
		      const struct cove_cgroup_resources *res,
		      struct cove_error *err)
{
	if (!cg->ops || cove_cgroup_resources_empty(res))
		return 0;
	return cg->ops->apply(cg, res, err);
}

int cove_cgroup_freeze(struct cove_cgroup *cg, bool frozen,
		       struct cove_error *err)
{
	if (!cg->ops)
		return cove_error_set(err, EOPNOTSUPP,
				      "cannot %s: the container has no cgroup",
				      frozen ? "freeze" : "thaw");
	return cg->ops->freeze(cg, frozen, err);
}

int cove_cgroup_is_frozen(struct cove_cgroup *cg, bool *ret)
{
	if (!cg->ops) {
		*ret = false;
		return 0;
	}
	return cg->ops->is_frozen(cg, ret);
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return x < y ? -1 : x > y;
}

/* Pids of @dir/cgroup.procs appended to *v. */
static int read_procs(const char *dir, pid_t **v, size_t *n, size_t *cap)
{
	_cleanup_free_ char *buf = NULL;
	char *line, *save = NULL;
	int r = cove_cg_read(dir, "cgroup.procs", &buf);

	if (r < 0)
		return r;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		int pid;
		if (cove_parse_int(line, &pid) < 0 || pid <= 0)
			continue;
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 16;
			pid_t *nv = realloc(*v, nc * sizeof(pid_t));
			if (!nv)
				return -ENOMEM;
			*v = nv;
			*cap = nc;
		}
		(*v)[(*n)++] = pid;
	}
	return 0;
}

/* Deeper than any sane nesting; bounds the recursion below. */
#define MAX_NESTING 32

/*
 * A container may create cgroups of its own below its leaf (systemd in a
 * container, cgroup namespaces): its pids and directories count too.
 */
static int read_procs_tree(const char *dir, pid_t **v, size_t *n, size_t *cap,
			   unsigned depth)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int r = read_procs(dir, v, n, cap);

	if (r < 0 || depth >= MAX_NESTING)
		return r;
	d = opendir(dir);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		_cleanup_free_ char *sub = NULL;
		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") ||
		    !strcmp(de->d_name, ".."))
			continue;
		sub = cove_cg_join(dir, de->d_name);
		if (!sub)
			return -ENOMEM;
		r = read_procs_tree(sub, v, n, cap, depth + 1);
		if (r < 0 && r != -ENOENT)
			return r;
	}
	return 0;
}

/* rmdir of @dir after its sub-cgroups, depth first. */
static int rmdir_tree(const char *dir, unsigned depth)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	d = depth < MAX_NESTING ? opendir(dir) : NULL;
	while (d && (de = readdir(d))) {
		_cleanup_free_ char *sub = NULL;
		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") ||
		    !strcmp(de->d_name, ".."))
			continue;
		sub = cove_cg_join(dir, de->d_name);
		if (!sub)
			return -ENOMEM;
		rmdir_tree(sub, depth + 1);
	}
	return rmdir_cg(dir);
}

/*
 * Union over every hierarchy: a process could have been moved out of one
 * of them, and destroy must still find it.
 */
static int collect_pids(struct cove_cgroup *cg, pid_t **ret, size_t *ret_n,
			struct cove_error *err)
{
	_cleanup_free_ pid_t *v = NULL;
	size_t n = 0, cap = 0, w = 0;

	for (size_t i = 0; i < cg->n_hiers; i++) {
		int r = read_procs_tree(cg->hiers[i].dir, &v, &n, &cap, 0);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			return cove_error_setx(err, r, "cannot read %s/%s",
					       cg->hiers[i].dir,
					       "cgroup.procs");
	}
	if (n)
		qsort(v, n, sizeof(pid_t), cmp_pid);
	for (size_t i = 0; i < n; i++)
		if (w == 0 || v[w - 1] != v[i])
			v[w++] = v[i];
	*ret = TAKE_PTR(v);
	*ret_n = w;
	return 0;
}

int cove_cgroup_pids(struct cove_cgroup *cg, pid_t **ret, size_t *ret_n,
		     struct cove_error *err)
{
	pid_t *v = NULL;
	size_t n = 0;
	int r = collect_pids(cg, &v, &n, err);

	if (r < 0)
		return r;
	if (!v) {
		v = calloc(1, sizeof(pid_t));
		if (!v)
			return -ENOMEM;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int cove_cgroup_stats(struct cove_cgroup *cg, json_t **ret,
		      struct cove_error *err)
{
	_cleanup_json_ json_t *data = json_object();
	int r;

	if (!data)
		return -ENOMEM;
	if (cg->ops) {
		r = cg->ops->stats(cg, data, err);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(data);
	return 0;
}

int cove_cgroup_oom_fd(struct cove_cgroup *cg, int *ret_fd,
		       struct cove_error *err)
{
	if (!cg->ops)
		return cove_error_set(err, EOPNOTSUPP,
				      "no memory cgroup to watch for OOM");
	return cg->ops->oom_fd(cg, ret_fd, err);
}

int cove_cgroup_oom_count(struct cove_cgroup *cg, uint64_t *ret_count)
{
	if (!cg->ops) {
		*ret_count = 0;
		return 0;
	}
	return cg->ops->oom_count(cg, ret_count);
}

/* Kill what is left: cgroup.kill where the kernel has it, else by pid. */
static void kill_all(struct cove_cgroup *cg)
{
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;

	for (size_t i = 0; i < cg->n_hiers; i++)
		if (cg->hiers[i].v2 &&
		    cove_cg_exists(cg->hiers[i].dir, "cgroup.kill"))
			cove_cg_write(cg->hiers[i].dir, "cgroup.kill", "1",
				      NULL);
	if (collect_pids(cg, &pids, &n, NULL) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
}

int cove_cgroup_destroy(struct cove_cgroup *cg, struct cove_error *err)
{
	int64_t deadline = cove_cg_now_ms() + 5000;
	bool frozen = false;
	int r = 0;

	if (!cg->ops)
		return 0;
	/*
	 * Fast path, the common case after the container exited: every leaf
	 * is empty and has no children, and a plain rmdir succeeds.  Only
	 * when one refuses do we thaw, kill and walk the tree.
	 */
	{
		bool all = true;
		for (size_t i = 0; i < cg->n_hiers; i++)
			if (rmdir(cg->hiers[i].dir) < 0 && errno != ENOENT)
				all = false;
		if (all) {
			for (size_t i = 0; i < cg->n_hiers; i++)
				remove_ancestors(cg, &cg->hiers[i]);
			return 0;
		}
	}
	/* a frozen task cannot act on SIGKILL until thawed (v1 freezer) */
	if (cg->ops->is_frozen(cg, &frozen) >= 0 && frozen)
		cg->ops->freeze(cg, false, NULL);

	for (unsigned attempt = 0;; attempt++) {
		bool busy = false;
		kill_all(cg);
		for (size_t i = 0; i < cg->n_hiers; i++) {
			r = rmdir_tree(cg->hiers[i].dir, 0);
			if (r == -EBUSY)
				busy = true;
			else if (r < 0)
				return cove_error_setx(err, r,
						       "cannot remove cgroup "
						       "%s",
						       cg->hiers[i].dir);
		}
		if (!busy)
			break;
		/* EBUSY right after SIGKILL is normal: tasks still exiting */
		if (cove_cg_now_ms() > deadline) {
			for (size_t i = 0; i < cg->n_hiers; i++)
				if (access(cg->hiers[i].dir, F_OK) == 0)
					return cove_error_setx(
					    err, EBUSY,
					    "cannot remove cgroup %s",
					    cg->hiers[i].dir);
		}
		cove_cg_sleep_ms(attempt < 10 ? 5 : 50);
	}
	for (size_t i = 0; i < cg->n_hiers; i++)
		remove_ancestors(cg, &cg->hiers[i]);
	return 0;
}
