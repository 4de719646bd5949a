#include "runtime/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "runtime/seccomp-cache.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"

/* Older uapi headers lack the newer flags; the values are kernel ABI. */
#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif
#ifndef SECCOMP_FILTER_FLAG_TSYNC_ESRCH
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH (1UL << 4)
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

/* Version of the runtime-spec the container process state follows. */
#define COVE_SECCOMP_STATE_OCI_VERSION "1.2.0"

/* Path buffers for error messages: "<path>.syscalls[N].args[M].valueTwo". */
#define FIELD_MAX 512

/* Highest syscall argument index seccomp can inspect. */
#define SECCOMP_MAX_ARGS 6

struct cove_seccomp {
	/* NULL when the program came from the cache: nothing to compile. */
	scmp_filter_ctx ctx;
	/* The program, exported at compile time: loading is one syscall. */
	struct sock_filter *prog;
	size_t prog_len;
	/* SECCOMP_FILTER_FLAG_* from linux.seccomp.flags */
	unsigned long flags;
	bool notify;
	bool from_cache;
	char *listener_path;
	char *listener_metadata;
};

struct action_def {
	const char *name;
	uint32_t action;
	bool takes_data; /* errnoRet is the ERRNO value or the TRACE message */
};

/* Sorted by name, as `features` lists them. */
static const struct action_def actions[] = {
    {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, false},
    {"SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0), true},
    {"SCMP_ACT_KILL", SCMP_ACT_KILL, false},
    {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, false},
    {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, false},
    {"SCMP_ACT_LOG", SCMP_ACT_LOG, false},
    {"SCMP_ACT_NOTIFY", SCMP_ACT_NOTIFY, false},
    {"SCMP_ACT_TRACE", SCMP_ACT_TRACE(0), true},
    {"SCMP_ACT_TRAP", SCMP_ACT_TRAP, false},
};

static const struct {
	const char *name;
	enum scmp_compare op;
} operators[] = {
    {"SCMP_CMP_EQ", SCMP_CMP_EQ}, {"SCMP_CMP_GE", SCMP_CMP_GE},
    {"SCMP_CMP_GT", SCMP_CMP_GT}, {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_LT", SCMP_CMP_LT}, {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
    {"SCMP_CMP_NE", SCMP_CMP_NE},
};

/* OCI names and the names libseccomp resolves them by. */
static const struct {
	const char *oci;
	const char *scmp;
} arches[] = {
    {"SCMP_ARCH_AARCH64", "aarch64"},
    {"SCMP_ARCH_ARM", "arm"},
    {"SCMP_ARCH_MIPS", "mips"},
    {"SCMP_ARCH_MIPS64", "mips64"},
    {"SCMP_ARCH_MIPS64N32", "mips64n32"},
    {"SCMP_ARCH_MIPSEL", "mipsel"},
    {"SCMP_ARCH_MIPSEL64", "mipsel64"},
    {"SCMP_ARCH_MIPSEL64N32", "mipsel64n32"},
    {"SCMP_ARCH_PARISC", "parisc"},
    {"SCMP_ARCH_PARISC64", "parisc64"},
    {"SCMP_ARCH_PPC", "ppc"},
    {"SCMP_ARCH_PPC64", "ppc64"},
    {"SCMP_ARCH_PPC64LE", "ppc64le"},
    {"SCMP_ARCH_RISCV64", "riscv64"},
    {"SCMP_ARCH_S390", "s390"},
    {"SCMP_ARCH_S390X", "s390x"},
    {"SCMP_ARCH_X32", "x32"},
    {"SCMP_ARCH_X86", "x86"},
    {"SCMP_ARCH_X86_64", "x86_64"},
};

static const struct {
	const char *name;
	unsigned long flag;
} filter_flags[] = {
    {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
    {"SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC},
    {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
     SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV},
};

static const char *const seccomp_keys[] = {
    "defaultAction", "defaultErrnoRet",	 "architectures", "flags",
    "listenerPath",  "listenerMetadata", "syscalls",	  NULL,
};
static const char *const syscall_keys[] = {
    "names", "action", "errnoRet", "args", NULL,
};
static const char *const arg_keys[] = {
    "index", "value", "valueTwo", "op", NULL,
};

/*
 * "<base>.<key>[<index>]" for error messages; a path too long for the
 * buffer is cut short, which still names the field well enough.
 */
static const char *field_path(char *buf, size_t size, const char *base,
			      const char *key, size_t index)
{
	int n = snprintf(buf, size, "%s.%s[%zu]", base, key, index);

	if (n < 0)
		buf[0] = '\0';
	return buf;
}

static int seccomp_sys(unsigned int op, unsigned long flags, void *args)
{
	return (int)syscall(__NR_seccomp, op, flags, args);
}

/*
 * The kernel validates flags before it reads the program, so a NULL program
 * fails with EFAULT exactly when the flags are supported (and EINVAL when
 * not); nothing is installed.  WAIT_KILLABLE_RECV is only valid together
 * with NEW_LISTENER.
 */
static bool kernel_has_filter_flag(unsigned long flag)
{
	unsigned long probe = flag;

	if (flag & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)
		probe |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
	return seccomp_sys(SECCOMP_SET_MODE_FILTER, probe, NULL) < 0 &&
	       errno == EFAULT;
}

static int check_keys(const json_t *obj, const char *path,
		      const char *const *allowed, struct cove_error *err)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v)
	{
		const char *const *a;
		for (a = allowed; *a; a++)
			if (strcmp(*a, key) == 0)
				break;
		if (!*a)
			return cove_error_set(
			    err, EINVAL, "invalid '%s': unknown field '%s'",
			    path, key);
	}
	return 0;
}

/*
 * Parse an action and its errnoRet (@action_key / @errno_key of @obj, whose
 * dotted path is @path).
 */
static int parse_action(const json_t *obj, const char *path,
			const char *action_key, const char *errno_key,
			uint32_t *ret_action, bool *ret_notify,
			struct cove_error *err)
{
	const struct action_def *def = NULL;
	const char *name = NULL;
	uint32_t data = EPERM;
	bool has_data = false;
	int r;

	r = cove_json_string(obj, path, action_key, &name, err);
	if (r < 0)
		return r;
	if (!name)
		return cove_error_set(err, EINVAL, "missing '%s.%s'", path,
				      action_key);
	for (size_t i = 0; i < ARRAY_SIZE(actions); i++)
		if (strcmp(actions[i].name, name) == 0)
			def = &actions[i];
	if (!def)
		return cove_error_set(err, EINVAL,
				      "invalid '%s.%s': unknown action '%s'",
				      path, action_key, name);

	r = cove_json_uint32(obj, path, errno_key, &data, &has_data, err);
	if (r < 0)
		return r;
	if (has_data && !def->takes_data)
		return cove_error_set(
		    err, EINVAL,
		    "invalid '%s.%s': %s does not take an errno value", path,
		    errno_key, name);
	if (data > SECCOMP_RET_DATA)
		return cove_error_set(err, ERANGE,
				      "invalid '%s.%s': %u is above %u", path,
				      errno_key, data, SECCOMP_RET_DATA);

	*ret_action = def->takes_data ? (def->action | data) : def->action;
	*ret_notify = def->action == SCMP_ACT_NOTIFY;
	return 0;
}

static int parse_arches(struct cove_seccomp *s, const json_t *seccomp,
			const char *path, struct cove_error *err)
{
	json_t *list = NULL, *e;
	size_t i;
	int r;

	r = cove_json_array(seccomp, path, "architectures", &list, err);
	if (r < 0 || !list)
		return r;
	json_array_foreach(list, i, e)
	{
		const char *name = json_string_value(e);
		const char *scmp = NULL;
		uint32_t token;

		if (!name)
			return cove_error_set(
			    err, EINVAL,
			    "invalid '%s.architectures[%zu]': expected a "
			    "string",
			    path, i);
		for (size_t k = 0; k < ARRAY_SIZE(arches); k++)
			if (strcmp(arches[k].oci, name) == 0)
				scmp = arches[k].scmp;
		token = scmp ? seccomp_arch_resolve_name(scmp) : 0;
		if (!token)
			return cove_error_set(
			    err, EINVAL,
			    "invalid '%s.architectures[%zu]': unknown "
			    "architecture '%s'",
			    path, i, name);
		if (!s->ctx)
			continue;
		r = seccomp_arch_add(s->ctx, token);
		if (r < 0 && r != -EEXIST)
			return cove_error_setx(
			    err, r,
			    "invalid '%s.architectures[%zu]': cannot add "
			    "architecture '%s'",
			    path, i, name);
	}
	return 0;
}

static int parse_flags(struct cove_seccomp *s, const json_t *seccomp,
		       const char *path, struct cove_error *err)
{
	json_t *list = NULL, *e;
	size_t i;
	int r;

	r = cove_json_array(seccomp, path, "flags", &list, err);
	if (r < 0 || !list)
		return r;
	json_array_foreach(list, i, e)
	{
		const char *name = json_string_value(e);
		unsigned long flag = 0;

		if (!name)
			return cove_error_set(
			    err, EINVAL,
			    "invalid '%s.flags[%zu]': expected a string", path,
			    i);
		for (size_t k = 0; k < ARRAY_SIZE(filter_flags); k++)
			if (strcmp(filter_flags[k].name, name) == 0)
				flag = filter_flags[k].flag;
		if (!flag)
			return cove_error_set(
			    err, EINVAL,
			    "invalid '%s.flags[%zu]': unknown flag '%s'", path,
			    i, name);
		if (!kernel_has_filter_flag(flag))
			return cove_error_set(
			    err, EOPNOTSUPP,
			    "invalid '%s.flags[%zu]': %s is not supported "
			    "by the running kernel",
			    path, i, name);
		s->flags |= flag;
	}
	return 0;
}

static int parse_arg(const json_t *arg, const char *path,
		     struct scmp_arg_cmp *ret, struct cove_error *err)
{
	const char *op_name = NULL;
	uint64_t index = 0, value = 0, value_two = 0;
	bool has_index = false, has_value = false;
	bool found = false;
	int r;

	if (!json_is_object(arg))
		return cove_error_set(err, EINVAL,
				      "invalid '%s': expected an object", path);
	r = check_keys(arg, path, arg_keys, err);
	if (r < 0)
		return r;
	r = cove_json_uint64(arg, path, "index", &index, &has_index, err);
	if (r < 0)
		return r;
	if (!has_index)
		return cove_error_set(err, EINVAL, "missing '%s.index'", path);
	if (index >= SECCOMP_MAX_ARGS)
		return cove_error_set(err, EINVAL,
				      "invalid '%s.index': %" PRIu64
				      " is above the last argument index %d",
				      path, index, SECCOMP_MAX_ARGS - 1);
	r = cove_json_uint64(arg, path, "value", &value, &has_value, err);
	if (r < 0)
		return r;
	if (!has_value)
		return cove_error_set(err, EINVAL, "missing '%s.value'", path);
	r = cove_json_uint64(arg, path, "valueTwo", &value_two, NULL, err);
	if (r < 0)
		return r;
	r = cove_json_string(arg, path, "op", &op_name, err);
	if (r < 0)
		return r;
	if (!op_name)
		return cove_error_set(err, EINVAL, "missing '%s.op'", path);

	ret->arg = (unsigned int)index;
	ret->datum_a = value;
	ret->datum_b = value_two;
	for (size_t i = 0; i < ARRAY_SIZE(operators); i++)
		if (strcmp(operators[i].name, op_name) == 0) {
			ret->op = operators[i].op;
			found = true;
		}
	if (!found)
		return cove_error_set(err, EINVAL,
				      "invalid '%s.op': unknown operator '%s'",
				      path, op_name);
	return 0;
}

/*
 * libseccomp ANDs the comparisons of one rule and refuses two comparisons
 * of the same argument.  Profiles (Docker's among them) list several
 * comparisons of one argument meaning "any of these", so, as runc does, a
 * syscall entry whose args repeat an index becomes one rule per comparison.
 */
static bool args_repeat_index(const struct scmp_arg_cmp *cmp, size_t n)
{
	unsigned seen = 0;

	for (size_t i = 0; i < n; i++) {
		if (seen & (1u << cmp[i].arg))
			return true;
		seen |= 1u << cmp[i].arg;
	}
	return false;
}

static int parse_syscall(struct cove_seccomp *s, const json_t *entry,
			 const char *path, uint32_t default_action,
			 struct cove_error *err)
{
	_cleanup_free_ struct scmp_arg_cmp *cmp = NULL;
	json_t *names = NULL, *args = NULL, *e;
	uint32_t action = 0;
	bool notify = false, split;
	size_t n_args = 0, i;
	int r;

	if (!json_is_object(entry))
		return cove_error_set(err, EINVAL,
				      "invalid '%s': expected an object", path);
	r = check_keys(entry, path, syscall_keys, err);
	if (r < 0)
		return r;
	r = cove_json_array(entry, path, "names", &names, err);
	if (r < 0)
		return r;
	if (!names || json_array_size(names) == 0)
		return cove_error_set(
		    err, EINVAL,
		    "invalid '%s.names': must contain at least one name", path);
	json_array_foreach(names, i, e)
	{
		if (!json_is_string(e) || json_string_length(e) == 0)
			return cove_error_set(
			    err, EINVAL,
			    "invalid '%s.names[%zu]': expected a non-empty "
			    "string",
			    path, i);
	}
	r = parse_action(entry, path, "action", "errnoRet", &action, &notify,
			 err);
	if (r < 0)
		return r;

	r = cove_json_array(entry, path, "args", &args, err);
	if (r < 0)
		return r;
	if (args && json_array_size(args) > 0) {
		n_args = json_array_size(args);
		cmp = calloc(n_args, sizeof(*cmp));
		if (!cmp)
			return -ENOMEM;
		json_array_foreach(args, i, e)
		{
			char field[FIELD_MAX];
			r = parse_arg(
			    e,
			    field_path(field, sizeof(field), path, "args", i),
			    &cmp[i], err);
			if (r < 0)
				return r;
		}
	}
	split = args_repeat_index(cmp, n_args);
	r = 0;

	/* libseccomp refuses rules that repeat the default action. */
	if (action == default_action)
		return 0;
	if (notify)
		s->notify = true;
	if (!s->ctx)
		return 0;

	json_array_foreach(names, i, e)
	{
		const char *name = json_string_value(e);
		int nr = seccomp_syscall_resolve_name(name);

		/*
		 * Profiles name syscalls of every kernel and architecture;
		 * one unknown here cannot be called, so it needs no rule.
		 */
		if (nr == __NR_SCMP_ERROR)
			continue;
		if (split) {
			for (size_t k = 0; k < n_args && r >= 0; k++)
				r = seccomp_rule_add_array(s->ctx, action, nr,
							   1, &cmp[k]);
		} else {
			r = seccomp_rule_add_array(s->ctx, action, nr,
						   (unsigned int)n_args, cmp);
		}
		if (r < 0)
			return cove_error_setx(
			    err, r,
			    "invalid '%s.names[%zu]': cannot add a rule "
			    "for syscall '%s'",
			    path, i, name);
	}
	return 0;
}

/*
 * Export the BPF program now, in the runtime, so that the container init
 * only has to hand a ready program to seccomp(2) and every libseccomp error
 * is reported before any namespace exists.
 */
static int export_program(struct cove_seccomp *s, const char *path,
			  struct cove_error *err)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ struct sock_filter *prog = NULL;
	struct stat st;
	size_t n;
	int r;

	fd = memfd_create("cove-seccomp", MFD_CLOEXEC);
	if (fd < 0)
		return cove_error_setx(err, errno,
				       "cannot create a memfd for '%s'", path);
	r = seccomp_export_bpf(s->ctx, fd);
	if (r < 0)
		return cove_error_setx(
		    err, r, "cannot generate the filter of '%s'", path);
	if (fstat(fd, &st) < 0)
		return cove_error_setx(
		    err, errno, "cannot generate the filter of '%s'", path);
	if (st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) != 0)
		return cove_error_set(err, EIO,
				      "cannot generate the filter of '%s': "
				      "libseccomp wrote %lld bytes",
				      path, (long long)st.st_size);
	n = (size_t)st.st_size / sizeof(struct sock_filter);
	if (n > BPF_MAXINSNS)
		return cove_error_set(err, E2BIG,
				      "invalid '%s': the filter needs %zu BPF "
				      "instructions, the kernel allows %d",
				      path, n, BPF_MAXINSNS);
	prog = calloc(n, sizeof(*prog));
	if (!prog)
		return -ENOMEM;
	if (lseek(fd, 0, SEEK_SET) < 0)
		return cove_error_setx(err, errno, "cannot read the filter");
	if (cove_read_all(fd, prog, n * sizeof(*prog)) !=
	    (ssize_t)(n * sizeof(*prog)))
		return cove_error_set(err, EIO, "cannot read the filter");
	s->prog = TAKE_PTR(prog);
	s->prog_len = n;
	return 0;
}

