#include "engine/runspec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/ctrns.h"
#include "engine/ctrnet.h"
#include "engine/netopts.h"
#include "engine/userns.h"
#include "engine/volumes.h"
#include "image/bundle.h"
#include "runtime/cgroup.h"
#include "runtime/spec.h"
#include "util/capnames.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strutil.h"

/* The create options are written by cove itself: lenient accessors. */
static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static int64_t i64(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static bool flag(const json_t *o, const char *key)
{
	return json_is_true(json_object_get(o, key));
}

/* A NULL-terminated copy of a JSON string array (NULL when absent). */
static char **strv(const json_t *o, const char *key)
{
	char **v = NULL;

	(void)cove_json_strv(o, "", key, &v, NULL);
	return v;
}

static json_t *mount_json(const char *dst, const char *type, const char *src,
			  const char *const *opts)
{
	json_t *m = json_object();

	json_object_set_new(m, "destination", json_string(dst));
	json_object_set_new(m, "type", json_string(type));
	json_object_set_new(m, "source", json_string(src));
	json_object_set_new(m, "options", cove_json_strv_array(opts));
	return m;
}

/*
 * A mount the user asked for replaces one of the defaults (or an earlier
 * one) at the same destination, as docker does.
 */
static void mounts_put(json_t *mounts, json_t *m)
{
	const char *dst = str(m, "destination");
	size_t i;
	json_t *v;

	json_array_foreach(mounts, i, v)
	{
		if (!strcmp(str(v, "destination"), dst)) {
			json_array_remove(mounts, i);
			break;
		}
	}
	json_array_append_new(mounts, m);
}

static int check_target(const char *what, const char *spec, const char *dst,
			struct cove_error *err)
{
	if (!dst || dst[0] != '/')
		return cove_error_set(err, EINVAL,
				      "invalid %s '%s': the container path "
				      "must be absolute",
				      what, spec);
	if (!strcmp(dst, "/"))
		return cove_error_set(err, EINVAL,
				      "invalid %s '%s': cannot mount over /",
				      what, spec);
	return 0;
}

/* bind options from "ro,z,rprivate,..." */
static int bind_options(const char *what, const char *spec, const char *opts,
			bool ro, json_t **ret, struct cove_error *err)
{
	_cleanup_free_ char *copy = opts ? strdup(opts) : NULL;
	const char *propagation = "rprivate";
	json_t *o = json_array();
	bool recursive = true;
	char *save = NULL;

	if (opts && !copy)
		return -ENOMEM;
	for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t;
	     t = strtok_r(NULL, ",", &save)) {
		if (!strcmp(t, "ro") || !strcmp(t, "readonly"))
			ro = true;
		else if (!strcmp(t, "rw"))
			ro = false;
		else if (!strcmp(t, "z") || !strcmp(t, "Z") ||
			 !strcmp(t, "U") || !strcmp(t, "nocopy") ||
			 !strcmp(t, "copy") || !strcmp(t, "consistent") ||
			 !strcmp(t, "cached") || !strcmp(t, "delegated"))
			; /* SELinux labels: no SELinux here; others: no-ops */
		else if (!strcmp(t, "private") || !strcmp(t, "rprivate") ||
			 !strcmp(t, "shared") || !strcmp(t, "rshared") ||
			 !strcmp(t, "slave") || !strcmp(t, "rslave"))
			propagation = t[0] == 'r' ? t : t;
		else if (!strcmp(t, "bind"))
			recursive = false;
		else if (!strcmp(t, "rbind"))
			recursive = true;
		else if (!strcmp(t, "nosuid") || !strcmp(t, "nodev") ||
			 !strcmp(t, "noexec") || !strcmp(t, "suid") ||
			 !strcmp(t, "dev") || !strcmp(t, "exec"))
			json_array_append_new(o, json_string(t));
		else {
			json_decref(o);
			return cove_error_set(err, EINVAL,
					      "invalid %s '%s': unknown option "
					      "'%s'",
					      what, spec, t);
		}
	}
	json_array_insert_new(o, 0, json_string(recursive ? "rbind" : "bind"));
	json_array_append_new(o, json_string(propagation));
	if (ro)
		json_array_append_new(o, json_string("ro"));
	*ret = o;
	return 0;
}

