/*
 * The default seccomp profile of cove bundles, as OCI JSON (linux.seccomp).
 *
 * An allowlist built from the kernel's syscall table, one group per
 * concern.  The principles:
 *  - what an ordinary program needs (files, memory, processes, time,
 *    sockets, SysV/POSIX IPC, signals) is allowed;
 *  - what reaches kernel state that namespaces do not isolate (keyrings,
 *    kexec, modules, the clock, swap, reboot, bpf, perf, userfaultfd,
 *    raw I/O ports, open_by_handle_at) is allowed only when the process
 *    keeps the capability the kernel wants for it, i.e. when the operator
 *    asked for it with --cap-add;
 *  - namespace creation (unshare, setns, clone with CLONE_NEW*) needs
 *    CAP_SYS_ADMIN, which the default set does not have;
 *  - everything else fails with EPERM, except syscalls whose callers take
 *    ENOSYS as "use the older one" and EPERM as a hard failure: clone3
 *    (glibc falls back to clone, whose flags we can inspect) and io_uring
 *    (event loops fall back to epoll).
 * Names the running libseccomp does not know are skipped by the runtime,
 * so the table may name syscalls of newer kernels and of other
 * architectures.
 */
#include <stdbool.h>
#include <string.h>

#include "image/bundle.h"
#include "util/cleanup.h"

/* Always allowed. */
static const char allow_files[] =
    "read write readv writev pread64 pwrite64 preadv pwritev "
    "preadv2 pwritev2 open openat openat2 creat close close_range "
    "lseek _llseek dup dup2 dup3 fcntl fcntl64 flock fsync "
    "fdatasync sync syncfs sync_file_range sync_file_range2 "
    "truncate truncate64 ftruncate ftruncate64 fallocate fadvise64 "
    "fadvise64_64 arm_fadvise64_64 arm_sync_file_range readahead "
    "sendfile sendfile64 splice tee vmsplice copy_file_range ioctl "
    "pipe pipe2 select _newselect pselect6 pselect6_time64 poll "
    "ppoll ppoll_time64 epoll_create epoll_create1 epoll_ctl "
    "epoll_ctl_old epoll_wait epoll_wait_old epoll_pwait "
    "epoll_pwait2 eventfd eventfd2 signalfd signalfd4 "
    "timerfd_create timerfd_settime timerfd_settime64 "
    "timerfd_gettime timerfd_gettime64 inotify_init inotify_init1 "
    "inotify_add_watch inotify_rm_watch io_setup io_destroy "
    "io_submit io_cancel io_getevents io_pgetevents "
    "io_pgetevents_time64 memfd_create cachestat";

static const char allow_fs[] =
    "stat fstat lstat stat64 fstat64 lstat64 newfstatat fstatat64 "
    "statx statfs statfs64 fstatfs fstatfs64 ustat access faccessat "
    "faccessat2 chmod fchmod fchmodat fchmodat2 chown fchown lchown "
    "fchownat chown32 fchown32 lchown32 utime utimes futimesat "
    "utimensat utimensat_time64 mkdir mkdirat rmdir rename renameat "
    "renameat2 link linkat symlink symlinkat unlink unlinkat "
    "readlink readlinkat mknod mknodat getcwd chdir fchdir getdents "
    "getdents64 umask setxattr lsetxattr fsetxattr setxattrat "
    "getxattr lgetxattr fgetxattr getxattrat listxattr llistxattr "
    "flistxattr listxattrat removexattr lremovexattr fremovexattr "
    "removexattrat";

static const char allow_memory[] =
    "brk mmap mmap2 munmap mremap mprotect madvise mlock mlock2 "
    "munlock mlockall munlockall msync mincore remap_file_pages "
    "membarrier pkey_alloc pkey_free pkey_mprotect mseal "
    "map_shadow_stack";

/*
 * ptrace: since 4.8 seccomp runs after ptrace's own checks, so a tracer
 * cannot use it to escape the filter; debuggers and strace work.
 */
