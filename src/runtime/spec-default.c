/*
 * The default config.json of `cove-runtime spec`: the same shape runc
 * generates, so that tools and tutorials written for runc work unchanged.
 */
#include <stdbool.h>
#include <unistd.h>

#include "runtime/caps.h"
#include "runtime/spec.h"
#include "util/json.h"

static json_t *mount(const char *dest, const char *type, const char *src,
		     const char *const *opts)
{
	json_t *m = json_object();
	json_object_set_new(m, "destination", json_string(dest));
	json_object_set_new(m, "type", json_string(type));
	json_object_set_new(m, "source", json_string(src));
	if (opts)
		json_object_set_new(m, "options", cove_json_strv_array(opts));
	return m;
}

static json_t *idmap(unsigned host)
{
	json_t *a = json_array(), *m = json_object();
	json_object_set_new(m, "containerID", json_integer(0));
	json_object_set_new(m, "hostID", json_integer(host));
	json_object_set_new(m, "size", json_integer(1));
	json_array_append_new(a, m);
	return a;
}

json_t *cove_spec_default(bool rootless)
{
	static const char *const env[] = {
	    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	    "TERM=xterm", NULL};
	static const char *const dev_opts[] = {"nosuid", "strictatime",
					       "mode=755", "size=65536k", NULL};
	static const char *const pts_opts[] = {
	    "nosuid",	 "noexec", "newinstance", "ptmxmode=0666",
	    "mode=0620", "gid=5",  NULL};
	static const char *const pts_opts_rootless[] = {
	    "nosuid",	     "noexec",	  "newinstance",
	    "ptmxmode=0666", "mode=0620", NULL};
	static const char *const shm_opts[] = {
	    "nosuid", "noexec", "nodev", "mode=1777", "size=65536k", NULL};
	static const char *const mq_opts[] = {"nosuid", "noexec", "nodev",
					      NULL};
	static const char *const sys_opts[] = {"nosuid", "noexec", "nodev",
					       "ro", NULL};
	static const char *const sys_opts_rootless[] = {
	    "rbind", "nosuid", "noexec", "nodev", "ro", NULL};
	static const char *const cg_opts[] = {"nosuid",	  "noexec", "nodev",
					      "relatime", "ro",	    NULL};
	static const char *const masked[] = {"/proc/acpi",
					     "/proc/asound",
					     "/proc/kcore",
					     "/proc/keys",
					     "/proc/latency_stats",
					     "/proc/timer_list",
					     "/proc/timer_stats",
					     "/proc/sched_debug",
					     "/sys/firmware",
					     "/proc/scsi",
					     NULL};
	static const char *const readonly[] = {
	    "/proc/bus",	   "/proc/fs", "/proc/irq", "/proc/sys",
	    "/proc/sysrq-trigger", NULL};
	json_t *root = json_object(), *proc = json_object(),
	       *user = json_object();
	json_t *caps = json_object(), *rl = json_array(), *r1 = json_object();
	json_t *rootobj = json_object(), *mounts = json_array();
	json_t *lx = json_object(), *ns = json_array();
	const char *nss[] = {"pid", "network", "ipc", "uts", "mount", NULL};
	const char *nss_rootless[] = {"pid",   "ipc",  "uts",
				      "mount", "user", NULL};

	json_object_set_new(root, "ociVersion", json_string("1.2.0"));
	json_object_set_new(proc, "terminal", json_true());
	json_object_set_new(user, "uid", json_integer(0));
	json_object_set_new(user, "gid", json_integer(0));
	json_object_set_new(proc, "user", user);
	json_object_set_new(
	    proc, "args",
	    cove_json_strv_array((const char *const[]){"sh", NULL}));
	json_object_set_new(proc, "env", cove_json_strv_array(env));
	json_object_set_new(proc, "cwd", json_string("/"));
	json_object_set_new(caps, "bounding", cove_caps_default_json());
	json_object_set_new(caps, "effective", cove_caps_default_json());
	json_object_set_new(caps, "permitted", cove_caps_default_json());
	json_object_set_new(proc, "capabilities", caps);
	json_object_set_new(r1, "type", json_string("RLIMIT_NOFILE"));
	json_object_set_new(r1, "hard", json_integer(1024));
	json_object_set_new(r1, "soft", json_integer(1024));
	json_array_append_new(rl, r1);
	json_object_set_new(proc, "rlimits", rl);
	json_object_set_new(proc, "noNewPrivileges", json_true());
	json_object_set_new(root, "process", proc);

	json_object_set_new(rootobj, "path", json_string("rootfs"));
	json_object_set_new(rootobj, "readonly", json_true());
	json_object_set_new(root, "root", rootobj);
	json_object_set_new(root, "hostname", json_string("cove"));

	json_array_append_new(mounts, mount("/proc", "proc", "proc", NULL));
	json_array_append_new(mounts,
			      mount("/dev", "tmpfs", "tmpfs", dev_opts));
	json_array_append_new(mounts,
			      mount("/dev/pts", "devpts", "devpts",
				    rootless ? pts_opts_rootless : pts_opts));
	json_array_append_new(mounts,
			      mount("/dev/shm", "tmpfs", "shm", shm_opts));
	json_array_append_new(
	    mounts, mount("/dev/mqueue", "mqueue", "mqueue", mq_opts));
	if (rootless)
		json_array_append_new(
		    mounts, mount("/sys", "none", "/sys", sys_opts_rootless));
	else
		json_array_append_new(
		    mounts, mount("/sys", "sysfs", "sysfs", sys_opts));
	json_array_append_new(
	    mounts, mount("/sys/fs/cgroup", "cgroup", "cgroup", cg_opts));
	json_object_set_new(root, "mounts", mounts);

	for (const char **n = rootless ? nss_rootless : nss; *n; n++) {
		json_t *o = json_object();
		json_object_set_new(o, "type", json_string(*n));
		json_array_append_new(ns, o);
	}
	if (rootless) {
		json_object_set_new(lx, "uidMappings",
				    idmap((unsigned)geteuid()));
		json_object_set_new(lx, "gidMappings",
				    idmap((unsigned)getegid()));
	} else {
		json_t *res = json_object(), *devs = json_array(),
		       *d = json_object();
		json_object_set_new(d, "allow", json_false());
		json_object_set_new(d, "access", json_string("rwm"));
		json_array_append_new(devs, d);
		json_object_set_new(res, "devices", devs);
		json_object_set_new(lx, "resources", res);
	}
	json_object_set_new(lx, "namespaces", ns);
	json_object_set_new(lx, "maskedPaths", cove_json_strv_array(masked));
	json_object_set_new(lx, "readonlyPaths",
			    cove_json_strv_array(readonly));
	json_object_set_new(root, "linux", lx);
	return root;
}