static json_t *bind_json(const char *src, const char *dst, json_t *opts)
{
	json_t *m = json_object();

	json_object_set_new(m, "destination", json_string(dst));
	json_object_set_new(m, "type", json_string("bind"));
	json_object_set_new(m, "source", json_string(src));
	json_object_set_new(m, "options", opts);
	return m;
}

/*
 * A named volume's data directory, the volume created when missing and
 * filled from the image's directory at @dst when empty (docker's copy-up).
 */
static int volume_path(struct cove_engine *e, int rootfd, const char *name,
		       const char *dst, char **ret, struct cove_error *err)
{
	_cleanup_free_ char *path = NULL;
	int r = cove_engine_volume_path(e, name, &path, err);

	if (r < 0)
		return r;
	r = cove_volume_copy_up_from_rootfs(path, rootfd, dst, err);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(path);
	return 0;
}

static int add_bind(struct cove_engine *e, int rootfd, json_t *mounts,
		    const char *spec, struct cove_error *err)
{
	_cleanup_free_ char *copy = strdup(spec), *src_path = NULL;
	char *src, *dst, *opts;
	json_t *o = NULL;
	int r;

	if (!copy)
		return -ENOMEM;
	src = copy;
	dst = strchr(src, ':');
	if (!dst)
		return cove_error_set(err, EINVAL,
				      "invalid volume '%s': expected "
				      "SOURCE:DEST[:OPTIONS]",
				      spec);
	*dst++ = '\0';
	opts = strchr(dst, ':');
	if (opts)
		*opts++ = '\0';
	r = check_target("volume", spec, dst, err);
	if (r < 0)
		return r;
	if (src[0] == '/') {
		struct stat st;
		if (stat(src, &st) < 0)
			return cove_error_setx(err, errno,
					       "invalid volume '%s': cannot "
					       "use host path %s",
					       spec, src);
		src_path = strdup(src);
	} else {
		r = volume_path(e, rootfd, src, dst, &src_path, err);
		if (r < 0)
			return r;
	}
	if (!src_path)
		return -ENOMEM;
	r = bind_options("volume", spec, opts, false, &o, err);
	if (r < 0)
		return r;
	mounts_put(mounts, bind_json(src_path, dst, o));
	return 0;
}

static int add_tmpfs(json_t *mounts, const char *dst, const char *opts,
		     const char *spec, struct cove_error *err)
{
	_cleanup_free_ char *copy = opts ? strdup(opts) : NULL;
	json_t *o = json_array();
	char *save = NULL;
	bool has_mode = false, has_size = false;
	int r = check_target("tmpfs", spec, dst, err);

	if (r < 0) {
		json_decref(o);
		return r;
	}
	for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t;
	     t = strtok_r(NULL, ",", &save)) {
		if (!strncmp(t, "mode=", 5))
			has_mode = true;
		if (!strncmp(t, "size=", 5))
			has_size = true;
		json_array_append_new(o, json_string(t));
	}
	/* docker's defaults: noexec,nosuid,nodev, size=64m? no: unlimited */
	json_array_insert_new(o, 0, json_string("nosuid"));
	json_array_insert_new(o, 1, json_string("nodev"));
	if (!has_mode)
		json_array_append_new(o, json_string("mode=1777"));
	(void)has_size;
	{
		json_t *m = json_object();
		json_object_set_new(m, "destination", json_string(dst));
		json_object_set_new(m, "type", json_string("tmpfs"));
		json_object_set_new(m, "source", json_string("tmpfs"));
		json_object_set_new(m, "options", o);
		mounts_put(mounts, m);
	}
	return 0;
}

