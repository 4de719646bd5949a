/*
 * Unit tests for src/image/bundle.c: user resolution inside a rootfs,
 * args/env/annotation composition, the default profile, and - as an
 * integration check - that cove-runtime runs the generated bundle on a
 * copy of the busybox rootfs (build/busybox-bundle/rootfs, `make bundle`).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "image/bundle.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

#define RUNTIME "build/cove-runtime"
#define BUSYBOX_ROOTFS "build/busybox-bundle/rootfs"

struct fixture {
	char dir[64];
	char rootfs[96];
	int rootfs_fd;
};

static void put(struct fixture *f, const char *rel, const char *text)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", f->rootfs, rel);
	assert_int_equal(cove_write_file_atomic_at(AT_FDCWD, p, text,
						   strlen(text), 0644),
			 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char p[160];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/cove-bundle-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->rootfs, sizeof(f->rootfs), "%s/rootfs", f->dir);
	snprintf(p, sizeof(p), "%s/etc", f->rootfs);
	assert_int_equal(cove_mkdir_p(p, 0755), 0);
	put(f, "etc/passwd",
	    "root:x:0:0:root:/root:/bin/sh\n"
	    "# a comment\n"
	    "\n"
	    "broken line\n"
	    "app:x:1000:1001:App:/home/app:/bin/sh\n"
	    "nohome:x:1002:1002::\n"
	    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
	put(f, "etc/group",
	    "root:x:0:\n"
	    "wheel:x:10:other,app\n"
	    "app:x:1001:\n"
	    "audio:x:29:app\n"
	    "docker:x:999:apple,app,appx\n"
	    "nogroup:x:65534:\n");
	f->rootfs_fd = open(f->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->rootfs_fd >= 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	close(f->rootfs_fd);
	assert_int_equal(cove_rm_rf(f->dir), 0);
	free(f);
	return 0;
}

static json_t *parse(const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, 0, &jerr);

	if (!j)
		fail_msg("bad test JSON: %s: %s", jerr.text, text);
	return j;
}

/* ---- users ---- */

struct user_case {
	const char *spec;
	int r;
	uint32_t uid, gid;
	const char *gids; /* "10,29,999" */
	const char *home;
};

static void check_user(struct fixture *f, const struct user_case *c)
{
	struct cove_image_user u = {0};
	struct cove_error err = {0};
	char gids[128] = "";
	size_t len = 0;
	int r = cove_image_user_resolve(f->rootfs_fd, c->spec, &u, &err);

	if (r != c->r)
		fail_msg("user '%s': %d, want %d (%s)", c->spec, r, c->r,
			 err.msg);
	if (r < 0) {
		assert_true(err.msg[0] != '\0');
		return;
	}
	for (size_t i = 0; i < u.n_additional_gids; i++)
		len += (size_t)snprintf(gids + len, sizeof(gids) - len, "%s%u",
					i ? "," : "",
					(unsigned)u.additional_gids[i]);
	if (u.uid != c->uid || u.gid != c->gid || strcmp(gids, c->gids))
		fail_msg("user '%s': %u:%u [%s], want %u:%u [%s]", c->spec,
			 u.uid, u.gid, gids, c->uid, c->gid, c->gids);
	if (c->home)
		assert_string_equal(u.home, c->home);
	else
		assert_null(u.home);
	cove_image_user_release(&u);
}

