/*
 * config.json parsing and validation.
 *
 * The parser is a set of small functions, one per object of the spec, each
 * taking the object and its dotted path, so that every error names the field
 * exactly.  Sub-objects owned by other modules (capabilities, seccomp,
 * resources, scheduler) are only type-checked here and kept as borrowed
 * pointers into spec->root; their owners validate them.
 */
#include "runtime/spec.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "util/cleanup.h"
#include "util/json.h"
#include "util/strutil.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static const struct {
	const char *oci;  /* name in linux.namespaces[].type */
	const char *proc; /* name under /proc/PID/ns */
	int flag;
} ns_table[COVE_NS_MAX] = {
    [COVE_NS_PID] = {"pid", "pid", CLONE_NEWPID},
    [COVE_NS_NET] = {"network", "net", CLONE_NEWNET},
    [COVE_NS_MNT] = {"mount", "mnt", CLONE_NEWNS},
    [COVE_NS_IPC] = {"ipc", "ipc", CLONE_NEWIPC},
    [COVE_NS_UTS] = {"uts", "uts", CLONE_NEWUTS},
    [COVE_NS_USER] = {"user", "user", CLONE_NEWUSER},
    [COVE_NS_CGROUP] = {"cgroup", "cgroup", CLONE_NEWCGROUP},
    [COVE_NS_TIME] = {"time", "time", CLONE_NEWTIME},
};

const char *cove_ns_name(enum cove_ns_type t)
{
	return t < COVE_NS_MAX ? ns_table[t].oci : NULL;
}

const char *cove_ns_proc_name(enum cove_ns_type t)
{
	return t < COVE_NS_MAX ? ns_table[t].proc : NULL;
}

int cove_ns_clone_flag(enum cove_ns_type t)
{
	return t < COVE_NS_MAX ? ns_table[t].flag : 0;
}

static const struct {
	const char *name;
	int resource;
} rlimit_table[] = {
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
};

int cove_rlimit_from_name(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(rlimit_table); i++)
		if (!strcmp(rlimit_table[i].name, name))
			return rlimit_table[i].resource;
	return -1;
}

/* ---- mounts ---------------------------------------------------------- */

static const struct {
	const char *name;
	bool clear; /* the option clears the flag instead of setting it */
	unsigned long flag;
} mount_flag_table[] = {
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"nosuid", false, MS_NOSUID},
    {"suid", true, MS_NOSUID},
    {"nodev", false, MS_NODEV},
    {"dev", true, MS_NODEV},
    {"noexec", false, MS_NOEXEC},
    {"exec", true, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS},
    {"async", true, MS_SYNCHRONOUS},
    {"dirsync", false, MS_DIRSYNC},
    {"remount", false, MS_REMOUNT},
    {"mand", false, MS_MANDLOCK},
    {"nomand", true, MS_MANDLOCK},
    {"atime", true, MS_NOATIME},
    {"noatime", false, MS_NOATIME},
    {"diratime", true, MS_NODIRATIME},
    {"nodiratime", false, MS_NODIRATIME},
    {"relatime", false, MS_RELATIME},
    {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"silent", false, MS_SILENT},
    {"loud", true, MS_SILENT},
    {"lazytime", false, MS_LAZYTIME},
    {"nolazytime", true, MS_LAZYTIME},
    {"iversion", false, MS_I_VERSION},
    {"noiversion", true, MS_I_VERSION},
};