/* --mount type=bind|volume|tmpfs,source=,target=,readonly,... */
static int add_mount(struct cove_engine *e, int rootfd, json_t *mounts,
		     const json_t *m, struct cove_error *err)
{
	const char *type = str(m, "Type"), *src = str(m, "Source"),
		   *dst = str(m, "Target"), *spec = str(m, "Spec");
	_cleanup_free_ char *path = NULL;
	json_t *o = NULL;
	int r;

	if (!spec)
		spec = "";
	r = check_target("--mount", spec, dst, err);
	if (r < 0)
		return r;
	if (!strcmp(type, "tmpfs")) {
		_cleanup_free_ char *opts = NULL;
		if (i64(m, "TmpfsSize") > 0)
			opts = cove_strdup_printf(
			    "size=%lld", (long long)i64(m, "TmpfsSize"));
		if (i64(m, "TmpfsMode") > 0) {
			char *n = cove_strdup_printf(
			    "%s%smode=%llo", opts ? opts : "", opts ? "," : "",
			    (unsigned long long)i64(m, "TmpfsMode"));
			free(opts);
			opts = n;
		}
		r = add_tmpfs(mounts, dst, opts, spec, err);
		if (r < 0)
			return r;
		if (flag(m, "ReadOnly"))
			json_array_append_new(
			    json_object_get(
				json_array_get(mounts,
					       json_array_size(mounts) - 1),
				"options"),
			    json_string("ro"));
		return 0;
	}
	if (!src || !*src)
		return cove_error_set(err, EINVAL,
				      "invalid --mount '%s': a source is "
				      "required",
				      spec);
	if (!strcmp(type, "bind")) {
		struct stat st;
		if (src[0] != '/')
			return cove_error_set(err, EINVAL,
					      "invalid --mount '%s': a bind "
					      "source must be an absolute path",
					      spec);
		if (stat(src, &st) < 0)
			return cove_error_setx(err, errno,
					       "invalid --mount '%s': cannot "
					       "use host path %s",
					       spec, src);
		path = strdup(src);
	} else {
		r = volume_path(e, rootfd, src, dst, &path, err);
		if (r < 0)
			return r;
	}
	if (!path)
		return -ENOMEM;
	r = bind_options("--mount", spec, str(m, "Propagation"),
			 flag(m, "ReadOnly"), &o, err);
	if (r < 0)
		return r;
	mounts_put(mounts, bind_json(path, dst, o));
	return 0;
}

static int add_mounts(struct cove_engine *e, int rootfd, const char *dir,
		      json_t *spec, const json_t *config,
		      struct cove_error *err)
{
	const json_t *host = json_object_get(config, "HostConfig");
	json_t *mounts = json_object_get(spec, "mounts"), *v;
	const char *k;
	size_t i;
	int r;