static void test_users(void **state)
{
	struct fixture *f = *state;
	const struct user_case cases[] = {
		{"", 0, 0, 0, "", "/root"},
		{"root", 0, 0, 0, "", "/root"},
		{"0", 0, 0, 0, "", "/root"},
		/* by name: supplementary groups of /etc/group */
		{"app", 0, 1000, 1001, "10,29,999", "/home/app"},
		/* numeric or with a group: none (image-spec conversion) */
		{"1000", 0, 1000, 1001, "", "/home/app"},
		{"app:audio", 0, 1000, 29, "", "/home/app"},
		{"app:5", 0, 1000, 5, "", "/home/app"},
		{"1000:1000", 0, 1000, 1000, "", "/home/app"},
		{"0:wheel", 0, 0, 10, "", "/root"},
		{"nohome", 0, 1002, 1002, "", NULL},
		/* a uid the image does not know: gid 0 */
		{"4242", 0, 4242, 0, "", NULL},
		{"4242:4242", 0, 4242, 4242, "", NULL},
		/* errors */
		{.spec = "ghost", .r = -ENOENT},
		{.spec = "app:ghost", .r = -ENOENT},
		{.spec = "app:", .r = -EINVAL},
		{.spec = "4294967295", .r = -EINVAL},
		{.spec = "1000:4294967295", .r = -EINVAL},
		{.spec = "99999999999", .r = -EINVAL},
		{.spec = "-1", .r = -ENOENT},
		{.spec = "broken line", .r = -ENOENT},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		check_user(f, &cases[i]);
}

static void test_user_files_hostile(void **state)
{
	struct fixture *f = *state;
	struct cove_image_user u = {0};
	struct cove_error err = {0};
	char p[256];

	/* symlinks resolve inside the rootfs, never to the host's files */
	snprintf(p, sizeof(p), "%s/etc/passwd", f->rootfs);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(symlink("/../../../../../../../../fake-passwd", p), 0);
	put(f, "fake-passwd", "evil:x:7:7::/evil:/bin/sh\n");
	snprintf(p, sizeof(p), "%s/etc/group", f->rootfs);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(symlink("/etc/group-on-the-host", p), 0);
	assert_int_equal(cove_image_user_resolve(f->rootfs_fd, "evil", &u,
						 &err),
			 0);
	assert_int_equal(u.uid, 7);
	assert_int_equal(u.n_additional_gids, 0);
	cove_image_user_release(&u);
	/* the host has a root; the image's passwd does not */
	assert_int_equal(cove_image_user_resolve(f->rootfs_fd, "root", &u,
						 &err),
			 -ENOENT);
	assert_non_null(strstr(err.msg, "'root'"));

	/* a fifo would block a reader: refused at once */
	snprintf(p, sizeof(p), "%s/etc/passwd", f->rootfs);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(mkfifo(p, 0644), 0);
	assert_int_equal(cove_image_user_resolve(f->rootfs_fd, "app", &u,
						 &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "passwd"));
	/* numeric users need no files */
	assert_int_equal(cove_image_user_resolve(-1, "12:34", &u, &err), 0);
	assert_int_equal(u.uid, 12);
	assert_int_equal(u.gid, 34);
	cove_image_user_release(&u);
	assert_int_equal(cove_image_user_resolve(-1, "app", &u, &err),
			 -ENOENT);
}

/* ---- the spec ---- */

static json_t *spec_of(struct fixture *f, const char *config,
		       const struct cove_bundle_opts *o, int want)
{
	_cleanup_json_ json_t *img = parse(config);
	struct cove_error err = {0};
	json_t *spec = NULL;
	int r = cove_bundle_spec(img, f->rootfs_fd, o, &spec, &err);

	if (r != want)
		fail_msg("spec: %d, want %d: %s", r, want, err.msg);
	if (r < 0) {
		assert_true(err.msg[0] != '\0');
		assert_int_equal(err.code, -r);
	}
	return spec;
}

static char *args_of(json_t *spec)
{
	json_t *args = json_object_get(json_object_get(spec, "process"),
				       "args");
	char buf[512] = "";
	size_t len = 0, i;
	json_t *v;

	json_array_foreach(args, i, v)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s",
					i ? " " : "", json_string_value(v));
	return strdup(buf);
}