static void cache_releasep(struct cove_seccomp_cache *c)
{
	cove_seccomp_cache_release(c);
}

/*
 * With a cache hit s->prog is set and s->ctx stays NULL: the parse that
 * follows only validates (and finds notify and the listener), libseccomp
 * compiles nothing.  A miss of any kind leaves the cache open in @c (if
 * usable) for the freshly compiled program.
 */
static void cache_lookup(struct cove_seccomp *s, struct cove_seccomp_cache *c,
			 const char *cache_dir, json_t *seccomp)
{
	if (cove_seccomp_cache_open(c, cache_dir, seccomp) < 0)
		return;
	if (cove_seccomp_cache_load(c, &s->prog, &s->prog_len) == 0)
		s->from_cache = true;
}

int cove_seccomp_compile(json_t *seccomp, const char *path,
			 struct cove_seccomp **ret, struct cove_error *err)
{
	return cove_seccomp_compile_cached(seccomp, path, NULL, ret, err);
}

int cove_seccomp_compile_cached(json_t *seccomp, const char *path,
				const char *cache_dir,
				struct cove_seccomp **ret,
				struct cove_error *err)
{
	_cleanup_seccomp_ struct cove_seccomp *s = NULL;
	_cleanup_(cache_releasep) struct cove_seccomp_cache cache = {
	    .dirfd = -1,
	};
	const char *listener_path = NULL, *listener_metadata = NULL;
	json_t *syscalls = NULL, *e;
	uint32_t default_action = 0;
	bool default_notify = false;
	size_t i;
	int r;

