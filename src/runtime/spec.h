#pragma once
/*
 * The OCI runtime configuration (config.json), parsed and validated.
 *
 * cove_spec_load() turns a bundle's config.json into a struct cove_spec.
 * Every field of runtime-spec 1.2 that cove supports is parsed here or by the
 * module that owns it (capabilities: caps.h, seccomp: seccomp.h, cgroup
 * resources: cgroup.h); those modules get the JSON sub-object through the
 * borrowed json_t pointers below and validate it themselves.  Fields that
 * cove cannot honour are refused with an error naming the field; nothing is
 * silently ignored.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/error.h"

/* Largest config.json accepted: a hostile file cannot exhaust memory. */
#define COVE_SPEC_MAX_SIZE (16u << 20)

enum cove_ns_type {
	COVE_NS_PID,
	COVE_NS_NET,
	COVE_NS_MNT,
	COVE_NS_IPC,
	COVE_NS_UTS,
	COVE_NS_USER,
	COVE_NS_CGROUP,
	COVE_NS_TIME,
	COVE_NS_MAX,
};

struct cove_namespace {
	bool enabled; /* listed in linux.namespaces */
	char *path;   /* join this one instead of creating (NULL: create) */
};

struct cove_id_mapping {
	uint32_t container_id;
	uint32_t host_id;
	uint32_t size;
};

struct cove_mount {
	char *destination;
	char *source; /* may be NULL (e.g. tmpfs) */
	char *type;   /* may be NULL: bind when options say so */
	char **options;
	/* Derived from options: */
	unsigned long flags;	   /* MS_* to set */
	unsigned long clear_flags; /* MS_* explicitly cleared ("rw", "suid"…) */
	unsigned long
	    propagation; /* MS_PRIVATE/MS_SLAVE/MS_SHARED/… | MS_REC */
	bool bind;
	bool recursive_bind;
	bool idmap;
	char *data; /* comma-joined filesystem-specific options */
	struct cove_id_mapping *uid_mappings, *gid_mappings;
	size_t n_uid_mappings, n_gid_mappings;
};

struct cove_device {
	char *path;
	char type; /* 'c', 'b', 'u', 'p' */
	int64_t major, minor;
	mode_t file_mode;
	bool has_file_mode;
	uid_t uid;
	gid_t gid;
	bool has_uid, has_gid;
};

struct cove_rlimit {
	int resource; /* RLIMIT_* */
	uint64_t soft, hard;
};

struct cove_hook {
	char *path;
	char **args;
	char **env;
	int timeout; /* seconds, 0 = none */
};

enum cove_hook_kind {
	COVE_HOOK_PRESTART,
	COVE_HOOK_CREATE_RUNTIME,
	COVE_HOOK_CREATE_CONTAINER,
	COVE_HOOK_START_CONTAINER,
	COVE_HOOK_POSTSTART,
	COVE_HOOK_POSTSTOP,
	COVE_HOOK_MAX,
};

struct cove_hooks {
	struct cove_hook *list;
	size_t n;
};

struct cove_user {
	uid_t uid;
	gid_t gid;
	mode_t umask;
	bool has_umask;
	gid_t *additional_gids;
	size_t n_additional_gids;
};

struct cove_process {
	bool terminal;
	unsigned console_height, console_width;
	struct cove_user user;
	char **args;
	char *command_line; /* Windows only: refused */
	char **env;
	char *cwd;
	json_t *capabilities; /* borrowed; parsed by caps.h */
	struct cove_rlimit *rlimits;
	size_t n_rlimits;
	bool no_new_privileges;
	int oom_score_adj;
	bool has_oom_score_adj;
	char *apparmor_profile;
	char *selinux_label;
	json_t *scheduler;	   /* borrowed; parsed by sched.h */
	json_t *io_priority;	   /* borrowed */
	json_t *exec_cpu_affinity; /* borrowed */
};

struct cove_spec {
	json_t *root; /* owned: the whole document */
	char *oci_version;

	struct cove_process process;
	bool has_process;

	char *root_path; /* absolute, resolved against the bundle */
	bool root_readonly;

	char *hostname;
	char *domainname;

	struct cove_mount *mounts;
	size_t n_mounts;

	struct cove_hooks hooks[COVE_HOOK_MAX];
	json_t *annotations; /* borrowed */

	/* linux */
	struct cove_namespace namespaces[COVE_NS_MAX];
	struct cove_id_mapping *uid_mappings, *gid_mappings;
	size_t n_uid_mappings, n_gid_mappings;
	struct cove_device *devices;
	size_t n_devices;
	char *cgroups_path;
	json_t *resources; /* borrowed; parsed by cgroup.h */
	json_t *sysctl;	   /* borrowed; object of string -> string */
	json_t *seccomp;   /* borrowed; parsed by seccomp.h */
	unsigned long rootfs_propagation; /* 0 = default (rslave) */
	char **masked_paths;
	char **readonly_paths;
	char *mount_label;
	json_t *personality;	    /* borrowed */
	json_t *intel_rdt;	    /* refused when set */
	int64_t time_offsets[2][2]; /* [monotonic, boottime][secs, nanosecs] */
	bool has_time_offsets;
};

/*
 * Load and validate @bundle/config.json (or @config_file when not NULL,
 * relative to the current directory).  On success *ret is owned by the
 * caller (cove_spec_free()).  Errors name the file and the field.
 */
int cove_spec_load(const char *bundle, const char *config_file,
		   struct cove_spec **ret, struct cove_error *err);

/* Parse from a JSON document; @root becomes owned by the spec on success. */
int cove_spec_parse(json_t *root, const char *bundle, struct cove_spec **ret,
		    struct cove_error *err);

/* Parse a "process" object (also used by `exec --process`). */
int cove_process_parse(json_t *obj, const char *path, struct cove_process *p,
		       struct cove_error *err);
void cove_process_release(struct cove_process *p);

void cove_spec_free(struct cove_spec *spec);
static inline void cove_spec_freep(struct cove_spec **s)
{
	cove_spec_free(*s);
}
#define _cleanup_spec_ __attribute__((cleanup(cove_spec_freep)))

/* Mount option string to flags; exposed for unit tests. */
int cove_mount_parse_options(struct cove_mount *m, struct cove_error *err);

/* Name <-> CLONE_NEW* for namespaces, "pid", "network", … */
const char *cove_ns_name(enum cove_ns_type t);
int cove_ns_clone_flag(enum cove_ns_type t);
/* Name as under /proc/PID/ns/ ("pid", "net", "mnt", …). */
const char *cove_ns_proc_name(enum cove_ns_type t);

/* "RLIMIT_NOFILE" -> RLIMIT_NOFILE, or -1. */
int cove_rlimit_from_name(const char *name);

/*
 * Generate the default config.json of `spec`, as runc does (sh as the
 * process, default capabilities, mounts, masked paths).  @rootless adapts
 * it for an unprivileged user (user namespace mapped to the caller's ids,
 * no cgroup resources, bind-mounted /sys).
 */
json_t *cove_spec_default(bool rootless);