static void test_args(void **state)
{
	struct fixture *f = *state;
	const char *img = "{\"config\":{\"Entrypoint\":[\"/entry\",\"-v\"],"
			  "\"Cmd\":[\"serve\",\"--port=80\"]}}";
	char *const cmd[] = {"debug", NULL};
	char *const ep[] = {"/bin/sh", "-c", NULL};
	char *const empty[] = {NULL};
	struct {
		const char *img;
		struct cove_bundle_opts o;
		const char *want;
	} cases[] = {
		{img, {0}, "/entry -v serve --port=80"},
		{img, {.cmd = cmd}, "/entry -v debug"},
		/* --entrypoint drops the image's Cmd */
		{img, {.entrypoint = ep}, "/bin/sh -c"},
		{img, {.entrypoint = ep, .cmd = cmd}, "/bin/sh -c debug"},
		{img, {.entrypoint = empty, .cmd = cmd}, "debug"},
		{"{\"config\":{\"Cmd\":[\"sh\"]}}", {0}, "sh"},
		{"{\"config\":{\"Entrypoint\":null,\"Cmd\":[\"sh\"]}}", {0},
		 "sh"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_json_ json_t *spec =
			spec_of(f, cases[i].img, &cases[i].o, 0);
		_cleanup_free_ char *args = args_of(spec);
		assert_string_equal(args, cases[i].want);
	}
	/* nothing to run */
	assert_null(spec_of(f, "{\"config\":{}}", NULL, -EINVAL));
	assert_null(spec_of(f, "{}", NULL, -EINVAL));
	{
		struct cove_bundle_opts o = {.entrypoint = empty};
		assert_null(spec_of(f, img, &o, -EINVAL));
	}
}

static const char *env_get(json_t *spec, const char *key)
{
	json_t *env = json_object_get(json_object_get(spec, "process"), "env");
	size_t i, klen = strlen(key);
	json_t *v;

	json_array_foreach(env, i, v)
	{
		const char *s = json_string_value(v);
		if (!strncmp(s, key, klen) && s[klen] == '=')
			return s + klen + 1;
	}
	return NULL;
}

static void test_env_cwd_user(void **state)
{
	struct fixture *f = *state;
	char *const env[] = {"LANG=C.UTF-8", "DEBUG=1", NULL};
	struct cove_bundle_opts o = {.env = env, .terminal = true};
	_cleanup_json_ json_t *a = NULL, *b = NULL;
	json_t *user;

	a = spec_of(f,
		    "{\"config\":{\"Cmd\":[\"sh\"],\"User\":\"app\","
		    "\"WorkingDir\":\"/srv\",\"Env\":[\"LANG=C\","
		    "\"EMPTY=\"]}}",
		    &o, 0);
	assert_string_equal(env_get(a, "LANG"), "C.UTF-8");
	assert_string_equal(env_get(a, "EMPTY"), "");
	assert_string_equal(env_get(a, "DEBUG"), "1");
	assert_non_null(strstr(env_get(a, "PATH"), "/usr/bin"));
	assert_string_equal(env_get(a, "HOME"), "/home/app");
	assert_string_equal(env_get(a, "TERM"), "xterm");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(a, "process"), "cwd")),
			    "/srv");
	user = json_object_get(json_object_get(a, "process"), "user");
	assert_int_equal(json_integer_value(json_object_get(user, "uid")),
			 1000);
	assert_int_equal(json_integer_value(json_object_get(user, "gid")),
			 1001);
	assert_int_equal(json_array_size(json_object_get(user,
							 "additionalGids")),
			 3);

	/* the image's PATH and HOME are kept; overrides win */
	o = (struct cove_bundle_opts){.user = "nobody", .workdir = "/tmp"};
	b = spec_of(f,
		    "{\"config\":{\"Cmd\":[\"sh\"],\"User\":\"app\","
		    "\"Env\":[\"PATH=/opt/bin\",\"HOME=/data\"]}}",
		    &o, 0);
	assert_string_equal(env_get(b, "PATH"), "/opt/bin");
	assert_string_equal(env_get(b, "HOME"), "/data");
	assert_null(env_get(b, "TERM"));
	user = json_object_get(json_object_get(b, "process"), "user");
	assert_int_equal(json_integer_value(json_object_get(user, "uid")),
			 65534);

	/* errors name the field */
	{
		struct cove_error err = {0};
		_cleanup_json_ json_t *img = parse(
			"{\"config\":{\"Cmd\":[\"sh\"],\"Env\":[\"A=1\","
			"\"NOEQUALS\"]}}");
		json_t *spec = NULL;
		assert_int_equal(cove_bundle_spec(img, f->rootfs_fd, NULL,
						  &spec, &err),
				 -EINVAL);
		assert_non_null(strstr(err.msg, "config.Env[1]"));
		json_decref(img);
		img = parse("{\"config\":{\"Cmd\":[\"sh\"],\"Env\":\"A=1\"}}");
		assert_int_equal(cove_bundle_spec(img, f->rootfs_fd, NULL,
						  &spec, &err),
				 -EINVAL);
		assert_non_null(strstr(err.msg, "config.Env"));
		json_decref(img);
		img = parse("{\"config\":{\"Cmd\":[\"sh\"],"
			    "\"WorkingDir\":\"rel\"}}");
		assert_int_equal(cove_bundle_spec(img, f->rootfs_fd, NULL,
						  &spec, &err),
				 -EINVAL);
		assert_non_null(strstr(err.msg, "config.WorkingDir"));
		json_decref(img);
		img = parse("{\"config\":{\"Cmd\":[\"sh\"],\"User\":"
			    "\"ghost\"}}");
		assert_int_equal(cove_bundle_spec(img, f->rootfs_fd, NULL,
						  &spec, &err),
				 -ENOENT);
		assert_non_null(strstr(err.msg, "config.User"));
		assert_non_null(strstr(err.msg, "ghost"));
		json_decref(img);
		img = parse("[1]");
		assert_int_equal(cove_bundle_spec(img, f->rootfs_fd, NULL,
						  &spec, &err),
				 -EINVAL);
		assert_null(spec);
	}
}