	if (!seccomp || json_is_null(seccomp)) {
		*ret = NULL;
		return 0;
	}
	if (!json_is_object(seccomp))
		return cove_error_set(err, EINVAL,
				      "invalid '%s': expected an object", path);
	r = check_keys(seccomp, path, seccomp_keys, err);
	if (r < 0)
		return r;
	r = parse_action(seccomp, path, "defaultAction", "defaultErrnoRet",
			 &default_action, &default_notify, err);
	if (r < 0)
		return r;
	/*
	 * With a notifying default the init's own syscalls between loading
	 * the filter and handing the listener fd over would wait forever.
	 */
	if (default_notify)
		return cove_error_set(err, EINVAL,
				      "invalid '%s.defaultAction': "
				      "SCMP_ACT_NOTIFY cannot be the default",
				      path);

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (cache_dir)
		cache_lookup(s, &cache, cache_dir, seccomp);
	if (!s->from_cache) {
		s->ctx = seccomp_init(default_action);
		if (!s->ctx)
			return cove_error_set(
			    err, EINVAL,
			    "invalid '%s.defaultAction': libseccomp "
			    "refused it (not supported by the kernel?)",
			    path);
		/* The runtime sets no_new_privs itself (noNewPrivileges). */
		r = seccomp_attr_set(s->ctx, SCMP_FLTATR_CTL_NNP, 0);
		if (r < 0)
			return cove_error_setx(err, r, "cannot configure '%s'",
					       path);
	}