static const struct {
	const char *name;
	unsigned long flag;
} propagation_table[] = {
    {"private", MS_PRIVATE},	   {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},	   {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},	   {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

static int append_data(char **data, const char *opt)
{
	char *n;
	if (!*data) {
		*data = strdup(opt);
		return *data ? 0 : -ENOMEM;
	}
	n = cove_strdup_printf("%s,%s", *data, opt);
	if (!n)
		return -ENOMEM;
	free(*data);
	*data = n;
	return 0;
}

int cove_mount_parse_options(struct cove_mount *m, struct cove_error *err)
{
	if (m->type && (!strcmp(m->type, "bind") || !strcmp(m->type, "rbind")))
		m->bind = true;
	if (m->type && !strcmp(m->type, "rbind"))
		m->recursive_bind = true;

	for (char **o = m->options; o && *o; o++) {
		const char *opt = *o;
		bool done = false;

		if (!strcmp(opt, "bind")) {
			m->bind = true;
			continue;
		}
		if (!strcmp(opt, "rbind")) {
			m->bind = m->recursive_bind = true;
			continue;
		}
		if (!strcmp(opt, "idmap") || !strcmp(opt, "ridmap")) {
			m->idmap = true;
			continue;
		}
		/* Recursive read-only etc. (mount_setattr) */
		if (!strcmp(opt, "rro") || !strcmp(opt, "rrw") ||
		    !strcmp(opt, "rnosuid") || !strcmp(opt, "rsuid") ||
		    !strcmp(opt, "rnodev") || !strcmp(opt, "rdev") ||
		    !strcmp(opt, "rnoexec") || !strcmp(opt, "rexec") ||
		    !strcmp(opt, "rnoatime") || !strcmp(opt, "ratime") ||
		    !strcmp(opt, "rrelatime") || !strcmp(opt, "rnorelatime") ||
		    !strcmp(opt, "rstrictatime") ||
		    !strcmp(opt, "rnodiratime") || !strcmp(opt, "rdiratime")) {
			/*
			 * Applied as the non-recursive flag on every submount
			 * by the mount code (it walks the tree); recorded as
			 * the plain flag here.
			 */
			opt++;
		}
		for (size_t i = 0; i < ARRAY_SIZE(mount_flag_table); i++) {
			if (strcmp(mount_flag_table[i].name, opt))
				continue;
			if (mount_flag_table[i].clear) {
				m->flags &= ~mount_flag_table[i].flag;
				m->clear_flags |= mount_flag_table[i].flag;
			} else {
				m->flags |= mount_flag_table[i].flag;
				m->clear_flags &= ~mount_flag_table[i].flag;
			}
			done = true;
			break;
		}
		if (done)
			continue;
		for (size_t i = 0; i < ARRAY_SIZE(propagation_table); i++) {
			if (strcmp(propagation_table[i].name, opt))
				continue;
			m->propagation = propagation_table[i].flag;
			done = true;
			break;
		}
		if (done)
			continue;
		if (!strcmp(opt, "tmpcopyup") || !strcmp(opt, "copy-symlink") ||
		    !strcmp(opt, "notmpcopyup") || !strcmp(opt, "nocopy"))
			continue; /* engine-level hints, harmless here */
		if (strchr(opt, ',') != NULL)
			return cove_error_set(err, EINVAL,
					      "invalid mount option '%s' for "
					      "'%s': contains a comma",
					      opt, m->destination);
		/* Anything else is filesystem data ("size=64m", "mode=755"). */
		if (append_data(&m->data, opt) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int parse_id_mappings(json_t *arr, const char *path,
			     struct cove_id_mapping **ret, size_t *ret_n,
			     struct cove_error *err)
{
	_cleanup_free_ struct cove_id_mapping *maps = NULL;
	json_t *e;
	size_t i;
	char sub[128];

	*ret = NULL;
	*ret_n = 0;
	if (!arr)
		return 0;
	if (json_array_size(arr) > 340) /* kernel limit on uid_map lines */
		return cove_error_set(
		    err, EINVAL, "invalid '%s': more than 340 entries", path);
	maps = calloc(json_array_size(arr) + 1, sizeof(*maps));
	if (!maps)
		return -ENOMEM;
	json_array_foreach(arr, i, e)
	{
		bool p1, p2, p3;
		int r;

		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (!json_is_object(e))
			return cove_error_set(
			    err, EINVAL, "invalid '%s': expected an object",
			    sub);
		r = cove_json_uint32(e, sub, "containerID",
				     &maps[i].container_id, &p1, err);
		if (r >= 0)
			r = cove_json_uint32(e, sub, "hostID", &maps[i].host_id,
					     &p2, err);
		if (r >= 0)
			r = cove_json_uint32(e, sub, "size", &maps[i].size, &p3,
					     err);
		if (r < 0)
			return r;
		if (!p1 || !p2 || !p3)
			return cove_error_set(err, EINVAL,
					      "invalid '%s': containerID, "
					      "hostID and size are required",
					      sub);
		if (maps[i].size == 0)
			return cove_error_set(
			    err, EINVAL, "invalid '%s.size': must be > 0", sub);
	}
	*ret_n = json_array_size(arr);
	*ret = TAKE_PTR(maps);
	return 0;
}

/* A mount destination must be absolute and free of ".." components. */
static int check_destination(const char *dest, const char *path,
			     struct cove_error *err)
{
	const char *p = dest;

	if (!dest || dest[0] != '/')
		return cove_error_set(
		    err, EINVAL,
		    "invalid '%s.destination': must be an absolute path", path);
	while ((p = strstr(p, ".."))) {
		bool start = p == dest || p[-1] == '/';
		bool end = p[2] == '\0' || p[2] == '/';
		if (start && end)
			return cove_error_set(
			    err, EINVAL,
			    "invalid '%s.destination': '%s' contains '..'",
			    path, dest);
		p += 2;
	}
	return 0;
}

static int parse_mounts(json_t *arr, struct cove_spec *spec,
			struct cove_error *err)
{
	json_t *e;
	size_t i;
	char path[64];

	if (!arr)
		return 0;
	spec->mounts = calloc(json_array_size(arr) + 1, sizeof(*spec->mounts));
	if (!spec->mounts)
		return -ENOMEM;
	json_array_foreach(arr, i, e)
	{
		struct cove_mount *m = &spec->mounts[i];
		const char *s;
		json_t *maps;
		int r;

		spec->n_mounts = i + 1;
		snprintf(path, sizeof(path), "mounts[%zu]", i);
		if (!json_is_object(e))
			return cove_error_set(
			    err, EINVAL, "invalid '%s': expected an object",
			    path);
		r = cove_json_string(e, path, "destination", &s, err);
		if (r < 0)
			return r;
		r = check_destination(s, path, err);
		if (r < 0)
			return r;
		m->destination = strdup(s);
		r = cove_json_string(e, path, "source", &s, err);
		if (r < 0)
			return r;
		if (s)
			m->source = strdup(s);
		r = cove_json_string(e, path, "type", &s, err);
		if (r < 0)
			return r;
		if (s)
			m->type = strdup(s);
		r = cove_json_strv(e, path, "options", &m->options, err);
		if (r < 0)
			return r;
		r = cove_mount_parse_options(m, err);
		if (r < 0)
			return r;
		r = cove_json_array(e, path, "uidMappings", &maps, err);
		if (r >= 0) {
			char sub[96];
			snprintf(sub, sizeof(sub), "%s.uidMappings", path);
			r = parse_id_mappings(maps, sub, &m->uid_mappings,
					      &m->n_uid_mappings, err);
		}
		if (r >= 0)
			r = cove_json_array(e, path, "gidMappings", &maps, err);
		if (r >= 0) {
			char sub[96];
			snprintf(sub, sizeof(sub), "%s.gidMappings", path);
			r = parse_id_mappings(maps, sub, &m->gid_mappings,
					      &m->n_gid_mappings, err);
		}
		if (r < 0)
			return r;
		if ((m->n_uid_mappings || m->n_gid_mappings) && !m->idmap)
			m->idmap = true;
		if (m->idmap && !m->bind)
			return cove_error_set(err, EINVAL,
					      "invalid '%s': idmap is only "
					      "supported for bind mounts",
					      path);
		if (!m->destination || (m->source == NULL && m->bind))
			return cove_error_set(
			    err, EINVAL,
			    "invalid '%s': a bind mount needs a source", path);
		if (!m->type && !m->bind)
			return cove_error_set(
			    err, EINVAL,
			    "invalid '%s': 'type' is required unless the mount "
			    "is a bind mount",
			    path);
	}
	return 0;
}

/* ---- process --------------------------------------------------------- */

static int parse_user(json_t *obj, const char *path, struct cove_user *u,
		      struct cove_error *err)
{
	uint32_t v = 0;
	bool present;
	json_t *gids, *e;
	size_t i;
	int r;

	if (!obj)
		return 0;
	r = cove_json_uint32(obj, path, "uid", &v, &present, err);
	if (r < 0)
		return r;
	u->uid = v;
	v = 0;
	r = cove_json_uint32(obj, path, "gid", &v, &present, err);
	if (r < 0)
		return r;
	u->gid = v;
	r = cove_json_uint32(obj, path, "umask", &v, &u->has_umask, err);
	if (r < 0)
		return r;
	if (u->has_umask) {
		if (v > 0777)
			return cove_error_set(
			    err, EINVAL, "invalid '%s.umask': must be <= 0777",
			    path);
		u->umask = v;
	}
	r = cove_json_array(obj, path, "additionalGids", &gids, err);
	if (r < 0)
		return r;
	if (gids) {
		if (json_array_size(gids) > 65536)
			return cove_error_set(
			    err, EINVAL,
			    "invalid '%s.additionalGids': too many entries",
			    path);
		u->additional_gids =
		    calloc(json_array_size(gids) + 1, sizeof(gid_t));
		if (!u->additional_gids)
			return -ENOMEM;
		json_array_foreach(gids, i, e)
		{
			if (!json_is_integer(e) || json_integer_value(e) < 0 ||
			    json_integer_value(e) > UINT32_MAX)
				return cove_error_set(
				    err, EINVAL,
				    "invalid '%s.additionalGids[%zu]': "
				    "expected an unsigned 32-bit integer",
				    path, i);
			u->additional_gids[i] = (gid_t)json_integer_value(e);
		}
		u->n_additional_gids = json_array_size(gids);
	}
	{
		const char *name;
		r = cove_json_string(obj, path, "username", &name, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_rlimits(json_t *arr, const char *path, struct cove_process *p,
			 struct cove_error *err)
{
	json_t *e;
	size_t i;
	char sub[96];

	if (!arr)
		return 0;
	p->rlimits = calloc(json_array_size(arr) + 1, sizeof(*p->rlimits));
	if (!p->rlimits)
		return -ENOMEM;
	json_array_foreach(arr, i, e)
	{
		const char *type;
		bool hs, hh;
		int r;

		snprintf(sub, sizeof(sub), "%s.rlimits[%zu]", path, i);
		if (!json_is_object(e))
			return cove_error_set(
			    err, EINVAL, "invalid '%s': expected an object",
			    sub);
		r = cove_json_string(e, sub, "type", &type, err);
		if (r < 0)
			return r;
		if (!type || cove_rlimit_from_name(type) < 0)
			return cove_error_set(
			    err, EINVAL,
			    "invalid '%s.type': unknown rlimit '%s'", sub,
			    type ? type : "");
		for (size_t j = 0; j < i; j++)
			if (p->rlimits[j].resource ==
			    cove_rlimit_from_name(type))
				return cove_error_set(
				    err, EINVAL,
				    "invalid '%s.type': duplicate rlimit '%s'",
				    sub, type);
		p->rlimits[i].resource = cove_rlimit_from_name(type);
		r = cove_json_uint64(e, sub, "soft", &p->rlimits[i].soft, &hs,
				     err);
		if (r >= 0)
			r = cove_json_uint64(e, sub, "hard",
					     &p->rlimits[i].hard, &hh, err);
		if (r < 0)
			return r;
		if (!hs || !hh)
			return cove_error_set(
			    err, EINVAL,
			    "invalid '%s': soft and hard are required", sub);
		if (p->rlimits[i].soft > p->rlimits[i].hard)
			return cove_error_set(
			    err, EINVAL,
			    "invalid '%s': soft limit %llu above hard limit "
			    "%llu",
			    sub, (unsigned long long)p->rlimits[i].soft,
			    (unsigned long long)p->rlimits[i].hard);
		p->n_rlimits = i + 1;
	}
	return 0;
}

int cove_process_parse(json_t *obj, const char *path, struct cove_process *p,
		       struct cove_error *err)
{
	json_t *sub;
	const char *s;
	char spath[96];
	int64_t oom = 0;
	int r;

	memset(p, 0, sizeof(*p));
	if (!json_is_object(obj))
		return cove_error_set(err, EINVAL,
				      "invalid '%s': expected an object", path);

	r = cove_json_bool(obj, path, "terminal", &p->terminal, err);
	if (r < 0)
		return r;
	r = cove_json_object(obj, path, "consoleSize", &sub, err);
	if (r < 0)
		return r;
	if (sub) {
		snprintf(spath, sizeof(spath), "%s.consoleSize", path);
		r = cove_json_uint32(sub, spath, "height", &p->console_height,
				     NULL, err);
		if (r >= 0)
			r = cove_json_uint32(sub, spath, "width",
					     &p->console_width, NULL, err);
		if (r < 0)
			return r;
		if (p->console_height > 0xffff || p->console_width > 0xffff)
			return cove_error_set(
			    err, EINVAL, "invalid '%s': dimensions above 65535",
			    spath);
	}
	r = cove_json_object(obj, path, "user", &sub, err);
	if (r < 0)
		return r;
	snprintf(spath, sizeof(spath), "%s.user", path);
	r = parse_user(sub, spath, &p->user, err);
	if (r < 0)
		return r;
	r = cove_json_strv(obj, path, "args", &p->args, err);
	if (r < 0)
		return r;
	r = cove_json_string(obj, path, "commandLine", &s, err);
	if (r < 0)
		return r;
	if (s)
		return cove_error_set(
		    err, EINVAL,
		    "invalid '%s.commandLine': only supported on Windows",
		    path);
	if (!p->args || !p->args[0] || !p->args[0][0])
		return cove_error_set(
		    err, EINVAL,
		    "invalid '%s.args': must name the program to run", path);
	r = cove_json_strv(obj, path, "env", &p->env, err);
	if (r < 0)
		return r;
	for (size_t i = 0; p->env && p->env[i]; i++)
		if (!strchr(p->env[i], '='))
			return cove_error_set(
			    err, EINVAL,
			    "invalid '%s.env[%zu]': '%s' is not NAME=VALUE",
			    path, i, p->env[i]);
	r = cove_json_string(obj, path, "cwd", &s, err);
	if (r < 0)
		return r;
	if (!s || s[0] != '/')
		return cove_error_set(
		    err, EINVAL, "invalid '%s.cwd': must be an absolute path",
		    path);
	p->cwd = strdup(s);
	r = cove_json_object(obj, path, "capabilities", &p->capabilities, err);
	if (r < 0)
		return r;
	r = cove_json_array(obj, path, "rlimits", &sub, err);
	if (r < 0)
		return r;
	r = parse_rlimits(sub, path, p, err);
	if (r < 0)
		return r;
	r = cove_json_bool(obj, path, "noNewPrivileges", &p->no_new_privileges,
			   err);
	if (r < 0)
		return r;
	r = cove_json_int64(obj, path, "oomScoreAdj", &oom,
			    &p->has_oom_score_adj, err);
	if (r < 0)
		return r;
	if (p->has_oom_score_adj && (oom < -1000 || oom > 1000))
		return cove_error_set(
		    err, EINVAL,
		    "invalid '%s.oomScoreAdj': must be between -1000 and 1000",
		    path);
	p->oom_score_adj = (int)oom;
	r = cove_json_string(obj, path, "apparmorProfile", &s, err);
	if (r < 0)
		return r;
	if (s && *s)
		p->apparmor_profile = strdup(s);
	r = cove_json_string(obj, path, "selinuxLabel", &s, err);
	if (r < 0)
		return r;
	if (s && *s)
		p->selinux_label = strdup(s);
	r = cove_json_object(obj, path, "scheduler", &p->scheduler, err);
	if (r >= 0)
		r = cove_json_object(obj, path, "ioPriority", &p->io_priority,
				     err);
	if (r >= 0)
		r = cove_json_object(obj, path, "execCPUAffinity",
				     &p->exec_cpu_affinity, err);
	if (r < 0)
		return r;
	return 0;
}

void cove_process_release(struct cove_process *p)
{
	cove_strv_free(p->args);
	cove_strv_free(p->env);
	free(p->cwd);
	free(p->rlimits);
	free(p->user.additional_gids);
	free(p->apparmor_profile);
	free(p->selinux_label);
	free(p->command_line);
	memset(p, 0, sizeof(*p));
}

/* ---- hooks ------------------------------------------------------------ */

static const char *hook_names[COVE_HOOK_MAX] = {
    [COVE_HOOK_PRESTART] = "prestart",
    [COVE_HOOK_CREATE_RUNTIME] = "createRuntime",
    [COVE_HOOK_CREATE_CONTAINER] = "createContainer",
    [COVE_HOOK_START_CONTAINER] = "startContainer",
    [COVE_HOOK_POSTSTART] = "poststart",
    [COVE_HOOK_POSTSTOP] = "poststop",
};

static int parse_hooks(json_t *obj, struct cove_spec *spec,
		       struct cove_error *err)
{
	if (!obj)
		return 0;
	for (int k = 0; k < COVE_HOOK_MAX; k++) {
		json_t *arr, *e;
		size_t i;
		char path[64];
		int r;

		snprintf(path, sizeof(path), "hooks.%s", hook_names[k]);
		r = cove_json_array(obj, "hooks", hook_names[k], &arr, err);
		if (r < 0)
			return r;
		if (!arr)
			continue;
		spec->hooks[k].list =
		    calloc(json_array_size(arr) + 1, sizeof(struct cove_hook));
		if (!spec->hooks[k].list)
			return -ENOMEM;
		json_array_foreach(arr, i, e)
		{
			struct cove_hook *h = &spec->hooks[k].list[i];
			char sub[96];
			const char *s;
			int64_t t = 0;
			bool has_t;

			spec->hooks[k].n = i + 1;
			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			if (!json_is_object(e))
				return cove_error_set(
				    err, EINVAL,
				    "invalid '%s': expected an object", sub);
			r = cove_json_string(e, sub, "path", &s, err);
			if (r < 0)
				return r;
			if (!s || s[0] != '/')
				return cove_error_set(err, EINVAL,
						      "invalid '%s.path': must "
						      "be an absolute path",
						      sub);
			h->path = strdup(s);
			r = cove_json_strv(e, sub, "args", &h->args, err);
			if (r >= 0)
				r = cove_json_strv(e, sub, "env", &h->env, err);
			if (r >= 0)
				r = cove_json_int64(e, sub, "timeout", &t,
						    &has_t, err);
			if (r < 0)
				return r;
			if (has_t && (t <= 0 || t > INT_MAX))
				return cove_error_set(
				    err, EINVAL,
				    "invalid '%s.timeout': must be > 0", sub);
			h->timeout = (int)t;
		}
	}
	return 0;
}

/* ---- linux ------------------------------------------------------------- */

static int parse_namespaces(json_t *arr, struct cove_spec *spec,
			    struct cove_error *err)
{
	json_t *e;
	size_t i;

	if (!arr)
		return 0;
	json_array_foreach(arr, i, e)
	{
		char sub[64];
		const char *type, *path;
		int t = -1, r;

		snprintf(sub, sizeof(sub), "linux.namespaces[%zu]", i);
		if (!json_is_object(e))
			return cove_error_set(
			    err, EINVAL, "invalid '%s': expected an object",
			    sub);
		r = cove_json_string(e, sub, "type", &type, err);
		if (r >= 0)
			r = cove_json_string(e, sub, "path", &path, err);
		if (r < 0)
			return r;
		for (int k = 0; type && k < COVE_NS_MAX; k++)
			if (!strcmp(ns_table[k].oci, type))
				t = k;
		if (t < 0)
			return cove_error_set(
			    err, EINVAL,
			    "invalid '%s.type': unknown namespace '%s'", sub,
			    type ? type : "");
		if (spec->namespaces[t].enabled)
			return cove_error_set(
			    err, EINVAL,
			    "invalid '%s.type': duplicate namespace '%s'", sub,
			    type);
		spec->namespaces[t].enabled = true;
		if (path && *path) {
			if (path[0] != '/')
				return cove_error_set(err, EINVAL,
						      "invalid '%s.path': must "
						      "be an absolute path",
						      sub);
			spec->namespaces[t].path = strdup(path);
		}
	}
	return 0;
}

static int parse_devices(json_t *arr, struct cove_spec *spec,
			 struct cove_error *err)
{
	json_t *e;
	size_t i;

	if (!arr)
		return 0;
	spec->devices =
	    calloc(json_array_size(arr) + 1, sizeof(*spec->devices));
	if (!spec->devices)
		return -ENOMEM;
	json_array_foreach(arr, i, e)
	{
		struct cove_device *d = &spec->devices[i];
		char sub[64];
		const char *s;
		bool hm, hn;
		uint32_t v;
		int r;

		spec->n_devices = i + 1;
		snprintf(sub, sizeof(sub), "linux.devices[%zu]", i);
		if (!json_is_object(e))
			return cove_error_set(
			    err, EINVAL, "invalid '%s': expected an object",
			    sub);
		r = cove_json_string(e, sub, "path", &s, err);
		if (r < 0)
			return r;
		if (!s || s[0] != '/' || strstr(s, "/../") ||
		    (strlen(s) >= 3 && !strcmp(s + strlen(s) - 3, "/..")))
			return cove_error_set(err, EINVAL,
					      "invalid '%s.path': must be an "
					      "absolute path without '..'",
					      sub);
		d->path = strdup(s);
		r = cove_json_string(e, sub, "type", &s, err);
		if (r < 0)
			return r;
		if (!s || strlen(s) != 1 || !strchr("cbup", s[0]))
			return cove_error_set(
			    err, EINVAL,
			    "invalid '%s.type': must be one of c, b, u, p",
			    sub);
		d->type = s[0];
		r = cove_json_int64(e, sub, "major", &d->major, &hm, err);
		if (r >= 0)
			r = cove_json_int64(e, sub, "minor", &d->minor, &hn,
					    err);
		if (r < 0)
			return r;
		if (d->type != 'p' && (!hm || !hn))
			return cove_error_set(
			    err, EINVAL,
			    "invalid '%s': major and minor are required", sub);
		if (d->major < 0 || d->minor < 0 || d->major > 0xfff ||
		    d->minor > 0xfffff)
			return cove_error_set(
			    err, EINVAL,
			    "invalid '%s': major or minor out of range", sub);
		r = cove_json_uint32(e, sub, "fileMode", &v, &d->has_file_mode,
				     err);
		if (r < 0)
			return r;
		if (d->has_file_mode && v > 07777)
			return cove_error_set(
			    err, EINVAL,
			    "invalid '%s.fileMode': must be <= 07777", sub);
		d->file_mode = v;
		r = cove_json_uint32(e, sub, "uid", &v, &d->has_uid, err);
		if (r < 0)
			return r;
		d->uid = v;
		r = cove_json_uint32(e, sub, "gid", &v, &d->has_gid, err);
		if (r < 0)
			return r;
		d->gid = v;
	}
	return 0;
}

static int parse_time_offsets(json_t *obj, struct cove_spec *spec,
			      struct cove_error *err)
{
	static const char *const clocks[2] = {"monotonic", "boottime"};

	if (!obj)
		return 0;
	for (int c = 0; c < 2; c++) {
		json_t *o;
		char sub[64];
		int r;

		snprintf(sub, sizeof(sub), "linux.timeOffsets.%s", clocks[c]);
		r = cove_json_object(obj, "linux.timeOffsets", clocks[c], &o,
				     err);
		if (r < 0)
			return r;
		if (!o)
			continue;
		r = cove_json_int64(o, sub, "secs", &spec->time_offsets[c][0],
				    NULL, err);
		if (r >= 0)
			r = cove_json_int64(o, sub, "nanosecs",
					    &spec->time_offsets[c][1], NULL,
					    err);
		if (r < 0)
			return r;
		if (spec->time_offsets[c][1] < 0 ||
		    spec->time_offsets[c][1] >= 1000000000)
			return cove_error_set(
			    err, EINVAL,
			    "invalid '%s.nanosecs': must be in [0, 1e9)", sub);
		spec->has_time_offsets = true;
	}
	{
		const char *k;
		json_t *v;
		json_object_foreach(obj, k, v)
		{
			if (strcmp(k, "monotonic") && strcmp(k, "boottime"))
				return cove_error_set(
				    err, EINVAL,
				    "invalid 'linux.timeOffsets.%s': unknown "
				    "clock",
				    k);
		}
	}
	return 0;
}

/*
 * Whether the namespace at @path (a joined one) is the runtime's own, the
 * host's: a namespaced sysctl set there would change the host.  A joined
 * namespace of another container is fine (runc's rule too); one that
 * cannot be looked at is taken as the host's.
 */
static bool is_own_ns(const char *path, enum cove_ns_type type)
{
	char self[64];
	struct stat a, b;

	if (!path)
		return false;
	snprintf(self, sizeof(self), "/proc/self/ns/%s",
		 cove_ns_proc_name(type));
	if (stat(path, &a) < 0 || stat(self, &b) < 0)
		return true;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/*
 * A sysctl may only be set when the namespace that scopes it is the
 * container's own: otherwise the write would change the host.
 */
static int check_sysctls(const struct cove_spec *spec, struct cove_error *err)
{
	static const char *const ipc_keys[] = {
	    "kernel.msgmax", "kernel.msgmnb",	       "kernel.msgmni",
	    "kernel.sem",    "kernel.shmall",	       "kernel.shmmax",
	    "kernel.shmmni", "kernel.shm_rmid_forced",
	};
	const char *k;
	json_t *v;

	if (!spec->sysctl)
		return 0;
	json_object_foreach(spec->sysctl, k, v)
	{
		enum cove_ns_type need = COVE_NS_MAX;
		bool known = false;

		for (size_t i = 0; i < ARRAY_SIZE(ipc_keys); i++)
			if (!strcmp(k, ipc_keys[i]))
				need = COVE_NS_IPC, known = true;
		if (cove_str_has_prefix(k, "fs.mqueue."))
			need = COVE_NS_IPC, known = true;
		else if (cove_str_has_prefix(k, "net."))
			need = COVE_NS_NET, known = true;
		else if (!strcmp(k, "kernel.hostname") ||
			 !strcmp(k, "kernel.domainname"))
			need = COVE_NS_UTS, known = true;
		if (!known)
			return cove_error_set(
			    err, EINVAL,
			    "invalid 'linux.sysctl.%s': not namespaced, it "
			    "would change the host",
			    k);
		if (!spec->namespaces[need].enabled ||
		    is_own_ns(spec->namespaces[need].path, need))
			return cove_error_set(err, EINVAL,
					      "invalid 'linux.sysctl.%s': "
					      "requires a %s namespace other "
					      "than the host's",
					      k, cove_ns_name(need));
	}
	return 0;
}

static int parse_linux(json_t *lx, struct cove_spec *spec,
		       struct cove_error *err)
{
	json_t *sub;
	const char *s;
	int r;

	if (!lx)
		return 0;
	r = cove_json_array(lx, "linux", "namespaces", &sub, err);
	if (r >= 0)
		r = parse_namespaces(sub, spec, err);
	if (r < 0)
		return r;
	r = cove_json_array(lx, "linux", "uidMappings", &sub, err);
	if (r >= 0)
		r = parse_id_mappings(sub, "linux.uidMappings",
				      &spec->uid_mappings,
				      &spec->n_uid_mappings, err);
	if (r >= 0)
		r = cove_json_array(lx, "linux", "gidMappings", &sub, err);
	if (r >= 0)
		r = parse_id_mappings(sub, "linux.gidMappings",
				      &spec->gid_mappings,
				      &spec->n_gid_mappings, err);
	if (r < 0)
		return r;
	if ((spec->n_uid_mappings || spec->n_gid_mappings) &&
	    !spec->namespaces[COVE_NS_USER].enabled)
		return cove_error_set(
		    err, EINVAL,
		    "invalid 'linux.uidMappings': id mappings require a user "
		    "namespace in 'linux.namespaces'");
	if (spec->namespaces[COVE_NS_USER].enabled &&
	    !spec->namespaces[COVE_NS_USER].path &&
	    (!spec->n_uid_mappings || !spec->n_gid_mappings))
		return cove_error_set(
		    err, EINVAL,
		    "invalid 'linux.uidMappings': a new user namespace needs "
		    "uidMappings and gidMappings");
	r = cove_json_array(lx, "linux", "devices", &sub, err);
	if (r >= 0)
		r = parse_devices(sub, spec, err);
	if (r < 0)
		return r;
	r = cove_json_string(lx, "linux", "cgroupsPath", &s, err);
	if (r < 0)
		return r;
	if (s && *s)
		spec->cgroups_path = strdup(s);
	r = cove_json_object(lx, "linux", "resources", &spec->resources, err);
	if (r < 0)
		return r;
	r = cove_json_object(lx, "linux", "sysctl", &spec->sysctl, err);
	if (r < 0)
		return r;
	if (spec->sysctl) {
		const char *k;
		json_t *v;
		json_object_foreach(spec->sysctl, k, v)
		{
			if (!json_is_string(v))
				return cove_error_set(
				    err, EINVAL,
				    "invalid 'linux.sysctl.%s': expected a "
				    "string",
				    k);
			if (!*k || strstr(k, "..") || k[0] == '/' ||
			    k[0] == '.')
				return cove_error_set(
				    err, EINVAL,
				    "invalid 'linux.sysctl': bad key '%s'", k);
		}
	}
	r = check_sysctls(spec, err);
	if (r < 0)
		return r;
	r = cove_json_object(lx, "linux", "seccomp", &spec->seccomp, err);
	if (r < 0)
		return r;
	r = cove_json_string(lx, "linux", "rootfsPropagation", &s, err);
	if (r < 0)
		return r;
	if (s && *s) {
		bool ok = false;
		for (size_t i = 0; i < ARRAY_SIZE(propagation_table); i++)
			if (!strcmp(propagation_table[i].name, s)) {
				spec->rootfs_propagation =
				    propagation_table[i].flag;
				ok = true;
			}
		if (!ok)
			return cove_error_set(
			    err, EINVAL,
			    "invalid 'linux.rootfsPropagation': unknown "
			    "propagation '%s'",
			    s);
	}
	r = cove_json_strv(lx, "linux", "maskedPaths", &spec->masked_paths,
			   err);
	if (r >= 0)
		r = cove_json_strv(lx, "linux", "readonlyPaths",
				   &spec->readonly_paths, err);
	if (r < 0)
		return r;
	for (char **p = spec->masked_paths; p && *p; p++)
		if ((*p)[0] != '/')
			return cove_error_set(
			    err, EINVAL,
			    "invalid 'linux.maskedPaths': '%s' is not absolute",
			    *p);
	for (char **p = spec->readonly_paths; p && *p; p++)
		if ((*p)[0] != '/')
			return cove_error_set(err, EINVAL,
					      "invalid 'linux.readonlyPaths': "
					      "'%s' is not absolute",
					      *p);
	r = cove_json_string(lx, "linux", "mountLabel", &s, err);
	if (r < 0)
		return r;
	if (s && *s)
		spec->mount_label = strdup(s);
	r = cove_json_object(lx, "linux", "personality", &spec->personality,
			     err);
	if (r < 0)
		return r;
	r = cove_json_object(lx, "linux", "intelRdt", &spec->intel_rdt, err);
	if (r < 0)
		return r;
	if (spec->intel_rdt)
		return cove_error_set(err, EOPNOTSUPP,
				      "invalid 'linux.intelRdt': Intel RDT is "
				      "not supported by cove");
	r = cove_json_object(lx, "linux", "timeOffsets", &sub, err);
	if (r >= 0)
		r = parse_time_offsets(sub, spec, err);
	if (r < 0)
		return r;
	if (spec->has_time_offsets && !spec->namespaces[COVE_NS_TIME].enabled)
		return cove_error_set(
		    err, EINVAL,
		    "invalid 'linux.timeOffsets': requires a time namespace");
	if (json_object_get(lx, "rdma"))
		return cove_error_set(
		    err, EOPNOTSUPP,
		    "invalid 'linux.rdma': not supported by cove");
	return 0;
}

int cove_spec_parse(json_t *root, const char *bundle, struct cove_spec **ret,
		    struct cove_error *err)
{
	_cleanup_spec_ struct cove_spec *spec = NULL;
	json_t *sub;
	const char *s;
	int r;

	if (!json_is_object(root))
		return cove_error_set(
		    err, EINVAL, "invalid document: expected a JSON object");
	spec = calloc(1, sizeof(*spec));
	if (!spec)
		return -ENOMEM;
	spec->root = json_incref(root);

	r = cove_json_string(root, "", "ociVersion", &s, err);
	if (r < 0)
		return r;
	if (!s)
		return cove_error_set(err, EINVAL,
				      "invalid 'ociVersion': missing");
	if (strncmp(s, "1.", 2))
		return cove_error_set(
		    err, EINVAL,
		    "invalid 'ociVersion': unsupported version '%s'", s);
	spec->oci_version = strdup(s);

	r = cove_json_object(root, "", "root", &sub, err);
	if (r < 0)
		return r;
	if (!sub)
		return cove_error_set(err, EINVAL, "invalid 'root': missing");
	r = cove_json_string(sub, "root", "path", &s, err);
	if (r < 0)
		return r;
	if (!s || !*s)
		return cove_error_set(err, EINVAL,
				      "invalid 'root.path': missing");
	if (s[0] == '/' || !bundle)
		spec->root_path = strdup(s);
	else
		spec->root_path = cove_strdup_printf("%s/%s", bundle, s);
	if (!spec->root_path)
		return -ENOMEM;
	r = cove_json_bool(sub, "root", "readonly", &spec->root_readonly, err);
	if (r < 0)
		return r;

	r = cove_json_object(root, "", "process", &sub, err);
	if (r < 0)
		return r;
	if (sub) {
		r = cove_process_parse(sub, "process", &spec->process, err);
		if (r < 0)
			return r;
		spec->has_process = true;
	}
	r = cove_json_string(root, "", "hostname", &s, err);
	if (r < 0)
		return r;
	if (s && *s)
		spec->hostname = strdup(s);
	r = cove_json_string(root, "", "domainname", &s, err);
	if (r < 0)
		return r;
	if (s && *s)
		spec->domainname = strdup(s);
	r = cove_json_array(root, "", "mounts", &sub, err);
	if (r >= 0)
		r = parse_mounts(sub, spec, err);
	if (r < 0)
		return r;
	r = cove_json_object(root, "", "hooks", &sub, err);
	if (r >= 0)
		r = parse_hooks(sub, spec, err);
	if (r < 0)
		return r;
	r = cove_json_object(root, "", "annotations", &spec->annotations, err);
	if (r < 0)
		return r;
	if (spec->annotations) {
		const char *k;
		json_t *v;
		json_object_foreach(spec->annotations, k, v)
		{
			if (!json_is_string(v))
				return cove_error_set(
				    err, EINVAL,
				    "invalid 'annotations.%s': expected a "
				    "string",
				    k);
		}
	}
	r = cove_json_object(root, "", "linux", &sub, err);
	if (r >= 0)
		r = parse_linux(sub, spec, err);
	if (r < 0)
		return r;
	if ((spec->hostname || spec->domainname) &&
	    !spec->namespaces[COVE_NS_UTS].enabled)
		return cove_error_set(
		    err, EINVAL,
		    "invalid '%s': setting it requires a new uts namespace",
		    spec->hostname ? "hostname" : "domainname");
	if (json_object_get(root, "solaris") ||
	    json_object_get(root, "windows") || json_object_get(root, "vm") ||
	    json_object_get(root, "zos"))
		return cove_error_set(
		    err, EINVAL,
		    "invalid document: only the 'linux' platform is supported");
	json_decref(root); /* the spec holds its own reference */
	*ret = TAKE_PTR(spec);
	return 0;
}

int cove_spec_load(const char *bundle, const char *config_file,
		   struct cove_spec **ret, struct cove_error *err)
{
	_cleanup_free_ char *file = NULL;
	json_t *root = NULL;
	int r;

	if (config_file)
		file = strdup(config_file);
	else
		file = cove_strdup_printf("%s/config.json", bundle);
	if (!file)
		return -ENOMEM;
	r = cove_json_load_file(file, COVE_SPEC_MAX_SIZE, &root, err);
	if (r < 0)
		return r;
	r = cove_spec_parse(root, bundle, ret, err);
	if (r < 0) {
		json_decref(root);
		return cove_error_wrap(err, "%s", file);
	}
	return 0;
}

void cove_spec_free(struct cove_spec *spec)
{
	if (!spec)
		return;
	free(spec->oci_version);
	cove_process_release(&spec->process);
	free(spec->root_path);
	free(spec->hostname);
	free(spec->domainname);
	for (size_t i = 0; i < spec->n_mounts; i++) {
		struct cove_mount *m = &spec->mounts[i];
		free(m->destination);
		free(m->source);
		free(m->type);
		free(m->data);
		cove_strv_free(m->options);
		free(m->uid_mappings);
		free(m->gid_mappings);
	}
	free(spec->mounts);
	for (int k = 0; k < COVE_HOOK_MAX; k++) {
		for (size_t i = 0; i < spec->hooks[k].n; i++) {
			free(spec->hooks[k].list[i].path);
			cove_strv_free(spec->hooks[k].list[i].args);
			cove_strv_free(spec->hooks[k].list[i].env);
		}
		free(spec->hooks[k].list);
	}
	for (int t = 0; t < COVE_NS_MAX; t++)
		free(spec->namespaces[t].path);
	free(spec->uid_mappings);
	free(spec->gid_mappings);
	for (size_t i = 0; i < spec->n_devices; i++)
		free(spec->devices[i].path);
	free(spec->devices);
	free(spec->cgroups_path);
	cove_strv_free(spec->masked_paths);
	cove_strv_free(spec->readonly_paths);
	free(spec->mount_label);
	if (spec->root)
		json_decref(spec->root);
	free(spec);
}