static void test_annotations(void **state)
{
	struct fixture *f = *state;
	char *const extra[] = {"io.example.team=core", NULL};
	struct cove_bundle_opts o = {.annotations = extra};
	_cleanup_json_ json_t *spec = spec_of(
		f,
		"{\"os\":\"linux\",\"architecture\":\"amd64\","
		"\"created\":\"2024-01-02T03:04:05Z\",\"author\":\"me\","
		"\"os.features\":[\"a\",\"b\"],"
		"\"config\":{\"Cmd\":[\"sh\"],\"StopSignal\":\"SIGQUIT\","
		"\"ExposedPorts\":{\"8080/tcp\":{},\"53/udp\":{},\"443/tcp\":{}},"
		"\"Volumes\":{\"/var/lib/db\":{},\"/data\":{}},"
		"\"Labels\":{\"org.opencontainers.image.os\":\"custom\","
		"\"maintainer\":\"x@example.com\"}}}",
		&o, 0);
	json_t *a = json_object_get(spec, "annotations");

#define ANN(k) json_string_value(json_object_get(a, k))
	/* Labels win over the implicit annotation of the same key */
	assert_string_equal(ANN("org.opencontainers.image.os"), "custom");
	assert_string_equal(ANN("org.opencontainers.image.architecture"),
			    "amd64");
	assert_string_equal(ANN("org.opencontainers.image.created"),
			    "2024-01-02T03:04:05Z");
	assert_string_equal(ANN("org.opencontainers.image.author"), "me");
	assert_string_equal(ANN("org.opencontainers.image.os.features"), "a,b");
	assert_string_equal(ANN("org.opencontainers.image.stopSignal"),
			    "SIGQUIT");
	assert_string_equal(ANN("org.opencontainers.image.exposedPorts"),
			    "443/tcp,53/udp,8080/tcp");
	assert_string_equal(ANN("io.cove.image.volumes"), "/data,/var/lib/db");
	assert_string_equal(ANN("maintainer"), "x@example.com");
	assert_string_equal(ANN("io.example.team"), "core");
#undef ANN
	{
		_cleanup_json_ json_t *bad = spec_of(
			f,
			"{\"config\":{\"Cmd\":[\"sh\"],\"Labels\":{\"a\":1}}}",
			NULL, -EINVAL);
	}
}

static bool json_has_str(json_t *arr, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (!strcmp(json_string_value(v), s))
			return true;
	return false;
}

/* Is syscall @name allowed unconditionally by @seccomp? */
static bool allowed(json_t *seccomp, const char *name)
{
	size_t i;
	json_t *r;

	json_array_foreach(json_object_get(seccomp, "syscalls"), i, r)
		if (!strcmp(json_string_value(json_object_get(r, "action")),
			    "SCMP_ACT_ALLOW") &&
		    !json_object_get(r, "args") &&
		    json_has_str(json_object_get(r, "names"), name))
			return true;
	return false;
}