	if (!json_is_array(mounts)) {
		mounts = json_array();
		json_object_set_new(spec, "mounts", mounts);
	}
	/*
	 * The engine's /etc files, and with --userns keep-id the image's
	 * passwd and group plus the user, when the container has them.
	 */
	{
		static const char *const files[] = {
		    "hostname", "hosts", "resolv.conf", "passwd", "group"};
		/* --network container:ID: that container's first three */
		_cleanup_free_ char *peer = cove_engine_net_peer_dir(e, config);
		for (i = 0; i < ARRAY_SIZE(files); i++) {
			_cleanup_free_ char *src = cove_strdup_printf(
			    "%s/%s", peer && i < 3 ? peer : dir, files[i]);
			_cleanup_free_ char *dst =
			    cove_strdup_printf("/etc/%s", files[i]);
			const char *opts[] = {"rbind", "rprivate", "nosuid",
					      "nodev", "noexec",   NULL};
			if (!src || !dst)
				return -ENOMEM;
			if (i < 3 || access(src, F_OK) == 0)
				mounts_put(mounts,
					   mount_json(dst, "bind", src, opts));
		}
	}
	json_array_foreach(json_object_get(host, "Binds"), i, v)
	{
		r = add_bind(e, rootfd, mounts, json_string_value(v), err);
		if (r < 0)
			return r;
	}
	json_object_foreach((json_t *)json_object_get(host, "Tmpfs"), k, v)
	{
		r = add_tmpfs(mounts, k, json_string_value(v), k, err);
		if (r < 0)
			return r;
	}
	json_array_foreach(json_object_get(host, "Mounts"), i, v)
	{
		r = add_mount(e, rootfd, mounts, v, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static void set_resources(json_t *lx, const json_t *host)
{
	json_t *res = json_object_get(lx, "resources");

	if (!res) {
		res = json_object();
		json_object_set_new(lx, "resources", res);
	}
	/* memory, cpu, cpuset, pids, blockIO: resources.c */
	cove_engine_resources_fill(res, host, false);
}

static void set_ulimits(json_t *proc, const json_t *host)
{
	json_t *rl = json_object_get(proc, "rlimits"), *u;
	size_t i;

	if (!json_is_array(rl)) {
		rl = json_array();
		json_object_set_new(proc, "rlimits", rl);
	}
	json_array_foreach(json_object_get(host, "Ulimits"), i, u)
	{
		_cleanup_free_ char *type = NULL;
		json_t *r = json_object(), *old;
		size_t j;

		type = cove_strdup_printf("RLIMIT_%s", str(u, "Name"));
		for (char *p = type; p && *p; p++)
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - 'a' + 'A');
		json_array_foreach(rl, j, old)
		{
			if (type && !strcmp(str(old, "type"), type)) {
				json_array_remove(rl, j);
				break;
			}
		}
		json_object_set_new(r, "type", json_string(type));
		json_object_set_new(r, "soft", json_integer(i64(u, "Soft")));
		json_object_set_new(r, "hard", json_integer(i64(u, "Hard")));
		json_array_append_new(rl, r);
	}
}

static void make_privileged(json_t *spec)
{
	json_t *lx = json_object_get(spec, "linux");
	json_t *res = json_object_get(lx, "resources");
	json_t *devs = json_array(), *d = json_object();

	json_object_del(lx, "maskedPaths");
	json_object_del(lx, "readonlyPaths");
	json_object_del(lx, "seccomp");
	json_object_set_new(d, "allow", json_true());
	json_object_set_new(d, "access", json_string("rwm"));
	json_array_append_new(devs, d);
	if (res)
		json_object_set_new(res, "devices", devs);
	else
		json_decref(devs);
	json_object_set_new(json_object_get(spec, "process"), "noNewPrivileges",
			    json_false());
}

/*
 * --security-opt seccomp=FILE: an OCI linux.seccomp object, or docker's
 * profile format (archMap and per-rule includes/excludes by capability or
 * architecture, evaluated here for this host's x86_64 and @caps).
 */
static int load_seccomp(const char *file, char *const *caps, json_t **ret,
			struct cove_error *err)
{
	_cleanup_json_ json_t *doc = NULL;
	json_t *out, *rules, *r;
	size_t i;
	int rc = cove_json_load_file(file, 4 << 20, &doc, err);

	if (rc < 0)
		return rc;
	if (!json_is_object(doc) || !str(doc, "defaultAction"))
		return cove_error_set(err, EINVAL,
				      "%s: invalid seccomp profile: "
				      "'defaultAction' is required",
				      file);
	out = json_object();
	json_object_set(out, "defaultAction",
			json_object_get(doc, "defaultAction"));
	if (json_object_get(doc, "defaultErrnoRet"))
		json_object_set(out, "defaultErrnoRet",
				json_object_get(doc, "defaultErrnoRet"));
	if (json_object_get(doc, "architectures"))
		json_object_set(out, "architectures",
				json_object_get(doc, "architectures"));
	else if (json_object_get(doc, "archMap")) {
		json_t *arches = json_array(), *m;
		json_array_foreach(json_object_get(doc, "archMap"), i, m)
		{
			if (!strcmp(str(m, "architecture") ?: "",
				    "SCMP_ARCH_X86_64")) {
				size_t j;
				json_t *s;
				json_array_append(
				    arches, json_object_get(m, "architecture"));
				json_array_foreach(
				    json_object_get(m, "subArchitectures"), j,
				    s) json_array_append(arches, s);
			}
		}
		json_object_set_new(out, "architectures", arches);
	}
	rules = json_array();
	json_array_foreach(json_object_get(doc, "syscalls"), i, r)
	{
		const json_t *inc = json_object_get(r, "includes");
		const json_t *exc = json_object_get(r, "excludes");
		json_t *rule, *c;
		size_t j;
		bool keep = true;

		json_array_foreach(json_object_get(inc, "caps"), j, c) keep =
		    keep && cove_strv_contains(caps, json_string_value(c));
		if (json_array_size(json_object_get(inc, "arches"))) {
			bool any = false;
			json_array_foreach(json_object_get(inc, "arches"), j, c)
			    any =
				any ||
				!strcmp(json_string_value(c) ?: "", "amd64") ||
				!strcmp(json_string_value(c) ?: "", "x86_64");
			keep = keep && any;
		}
		json_array_foreach(json_object_get(exc, "caps"), j, c) keep =
		    keep && !cove_strv_contains(caps, json_string_value(c));
		if (!keep)
			continue;
		rule = json_object();
		json_object_set(rule, "names", json_object_get(r, "names"));
		json_object_set(rule, "action", json_object_get(r, "action"));
		if (json_object_get(r, "args"))
			json_object_set(rule, "args",
					json_object_get(r, "args"));
		if (json_object_get(r, "errnoRet"))
			json_object_set(rule, "errnoRet",
					json_object_get(r, "errnoRet"));
		json_array_append_new(rules, rule);
	}
	json_object_set_new(out, "syscalls", rules);
	*ret = out;
	return 0;
}

static int security_opts(json_t *spec, const json_t *host,
			 struct cove_error *err)
{
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(host, "SecurityOpt"), i, v)
	{
		const char *o = json_string_value(v);
		if (!strncmp(o, "seccomp=", 8) || !strncmp(o, "seccomp:", 8)) {
			json_t *lx = json_object_get(spec, "linux"),
			       *prof = NULL;
			_cleanup_strv_ char **caps = strv(
			    json_object_get(json_object_get(spec, "process"),
					    "capabilities"),
			    "bounding");
			int r;
			if (!strcmp(o + 8, "unconfined")) {
				json_object_del(lx, "seccomp");
				continue;
			}
			r = load_seccomp(o + 8, caps, &prof, err);
			if (r < 0)
				return cove_error_wrap(
				    err, "invalid --security-opt '%s'", o);
			json_object_set_new(lx, "seccomp", prof);
		} else if (!strcmp(o, "no-new-privileges") ||
			   !strcmp(o, "no-new-privileges=true") ||
			   !strcmp(o, "no-new-privileges:true")) {
			json_object_set_new(json_object_get(spec, "process"),
					    "noNewPrivileges", json_true());
		} else if (!strcmp(o, "no-new-privileges=false") ||
			   !strcmp(o, "no-new-privileges:false")) {
			json_object_set_new(json_object_get(spec, "process"),
					    "noNewPrivileges", json_false());
		} else if (!strncmp(o, "label=", 6) ||
			   !strncmp(o, "label:", 6) ||
			   !strcmp(o, "apparmor=unconfined") ||
			   !strcmp(o, "apparmor:unconfined")) {
			/* no SELinux or AppArmor on this kernel: disabling
			 * them is what already happens */
		} else {
			return cove_error_set(err, EINVAL,
					      "invalid --security-opt '%s': "
					      "supported are seccomp=FILE|"
					      "unconfined, no-new-privileges, "
					      "label=disable",
					      o);
		}
	}
	return 0;
}

int cove_engine_build_spec(struct cove_engine *e, const char *id,
			   const char *name, const json_t *config,
			   const struct cove_image *img, const char *rootfs,
			   const char *hostname, json_t **ret,
			   struct cove_error *err)
{
	const json_t *host = json_object_get(config, "HostConfig");
	const char *net = str(host, "NetworkMode");
	const char *cgparent = str(host, "CgroupParent");
	_cleanup_strv_ char **entrypoint = strv(config, "Entrypoint"),
			    **cmd = strv(config, "Cmd"),
			    **env = strv(config, "Env"),
			    **cap_add = strv(host, "CapAdd"),
			    **cap_drop = strv(host, "CapDrop"),
			    **bounding = NULL;
	_cleanup_free_ char *cgpath = NULL, *dir = NULL, *netns = NULL;
	_cleanup_free_ char *peer_hn = NULL; /* --network container:ID */
	_cleanup_close_ int rootfd = -1;
	_cleanup_json_ json_t *spec = NULL;
	struct cove_bundle_opts bo = {0};
	json_t *lx, *proc;
	bool privileged = flag(host, "Privileged");
	int r;