	r = parse_arches(s, seccomp, path, err);
	if (r < 0)
		return r;
	r = parse_flags(s, seccomp, path, err);
	if (r < 0)
		return r;

	r = cove_json_string(seccomp, path, "listenerPath", &listener_path,
			     err);
	if (r < 0)
		return r;
	r = cove_json_string(seccomp, path, "listenerMetadata",
			     &listener_metadata, err);
	if (r < 0)
		return r;
	if (listener_path && !*listener_path)
		return cove_error_set(
		    err, EINVAL, "invalid '%s.listenerPath': empty path", path);
	if (listener_metadata && !listener_path)
		return cove_error_set(err, EINVAL,
				      "invalid '%s.listenerMetadata': set "
				      "without '%s.listenerPath'",
				      path, path);

	r = cove_json_array(seccomp, path, "syscalls", &syscalls, err);
	if (r < 0)
		return r;
	json_array_foreach(syscalls, i, e)
	{
		char field[FIELD_MAX];
		r = parse_syscall(
		    s, e, field_path(field, sizeof(field), path, "syscalls", i),
		    default_action, err);
		if (r < 0)
			return r;
	}
	if (s->notify && !listener_path)
		return cove_error_set(err, EINVAL,
				      "invalid '%s': SCMP_ACT_NOTIFY is used "
				      "but '%s.listenerPath' is not set",
				      path, path);
	if (listener_path) {
		s->listener_path = strdup(listener_path);
		if (!s->listener_path)
			return -ENOMEM;
	}
	if (listener_metadata) {
		s->listener_metadata = strdup(listener_metadata);
		if (!s->listener_metadata)
			return -ENOMEM;
	}