static void test_profile(void **state)
{
	struct fixture *f = *state;
	char *const add[] = {"net_admin", "CAP_SYS_ADMIN", NULL};
	char *const drop[] = {"ALL", NULL};
	char *const bad[] = {"CAP_FLY", NULL};
	struct cove_bundle_opts o = {0};
	_cleanup_json_ json_t *spec = NULL, *admin = NULL;
	json_t *lx, *caps, *bounding, *sc, *rl;
	struct rlimit lim;

	spec = spec_of(f, "{\"config\":{\"Cmd\":[\"sh\"]}}", &o, 0);
	caps = json_object_get(json_object_get(spec, "process"),
			       "capabilities");
	bounding = json_object_get(caps, "bounding");
	assert_int_equal(json_array_size(bounding), 14);
	for (const char *const *c = cove_bundle_default_caps; *c; c++)
		assert_true(json_has_str(bounding, *c));
	assert_false(json_has_str(bounding, "CAP_SYS_ADMIN"));
	assert_true(json_is_true(json_object_get(
		json_object_get(spec, "process"), "noNewPrivileges")));

	lx = json_object_get(spec, "linux");
	assert_true(json_has_str(json_object_get(lx, "maskedPaths"),
				 "/proc/kcore"));
	assert_true(json_has_str(json_object_get(lx, "readonlyPaths"),
				 "/proc/sys"));
	assert_int_equal(json_array_size(json_object_get(lx, "namespaces")),
			 6);
	sc = json_object_get(lx, "seccomp");
	assert_string_equal(json_string_value(json_object_get(sc,
							      "defaultAction")),
			    "SCMP_ACT_ERRNO");
	assert_int_equal(json_integer_value(json_object_get(sc,
							   "defaultErrnoRet")),
			 1);
	assert_true(allowed(sc, "read"));
	assert_true(allowed(sc, "chroot")); /* CAP_SYS_CHROOT is default */
	assert_false(allowed(sc, "mount"));
	assert_false(allowed(sc, "unshare"));
	assert_false(allowed(sc, "keyctl"));
	assert_false(allowed(sc, "kexec_load"));
	assert_false(allowed(sc, "clone")); /* only without CLONE_NEW* */
	assert_false(allowed(sc, "clone3"));

	/* rlimits within ours */
	rl = json_array_get(json_object_get(json_object_get(spec, "process"),
					    "rlimits"),
			    0);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &lim), 0);
	assert_true((rlim_t)json_integer_value(json_object_get(rl, "hard")) <=
		    lim.rlim_max);

	o = (struct cove_bundle_opts){.cap_drop = drop, .cap_add = add,
				      .rootless = true, .host_network = true};
	admin = spec_of(f, "{\"config\":{\"Cmd\":[\"sh\"]}}", &o, 0);
	bounding = json_object_get(
		json_object_get(json_object_get(admin, "process"),
				"capabilities"),
		"bounding");
	assert_int_equal(json_array_size(bounding), 2);
	assert_true(json_has_str(bounding, "CAP_NET_ADMIN"));
	sc = json_object_get(json_object_get(admin, "linux"), "seccomp");
	assert_true(allowed(sc, "mount"));
	assert_true(allowed(sc, "clone"));
	assert_false(allowed(sc, "chroot"));
	lx = json_object_get(admin, "linux");
	assert_non_null(json_object_get(lx, "uidMappings"));
	assert_null(json_object_get(lx, "resources"));
	/* user, no network */
	assert_int_equal(json_array_size(json_object_get(lx, "namespaces")),
			 6);

	o = (struct cove_bundle_opts){.cap_add = bad};
	assert_null(spec_of(f, "{\"config\":{\"Cmd\":[\"sh\"]}}", &o,
			    -EINVAL));
	o = (struct cove_bundle_opts){.no_seccomp = true};
	{
		_cleanup_json_ json_t *s =
			spec_of(f, "{\"config\":{\"Cmd\":[\"sh\"]}}", &o, 0);
		assert_null(json_object_get(json_object_get(s, "linux"),
					    "seccomp"));
	}
}

/* ---- integration: cove-runtime runs what we generate ---- */

static int run_argv(char *const argv[], char *out, size_t size)
{
	int pipefd[2], status;
	size_t len = 0;
	pid_t pid;

	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pipefd[1]);
	for (;;) {
		ssize_t n = read(pipefd[0], out + len, size - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == size - 1)
			break;
	}
	out[len] = '\0';
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* rmdir /cove-test/unit-<pid>[/...] in every cgroup hierarchy */
static void cgroup_cleanup(const char *parent)
{
	_cleanup_fclose_ FILE *m = fopen("/proc/self/mounts", "re");
	char line[1024];

	if (!m)
		return;
	while (fgets(line, sizeof(line), m)) {
		char src[256], dir[512], type[64], p[1024];
		if (sscanf(line, "%255s %511s %63s", src, dir, type) != 3 ||
		    (strcmp(type, "cgroup") && strcmp(type, "cgroup2")))
			continue;
		snprintf(p, sizeof(p), "%s%s/c1", dir, parent);
		rmdir(p);
		snprintf(p, sizeof(p), "%s%s", dir, parent);
		rmdir(p);
		snprintf(p, sizeof(p), "%s/cove-test", dir);
		rmdir(p); /* fails while others use it */
	}
}