	if (!net)
		net = "bridge";
	dir = cove_engine_ctr_dir(e, id);
	if (!dir)
		return -ENOMEM;
	if (!e->rootless) {
		cgpath = cove_strdup_printf(
		    "%s/%s", cgparent && *cgparent ? cgparent : "/cove", id);
		if (!cgpath)
			return -ENOMEM;
		/* "/a//id" when the parent ends in a slash */
		for (char *p = cgpath; *p; p++)
			while (p[0] == '/' && p[1] == '/')
				memmove(p, p + 1, strlen(p));
	}
	bo.rootfs = rootfs;
	bo.entrypoint = json_is_array(json_object_get(config, "Entrypoint"))
			    ? entrypoint
			    : NULL;
	if (bo.entrypoint && !entrypoint)
		return -ENOMEM;
	bo.cmd = cmd;
	bo.env = env;
	bo.user = str(config, "User");
	bo.workdir = str(config, "WorkingDir");
	bo.hostname = hostname;
	peer_hn = cove_engine_net_peer_hostname(e, config);
	if (peer_hn)
		bo.hostname = peer_hn;
	bo.terminal = flag(config, "Tty");
	bo.read_only = flag(host, "ReadonlyRootfs");
	if (privileged) {
		/*
		 * Every capability cove itself may pass on: those of its
		 * bounding set.  "ALL" would ask for ones the kernel refuses
		 * (root here lacks CAP_SYS_RESOURCE).
		 */
		for (size_t i = 0; i < cove_cap_names_n; i++)
			if (cove_cap_names[i] &&
			    prctl(PR_CAPBSET_READ, (unsigned long)i, 0, 0, 0) ==
				1 &&
			    cove_strv_push(&bounding, cove_cap_names[i]) < 0)
				return -ENOMEM;
		bo.cap_add = bounding;
		bo.cap_drop = NULL;
	} else {
		bo.cap_add = cap_add;
		bo.cap_drop = cap_drop;
	}
	bo.host_network = !strcmp(net, "host");
	/* rootless: already in the user namespace, no second one */
	bo.rootless = false;
	bo.cgroups_path = cgpath;
	rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return cove_error_setx(err, errno, "cannot open %s", rootfs);
	r = cove_bundle_spec(img->config_json, rootfd, &bo, &spec, err);
	if (r < 0)
		return r;
	lx = json_object_get(spec, "linux");
	proc = json_object_get(spec, "process");