	if (s->ctx) {
		r = export_program(s, path, err);
		if (r < 0)
			return r;
		/* Best effort: a failed write only costs the next compile. */
		if (cache.dirfd >= 0)
			(void)cove_seccomp_cache_store(&cache, s->prog,
						       s->prog_len);
		/* The context is only needed to compile. */
		seccomp_release(s->ctx);
		s->ctx = NULL;
	}
	*ret = TAKE_PTR(s);
	return 0;
}

bool cove_seccomp_from_cache(const struct cove_seccomp *s)
{
	return s && s->from_cache;
}

const struct sock_filter *cove_seccomp_program(const struct cove_seccomp *s,
					       size_t *ret_len)
{
	*ret_len = s ? s->prog_len : 0;
	return s ? s->prog : NULL;
}

bool cove_seccomp_uses_notify(const struct cove_seccomp *s)
{
	return s && s->notify;
}

const char *cove_seccomp_listener_path(const struct cove_seccomp *s)
{
	return s ? s->listener_path : NULL;
}

const char *cove_seccomp_listener_metadata(const struct cove_seccomp *s)
{
	return s ? s->listener_metadata : NULL;
}

/*
 * The filter goes in with seccomp(2) rather than seccomp_load(): that lets
 * cove pass every flag the kernel knows (SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
 * postdates libseccomp 2.5) and does no allocation in the container init.
 * Like seccomp_load(), this needs no_new_privs or CAP_SYS_ADMIN; which one is
 * the caller's decision.
 */
