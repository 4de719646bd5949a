/*
 * --pid/--ipc/--uts, --device, --group-add, --sysctl and --shm-size: what
 * they check, and what they put in the OCI config (ctrns.h).
 *
 * A namespace joined from another container (container:X) is X's at the
 * moment this container starts: X's init pid is only known then, so the
 * config.json written at create holds a path that cannot be opened, and
 * cove_engine_ctrns_prepare_start() puts /proc/<X's pid>/ns/<type> in it
 * right before every start.
 */
#include "engine/ctrns.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "engine/engine-internal.h"
#include "image/bundle.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strutil.h"

/* The three namespaces these options choose, as HostConfig and OCI name
 * them. */
static const struct {
	const char *option; /* --pid */
	const char *field;  /* HostConfig.PidMode */
	const char *oci;    /* linux.namespaces[].type */
} ns_opts[] = {
    {"pid", "PidMode", "pid"},
    {"ipc", "IpcMode", "ipc"},
    {"uts", "UTSMode", "uts"},
};

enum { NS_PID, NS_IPC, NS_UTS, NS_N };

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* ---- parsers -------------------------------------------------------------
 */

int cove_nsmode_parse(const char *option, const char *s,
		      struct cove_nsmode *ret, struct cove_error *err)
{
	bool ipc = !strcmp(option, "ipc");

	ret->arg = NULL;
	if (!s || !*s || !strcmp(s, "private")) {
		ret->kind = COVE_NSMODE_PRIVATE;
		return 0;
	}
	if (!strcmp(s, "host")) {
		ret->kind = COVE_NSMODE_HOST;
		return 0;
	}
	if (ipc && !strcmp(s, "shareable")) {
		ret->kind = COVE_NSMODE_SHAREABLE;
		return 0;
	}
	if (ipc && !strcmp(s, "none")) {
		ret->kind = COVE_NSMODE_NONE;
		return 0;
	}
	if (cove_str_has_prefix(s, "container:") && s[10]) {
		ret->kind = COVE_NSMODE_CONTAINER;
		ret->arg = s + 10;
		return 0;
	}
	if (cove_str_has_prefix(s, "ns:") && s[3] == '/') {
		ret->kind = COVE_NSMODE_PATH;
		ret->arg = s + 3;
		return 0;
	}
	return cove_error_set(err, EINVAL,
			      "invalid --%s '%s': expected host, private, "
			      "%scontainer:NAME|ID or ns:PATH",
			      option, s, ipc ? "shareable, none, " : "");
}

/* "rwm" in that order from any order of r, w, m; false when invalid. */
static bool normalize_perms(const char *s, char out[4])
{
	bool have[3] = {false, false, false};
	size_t n = 0;

	if (!*s)
		return false;
	for (const char *p = s; *p; p++) {
		const char *at = strchr("rwm", *p);
		if (!*p || !at || have[at - "rwm"])
			return false;
		have[at - "rwm"] = true;
	}
	for (int i = 0; i < 3; i++)
		if (have[i])
			out[n++] = "rwm"[i];
	out[n] = '\0';
	return true;
}

void cove_device_opt_release(struct cove_device_opt *d)
{
	free(d->host);
	free(d->ctr);
	d->host = d->ctr = NULL;
}

int cove_device_opt_parse(const char *spec, struct cove_device_opt *ret,
			  struct cove_error *err)
{
	_cleanup_free_ char *copy = strdup(spec);
	char *parts[3] = {NULL, NULL, NULL}, *p;
	const char *ctr, *perms = "rwm";
	size_t n = 0;