static const char allow_process[] =
    "fork vfork execve execveat exit exit_group wait4 waitid "
    "waitpid kill tkill tgkill rt_sigaction rt_sigprocmask "
    "rt_sigreturn rt_sigpending rt_sigsuspend rt_sigtimedwait "
    "rt_sigtimedwait_time64 rt_sigqueueinfo rt_tgsigqueueinfo "
    "sigaltstack sigaction sigprocmask sigreturn sigpending "
    "sigsuspend signal pause alarm restart_syscall getpid getppid "
    "gettid getpgid setpgid getpgrp getsid setsid getuid geteuid "
    "getgid getegid getuid32 geteuid32 getgid32 getegid32 setuid "
    "setgid setuid32 setgid32 setreuid setregid setreuid32 "
    "setregid32 setresuid setresgid setresuid32 setresgid32 "
    "getresuid getresgid getresuid32 getresgid32 setfsuid setfsgid "
    "setfsuid32 setfsgid32 getgroups setgroups getgroups32 "
    "setgroups32 capget capset prctl arch_prctl set_thread_area "
    "get_thread_area set_tid_address set_robust_list "
    "get_robust_list futex futex_time64 futex_waitv futex_wake "
    "futex_wait futex_requeue rseq getpriority setpriority "
    "sched_yield sched_getaffinity sched_setaffinity sched_getparam "
    "sched_setparam sched_getscheduler sched_setscheduler "
    "sched_get_priority_max sched_get_priority_min "
    "sched_rr_get_interval sched_rr_get_interval_time64 "
    "sched_getattr sched_setattr getrlimit setrlimit ugetrlimit "
    "prlimit64 getrusage times ioprio_get ioprio_set pidfd_open "
    "pidfd_send_signal pidfd_getfd process_mrelease getrandom uname "
    "olduname oldolduname sysinfo getcpu seccomp "
    "landlock_create_ruleset landlock_add_rule "
    "landlock_restrict_self ptrace process_vm_readv "
    "process_vm_writev breakpoint cacheflush set_tls";

static const char allow_time[] =
    "clock_gettime clock_gettime64 clock_getres clock_getres_time64 "
    "clock_nanosleep clock_nanosleep_time64 nanosleep gettimeofday "
    "time getitimer setitimer timer_create timer_delete "
    "timer_settime timer_settime64 timer_gettime timer_gettime64 "
    "timer_getoverrun";

static const char allow_net_ipc[] =
    "socketpair bind listen accept accept4 connect getsockname "
    "getpeername sendto recvfrom sendmsg recvmsg sendmmsg recvmmsg "
    "recvmmsg_time64 shutdown setsockopt getsockopt socketcall send "
    "recv shmget shmat shmdt shmctl semget semop semtimedop "
    "semtimedop_time64 semctl msgget msgsnd msgrcv msgctl ipc "
    "mq_open mq_unlink mq_timedsend mq_timedsend_time64 "
    "mq_timedreceive mq_timedreceive_time64 mq_notify mq_getsetattr";

/* Allowed when the process keeps @cap. */
static const char cap_sys_admin[] =
    "mount umount umount2 unshare setns pivot_root sethostname "
    "setdomainname quotactl quotactl_fd fanotify_init fanotify_mark "
    "fsopen fsconfig fsmount fspick move_mount open_tree "
    "open_tree_attr mount_setattr listmount statmount swapon "
    "swapoff bpf perf_event_open syslog lookup_dcookie clone clone3";
static const char cap_sys_chroot[] = "chroot";
static const char cap_sys_boot[] = "reboot";
static const char cap_sys_module[] = "init_module finit_module delete_module";
static const char cap_sys_pacct[] = "acct";
static const char cap_sys_ptrace[] = "kcmp process_madvise userfaultfd";
static const char cap_sys_rawio[] = "iopl ioperm";
static const char cap_sys_time[] =
    "settimeofday stime clock_settime clock_settime64 adjtimex "
    "clock_adjtime clock_adjtime64";
static const char cap_sys_tty[] = "vhangup";
static const char cap_sys_nice[] =
    "get_mempolicy mbind set_mempolicy set_mempolicy_home_node "
    "migrate_pages move_pages";