	r = add_mounts(e, rootfd, dir, spec, config, err);
	if (r < 0)
		return r;
	/* container:ID: its namespace is joined at each start (ctrnet.c) */
	if (strcmp(net, "host") && strcmp(net, "none") &&
	    !cove_netmode_container(net)) {
		json_t *ns;
		size_t i;
		netns = cove_strdup_printf("%s/netns/%s", e->runroot, id);
		if (!netns)
			return -ENOMEM;
		json_array_foreach(json_object_get(lx, "namespaces"), i, ns)
		{
			if (!strcmp(str(ns, "type"), "network"))
				json_object_set_new(ns, "path",
						    json_string(netns));
		}
	}
	{
		/*
		 * The cgroup namespace: podman's default, private on a
		 * cgroup v2 host and the host's on v1 and hybrid ones, where
		 * a private one buys little (the v1 mounts show the
		 * container's own cgroups anyway) and costs a second clone
		 * stage at every start.
		 */
		const char *mode = str(host, "CgroupnsMode");
		enum cove_cgroup_mode cg = COVE_CGROUP_NONE;
		bool private_ns;
		if (mode && *mode)
			private_ns = !strcmp(mode, "private");
		else
			private_ns = cove_cgroup_detect(NULL, &cg) == 0 &&
				     cg == COVE_CGROUP_V2;
		if (!private_ns) {
			json_t *nss = json_object_get(lx, "namespaces"), *ns;
			size_t i;
			json_array_foreach(nss, i, ns)
			{
				if (!strcmp(str(ns, "type"), "cgroup")) {
					json_array_remove(nss, i);
					break;
				}
			}
		}
	}
	/* --userns: a user namespace of its own, or one joined (userns.h) */
	r = cove_engine_userns_spec(config, img->config_json, dir, spec, err);
	if (r < 0)
		return r;
	if (!e->rootless)
		set_resources(lx, host);
	set_ulimits(proc, host);
	/* oomScoreAdj, umask, annotations, --tz (resources.c) */
	r = cove_engine_process_options(spec, config, dir, err);
	if (r < 0)
		return r;
	if (privileged)
		make_privileged(spec);
	r = security_opts(spec, host, err);
	if (r < 0)
		return r;
	/* --pid/--ipc/--uts, --device, --group-add, --sysctl, --shm-size */
	r = cove_engine_ctrns_spec(e, config, dir, rootfd, spec, err);
	if (r < 0)
		return r;
	if (flag(host, "Init")) {
		/* a reaper as pid 1: cove-init bound at /dev/init, as podman
		 * binds catatonit */
		json_t *args = json_object_get(proc, "args");
		const char *init = cove_engine_helper_path("cove-init");
		const char *opts[] = {"bind", "ro", "nosuid", "nodev", NULL};
		if (!init)
			return cove_error_set(err, ENOENT,
					      "--init: the cove-init binary "
					      "was not found next to cove or "
					      "in /usr/libexec/cove");
		json_array_insert_new(args, 0, json_string("--"));
		json_array_insert_new(args, 0, json_string("/dev/init"));
		json_array_append_new(
		    json_object_get(spec, "mounts"),
		    mount_json("/dev/init", "bind", init, opts));
	}
	{
		json_t *ann = json_object_get(spec, "annotations");
		if (!ann) {
			ann = json_object();
			json_object_set_new(spec, "annotations", ann);
		}
		json_object_set_new(ann, "io.cove.container.name",
				    json_string(name));
		json_object_set_new(ann, "io.cove.container.image",
				    json_string(str(config, "Image")));
	}
	*ret = TAKE_PTR(spec);
	return 0;
}

/* ---- /etc files ---------------------------------------------------------- */

int cove_engine_write_hosts(const char *dir, const json_t *config,
			    const char *hostname, const char *ip,
			    char *const *peers, struct cove_error *err)
{
	const json_t *host = json_object_get(config, "HostConfig");
	_cleanup_free_ char *path = cove_strdup_printf("%s/hosts", dir);
	_cleanup_fclose_ FILE *f = NULL;
	json_t *v;
	size_t i;

	if (!path)
		return -ENOMEM;
	/* in place ("r+" or create): the container binds this inode */
	f = fopen(path, "re+");
	if (!f)
		f = fopen(path, "we");
	if (!f)
		return cove_error_setx(err, errno, "cannot write %s", path);
	if (ftruncate(fileno(f), 0) < 0)
		return cove_error_setx(err, errno, "cannot write %s", path);
	fprintf(f, "127.0.0.1\tlocalhost localhost.localdomain\n"
		   "::1\tlocalhost localhost.localdomain ip6-localhost\n");
	if (ip)
		fprintf(f, "%s\t%s\n", ip, hostname);
	else
		fprintf(f, "127.0.1.1\t%s\n", hostname);
	json_array_foreach(json_object_get(host, "ExtraHosts"), i, v)
	{
		const char *h = json_string_value(v);
		const char *colon = h ? strchr(h, ':') : NULL;
		if (!colon)
			continue;
		fprintf(f, "%s\t%.*s\n", colon + 1, (int)(colon - h), h);
	}
	for (size_t j = 0; peers && peers[j]; j++)
		fprintf(f, "%s\n", peers[j]);
	if (fflush(f) != 0)
		return cove_error_setx(err, errno, "cannot write %s", path);
	return 0;
}

int cove_engine_filtered_resolv(const char *path, char **ret)
{
	_cleanup_free_ char *buf = NULL, *out = NULL;
	size_t len = 0;
	int r = cove_read_file(path, 1 << 20, &buf, NULL);

	if (r < 0 && r != -ENOENT)
		return r;
	out = calloc(1, buf ? strlen(buf) + 1 : 1);
	if (!out)
		return -ENOMEM;
	for (char *line = buf, *next; line && *line; line = next) {
		size_t n;
		next = strchr(line, '\n');
		n = next ? (size_t)(next - line) + 1 : strlen(line);
		if (next)
			next++;
		if (!strncmp(line, "nameserver", 10)) {
			const char *a = line + 10;
			a += strspn(a, " \t");
			if (!strncmp(a, "127.", 4) || !strncmp(a, "::1", 3))
				continue;
		}
		memcpy(out + len, line, n);
		len += n;
	}
	*ret = TAKE_PTR(out);
	return 0;
}