	if (!copy)
		return -ENOMEM;
	for (p = copy; p && n < 3; n++) {
		char *colon = strchr(p, ':');
		if (colon)
			*colon = '\0';
		parts[n] = p;
		p = colon ? colon + 1 : NULL;
	}
	if (p)
		return cove_error_set(err, EINVAL,
				      "invalid --device '%s': expected "
				      "HOST[:CONTAINER[:PERMISSIONS]]",
				      spec);
	ctr = parts[0];
	if (n == 2 && parts[1][0] != '/')
		perms = parts[1]; /* HOST:PERMS */
	else if (n >= 2)
		ctr = parts[1];
	if (n == 3)
		perms = parts[2];
	if (parts[0][0] != '/')
		return cove_error_set(err, EINVAL,
				      "invalid --device '%s': the host path "
				      "must be absolute",
				      spec);
	if (ctr[0] != '/')
		return cove_error_set(err, EINVAL,
				      "invalid --device '%s': the container "
				      "path must be absolute",
				      spec);
	if (strstr(ctr, "/../") || cove_str_has_prefix(ctr, "/..") ||
	    (strlen(ctr) >= 3 && !strcmp(ctr + strlen(ctr) - 3, "/..")))
		return cove_error_set(err, EINVAL,
				      "invalid --device '%s': the container "
				      "path must not contain '..'",
				      spec);
	if (!normalize_perms(perms, ret->perms))
		return cove_error_set(err, EINVAL,
				      "invalid --device '%s': invalid "
				      "permissions '%s': a combination of r, "
				      "w and m",
				      spec, perms);
	ret->host = strdup(parts[0]);
	ret->ctr = strdup(ctr);
	if (!ret->host || !ret->ctr) {
		cove_device_opt_release(ret);
		return -ENOMEM;
	}
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * --device DIR: every character and block node below the directory
 * @dfd (host path @host), recursively, at the same relative path below
 * @ctr, appended to @out as HostConfig.Devices entries with @perms (when
 * @out is NULL only counted in *count).  Entries are looked at with
 * lstat and subdirectories opened with O_NOFOLLOW: a symlink, to a node
 * or to a directory, is skipped, so nothing outside DIR is reached
 * through one.  Names in order, for a stable spec.
 */
static int device_dir_walk(int dfd, const char *host, const char *ctr,
			   const char *perms, int depth, json_t *out,
			   size_t *count, struct cove_error *err)
{
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_strv_ char **names = NULL;
	struct dirent *de;
	size_t n = 0;
	bool root = !strcmp(ctr, "/");

	if (depth > 32)
		return cove_error_set(err, ELOOP,
				      "--device %s: directories nested too "
				      "deep",
				      host);
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return cove_error_setx(err, errno, "--device: cannot read %s",
				       host);
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			if (cove_strv_push(&names, de->d_name) < 0)
				return -ENOMEM;
			n++;
		}
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *h =
		    cove_strdup_printf("%s/%s", host, names[i]);
		_cleanup_free_ char *c =
		    cove_strdup_printf("%s/%s", root ? "" : ctr, names[i]);
		struct stat st;
		int r;