static const char cap_syslog[] = "syslog";
static const char cap_bpf[] = "bpf";
static const char cap_perfmon[] = "perf_event_open";
static const char cap_dac_read_search[] = "open_by_handle_at name_to_handle_at";

static const struct {
	const char *cap;
	const char *names;
} cap_groups[] = {
    {"CAP_SYS_ADMIN", cap_sys_admin},
    {"CAP_SYS_CHROOT", cap_sys_chroot},
    {"CAP_SYS_BOOT", cap_sys_boot},
    {"CAP_SYS_MODULE", cap_sys_module},
    {"CAP_SYS_PACCT", cap_sys_pacct},
    {"CAP_SYS_PTRACE", cap_sys_ptrace},
    {"CAP_SYS_RAWIO", cap_sys_rawio},
    {"CAP_SYS_TIME", cap_sys_time},
    {"CAP_SYS_TTY_CONFIG", cap_sys_tty},
    {"CAP_SYS_NICE", cap_sys_nice},
    {"CAP_SYSLOG", cap_syslog},
    {"CAP_BPF", cap_bpf},
    {"CAP_PERFMON", cap_perfmon},
    {"CAP_DAC_READ_SEARCH", cap_dac_read_search},
};

/* Fail with ENOSYS, so that callers fall back to the older syscall. */
static const char enosys[] =
    "clone3 io_uring_setup io_uring_enter io_uring_register";

#define ERRNO_EPERM 1
#define ERRNO_ENOSYS 38

/* CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET */
#define CLONE_NS_FLAGS 0x7E020000ULL
#define AF_VSOCK_ 40

static bool has_cap(char *const *caps, const char *cap)
{
	for (; caps && *caps; caps++)
		if (!strcmp(*caps, cap))
			return true;
	return false;
}

static bool has_name(const json_t *arr, const char *name)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
	{
		if (!strcmp(json_string_value(v), name))
			return true;
	}
	return false;
}

/*
 * Append the space-separated @names not yet in @arr (capability groups
 * repeat some), except @skip (may be NULL).
 */
static int push_names(json_t *arr, const char *names, const char *skip)
{
	const char *p = names;

	while (*p) {
		char name[64];
		size_t len = strcspn(p, " ");

		if (len == 0 || len >= sizeof(name))
			return -1; /* a typo in the tables above */
		memcpy(name, p, len);
		name[len] = '\0';
		p += len + (p[len] == ' ');
		if ((skip && !strcmp(name, skip)) || has_name(arr, name))
			continue;
		if (json_array_append_new(arr, json_string(name)) < 0)
			return -1;
	}
	return 0;
}

static json_t *rule(const char *action, json_t *names, json_t *args,
		    int errno_ret)
{
	json_t *r = json_object();

	if (!r || !names)
		goto fail;
	json_object_set_new(r, "names", names);
	json_object_set_new(r, "action", json_string(action));
	if (errno_ret)
		json_object_set_new(r, "errnoRet", json_integer(errno_ret));
	if (args)
		json_object_set_new(r, "args", args);
	return r;
fail:
	json_decref(r);
	json_decref(names);
	json_decref(args);
	return NULL;
}

static json_t *arg(unsigned index, unsigned long long value,
		   unsigned long long value_two, const char *op)
{
	json_t *a = json_object();

	if (!a)
		return NULL;
	json_object_set_new(a, "index", json_integer(index));
	json_object_set_new(a, "value", json_integer((json_int_t)value));
	json_object_set_new(a, "valueTwo", json_integer((json_int_t)value_two));
	json_object_set_new(a, "op", json_string(op));
	return a;
}

static json_t *one_name(const char *name)
{
	json_t *a = json_array();

	if (a)
		json_array_append_new(a, json_string(name));
	return a;
}