static void test_runtime_runs_bundle(void **state)
{
	struct fixture *f = *state;
	char bundle[128], rootfs[160], parent[64], cgpath[96], id[64];
	char out[4096];
	char *cp[] = {"/bin/cp", "-a", BUSYBOX_ROOTFS, rootfs, NULL};
	struct cove_error err = {0};
	_cleanup_json_ json_t *img = NULL;
	struct cove_bundle_opts o = {0};
	int r;

	if (geteuid() != 0 || access(RUNTIME, X_OK) < 0 ||
	    access(BUSYBOX_ROOTFS "/bin/busybox", F_OK) < 0)
		skip();
	snprintf(bundle, sizeof(bundle), "%s/bundle", f->dir);
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", bundle);
	assert_int_equal(cove_mkdir_p(bundle, 0700), 0);
	assert_int_equal(run_argv(cp, out, sizeof(out)), 0);
	{
		/* an unprivileged user with supplementary groups */
		char p[256];
		snprintf(p, sizeof(p), "%s/etc/passwd", rootfs);
		assert_int_equal(cove_write_file_atomic_at(
					 AT_FDCWD, p,
					 "root:x:0:0:root:/root:/bin/sh\n"
					 "app:x:1000:1000::/home/app:/bin/sh\n",
					 66, 0644),
				 0);
		snprintf(p, sizeof(p), "%s/etc/group", rootfs);
		assert_int_equal(cove_write_file_atomic_at(
					 AT_FDCWD, p,
					 "root:x:0:\napp:x:1000:\n"
					 "staff:x:50:app\n",
					 37, 0644),
				 0);
	}
	snprintf(parent, sizeof(parent), "/cove-test/unit-%d", (int)getpid());
	snprintf(cgpath, sizeof(cgpath), "%s/c1", parent);
	snprintf(id, sizeof(id), "cove-unit-bundle-%d", (int)getpid());
	img = parse("{\"architecture\":\"amd64\",\"os\":\"linux\","
		    "\"config\":{\"User\":\"app\",\"WorkingDir\":\"/tmp\","
		    "\"Env\":[\"GREETING=hi\"],"
		    "\"Entrypoint\":[\"/bin/sh\",\"-c\"],"
		    "\"Cmd\":[\"echo $GREETING; id -u; id -g; id -G; pwd; "
		    "echo $HOME; grep CapBnd /proc/self/status; "
		    "grep Seccomp: /proc/self/status; "
		    "grep NoNewPrivs /proc/self/status; "
		    "unshare -U true 2>&1 || echo unshare-denied; "
		    "cat /proc/kcore 2>&1 | head -c 0; echo ok\"]}}");
	o.cgroups_path = cgpath;
	r = cove_bundle_create(img, bundle, &o, &err);
	if (r < 0)
		fail_msg("bundle: %s", err.msg);
	{
		char *argv[] = {RUNTIME, "run", "--bundle", bundle, id, NULL};
		r = run_argv(argv, out, sizeof(out));
	}
	{
		char *argv[] = {RUNTIME, "delete", "--force", id, NULL};
		char junk[512];
		run_argv(argv, junk, sizeof(junk));
	}
	cgroup_cleanup(parent);
	if (getenv("COVE_TEST_VERBOSE"))
		print_message("%s", out);
	if (r != 0)
		fail_msg("cove-runtime run: exit %d:\n%s", r, out);
	assert_non_null(strstr(out, "hi\n1000\n1000\n1000 50\n/tmp\n"
				    "/home/app\n"));
	/* docker's 14 capabilities: 0x a80425fb */
	assert_non_null(strstr(out, "CapBnd:\t00000000a80425fb"));
	assert_non_null(strstr(out, "Seccomp:\t2"));
	assert_non_null(strstr(out, "NoNewPrivs:\t1"));
	/* seccomp: EPERM for namespace creation without CAP_SYS_ADMIN */
	assert_non_null(strstr(out, "Operation not permitted\nunshare-denied"));
	assert_non_null(strstr(out, "ok\n"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_users, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_files_hostile, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_args, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_cwd_user, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_annotations, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_profile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_runtime_runs_bundle, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