int cove_seccomp_load(struct cove_seccomp *s, int *ret_notify_fd,
		      struct cove_error *err)
{
	struct sock_fprog fprog;
	unsigned long flags;
	int r;

	if (ret_notify_fd)
		*ret_notify_fd = -1;
	if (!s)
		return 0;

	flags = s->flags;
	if (s->notify) {
		flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
		/* With a listener, TSYNC can only report failure as ESRCH. */
		if (flags & SECCOMP_FILTER_FLAG_TSYNC)
			flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
	} else {
		/* Only meaningful (and only accepted) with a listener. */
		flags &= ~SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
	}

	fprog.len = (unsigned short)s->prog_len;
	fprog.filter = s->prog;
	r = seccomp_sys(SECCOMP_SET_MODE_FILTER, flags, &fprog);
	if (r < 0) {
		int e = errno;
		if (e == EACCES)
			return cove_error_setx(
			    err, e,
			    "cannot load the seccomp filter: the process "
			    "needs no_new_privs or CAP_SYS_ADMIN");
		if (e == ESRCH)
			return cove_error_setx(
			    err, e,
			    "cannot load the seccomp filter: another "
			    "thread could not be synchronized");
		return cove_error_setx(
		    err, e, "cannot load the seccomp filter (flags %#lx)",
		    flags);
	}
	if (!s->notify) {
		/* TSYNC without a listener returns the failing thread. */
		if (r > 0)
			return cove_error_set(err, ESRCH,
					      "cannot load the seccomp filter: "
					      "thread %d could not be "
					      "synchronized",
					      r);
		return 0;
	}
	/* The kernel opens the listener close-on-exec. */
	if (ret_notify_fd)
		*ret_notify_fd = r;
	else
		close(r);
	return 0;
}

/*
 * sun_path holds 107 bytes; a longer listener path is reached through an
 * O_PATH descriptor of the socket inode, via its /proc/self/fd link.
 */
static int connect_unix(const char *path, struct cove_error *err)
{
	_cleanup_close_ int fd = -1, path_fd = -1;
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	const char *target = path;
	char proc_path[64];

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return cove_error_setx(err, errno, "cannot create a socket");
	if (strlen(path) >= sizeof(addr.sun_path)) {
		path_fd = open(path, O_PATH | O_CLOEXEC);
		if (path_fd < 0)
			return cove_error_setx(
			    err, errno,
			    "cannot open seccomp listener socket '%s'", path);
		snprintf(proc_path, sizeof(proc_path), "/proc/self/fd/%d",
			 path_fd);
		target = proc_path;
	}
	memcpy(addr.sun_path, target, strlen(target) + 1);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return cove_error_setx(
		    err, errno,
		    "cannot connect to seccomp listener socket '%s'", path);
	return TAKE_FD(fd);
}