static json_t *architectures(void)
{
	json_t *a = json_array();

#if defined(__x86_64__)
	json_array_append_new(a, json_string("SCMP_ARCH_X86_64"));
	json_array_append_new(a, json_string("SCMP_ARCH_X86"));
	json_array_append_new(a, json_string("SCMP_ARCH_X32"));
#elif defined(__i386__)
	json_array_append_new(a, json_string("SCMP_ARCH_X86"));
#elif defined(__aarch64__)
	json_array_append_new(a, json_string("SCMP_ARCH_AARCH64"));
	json_array_append_new(a, json_string("SCMP_ARCH_ARM"));
#elif defined(__arm__)
	json_array_append_new(a, json_string("SCMP_ARCH_ARM"));
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	json_array_append_new(a, json_string("SCMP_ARCH_PPC64LE"));
#elif defined(__s390x__)
	json_array_append_new(a, json_string("SCMP_ARCH_S390X"));
	json_array_append_new(a, json_string("SCMP_ARCH_S390"));
#elif defined(__riscv) && __riscv_xlen == 64
	json_array_append_new(a, json_string("SCMP_ARCH_RISCV64"));
#endif
	return a;
}

json_t *cove_bundle_default_seccomp(char *const *caps)
{
	static const char *const always[] = {
	    allow_files,   allow_fs,   allow_memory,
	    allow_process, allow_time, allow_net_ipc,
	};
	/* PER_LINUX, PER_LINUX32, UNAME26 variants, and the query */
	static const unsigned long long personas[] = {0x0, 0x8, 0x20000,
						      0x20008, 0xffffffff};
	_cleanup_json_ json_t *p = json_object();
	json_t *sc = json_array(), *names = json_array(), *args, *r;
	bool admin = has_cap(caps, "CAP_SYS_ADMIN");

	if (!p || !sc || !names)
		goto fail;
	json_object_set_new(p, "defaultAction", json_string("SCMP_ACT_ERRNO"));
	json_object_set_new(p, "defaultErrnoRet", json_integer(ERRNO_EPERM));
	json_object_set_new(p, "architectures", architectures());
	json_object_set_new(p, "syscalls", sc);

	for (size_t i = 0; i < ARRAY_SIZE(always); i++)
		if (push_names(names, always[i], NULL) < 0)
			goto fail;
	for (size_t i = 0; i < ARRAY_SIZE(cap_groups); i++)
		if (has_cap(caps, cap_groups[i].cap) &&
		    push_names(names, cap_groups[i].names, NULL) < 0)
			goto fail;
	r = rule("SCMP_ACT_ALLOW", names, NULL, 0);
	names = NULL;
	if (!r || json_array_append_new(sc, r) < 0)
		goto fail;

	/* personality: only the harmless personas */
	for (size_t i = 0; i < ARRAY_SIZE(personas); i++) {
		args = json_array();
		if (!args)
			goto fail;
		json_array_append_new(args,
				      arg(0, personas[i], 0, "SCMP_CMP_EQ"));
		r = rule("SCMP_ACT_ALLOW", one_name("personality"), args, 0);
		if (!r || json_array_append_new(sc, r) < 0)
			goto fail;
	}
	/* sockets of every family but vsock, which no namespace isolates */
	args = json_array();
	if (!args)
		goto fail;
	json_array_append_new(args, arg(0, AF_VSOCK_, 0, "SCMP_CMP_NE"));
	r = rule("SCMP_ACT_ALLOW", one_name("socket"), args, 0);
	if (!r || json_array_append_new(sc, r) < 0)
		goto fail;

	if (!admin) {
		/* clone without namespace flags (flags: arg 0 here) */
		args = json_array();
		if (!args)
			goto fail;
		json_array_append_new(
		    args, arg(0, CLONE_NS_FLAGS, 0, "SCMP_CMP_MASKED_EQ"));
		r = rule("SCMP_ACT_ALLOW", one_name("clone"), args, 0);
		if (!r || json_array_append_new(sc, r) < 0)
			goto fail;
	}
	names = json_array();
	if (!names || push_names(names, enosys, admin ? "clone3" : NULL) < 0)
		goto fail;
	r = rule("SCMP_ACT_ERRNO", names, NULL, ERRNO_ENOSYS);
	names = NULL;
	if (!r || json_array_append_new(sc, r) < 0)
		goto fail;
	return TAKE_PTR(p);
fail:
	json_decref(names);
	return NULL;
}