		if (!h || !c)
			return -ENOMEM;
		if (fstatat(dirfd(d), names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* gone meanwhile */
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), names[i],
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					     O_CLOEXEC);
			if (sub < 0)
				return cove_error_setx(
				    err, errno, "--device: cannot open %s", h);
			r = device_dir_walk(sub, h, c, perms, depth + 1, out,
					    count, err);
			if (r < 0)
				return r;
			continue;
		}
		if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
			continue;
		(*count)++;
		if (out && json_array_append_new(
			       out, json_pack("{s:s, s:s, s:s}", "PathOnHost",
					      h, "PathInContainer", c,
					      "CgroupPermissions", perms)) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* The nodes below directory @host, as device_dir_walk(); none: error */
static int device_dir_nodes(const char *host, const char *ctr,
			    const char *perms, const char *spec, json_t *out,
			    struct cove_error *err)
{
	/* DIR itself may be a symlink (as podman resolves one) */
	int dfd = open(host, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	size_t count = 0;
	int r;

	if (dfd < 0)
		return cove_error_setx(err, errno,
				       "invalid --device '%s': cannot open %s",
				       spec, host);
	r = device_dir_walk(dfd, host, ctr, perms, 0, out, &count, err);
	if (r < 0)
		return r;
	if (!count)
		return cove_error_set(err, EINVAL,
				      "invalid --device '%s': no device nodes "
				      "in %s",
				      spec, host);
	return 0;
}

int cove_device_opt_stat(const char *path, const char *spec,
			 struct cove_device_node *ret, struct cove_error *err)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return cove_error_setx(err, errno,
				       "invalid --device '%s': cannot stat %s",
				       spec, path);
	if (S_ISDIR(st.st_mode)) {
		/* every node below it (device_dir_nodes) */
		memset(ret, 0, sizeof(*ret));
		ret->type = 'd';
		return device_dir_nodes(path, path, "rwm", spec, NULL, err);
	}
	if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
		return cove_error_set(err, EINVAL,
				      "invalid --device '%s': %s is not a "
				      "device node",
				      spec, path);
	ret->type = S_ISCHR(st.st_mode) ? 'c' : 'b';
	ret->major = major(st.st_rdev);
	ret->minor = minor(st.st_rdev);
	ret->mode = st.st_mode & 07777;
	ret->uid = st.st_uid;
	ret->gid = st.st_gid;
	return 0;
}

enum cove_sysctl_ns cove_sysctl_namespace(const char *key)
{
	if (cove_str_has_prefix(key, "net.") && key[4])
		return COVE_SYSCTL_NET;
	if ((cove_str_has_prefix(key, "fs.mqueue.") && key[10]) ||
	    (cove_str_has_prefix(key, "kernel.shm") && key[10]) ||
	    (cove_str_has_prefix(key, "kernel.msg") && key[10]) ||
	    !strcmp(key, "kernel.sem"))
		return COVE_SYSCTL_IPC;
	if (!strcmp(key, "kernel.hostname") ||
	    !strcmp(key, "kernel.domainname"))
		return COVE_SYSCTL_UTS;
	return COVE_SYSCTL_NOT_ALLOWED;
}

int cove_sysctl_parse(const char *spec, char **ret_key, const char **ret_value,
		      struct cove_error *err)
{
	const char *eq = strchr(spec, '=');
	_cleanup_free_ char *key = NULL;

	if (!eq || eq == spec)
		return cove_error_set(err, EINVAL,
				      "invalid --sysctl '%s': expected "
				      "NAME=VALUE",
				      spec);
	key = strndup(spec, (size_t)(eq - spec));
	if (!key)
		return -ENOMEM;
	for (char *p = key; *p; p++)
		if (*p == '/')
			*p = '.';
	if (cove_sysctl_namespace(key) == COVE_SYSCTL_NOT_ALLOWED)
		return cove_error_set(err, EINVAL, "sysctl '%s' is not allowed",
				      key);
	*ret_key = TAKE_PTR(key);
	*ret_value = eq + 1;
	return 0;
}

int cove_group_add_check(const char *value, struct cove_error *err)
{
	if (!strcmp(value, "keep-groups"))
		return cove_error_set(err, EINVAL,
				      "invalid --group-add 'keep-groups': "
				      "keeping the caller's groups is only "
				      "possible rootless with crun, which cove "
				      "is not");
	if (!*value || strchr(value, ':') || strchr(value, '\n'))
		return cove_error_set(err, EINVAL,
				      "invalid --group-add '%s': expected a "
				      "gid or a group name",
				      value);
	return 0;
}

/* ---- the HostConfig as a whole ---------------------------------------------
 */

static int modes_of(const json_t *host, struct cove_nsmode m[NS_N],
		    struct cove_error *err)
{
	for (int i = 0; i < NS_N; i++) {
		int r = cove_nsmode_parse(
		    ns_opts[i].option, str(host, ns_opts[i].field), &m[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Not a namespace of the container's own. */
static bool shared(const struct cove_nsmode *m)
{
	return m->kind == COVE_NSMODE_HOST ||
	       m->kind == COVE_NSMODE_CONTAINER || m->kind == COVE_NSMODE_PATH;
}

static int check_sysctls(const json_t *host, const struct cove_nsmode m[NS_N],
			 struct cove_error *err)
{
	const json_t *sysctls = json_object_get(host, "Sysctls");
	const char *net = str(host, "NetworkMode");
	const char *k;
	json_t *v;

	if (!net || !*net)
		net = "bridge";
	json_object_foreach((json_t *)sysctls, k, v)
	{
		enum cove_sysctl_ns ns = cove_sysctl_namespace(k);
		const struct cove_nsmode *mode = NULL;
		const char *opt = NULL;

		if (!json_is_string(v))
			return cove_error_set(err, EINVAL,
					      "invalid sysctl '%s': the value "
					      "must be a string",
					      k);
		switch (ns) {
		case COVE_SYSCTL_NOT_ALLOWED:
			return cove_error_set(err, EINVAL,
					      "sysctl '%s' is not allowed", k);
		case COVE_SYSCTL_NET:
			if (!strcmp(net, "host") ||
			    cove_str_has_prefix(net, "container:") ||
			    cove_str_has_prefix(net, "ns:"))
				return cove_error_set(
				    err, EINVAL,
				    "sysctl '%s' cannot be set: the container "
				    "has no network namespace of its own "
				    "(--network %s)",
				    k, net);
			continue;
		case COVE_SYSCTL_IPC:
			mode = &m[NS_IPC], opt = "ipc";
			break;
		case COVE_SYSCTL_UTS:
			mode = &m[NS_UTS], opt = "uts";
			break;
		}
		if (shared(mode))
			return cove_error_set(
			    err, EINVAL,
			    "sysctl '%s' cannot be set: the container has no "
			    "%s namespace of its own (--%s %s)",
			    k, opt, opt,
			    str(host, opt[0] == 'i' ? "IpcMode" : "UTSMode"));
	}
	return 0;
}

int cove_engine_ctrns_check(const json_t *config, struct cove_error *err)
{
	const json_t *host = json_object_get(config, "HostConfig");
	const char *hostname = str(config, "Hostname");
	const char *restart =
	    str(json_object_get(host, "RestartPolicy"), "Name");
	struct cove_nsmode m[NS_N];
	json_t *v;
	size_t i;
	int r = modes_of(host, m, err);

	if (r < 0)
		return r;
	r = check_sysctls(host, m, err);
	if (r < 0)
		return r;
	if (hostname && *hostname && shared(&m[NS_UTS]))
		return cove_error_set(err, EINVAL,
				      "cannot set a hostname with --uts %s: "
				      "the container has no uts namespace of "
				      "its own",
				      str(host, "UTSMode"));
	if (json_integer_value(json_object_get(host, "ShmSize")) > 0 &&
	    (shared(&m[NS_IPC]) || m[NS_IPC].kind == COVE_NSMODE_NONE))
		return cove_error_set(err, EINVAL,
				      "cannot set --shm-size with --ipc %s: "
				      "the container has no /dev/shm of its "
				      "own",
				      str(host, "IpcMode"));
	/*
	 * A restart by the restart policy happens in the monitor, which
	 * would reuse the joined container's pid of the first start: a pid
	 * that may since name another process, on the host.
	 */
	for (int k = 0; k < NS_N; k++)
		if (m[k].kind == COVE_NSMODE_CONTAINER && restart &&
		    strcmp(restart, "no"))
			return cove_error_set(err, EINVAL,
					      "--restart %s cannot be combined "
					      "with --%s container:%s",
					      restart, ns_opts[k].option,
					      m[k].arg);
	json_array_foreach(json_object_get(host, "GroupAdd"), i, v)
	{
		r = cove_group_add_check(json_string_value(v) ?: "", err);
		if (r < 0)
			return r;
	}
	json_array_foreach(json_object_get(host, "Devices"), i, v)
	{
		struct cove_device_node node;
		const char *h = str(v, "PathOnHost"),
			   *c = str(v, "PathInContainer"),
			   *perms = str(v, "CgroupPermissions");
		char norm[4];

		if (!h || h[0] != '/' || !c || c[0] != '/' || !perms ||
		    !normalize_perms(perms, norm))
			return cove_error_set(
			    err, EINVAL, "invalid HostConfig.Devices[%zu]", i);
		r = cove_device_opt_stat(h, h, &node, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int cove_engine_ctrns_resolve(struct cove_engine *e, json_t *config,
			      struct cove_error *err)
{
	json_t *host = json_object_get(config, "HostConfig");

	for (int k = 0; k < NS_N; k++) {
		struct cove_nsmode m;
		struct cove_ctr x = {0};
		_cleanup_free_ char *v = NULL;
		int r = cove_nsmode_parse(ns_opts[k].option,
					  str(host, ns_opts[k].field), &m, err);

		if (r < 0)
			return r;
		if (m.kind != COVE_NSMODE_CONTAINER)
			continue;
		r = cove_engine_lookup(e, m.arg, &x, err);
		if (r < 0)
			return cove_error_wrap(err, "invalid --%s container:%s",
					       ns_opts[k].option, m.arg);
		v = cove_strdup_printf("container:%s", x.id);
		cove_ctr_release(&x);
		if (!v)
			return -ENOMEM;
		json_object_set_new(host, ns_opts[k].field, json_string(v));
	}
	return 0;
}

/* ---- the OCI config --------------------------------------------------------
 */

static json_t *ns_entry(json_t *spec, const char *type, size_t *ret_index)
{
	json_t *nss = json_object_get(json_object_get(spec, "linux"),
				      "namespaces"),
	       *ns;
	size_t i;

	json_array_foreach(nss, i, ns)
	{
		if (!strcmp(str(ns, "type") ?: "", type)) {
			if (ret_index)
				*ret_index = i;
			return ns;
		}
	}
	return NULL;
}

static json_t *shm_mount(json_t *spec, size_t *ret_index)
{
	json_t *mounts = json_object_get(spec, "mounts"), *m;
	size_t i;

	json_array_foreach(mounts, i, m)
	{
		/* the default one only: a --tmpfs or -v at /dev/shm stays */
		if (!strcmp(str(m, "destination") ?: "", "/dev/shm") &&
		    !strcmp(str(m, "type") ?: "", "tmpfs") &&
		    !strcmp(str(m, "source") ?: "", "shm")) {
			*ret_index = i;
			return m;
		}
	}
	return NULL;
}

static int set_shm(json_t *spec, const json_t *host,
		   const struct cove_nsmode *ipc)
{
	int64_t size = json_integer_value(json_object_get(host, "ShmSize"));
	json_t *mounts = json_object_get(spec, "mounts"), *m, *opts, *o;
	size_t idx, i;

	m = shm_mount(spec, &idx);
	if (!m)
		return 0;
	if (ipc->kind == COVE_NSMODE_NONE)
		return json_array_remove(mounts, idx) < 0 ? -ENOMEM : 0;
	if (ipc->kind == COVE_NSMODE_HOST) {
		/* the host's ipc namespace: the host's /dev/shm with it */
		static const char *const bind[] = {"rbind", "nosuid", "noexec",
						   "nodev", NULL};
		json_object_set_new(m, "type", json_string("bind"));
		json_object_set_new(m, "source", json_string("/dev/shm"));
		json_object_set_new(m, "options", cove_json_strv_array(bind));
		return 0;
	}
	if (size <= 0)
		return 0;
	opts = json_object_get(m, "options");
	json_array_foreach(opts, i, o)
	{
		if (cove_str_has_prefix(json_string_value(o) ?: "", "size=")) {
			json_array_remove(opts, i);
			break;
		}
	}
	{
		_cleanup_free_ char *s =
		    size % 1024 == 0
			? cove_strdup_printf("size=%lldk",
					     (long long)(size / 1024))
			: cove_strdup_printf("size=%lld", (long long)size);
		if (!s)
			return -ENOMEM;
		json_array_append_new(opts, json_string(s));
	}
	return 0;
}

/* /etc/hostname of a container without a uts namespace of its own. */
static int set_hostname_file(struct cove_engine *e, const char *dir,
			     const struct cove_nsmode *uts,
			     struct cove_error *err)
{
	_cleanup_free_ char *path = cove_strdup_printf("%s/hostname", dir);
	_cleanup_free_ char *text = NULL;
	char hn[256];

	if (!path)
		return -ENOMEM;
	if (uts->kind == COVE_NSMODE_HOST) {
		if (gethostname(hn, sizeof(hn) - 1) < 0)
			return cove_error_setx(err, errno, "gethostname");
		hn[sizeof(hn) - 1] = '\0';
		text = cove_strdup_printf("%s\n", hn);
	} else if (uts->kind == COVE_NSMODE_CONTAINER) {
		/* the joined container's name for itself */
		_cleanup_free_ char *xdir = cove_engine_ctr_dir(e, uts->arg);
		_cleanup_free_ char *xpath =
		    xdir ? cove_strdup_printf("%s/hostname", xdir) : NULL;
		if (!xpath)
			return -ENOMEM;
		if (cove_read_file(xpath, 4096, &text, NULL) < 0)
			return 0;
	} else {
		return 0;
	}
	if (!text)
		return -ENOMEM;
	{
		/* in place, truncated: the same inode the container binds */
		_cleanup_fclose_ FILE *f = fopen(path, "we");
		if (!f || fputs(text, f) < 0 || fflush(f) != 0)
			return cove_error_setx(err, errno, "cannot write %s",
					       path);
	}
	return 0;
}

static int set_namespaces(struct cove_engine *e, json_t *spec,
			  const struct cove_nsmode m[NS_N],
			  struct cove_ctr joined[NS_N], struct cove_error *err)
{
	json_t *nss =
	    json_object_get(json_object_get(spec, "linux"), "namespaces");

	for (int k = 0; k < NS_N; k++) {
		size_t idx;
		json_t *ns = ns_entry(spec, ns_opts[k].oci, &idx);
		_cleanup_free_ char *path = NULL;

		switch (m[k].kind) {
		case COVE_NSMODE_HOST:
			if (ns)
				json_array_remove(nss, idx);
			continue;
		case COVE_NSMODE_CONTAINER: {
			int r =
			    cove_engine_lookup(e, m[k].arg, &joined[k], err);
			if (r < 0)
				return cove_error_wrap(
				    err, "invalid --%s container:%s",
				    ns_opts[k].option, m[k].arg);
			/* filled in at start: this one cannot be opened */
			path =
			    cove_strdup_printf("/proc/0/ns/%s", ns_opts[k].oci);
			break;
		}
		case COVE_NSMODE_PATH:
			path = strdup(m[k].arg);
			break;
		default:
			continue;
		}
		if (!path)
			return -ENOMEM;
		if (!ns) {
			ns = json_object();
			json_object_set_new(ns, "type",
					    json_string(ns_opts[k].oci));
			json_array_append_new(nss, ns);
		}
		json_object_set_new(ns, "path", json_string(path));
	}
	return 0;
}

/*
 * HostConfig.Devices with each directory replaced by the nodes below it
 * (device_dir_nodes), with the directory's container path and
 * permissions; *ret is a new array.
 */
static int expand_devices(const json_t *devices, json_t **ret,
			  struct cove_error *err)
{
	_cleanup_json_ json_t *out = json_array();
	const json_t *v;
	size_t i;

	if (!out)
		return -ENOMEM;
	json_array_foreach(devices, i, v)
	{
		const char *h = str(v, "PathOnHost");
		struct stat st;
		int r;

		if (h && stat(h, &st) == 0 && S_ISDIR(st.st_mode)) {
			r = device_dir_nodes(
			    h, str(v, "PathInContainer") ?: h,
			    str(v, "CgroupPermissions") ?: "rwm", h, out, err);
			if (r < 0)
				return r;
		} else if (json_array_append(out, (json_t *)v) < 0) {
			return -ENOMEM;
		}
	}
	*ret = TAKE_PTR(out);
	return 0;
}

static int set_devices(json_t *spec, const json_t *host, bool rootless,
		       struct cove_error *err)
{
	json_t *lx = json_object_get(spec, "linux");
	json_t *res = json_object_get(lx, "resources");
	json_t *devs = json_object_get(lx, "devices"), *v;
	_cleanup_json_ json_t *list = NULL;
	size_t i;
	int er;

	if (!json_array_size(json_object_get(host, "Devices")))
		return 0;
	/* --device DIR: its nodes */
	er = expand_devices(json_object_get(host, "Devices"), &list, err);
	if (er < 0)
		return er;
	if (!json_is_array(devs)) {
		devs = json_array();
		json_object_set_new(lx, "devices", devs);
	}
	json_array_foreach(list, i, v)
	{
		const char *h = str(v, "PathOnHost"),
			   *c = str(v, "PathInContainer");
		struct cove_device_node node;
		json_t *d = json_object(), *rule;
		char perms[4];
		int r = cove_device_opt_stat(h, h, &node, err);

		if (r < 0) {
			json_decref(d);
			return r;
		}
		if (!normalize_perms(str(v, "CgroupPermissions") ?: "rwm",
				     perms))
			memcpy(perms, "rwm", 4);
		/*
		 * Rootless: mknod is refused in a user namespace and the
		 * runtime binds the host's node at the same path, so a node
		 * wanted at another path is bound there as a mount instead,
		 * as podman does; read-only unless PERMS has w.
		 */
		if (rootless && strcmp(h, c)) {
			json_decref(d);
			d = json_pack("{s:s, s:s, s:s, s:[s, s, s, s]}",
				      "destination", c, "type", "bind",
				      "source", h, "options", "rbind", "nosuid",
				      "noexec",
				      strchr(perms, 'w') ? "rw" : "ro");
			if (!d || json_array_append_new(
				      json_object_get(spec, "mounts"), d) < 0)
				return -ENOMEM;
			continue;
		}
		json_object_set_new(d, "path", json_string(c));
		json_object_set_new(d, "type", json_stringn(&node.type, 1));
		json_object_set_new(d, "major", json_integer(node.major));
		json_object_set_new(d, "minor", json_integer(node.minor));
		json_object_set_new(d, "fileMode",
				    json_integer(node.mode & 0777));
		json_object_set_new(d, "uid", json_integer(node.uid));
		json_object_set_new(d, "gid", json_integer(node.gid));
		json_array_append_new(devs, d);
		/* rootless: no device cgroup to open */
		if (!res)
			continue;
		if (!json_is_array(json_object_get(res, "devices")))
			json_object_set_new(res, "devices", json_array());
		rule = json_object();
		json_object_set_new(rule, "allow", json_true());
		json_object_set_new(rule, "type", json_stringn(&node.type, 1));
		json_object_set_new(rule, "major", json_integer(node.major));
		json_object_set_new(rule, "minor", json_integer(node.minor));
		json_object_set_new(rule, "access", json_string(perms));
		json_array_append_new(json_object_get(res, "devices"), rule);
	}
	return 0;
}

static int set_group_add(json_t *spec, const json_t *host, int rootfd,
			 struct cove_error *err)
{
	json_t *user =
		   json_object_get(json_object_get(spec, "process"), "user"),
	       *gids, *v, *g;
	size_t i, j;

	if (!json_array_size(json_object_get(host, "GroupAdd")))
		return 0;
	if (!user)
		return cove_error_set(err, EINVAL,
				      "--group-add: the config has no "
				      "process.user");
	gids = json_object_get(user, "additionalGids");
	if (!json_is_array(gids)) {
		gids = json_array();
		json_object_set_new(user, "additionalGids", gids);
	}
	json_array_foreach(json_object_get(host, "GroupAdd"), i, v)
	{
		const char *name = json_string_value(v) ?: "";
		uint32_t gid;
		bool dup = false;

		if (cove_parse_uint32(name, &gid) < 0) {
			/* by name, in the image: "0:NAME" resolves the group */
			struct cove_image_user u = {0};
			_cleanup_free_ char *spec_s =
			    cove_strdup_printf("0:%s", name);
			int r;
			if (!spec_s)
				return -ENOMEM;
			r = cove_image_user_resolve(rootfd, spec_s, &u, err);
			gid = u.gid;
			cove_image_user_release(&u);
			if (r == -ENOENT) {
				cove_error_clear(err);
				return cove_error_set(
				    err, ENOENT,
				    "invalid --group-add '%s': no such group "
				    "in the image's /etc/group",
				    name);
			}
			if (r < 0)
				return cove_error_wrap(
				    err, "invalid --group-add '%s'", name);
		}
		json_array_foreach(gids, j, g) dup =
		    dup || (uint32_t)json_integer_value(g) == gid;
		if (!dup)
			json_array_append_new(gids, json_integer(gid));
	}
	return 0;
}

static void set_sysctls(json_t *spec, const json_t *host)
{
	json_t *lx = json_object_get(spec, "linux");
	json_t *out = json_object_get(lx, "sysctl"), *v;
	const char *k;

	if (!json_object_size(json_object_get(host, "Sysctls")))
		return;
	if (!json_is_object(out)) {
		out = json_object();
		json_object_set_new(lx, "sysctl", out);
	}
	json_object_foreach((json_t *)json_object_get(host, "Sysctls"), k, v)
	    json_object_set(out, k, v);
}

int cove_engine_ctrns_spec(struct cove_engine *e, const json_t *config,
			   const char *dir, int rootfd, json_t *spec,
			   struct cove_error *err)
{
	const json_t *host = json_object_get(config, "HostConfig");
	struct cove_ctr joined[NS_N];
	struct cove_nsmode m[NS_N];
	int r = cove_engine_ctrns_check(config, err);

	memset(joined, 0, sizeof(joined));
	if (r >= 0)
		r = modes_of(host, m, err);
	if (r >= 0)
		r = set_namespaces(e, spec, m, joined, err);
	if (r >= 0 && m[NS_UTS].kind != COVE_NSMODE_PRIVATE) {
		/* the host's or the joined one's name stays theirs */
		json_object_del(spec, "hostname");
		if (m[NS_UTS].kind == COVE_NSMODE_CONTAINER) {
			struct cove_nsmode x = {COVE_NSMODE_CONTAINER,
						joined[NS_UTS].id};
			r = set_hostname_file(e, dir, &x, err);
		} else {
			r = set_hostname_file(e, dir, &m[NS_UTS], err);
		}
	}
	if (r >= 0)
		r = set_shm(spec, host, &m[NS_IPC]);
	if (r >= 0)
		r = set_devices(spec, host, e->rootless, err);
	if (r >= 0)
		r = set_group_add(spec, host, rootfd, err);
	if (r >= 0)
		set_sysctls(spec, host);
	for (int k = 0; k < NS_N; k++)
		cove_ctr_release(&joined[k]);
	return r;
}

/* ---- start and rm ----------------------------------------------------------
 */

static bool runs(const struct cove_ctr *c)
{
	return c->pid > 0 &&
	       (!strcmp(c->state, "running") || !strcmp(c->state, "paused"));
}

int cove_engine_ctrns_prepare_start(struct cove_engine *e,
				    const struct cove_ctr *c,
				    struct cove_error *err)
{
	const json_t *host = json_object_get(c->config, "HostConfig");
	_cleanup_json_ json_t *spec = NULL;
	_cleanup_free_ char *dir = NULL, *file = NULL;
	struct cove_nsmode m[NS_N];
	bool any = false;
	int r = modes_of(host, m, err);

	if (r < 0)
		return r;
	for (int k = 0; k < NS_N; k++)
		any = any || m[k].kind == COVE_NSMODE_CONTAINER;
	if (!any)
		return 0;
	dir = cove_engine_ctr_dir(e, c->id);
	file = dir ? cove_strdup_printf("%s/config.json", dir) : NULL;
	if (!file)
		return -ENOMEM;
	r = cove_json_load_file(file, 16 << 20, &spec, err);
	if (r < 0)
		return r;
	for (int k = 0; k < NS_N; k++) {
		struct cove_ctr x = {0};
		_cleanup_free_ char *path = NULL;

		if (m[k].kind != COVE_NSMODE_CONTAINER)
			continue;
		r = cove_engine_lookup(e, m[k].arg, &x, err);
		if (r == -ENOENT) {
			cove_error_clear(err);
			return cove_error_set(
			    err, ENOENT,
			    "cannot start container %s: container %s, whose "
			    "%s namespace it joins, no longer exists",
			    c->name, m[k].arg, ns_opts[k].option);
		}
		if (r < 0)
			return r;
		if (!runs(&x)) {
			r = cove_error_set(
			    err, EINVAL,
			    "cannot start container %s: container %s, whose "
			    "%s namespace it joins (--%s container:%s), is "
			    "not running",
			    c->name, x.name, ns_opts[k].option,
			    ns_opts[k].option, x.name);
			cove_ctr_release(&x);
			return r;
		}
		path = cove_strdup_printf("/proc/%d/ns/%s", (int)x.pid,
					  ns_opts[k].oci);
		cove_ctr_release(&x);
		if (!path)
			return -ENOMEM;
		cove_engine_spec_join_ns(spec, ns_opts[k].oci, path);
	}
	return cove_engine_spec_save(file, spec, err);
}

/* Whether options @host join a namespace of @c (--pid container:X...). */
static bool joins_ns_of(const json_t *host, const struct cove_ctr *c)
{
	/* --pid/--ipc/--uts container:X, and --network container:X */
	for (int k = 0; k <= NS_N; k++) {
		const char *v =
		    str(host, k < NS_N ? ns_opts[k].field : "NetworkMode");
		if (v && cove_str_has_prefix(v, "container:") &&
		    (!strcmp(v + 10, c->id) || !strcmp(v + 10, c->name)))
			return true;
	}
	return false;
}

/* The ids (or with @names the names) of the containers joining @c. */
static int dependents(struct cove_engine *e, const struct cove_ctr *c,
		      bool names, char ***ret, struct cove_error *err)
{
	_cleanup_strv_ char **v = NULL;
	struct cove_ctr *cs = NULL;
	size_t n = 0;
	sqlite3 *db;
	int r = cove_engine_db(e, &db, err);

	if (r < 0)
		return r;
	r = cove_ctr_list(db, &cs, &n, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r >= 0; i++)
		if (strcmp(cs[i].id, c->id) &&
		    joins_ns_of(json_object_get(cs[i].config, "HostConfig"), c))
			r = cove_strv_push(&v, names ? cs[i].name : cs[i].id);
	cove_ctrs_free(cs, n);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(v);
	return 0;
}

int cove_engine_dependents(struct cove_engine *e, const struct cove_ctr *c,
			   char ***ret, struct cove_error *err)
{
	return dependents(e, c, false, ret, err);
}

int cove_engine_ctrns_check_dependents(struct cove_engine *e,
				       const struct cove_ctr *c,
				       struct cove_error *err)
{
	_cleanup_strv_ char **v = NULL;
	_cleanup_free_ char *names = NULL;
	int r = dependents(e, c, true, &v, err);

	if (r < 0 || !v)
		return r;
	names = cove_strv_join(v, ", ");
	if (!names)
		return -ENOMEM;
	return cove_error_set(err, EBUSY,
			      "container %s has dependent containers "
			      "which must be removed before it: %s: "
			      "container already exists",
			      c->name, names);
}