int cove_seccomp_send_listener(const struct cove_seccomp *s, int notify_fd,
			       pid_t pid, json_t *state, struct cove_error *err)
{
	_cleanup_json_ json_t *msg = NULL;
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int fd = -1;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct msghdr mh = {0};
	struct cmsghdr *cmsg;
	struct iovec iov;
	size_t len, off;
	ssize_t n;

	if (!s || !s->listener_path)
		return cove_error_set(err, EINVAL,
				      "no seccomp listenerPath is configured");
	if (notify_fd < 0)
		return cove_error_set(err, EBADF,
				      "no seccomp notify fd to send to '%s'",
				      s->listener_path);
	if (!state)
		return cove_error_set(err, EINVAL,
				      "no container state to send to '%s'",
				      s->listener_path);

	msg = json_pack("{s:s, s:[s], s:I, s:O}", "ociVersion",
			COVE_SECCOMP_STATE_OCI_VERSION, "fds", "seccompFd",
			"pid", (json_int_t)pid, "state", state);
	if (!msg)
		return -ENOMEM;
	if (s->listener_metadata &&
	    json_object_set_new(msg, "metadata",
				json_string(s->listener_metadata)) < 0)
		return -ENOMEM;
	text = json_dumps(msg, JSON_COMPACT);
	if (!text)
		return -ENOMEM;
	len = strlen(text);

	fd = connect_unix(s->listener_path, err);
	if (fd < 0)
		return fd;

	memset(&control, 0, sizeof(control));
	iov.iov_base = text;
	iov.iov_len = len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = control.buf;
	mh.msg_controllen = sizeof(control.buf);
	cmsg = CMSG_FIRSTHDR(&mh);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &notify_fd, sizeof(int));

	do
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return cove_error_setx(err, errno,
				       "cannot send the seccomp notify fd to "
				       "'%s'",
				       s->listener_path);
	/* The spec allows further sends, without the fd. */
	for (off = (size_t)n; off < len; off += (size_t)n) {
		n = send(fd, text + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0)
			return cove_error_setx(err, n < 0 ? errno : EPIPE,
					       "cannot send the container "
					       "process state to '%s'",
					       s->listener_path);
	}
	return 0;
}

void cove_seccomp_free(struct cove_seccomp *s)
{
	if (!s)
		return;
	if (s->ctx)
		seccomp_release(s->ctx);
	free(s->prog);
	free(s->listener_path);
	free(s->listener_metadata);
	free(s);
}

json_t *cove_seccomp_features(void)
{
	_cleanup_json_ json_t *obj = json_object();
	json_t *a_actions = json_array(), *a_ops = json_array(),
	       *a_arches = json_array(), *a_known = json_array(),
	       *a_supported = json_array();

	/* json_object_set_new() takes the reference even when it fails. */
	if (!obj) {
		json_decref(a_actions);
		json_decref(a_ops);
		json_decref(a_arches);
		json_decref(a_known);
		json_decref(a_supported);
		return NULL;
	}
	if (json_object_set_new(obj, "enabled", json_true()) < 0 ||
	    json_object_set_new(obj, "actions", a_actions) < 0 ||
	    json_object_set_new(obj, "operators", a_ops) < 0 ||
	    json_object_set_new(obj, "archs", a_arches) < 0 ||
	    json_object_set_new(obj, "knownFlags", a_known) < 0 ||
	    json_object_set_new(obj, "supportedFlags", a_supported) < 0)
		return NULL;

	for (size_t i = 0; i < ARRAY_SIZE(actions); i++)
		if (json_array_append_new(a_actions,
					  json_string(actions[i].name)) < 0)
			return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(operators); i++)
		if (json_array_append_new(a_ops,
					  json_string(operators[i].name)) < 0)
			return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(arches); i++) {
		if (!seccomp_arch_resolve_name(arches[i].scmp))
			continue;
		if (json_array_append_new(a_arches,
					  json_string(arches[i].oci)) < 0)
			return NULL;
	}
	for (size_t i = 0; i < ARRAY_SIZE(filter_flags); i++) {
		if (json_array_append_new(
			a_known, json_string(filter_flags[i].name)) < 0)
			return NULL;
		if (kernel_has_filter_flag(filter_flags[i].flag) &&
		    json_array_append_new(
			a_supported, json_string(filter_flags[i].name)) < 0)
			return NULL;
	}
	return TAKE_PTR(obj);
}
