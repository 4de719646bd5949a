#include "runtime/features.h"

#include "runtime/caps.h"
#include "runtime/seccomp.h"
#include "runtime/spec.h"
#include "util/json.h"

json_t *cove_features_json(void)
{
	static const char *const hooks[] = {"prestart",
					    "createRuntime",
					    "createContainer",
					    "startContainer",
					    "poststart",
					    "poststop",
					    NULL};
	static const char *const mount_opts[] = {
	    "async",	  "atime",	 "bind",	"dev",
	    "diratime",	  "dirsync",	 "exec",	"iversion",
	    "lazytime",	  "loud",	 "mand",	"noatime",
	    "nodev",	  "nodiratime",	 "noexec",	"noiversion",
	    "nolazytime", "nomand",	 "norelatime",	"nostrictatime",
	    "nosuid",	  "private",	 "rbind",	"relatime",
	    "remount",	  "ro",		 "rprivate",	"rshared",
	    "rslave",	  "runbindable", "rw",		"shared",
	    "silent",	  "slave",	 "strictatime", "suid",
	    "sync",	  "unbindable",	 NULL};
	static const char *const namespaces[] = {"cgroup",  "ipc", "mount",
						 "network", "pid", "time",
						 "user",    "uts", NULL};
	json_t *f = json_object(), *lx = json_object(), *cg = json_object();
	json_t *ann = json_object(), *mext = json_object(),
	       *idm = json_object();

	json_object_set_new(f, "ociVersionMin", json_string("1.0.0"));
	json_object_set_new(f, "ociVersionMax", json_string("1.2.0"));
	json_object_set_new(f, "hooks", cove_json_strv_array(hooks));
	json_object_set_new(f, "mountOptions",
			    cove_json_strv_array(mount_opts));

	json_object_set_new(lx, "namespaces", cove_json_strv_array(namespaces));
	json_object_set_new(lx, "capabilities", cove_caps_all_json());
	json_object_set_new(cg, "v1", json_true());
	json_object_set_new(cg, "v2", json_true());
	json_object_set_new(cg, "systemd", json_false());
	json_object_set_new(cg, "systemdUser", json_false());
	json_object_set_new(cg, "rdma", json_false());
	json_object_set_new(lx, "cgroup", cg);
	json_object_set_new(lx, "seccomp", cove_seccomp_features());
	{
		json_t *o = json_object();
		json_object_set_new(o, "enabled", json_false());
		json_object_set_new(lx, "apparmor", o);
		o = json_object();
		json_object_set_new(o, "enabled", json_false());
		json_object_set_new(lx, "selinux", o);
		o = json_object();
		json_object_set_new(o, "enabled", json_false());
		json_object_set_new(lx, "intelRdt", o);
	}
	json_object_set_new(idm, "enabled", json_true());
	json_object_set_new(mext, "idmap", idm);
	json_object_set_new(lx, "mountExtensions", mext);
	json_object_set_new(f, "linux", lx);
	json_object_set_new(ann, "io.github.cove.version",
			    json_string("0.1.0"));
	json_object_set_new(f, "annotations", ann);
	return f;
}
