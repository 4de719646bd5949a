/*
 * Unit tests for src/runtime/spec.c: a complete config.json parses to the
 * right values; every invalid field is refused with a message that names it
 * by its path; mount options map to the right flags; cove_spec_load()
 * names the file.
 *
 * Test documents are written with single quotes (turned into double quotes
 * before parsing) to keep them readable.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/spec.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strutil.h"

#define BUNDLE "/srv/bundle"

/* ---- helpers ------------------------------------------------------------ */

/* Parse a single-quoted test document. */
static json_t *J(const char *text)
{
	_cleanup_free_ char *s = strdup(text);
	json_error_t jerr;
	json_t *j;

	assert_non_null(s);
	for (char *p = s; *p; p++)
		if (*p == '\'')
			*p = '"';
	j = json_loads(s, JSON_DECODE_ANY, &jerr);
	if (!j)
		fail_msg("bad test JSON at %d:%d: %s: %s", jerr.line,
			 jerr.column, jerr.text, s);
	return j;
}

/*
 * Merge @patch into @dst: objects merge member by member, anything else
 * replaces; a null deletes the member; a key starting with '!' replaces
 * the member named by the rest wholesale, even an object.
 */
static void merge(json_t *dst, json_t *patch)
{
	const char *k;
	json_t *v;

	json_object_foreach(patch, k, v)
	{
		json_t *cur;

		if (k[0] == '!') {
			json_object_set(dst, k + 1, v);
			continue;
		}
		cur = json_object_get(dst, k);
		if (json_is_null(v))
			json_object_del(dst, k);
		else if (json_is_object(v) && json_is_object(cur))
			merge(cur, v);
		else
			json_object_set(dst, k, v);
	}
}

/* Every field cove supports, set to a non-default value. */
static const char full_doc[] =
    "{'ociVersion': '1.2.0',"
    " 'process': {"
    "   'terminal': true,"
    "   'consoleSize': {'height': 25, 'width': 80},"
    "   'user': {'uid': 1000, 'gid': 1001, 'umask': 18,"
    "            'additionalGids': [5, 6, 4294967295],"
    "            'username': 'someone'},"
    "   'args': ['/bin/sh', '-c', 'echo hi'],"
    "   'env': ['PATH=/bin', 'TERM=xterm', 'EMPTY='],"
    "   'cwd': '/work',"
    "   'capabilities': {'bounding': ['CAP_KILL'],"
    "                    'effective': ['CAP_KILL']},"
    "   'rlimits': [{'type': 'RLIMIT_NOFILE', 'soft': 1024, 'hard': 4096},"
    "               {'type': 'RLIMIT_CORE', 'soft': 0,"
    "                'hard': 9223372036854775807}],"
    "   'noNewPrivileges': true,"
    "   'oomScoreAdj': -500,"
    "   'apparmorProfile': 'cove-default',"
    "   'selinuxLabel': 'system_u:system_r:container_t:s0',"
    "   'scheduler': {'policy': 'SCHED_OTHER'},"
    "   'ioPriority': {'class': 'IOPRIO_CLASS_IDLE'},"
    "   'execCPUAffinity': {'initial': '0'}},"
    " 'root': {'path': 'rootfs', 'readonly': true},"
    " 'hostname': 'box',"
    " 'domainname': 'example.org',"
    " 'mounts': ["
    "   {'destination': '/proc', 'type': 'proc', 'source': 'proc'},"
    "   {'destination': '/dev', 'type': 'tmpfs', 'source': 'tmpfs',"
    "    'options': ['nosuid', 'strictatime', 'mode=755', 'size=65536k']},"
    "   {'destination': '/data', 'source': '/srv/data',"
    "    'options': ['rbind', 'ro', 'rprivate', 'nodev']},"
    "   {'destination': '/idm', 'type': 'bind', 'source': '/srv/idm',"
    "    'uidMappings': [{'containerID': 0, 'hostID': 100000,"
    "                     'size': 65536}],"
    "    'gidMappings': [{'containerID': 0, 'hostID': 200000,"
    "                     'size': 1000}]},"
    "   {'destination': '/a..b/c..', 'type': 'tmpfs'}],"
    " 'hooks': {"
    "   'prestart': [{'path': '/usr/bin/pre', 'args': ['pre', '1'],"
    "                 'env': ['A=1'], 'timeout': 5}],"
    "   'createRuntime': [{'path': '/bin/cr1'}, {'path': '/bin/cr2'}],"
    "   'createContainer': [{'path': '/bin/cc'}],"
    "   'startContainer': [{'path': '/bin/sc'}],"
    "   'poststart': [{'path': '/bin/ps'}],"
    "   'poststop': [{'path': '/bin/pst', 'timeout': 30}]},"
    " 'annotations': {'org.example.key': 'value'},"
    " 'linux': {"
    "   'namespaces': [{'type': 'pid'}, {'type': 'network'},"
    "                  {'type': 'mount'}, {'type': 'ipc'},"
    "                  {'type': 'uts'}, {'type': 'user'},"
    "                  {'type': 'cgroup', 'path': '/proc/1/ns/cgroup'},"
    "                  {'type': 'time', 'path': ''}],"
    "   'uidMappings': [{'containerID': 0, 'hostID': 100000,"
    "                    'size': 65536}],"
    "   'gidMappings': [{'containerID': 0, 'hostID': 100000,"
    "                    'size': 65536},"
    "                   {'containerID': 65536, 'hostID': 300000,"
    "                    'size': 1}],"
    "   'devices': [{'path': '/dev/fuse', 'type': 'c', 'major': 10,"
    "                'minor': 229, 'fileMode': 438, 'uid': 0, 'gid': 5},"
    "               {'path': '/dev/sda', 'type': 'b', 'major': 8,"
    "                'minor': 0},"
    "               {'path': '/dev/fifo', 'type': 'p'},"
    "               {'path': '/dev/max', 'type': 'u', 'major': 4095,"
    "                'minor': 1048575}],"
    "   'cgroupsPath': '/cove/test',"
    "   'resources': {'memory': {'limit': 1048576}},"
    "   'sysctl': {'net.ipv4.ip_forward': '1', 'kernel.shmmax': '65536',"
    "              'fs.mqueue.msg_max': '10',"
    "              'kernel.domainname': 'x'},"
    "   'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW'},"
    "   'rootfsPropagation': 'rshared',"
    "   'maskedPaths': ['/proc/kcore'],"
    "   'readonlyPaths': ['/proc/sys', '/proc/bus'],"
    "   'mountLabel': 'system_u:object_r:container_file_t:s0',"
    "   'personality': {'domain': 'LINUX'},"
    "   'timeOffsets': {'monotonic': {'secs': 86400, 'nanosecs': 5},"
    "                   'boottime': {'secs': -3600}}}}";

/*
 * Parse @root (consumed: owned by the spec on success, released here on
 * failure, as a caller must).
 */
static int parse_doc(json_t *root, struct cove_spec **ret,
		     struct cove_error *err)
{
	int r;

	cove_error_clear(err);
	*ret = NULL;
	r = cove_spec_parse(root, BUNDLE, ret, err);
	if (r < 0) {
		assert_null(*ret);
		json_decref(root);
	}
	return r;
}

/* House style: lowercase start, no final period. */
static void assert_style(const char *msg)
{
	size_t n = strlen(msg);

	assert_true(n > 0);
	if (isupper((unsigned char)msg[0]) || msg[n - 1] == '.')
		fail_msg("message not in house style: '%s'", msg);
}

/* ---- valid documents ---------------------------------------------------- */

static void test_full(void **state)
{
	_cleanup_spec_ struct cove_spec *s = NULL;
	struct cove_error err = {0};
	json_t *root = J(full_doc);
	const struct cove_process *p;
	const struct cove_mount *m;

	if (parse_doc(root, &s, &err) < 0)
		fail_msg("full document refused: %s", err.msg);
	assert_ptr_equal(s->root, root);
	assert_int_equal(root->refcount, 1); /* owned by the spec alone */
	assert_string_equal(s->oci_version, "1.2.0");

	assert_true(s->has_process);
	p = &s->process;
	assert_true(p->terminal);
	assert_int_equal(p->console_height, 25);
	assert_int_equal(p->console_width, 80);
	assert_int_equal(p->user.uid, 1000);
	assert_int_equal(p->user.gid, 1001);
	assert_true(p->user.has_umask);
	assert_int_equal(p->user.umask, 022);
	assert_int_equal(p->user.n_additional_gids, 3);
	assert_int_equal(p->user.additional_gids[0], 5);
	assert_int_equal(p->user.additional_gids[1], 6);
	assert_true(p->user.additional_gids[2] == UINT32_MAX);
	assert_int_equal(cove_strv_length(p->args), 3);
	assert_string_equal(p->args[0], "/bin/sh");
	assert_string_equal(p->args[2], "echo hi");
	assert_null(p->command_line);
	assert_int_equal(cove_strv_length(p->env), 3);
	assert_string_equal(p->env[2], "EMPTY=");
	assert_string_equal(p->cwd, "/work");
	assert_ptr_equal(
	    p->capabilities,
	    json_object_get(json_object_get(root, "process"), "capabilities"));
	assert_int_equal(p->n_rlimits, 2);
	assert_int_equal(p->rlimits[0].resource, RLIMIT_NOFILE);
	assert_true(p->rlimits[0].soft == 1024);
	assert_true(p->rlimits[0].hard == 4096);
	assert_int_equal(p->rlimits[1].resource, RLIMIT_CORE);
	assert_true(p->rlimits[1].soft == 0);
	assert_true(p->rlimits[1].hard == INT64_MAX);
	assert_true(p->no_new_privileges);
	assert_true(p->has_oom_score_adj);
	assert_int_equal(p->oom_score_adj, -500);
	assert_string_equal(p->apparmor_profile, "cove-default");
	assert_string_equal(p->selinux_label,
			    "system_u:system_r:container_t:s0");
	assert_non_null(p->scheduler);
	assert_non_null(p->io_priority);
	assert_non_null(p->exec_cpu_affinity);

	/* A relative root.path is resolved against the bundle. */
	assert_string_equal(s->root_path, BUNDLE "/rootfs");
	assert_true(s->root_readonly);
	assert_string_equal(s->hostname, "box");
	assert_string_equal(s->domainname, "example.org");

	assert_int_equal(s->n_mounts, 5);
	m = &s->mounts[0];
	assert_string_equal(m->destination, "/proc");
	assert_string_equal(m->type, "proc");
	assert_string_equal(m->source, "proc");
	assert_null(m->options);
	assert_true(m->flags == 0 && m->clear_flags == 0);
	assert_false(m->bind);
	assert_null(m->data);
	m = &s->mounts[1];
	assert_true(m->flags == (MS_NOSUID | MS_STRICTATIME));
	assert_string_equal(m->data, "mode=755,size=65536k");
	assert_int_equal(cove_strv_length(m->options), 4);
	m = &s->mounts[2];
	assert_null(m->type); /* a bind mount needs no type */
	assert_true(m->bind);
	assert_true(m->recursive_bind);
	assert_true(m->flags == (MS_RDONLY | MS_NODEV));
	assert_true(m->propagation == (MS_PRIVATE | MS_REC));
	assert_null(m->data);
	m = &s->mounts[3];
	assert_true(m->bind);
	assert_false(m->recursive_bind);
	assert_true(m->idmap); /* implied by the mappings */
	assert_int_equal(m->n_uid_mappings, 1);
	assert_int_equal(m->uid_mappings[0].container_id, 0);
	assert_int_equal(m->uid_mappings[0].host_id, 100000);
	assert_int_equal(m->uid_mappings[0].size, 65536);
	assert_int_equal(m->n_gid_mappings, 1);
	assert_int_equal(m->gid_mappings[0].host_id, 200000);
	assert_int_equal(m->gid_mappings[0].size, 1000);
	/* ".." inside a name is not a ".." component. */
	assert_string_equal(s->mounts[4].destination, "/a..b/c..");
	assert_null(s->mounts[4].source);

	assert_int_equal(s->hooks[COVE_HOOK_PRESTART].n, 1);
	assert_string_equal(s->hooks[COVE_HOOK_PRESTART].list[0].path,
			    "/usr/bin/pre");
	assert_int_equal(
	    cove_strv_length(s->hooks[COVE_HOOK_PRESTART].list[0].args), 2);
	assert_string_equal(s->hooks[COVE_HOOK_PRESTART].list[0].env[0], "A=1");
	assert_int_equal(s->hooks[COVE_HOOK_PRESTART].list[0].timeout, 5);
	assert_int_equal(s->hooks[COVE_HOOK_CREATE_RUNTIME].n, 2);
	assert_string_equal(s->hooks[COVE_HOOK_CREATE_RUNTIME].list[1].path,
			    "/bin/cr2");
	assert_int_equal(s->hooks[COVE_HOOK_CREATE_RUNTIME].list[1].timeout, 0);
	assert_null(s->hooks[COVE_HOOK_CREATE_RUNTIME].list[1].args);
	assert_int_equal(s->hooks[COVE_HOOK_CREATE_CONTAINER].n, 1);
	assert_int_equal(s->hooks[COVE_HOOK_START_CONTAINER].n, 1);
	assert_int_equal(s->hooks[COVE_HOOK_POSTSTART].n, 1);
	assert_int_equal(s->hooks[COVE_HOOK_POSTSTOP].n, 1);
	assert_int_equal(s->hooks[COVE_HOOK_POSTSTOP].list[0].timeout, 30);
	assert_string_equal(json_string_value(json_object_get(
				s->annotations, "org.example.key")),
			    "value");

	for (int t = 0; t < COVE_NS_MAX; t++)
		if (!s->namespaces[t].enabled)
			fail_msg("namespace %s not enabled", cove_ns_name(t));
	assert_string_equal(s->namespaces[COVE_NS_CGROUP].path,
			    "/proc/1/ns/cgroup");
	assert_null(s->namespaces[COVE_NS_TIME].path); /* "" = create */
	assert_null(s->namespaces[COVE_NS_PID].path);
	assert_int_equal(s->n_uid_mappings, 1);
	assert_int_equal(s->uid_mappings[0].size, 65536);
	assert_int_equal(s->n_gid_mappings, 2);
	assert_int_equal(s->gid_mappings[1].container_id, 65536);
	assert_int_equal(s->gid_mappings[1].host_id, 300000);
	assert_int_equal(s->gid_mappings[1].size, 1);

	assert_int_equal(s->n_devices, 4);
	assert_string_equal(s->devices[0].path, "/dev/fuse");
	assert_int_equal(s->devices[0].type, 'c');
	assert_int_equal(s->devices[0].major, 10);
	assert_int_equal(s->devices[0].minor, 229);
	assert_true(s->devices[0].has_file_mode);
	assert_int_equal(s->devices[0].file_mode, 0666);
	assert_true(s->devices[0].has_uid && s->devices[0].has_gid);
	assert_int_equal(s->devices[0].uid, 0);
	assert_int_equal(s->devices[0].gid, 5);
	assert_int_equal(s->devices[1].type, 'b');
	assert_false(s->devices[1].has_file_mode);
	assert_false(s->devices[1].has_uid);
	assert_int_equal(s->devices[2].type, 'p');
	assert_int_equal(s->devices[3].type, 'u');
	assert_int_equal(s->devices[3].major, 4095);
	assert_int_equal(s->devices[3].minor, 1048575);

	assert_string_equal(s->cgroups_path, "/cove/test");
	assert_ptr_equal(
	    s->resources,
	    json_object_get(json_object_get(root, "linux"), "resources"));
	assert_int_equal(json_object_size(s->sysctl), 4);
	assert_non_null(s->seccomp);
	assert_true(s->rootfs_propagation == (MS_SHARED | MS_REC));
	assert_int_equal(cove_strv_length(s->masked_paths), 1);
	assert_string_equal(s->masked_paths[0], "/proc/kcore");
	assert_int_equal(cove_strv_length(s->readonly_paths), 2);
	assert_string_equal(s->readonly_paths[1], "/proc/bus");
	assert_string_equal(s->mount_label,
			    "system_u:object_r:container_file_t:s0");
	assert_non_null(s->personality);
	assert_null(s->intel_rdt);
	assert_true(s->has_time_offsets);
	assert_int_equal(s->time_offsets[0][0], 86400);
	assert_int_equal(s->time_offsets[0][1], 5);
	assert_int_equal(s->time_offsets[1][0], -3600);
	assert_int_equal(s->time_offsets[1][1], 0);
}

/* The document `cove-runtime spec` writes. */
static void test_default(void **state)
{
	_cleanup_spec_ struct cove_spec *s = NULL;
	struct cove_error err = {0};
	json_t *root = cove_spec_default(false);
	const struct cove_mount *dev = NULL;

	assert_non_null(root);
	if (parse_doc(root, &s, &err) < 0)
		fail_msg("default spec refused: %s", err.msg);
	assert_string_equal(s->oci_version, "1.2.0");
	assert_true(s->has_process);
	assert_true(s->process.terminal);
	assert_int_equal(cove_strv_length(s->process.args), 1);
	assert_string_equal(s->process.args[0], "sh");
	assert_string_equal(s->process.cwd, "/");
	assert_int_equal(s->process.user.uid, 0);
	assert_int_equal(s->process.n_rlimits, 1);
	assert_int_equal(s->process.rlimits[0].resource, RLIMIT_NOFILE);
	assert_true(s->process.rlimits[0].soft == 1024);
	assert_true(s->process.no_new_privileges);
	assert_false(s->process.has_oom_score_adj);
	assert_string_equal(s->root_path, BUNDLE "/rootfs");
	assert_true(s->root_readonly);
	assert_string_equal(s->hostname, "cove");
	assert_true(s->namespaces[COVE_NS_PID].enabled);
	assert_true(s->namespaces[COVE_NS_NET].enabled);
	assert_true(s->namespaces[COVE_NS_IPC].enabled);
	assert_true(s->namespaces[COVE_NS_UTS].enabled);
	assert_true(s->namespaces[COVE_NS_MNT].enabled);
	assert_false(s->namespaces[COVE_NS_USER].enabled);
	assert_int_equal(s->n_uid_mappings, 0);
	assert_true(s->n_mounts >= 5);
	for (size_t i = 0; i < s->n_mounts; i++)
		if (!strcmp(s->mounts[i].destination, "/dev"))
			dev = &s->mounts[i];
	assert_non_null(dev);
	assert_string_equal(dev->type, "tmpfs");
	assert_true(dev->flags == (MS_NOSUID | MS_STRICTATIME));
	assert_string_equal(dev->data, "mode=755,size=65536k");
	assert_true(cove_strv_contains(s->masked_paths, "/proc/kcore"));
	assert_true(cove_strv_contains(s->readonly_paths, "/proc/sys"));
	assert_non_null(s->resources);
	assert_int_equal(s->rootfs_propagation, 0);
	assert_false(s->has_time_offsets);
}

static void test_default_rootless(void **state)
{
	_cleanup_spec_ struct cove_spec *s = NULL;
	struct cove_error err = {0};
	json_t *root = cove_spec_default(true);

	assert_non_null(root);
	if (parse_doc(root, &s, &err) < 0)
		fail_msg("rootless default spec refused: %s", err.msg);
	assert_true(s->namespaces[COVE_NS_USER].enabled);
	assert_true(s->n_uid_mappings > 0);
	assert_true(s->n_gid_mappings > 0);
}

/* The smallest document that is valid, and absent optional members. */
static void test_minimal(void **state)
{
	_cleanup_spec_ struct cove_spec *s = NULL;
	struct cove_error err = {0};

	if (parse_doc(J("{'ociVersion': '1.0.2-dev', "
			"'root': {'path': '/abs/rootfs'}, "
			"'process': null, 'hostname': '', 'mounts': null, "
			"'linux': {'cgroupsPath': '', 'sysctl': {}}}"),
		      &s, &err) < 0)
		fail_msg("minimal document refused: %s", err.msg);
	assert_false(s->has_process);
	assert_string_equal(s->root_path, "/abs/rootfs"); /* absolute: kept */
	assert_false(s->root_readonly);
	assert_null(s->hostname); /* "" is unset */
	assert_null(s->domainname);
	assert_int_equal(s->n_mounts, 0);
	assert_null(s->cgroups_path);
	assert_null(s->resources);
	assert_null(s->seccomp);
	for (int k = 0; k < COVE_HOOK_MAX; k++)
		assert_int_equal(s->hooks[k].n, 0);
	for (int t = 0; t < COVE_NS_MAX; t++)
		assert_false(s->namespaces[t].enabled);
	cove_spec_free(TAKE_PTR(s));

	/* Without a bundle the root path stays as written. */
	{
		json_t *root = J("{'ociVersion': '1.1.0', "
				 "'root': {'path': 'rootfs'}}");
		assert_int_equal(cove_spec_parse(root, NULL, &s, &err), 0);
		assert_string_equal(s->root_path, "rootfs");
	}
}

/* A joined user namespace needs no mappings; a new one does. */
static void test_user_namespace(void **state)
{
	_cleanup_spec_ struct cove_spec *s = NULL;
	struct cove_error err = {0};

	if (parse_doc(J("{'ociVersion': '1.2.0', 'root': {'path': 'r'},"
			" 'linux': {'namespaces': [{'type': 'user',"
			" 'path': '/proc/1/ns/user'}]}}"),
		      &s, &err) < 0)
		fail_msg("joined user namespace refused: %s", err.msg);
	assert_string_equal(s->namespaces[COVE_NS_USER].path,
			    "/proc/1/ns/user");
	cove_spec_free(TAKE_PTR(s));

	assert_int_equal(parse_doc(J("{'ociVersion': '1.2.0',"
				     " 'root': {'path': 'r'},"
				     " 'linux': {'namespaces':"
				     " [{'type': 'user'}],"
				     " 'uidMappings': [{'containerID': 0,"
				     " 'hostID': 1, 'size': 1}]}}"),
				   &s, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "'linux.uidMappings'"));
	assert_non_null(strstr(err.msg, "gidMappings"));
}

/* Deeply nested members the spec only borrows are not walked. */
static void test_deep_nesting(void **state)
{
	_cleanup_spec_ struct cove_spec *s = NULL;
	struct cove_error err = {0};
	json_t *root = J("{'ociVersion': '1.2.0', 'root': {'path': 'r'},"
			 " 'linux': {}}");
	json_t *inner = json_object();
	json_t *top = inner;

	for (int i = 0; i < 10000; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "x", top);
		top = o;
	}
	json_object_set_new(json_object_get(root, "linux"), "personality", top);
	json_object_set(root, "unknownExtension", top);
	if (parse_doc(root, &s, &err) < 0)
		fail_msg("deep document refused: %s", err.msg);
	assert_ptr_equal(s->personality, top);
}

/* ---- invalid documents: one case per field ------------------------------ */

struct bad_case {
	const char *name;
	const char *patch;  /* merged into full_doc, see merge() */
	const char *expect; /* substring of the error message */
	int code;	    /* expected errno, 0: EINVAL */
};

/* linux.namespaces of full_doc without the one named. */
#define NS_WITHOUT_UTS                                                         \
	"[{'type': 'pid'}, {'type': 'network'}, {'type': 'mount'},"            \
	" {'type': 'ipc'}, {'type': 'user'}, {'type': 'time'}]"
#define NS_WITHOUT_USER                                                        \
	"[{'type': 'pid'}, {'type': 'network'}, {'type': 'mount'},"            \
	" {'type': 'ipc'}, {'type': 'uts'}, {'type': 'time'}]"
#define NS_WITHOUT_NET                                                         \
	"[{'type': 'pid'}, {'type': 'mount'}, {'type': 'ipc'},"                \
	" {'type': 'uts'}, {'type': 'user'}, {'type': 'time'}]"
#define NS_WITHOUT_TIME                                                        \
	"[{'type': 'pid'}, {'type': 'network'}, {'type': 'mount'},"            \
	" {'type': 'ipc'}, {'type': 'uts'}, {'type': 'user'}]"
#define NS_WITHOUT_IPC                                                         \
	"[{'type': 'pid'}, {'type': 'network'}, {'type': 'mount'},"            \
	" {'type': 'uts'}, {'type': 'user'}, {'type': 'time'}]"

static const struct bad_case bad_cases[] = {
    /* document */
    {"ociVersion type", "{'ociVersion': 1}", "'ociVersion'", 0},
    {"ociVersion missing", "{'ociVersion': null}", "'ociVersion'", 0},
    {"ociVersion 2.x", "{'ociVersion': '2.0.0'}", "'ociVersion'", 0},
    {"ociVersion 0.x", "{'ociVersion': '0.5.0'}", "unsupported version '0.5.0'",
     0},
    {"ociVersion 1 without dot", "{'ociVersion': '1'}", "'ociVersion'", 0},
    {"ociVersion 10.x", "{'ociVersion': '10.0.0'}", "'ociVersion'", 0},
    {"windows platform", "{'windows': {}}", "'linux' platform", 0},
    {"solaris platform", "{'solaris': {}}", "'linux' platform", 0},
    {"vm platform", "{'vm': {}}", "'linux' platform", 0},
    /* root */
    {"root missing", "{'root': null}", "'root'", 0},
    {"root type", "{'root': 'rootfs'}", "'root'", 0},
    {"root.path missing", "{'root': {'path': null}}", "'root.path'", 0},
    {"root.path empty", "{'root': {'path': ''}}", "'root.path'", 0},
    {"root.path type", "{'root': {'path': 1}}", "'root.path'", 0},
    {"root.readonly type", "{'root': {'readonly': 'yes'}}", "'root.readonly'",
     0},
    /* process */
    {"process type", "{'process': []}", "'process'", 0},
    {"process.terminal type", "{'process': {'terminal': 'true'}}",
     "'process.terminal'", 0},
    {"process.consoleSize type", "{'process': {'consoleSize': 1}}",
     "'process.consoleSize'", 0},
    {"process.consoleSize.height range",
     "{'process': {'consoleSize': {'height': 70000}}}", "'process.consoleSize'",
     0},
    {"process.consoleSize.width type",
     "{'process': {'consoleSize': {'width': -1}}}",
     "'process.consoleSize.width'", 0},
    {"process.user type", "{'process': {'user': 0}}", "'process.user'", 0},
    {"process.user.uid negative", "{'process': {'user': {'uid': -1}}}",
     "'process.user.uid'", 0},
    {"process.user.uid string", "{'process': {'user': {'uid': '0'}}}",
     "'process.user.uid'", 0},
    {"process.user.uid 2^32", "{'process': {'user': {'uid': 4294967296}}}",
     "'process.user.uid'", 0},
    {"process.user.gid real", "{'process': {'user': {'gid': 1.0}}}",
     "'process.user.gid'", 0},
    {"process.user.umask range", "{'process': {'user': {'umask': 512}}}",
     "'process.user.umask'", 0},
    {"process.user.additionalGids type",
     "{'process': {'user': {'additionalGids': 5}}}",
     "'process.user.additionalGids'", 0},
    {"process.user.additionalGids element",
     "{'process': {'user': {'additionalGids': [1, -2]}}}",
     "'process.user.additionalGids[1]'", 0},
    {"process.user.additionalGids element type",
     "{'process': {'user': {'additionalGids': ['1']}}}",
     "'process.user.additionalGids[0]'", 0},
    {"process.user.username type", "{'process': {'user': {'username': 0}}}",
     "'process.user.username'", 0},
    {"process.args missing", "{'process': {'args': null}}", "'process.args'",
     0},
    {"process.args empty", "{'process': {'args': []}}", "'process.args'", 0},
    {"process.args empty string", "{'process': {'args': ['']}}",
     "'process.args'", 0},
    {"process.args type", "{'process': {'args': 'sh'}}", "'process.args'", 0},
    {"process.args element type", "{'process': {'args': ['sh', 1]}}",
     "'process.args[1]'", 0},
    {"process.commandLine", "{'process': {'commandLine': 'sh -c x'}}",
     "'process.commandLine'", 0},
    {"process.commandLine type", "{'process': {'commandLine': 1}}",
     "'process.commandLine'", 0},
    {"process.env not NAME=VALUE", "{'process': {'env': ['A=1', 'NOEQUALS']}}",
     "'process.env[1]'", 0},
    {"process.env element type", "{'process': {'env': [{}]}}",
     "'process.env[0]'", 0},
    {"process.cwd missing", "{'process': {'cwd': null}}", "'process.cwd'", 0},
    {"process.cwd relative", "{'process': {'cwd': 'work'}}", "'process.cwd'",
     0},
    {"process.cwd empty", "{'process': {'cwd': ''}}", "'process.cwd'", 0},
    {"process.cwd type", "{'process': {'cwd': ['/']}}", "'process.cwd'", 0},
    {"process.capabilities type", "{'process': {'capabilities': []}}",
     "'process.capabilities'", 0},
    {"process.rlimits type", "{'process': {'rlimits': {}}}",
     "'process.rlimits'", 0},
    {"process.rlimits element type", "{'process': {'rlimits': [1]}}",
     "'process.rlimits[0]'", 0},
    {"process.rlimits unknown type",
     "{'process': {'rlimits': [{'type': 'RLIMIT_FOO', 'soft': 1,"
     " 'hard': 1}]}}",
     "'process.rlimits[0].type'", 0},
    {"process.rlimits lowercase type",
     "{'process': {'rlimits': [{'type': 'rlimit_nofile', 'soft': 1,"
     " 'hard': 1}]}}",
     "'process.rlimits[0].type'", 0},
    {"process.rlimits missing type",
     "{'process': {'rlimits': [{'soft': 1, 'hard': 1}]}}",
     "'process.rlimits[0].type'", 0},
    {"process.rlimits type not a string",
     "{'process': {'rlimits': [{'type': 7, 'soft': 1, 'hard': 1}]}}",
     "'process.rlimits[0].type'", 0},
    {"process.rlimits duplicate",
     "{'process': {'rlimits': [{'type': 'RLIMIT_NOFILE', 'soft': 1,"
     " 'hard': 1}, {'type': 'RLIMIT_NOFILE', 'soft': 2, 'hard': 2}]}}",
     "'process.rlimits[1].type'", 0},
    {"process.rlimits soft above hard",
     "{'process': {'rlimits': [{'type': 'RLIMIT_NOFILE', 'soft': 2048,"
     " 'hard': 1024}]}}",
     "'process.rlimits[0]'", 0},
    {"process.rlimits soft negative",
     "{'process': {'rlimits': [{'type': 'RLIMIT_NOFILE', 'soft': -1,"
     " 'hard': 1024}]}}",
     "'process.rlimits[0].soft'", 0},
    {"process.rlimits hard missing",
     "{'process': {'rlimits': [{'type': 'RLIMIT_CPU', 'soft': 1}]}}",
     "'process.rlimits[0]'", 0},
    {"process.rlimits hard string",
     "{'process': {'rlimits': [{'type': 'RLIMIT_CPU', 'soft': 1,"
     " 'hard': 'unlimited'}]}}",
     "'process.rlimits[0].hard'", 0},
    {"process.noNewPrivileges type", "{'process': {'noNewPrivileges': 1}}",
     "'process.noNewPrivileges'", 0},
    {"process.oomScoreAdj range", "{'process': {'oomScoreAdj': 1001}}",
     "'process.oomScoreAdj'", 0},
    {"process.oomScoreAdj range low", "{'process': {'oomScoreAdj': -1001}}",
     "'process.oomScoreAdj'", 0},
    {"process.oomScoreAdj type", "{'process': {'oomScoreAdj': '5'}}",
     "'process.oomScoreAdj'", 0},
    {"process.apparmorProfile type", "{'process': {'apparmorProfile': true}}",
     "'process.apparmorProfile'", 0},
    {"process.selinuxLabel type", "{'process': {'selinuxLabel': 0}}",
     "'process.selinuxLabel'", 0},
    {"process.scheduler type", "{'process': {'scheduler': 'x'}}",
     "'process.scheduler'", 0},
    {"process.ioPriority type", "{'process': {'ioPriority': []}}",
     "'process.ioPriority'", 0},
    {"process.execCPUAffinity type", "{'process': {'execCPUAffinity': '0-3'}}",
     "'process.execCPUAffinity'", 0},
    /* hostname */
    {"hostname type", "{'hostname': 5}", "'hostname'", 0},
    {"domainname type", "{'domainname': []}", "'domainname'", 0},
    {"hostname without uts namespace",
     "{'linux': {'namespaces': " NS_WITHOUT_UTS ", 'sysctl': null}}",
     "'hostname'", 0},
    {"domainname without uts namespace",
     "{'linux': {'namespaces': " NS_WITHOUT_UTS ", 'sysctl': null},"
     " 'hostname': null}",
     "'domainname'", 0},
    /* mounts */
    {"mounts type", "{'mounts': {}}", "'mounts'", 0},
    {"mounts element type", "{'mounts': ['/proc']}", "'mounts[0]'", 0},
    {"mounts destination missing",
     "{'mounts': [{'type': 'proc', 'source': 'proc'}]}",
     "'mounts[0].destination'", 0},
    {"mounts destination relative",
     "{'mounts': [{'destination': 'proc', 'type': 'proc'}]}",
     "'mounts[0].destination'", 0},
    {"mounts destination empty",
     "{'mounts': [{'destination': '', 'type': 'proc'}]}",
     "'mounts[0].destination'", 0},
    {"mounts destination type",
     "{'mounts': [{'destination': 1, 'type': 'proc'}]}",
     "'mounts[0].destination'", 0},
    {"mounts destination dotdot",
     "{'mounts': [{'destination': '/proc', 'type': 'proc'},"
     " {'destination': '/a/../etc', 'type': 'tmpfs'}]}",
     "'mounts[1].destination'", 0},
    {"mounts destination trailing dotdot",
     "{'mounts': [{'destination': '/a/..', 'type': 'tmpfs'}]}",
     "'mounts[0].destination'", 0},
    {"mounts destination root dotdot",
     "{'mounts': [{'destination': '/..', 'type': 'tmpfs'}]}",
     "'mounts[0].destination'", 0},
    {"mounts source type",
     "{'mounts': [{'destination': '/x', 'type': 'tmpfs', 'source': 1}]}",
     "'mounts[0].source'", 0},
    {"mounts type type",
     "{'mounts': [{'destination': '/x', 'type': ['tmpfs']}]}",
     "'mounts[0].type'", 0},
    {"mounts type missing",
     "{'mounts': [{'destination': '/x', 'source': 'tmpfs'}]}", "'mounts[0]'",
     0},
    {"mounts options type",
     "{'mounts': [{'destination': '/x', 'type': 'tmpfs',"
     " 'options': 'ro'}]}",
     "'mounts[0].options'", 0},
    {"mounts options element type",
     "{'mounts': [{'destination': '/x', 'type': 'tmpfs',"
     " 'options': ['ro', 1]}]}",
     "'mounts[0].options[1]'", 0},
    {"mounts option with a comma",
     "{'mounts': [{'destination': '/x', 'type': 'tmpfs',"
     " 'options': ['size=1m,mode=755']}]}",
     "'size=1m,mode=755'", 0},
    {"mounts bind without source",
     "{'mounts': [{'destination': '/x', 'type': 'bind'}]}", "'mounts[0]'", 0},
    {"mounts idmap without bind",
     "{'mounts': [{'destination': '/x', 'type': 'tmpfs',"
     " 'options': ['idmap']}]}",
     "'mounts[0]'", 0},
    {"mounts mappings without bind",
     "{'mounts': [{'destination': '/x', 'type': 'tmpfs',"
     " 'uidMappings': [{'containerID': 0, 'hostID': 1, 'size': 1}]}]}",
     "'mounts[0]'", 0},
    {"mounts uidMappings type",
     "{'mounts': [{'destination': '/x', 'type': 'bind', 'source': '/',"
     " 'uidMappings': {}}]}",
     "'mounts[0].uidMappings'", 0},
    {"mounts uidMappings size missing",
     "{'mounts': [{'destination': '/x', 'type': 'bind', 'source': '/',"
     " 'uidMappings': [{'containerID': 0, 'hostID': 1}]}]}",
     "'mounts[0].uidMappings[0]'", 0},
    {"mounts gidMappings hostID negative",
     "{'mounts': [{'destination': '/x', 'type': 'bind', 'source': '/',"
     " 'gidMappings': [{'containerID': 0, 'hostID': -1, 'size': 1}]}]}",
     "'mounts[0].gidMappings[0].hostID'", 0},
    /* hooks */
    {"hooks type", "{'hooks': []}", "'hooks'", 0},
    {"hooks.prestart type", "{'hooks': {'prestart': {}}}", "'hooks.prestart'",
     0},
    {"hooks element type", "{'hooks': {'poststart': ['/bin/true']}}",
     "'hooks.poststart[0]'", 0},
    {"hooks path missing", "{'hooks': {'createContainer': [{}]}}",
     "'hooks.createContainer[0].path'", 0},
    {"hooks path relative", "{'hooks': {'prestart': [{'path': 'bin/hook'}]}}",
     "'hooks.prestart[0].path'", 0},
    {"hooks path type", "{'hooks': {'startContainer': [{'path': 1}]}}",
     "'hooks.startContainer[0].path'", 0},
    {"hooks second entry path",
     "{'hooks': {'createRuntime': [{'path': '/ok'}, {'path': 'x'}]}}",
     "'hooks.createRuntime[1].path'", 0},
    {"hooks args type",
     "{'hooks': {'prestart': [{'path': '/h', 'args': 'h'}]}}",
     "'hooks.prestart[0].args'", 0},
    {"hooks args element type",
     "{'hooks': {'prestart': [{'path': '/h', 'args': ['h', null]}]}}",
     "'hooks.prestart[0].args[1]'", 0},
    {"hooks env element type",
     "{'hooks': {'poststop': [{'path': '/h', 'env': [1]}]}}",
     "'hooks.poststop[0].env[0]'", 0},
    {"hooks timeout zero",
     "{'hooks': {'poststop': [{'path': '/h', 'timeout': 0}]}}",
     "'hooks.poststop[0].timeout'", 0},
    {"hooks timeout negative",
     "{'hooks': {'prestart': [{'path': '/h', 'timeout': -5}]}}",
     "'hooks.prestart[0].timeout'", 0},
    {"hooks timeout huge",
     "{'hooks': {'prestart': [{'path': '/h',"
     " 'timeout': 9223372036854775807}]}}",
     "'hooks.prestart[0].timeout'", 0},
    {"hooks timeout type",
     "{'hooks': {'prestart': [{'path': '/h', 'timeout': '5'}]}}",
     "'hooks.prestart[0].timeout'", 0},
    /* annotations */
    {"annotations type", "{'annotations': ['a']}", "'annotations'", 0},
    {"annotations value type", "{'annotations': {'org.x': 1}}",
     "'annotations.org.x'", 0},
    /* linux */
    {"linux type", "{'linux': []}", "'linux'", 0},
    {"linux.namespaces type", "{'linux': {'namespaces': {}}}",
     "'linux.namespaces'", 0},
    {"linux.namespaces element type", "{'linux': {'namespaces': ['pid']}}",
     "'linux.namespaces[0]'", 0},
    {"linux.namespaces unknown",
     "{'linux': {'namespaces': [{'type': 'pid'}, {'type': 'net'}]}}",
     "'linux.namespaces[1].type'", 0},
    {"linux.namespaces missing type", "{'linux': {'namespaces': [{}]}}",
     "'linux.namespaces[0].type'", 0},
    {"linux.namespaces type type", "{'linux': {'namespaces': [{'type': 1}]}}",
     "'linux.namespaces[0].type'", 0},
    {"linux.namespaces duplicate",
     "{'linux': {'namespaces': [{'type': 'pid'}, {'type': 'mount'},"
     " {'type': 'pid', 'path': '/proc/1/ns/pid'}]}}",
     "'linux.namespaces[2].type'", 0},
    {"linux.namespaces path relative",
     "{'linux': {'namespaces': [{'type': 'pid', 'path': 'proc/1/ns'}]}}",
     "'linux.namespaces[0].path'", 0},
    {"linux.namespaces path type",
     "{'linux': {'namespaces': [{'type': 'pid', 'path': 1}]}}",
     "'linux.namespaces[0].path'", 0},
    {"linux.uidMappings without user namespace",
     "{'linux': {'namespaces': " NS_WITHOUT_USER "}}", "'linux.uidMappings'",
     0},
    {"linux.uidMappings missing", "{'linux': {'uidMappings': null}}",
     "'linux.uidMappings'", 0},
    {"linux.uidMappings type", "{'linux': {'uidMappings': {}}}",
     "'linux.uidMappings'", 0},
    {"linux.uidMappings element type",
     "{'linux': {'uidMappings': [[0, 1, 1]]}}", "'linux.uidMappings[0]'", 0},
    {"linux.uidMappings size zero",
     "{'linux': {'uidMappings': [{'containerID': 0, 'hostID': 1,"
     " 'size': 0}]}}",
     "'linux.uidMappings[0].size'", 0},
    {"linux.uidMappings containerID range",
     "{'linux': {'uidMappings': [{'containerID': 4294967296,"
     " 'hostID': 1, 'size': 1}]}}",
     "'linux.uidMappings[0].containerID'", 0},
    {"linux.gidMappings hostID negative",
     "{'linux': {'gidMappings': [{'containerID': 0, 'hostID': -1,"
     " 'size': 1}]}}",
     "'linux.gidMappings[0].hostID'", 0},
    {"linux.gidMappings second entry",
     "{'linux': {'gidMappings': [{'containerID': 0, 'hostID': 1,"
     " 'size': 1}, {'containerID': 1, 'size': 1}]}}",
     "'linux.gidMappings[1]'", 0},
    {"linux.devices type", "{'linux': {'devices': {}}}", "'linux.devices'", 0},
    {"linux.devices element type", "{'linux': {'devices': ['/dev/x']}}",
     "'linux.devices[0]'", 0},
    {"linux.devices type x",
     "{'linux': {'devices': [{'path': '/dev/x', 'type': 'x',"
     " 'major': 1, 'minor': 1}]}}",
     "'linux.devices[0].type'", 0},
    {"linux.devices type long",
     "{'linux': {'devices': [{'path': '/dev/x', 'type': 'cc',"
     " 'major': 1, 'minor': 1}]}}",
     "'linux.devices[0].type'", 0},
    {"linux.devices type missing",
     "{'linux': {'devices': [{'path': '/dev/x', 'major': 1,"
     " 'minor': 1}]}}",
     "'linux.devices[0].type'", 0},
    {"linux.devices path relative",
     "{'linux': {'devices': [{'path': 'dev/x', 'type': 'c',"
     " 'major': 1, 'minor': 1}]}}",
     "'linux.devices[0].path'", 0},
    {"linux.devices path dotdot",
     "{'linux': {'devices': [{'path': '/dev/../etc/x', 'type': 'c',"
     " 'major': 1, 'minor': 1}]}}",
     "'linux.devices[0].path'", 0},
    {"linux.devices path trailing dotdot",
     "{'linux': {'devices': [{'path': '/dev/..', 'type': 'c',"
     " 'major': 1, 'minor': 1}]}}",
     "'linux.devices[0].path'", 0},
    {"linux.devices path root dotdot",
     "{'linux': {'devices': [{'path': '/..', 'type': 'c',"
     " 'major': 1, 'minor': 1}]}}",
     "'linux.devices[0].path'", 0},
    {"linux.devices path missing",
     "{'linux': {'devices': [{'type': 'c', 'major': 1, 'minor': 1}]}}",
     "'linux.devices[0].path'", 0},
    {"linux.devices major missing",
     "{'linux': {'devices': [{'path': '/dev/x', 'type': 'c',"
     " 'minor': 1}]}}",
     "'linux.devices[0]'", 0},
    {"linux.devices major out of range",
     "{'linux': {'devices': [{'path': '/dev/x', 'type': 'c',"
     " 'major': 4096, 'minor': 1}]}}",
     "'linux.devices[0]'", 0},
    {"linux.devices minor out of range",
     "{'linux': {'devices': [{'path': '/dev/x', 'type': 'b',"
     " 'major': 1, 'minor': 1048576}]}}",
     "'linux.devices[0]'", 0},
    {"linux.devices major negative",
     "{'linux': {'devices': [{'path': '/dev/x', 'type': 'c',"
     " 'major': -1, 'minor': 1}]}}",
     "'linux.devices[0]'", 0},
    {"linux.devices major type",
     "{'linux': {'devices': [{'path': '/dev/x', 'type': 'c',"
     " 'major': '1', 'minor': 1}]}}",
     "'linux.devices[0].major'", 0},
    {"linux.devices fileMode range",
     "{'linux': {'devices': [{'path': '/dev/x', 'type': 'c',"
     " 'major': 1, 'minor': 1, 'fileMode': 4096}]}}",
     "'linux.devices[0].fileMode'", 0},
    {"linux.devices uid type",
     "{'linux': {'devices': [{'path': '/dev/x', 'type': 'c',"
     " 'major': 1, 'minor': 1, 'uid': '0'}]}}",
     "'linux.devices[0].uid'", 0},
    {"linux.devices gid negative",
     "{'linux': {'devices': [{'path': '/dev/x', 'type': 'c',"
     " 'major': 1, 'minor': 1, 'gid': -1}]}}",
     "'linux.devices[0].gid'", 0},
    {"linux.cgroupsPath type", "{'linux': {'cgroupsPath': 5}}",
     "'linux.cgroupsPath'", 0},
    {"linux.resources type", "{'linux': {'resources': []}}",
     "'linux.resources'", 0},
    {"linux.sysctl type", "{'linux': {'sysctl': ['a=b']}}", "'linux.sysctl'",
     0},
    {"linux.sysctl value type",
     "{'linux': {'!sysctl': {'net.ipv4.ip_forward': 1}}}",
     "'linux.sysctl.net.ipv4.ip_forward'", 0},
    {"linux.sysctl net without network namespace",
     "{'linux': {'namespaces': " NS_WITHOUT_NET ","
     " '!sysctl': {'net.ipv4.ip_forward': '1'}}}",
     "'linux.sysctl.net.ipv4.ip_forward'", 0},
    {"linux.sysctl net in the host's network namespace, joined",
     "{'linux': {'namespaces': [{'type': 'network',"
     " 'path': '/proc/self/ns/net'}], 'uidMappings': null,"
     " 'gidMappings': null, 'timeOffsets': null,"
     " '!sysctl': {'net.core.somaxconn': '1024'}},"
     " 'hostname': null, 'domainname': null}",
     "'linux.sysctl.net.core.somaxconn'", 0},
    {"linux.sysctl not namespaced",
     "{'linux': {'!sysctl': {'vm.swappiness': '10'}}}",
     "'linux.sysctl.vm.swappiness'", 0},
    {"linux.sysctl kernel not namespaced",
     "{'linux': {'!sysctl': {'kernel.panic': '1'}}}",
     "'linux.sysctl.kernel.panic'", 0},
    {"linux.sysctl ipc without ipc namespace",
     "{'linux': {'namespaces': " NS_WITHOUT_IPC ","
     " '!sysctl': {'kernel.shmmax': '1'}}}",
     "'linux.sysctl.kernel.shmmax'", 0},
    {"linux.sysctl mqueue without ipc namespace",
     "{'linux': {'namespaces': " NS_WITHOUT_IPC ","
     " '!sysctl': {'fs.mqueue.queues_max': '1'}}}",
     "'linux.sysctl.fs.mqueue.queues_max'", 0},
    {"linux.sysctl hostname without uts namespace",
     "{'linux': {'namespaces': " NS_WITHOUT_UTS ","
     " '!sysctl': {'kernel.hostname': 'x'}}, 'hostname': null,"
     " 'domainname': null}",
     "'linux.sysctl.kernel.hostname'", 0},
    {"linux.sysctl key with dotdot", "{'linux': {'!sysctl': {'net..x': '1'}}}",
     "'linux.sysctl'", 0},
    {"linux.sysctl key with a slash",
     "{'linux': {'!sysctl': {'/proc/sys/vm/x': '1'}}}", "'linux.sysctl'", 0},
    {"linux.sysctl empty key", "{'linux': {'!sysctl': {'': '1'}}}",
     "'linux.sysctl'", 0},
    {"linux.seccomp type", "{'linux': {'seccomp': 'default'}}",
     "'linux.seccomp'", 0},
    {"linux.rootfsPropagation unknown",
     "{'linux': {'rootfsPropagation': 'sideways'}}",
     "'linux.rootfsPropagation'", 0},
    {"linux.rootfsPropagation type", "{'linux': {'rootfsPropagation': 1}}",
     "'linux.rootfsPropagation'", 0},
    {"linux.maskedPaths relative",
     "{'linux': {'maskedPaths': ['/ok', 'proc/kcore']}}", "'linux.maskedPaths'",
     0},
    {"linux.maskedPaths element type", "{'linux': {'maskedPaths': [null]}}",
     "'linux.maskedPaths[0]'", 0},
    {"linux.readonlyPaths relative",
     "{'linux': {'readonlyPaths': ['proc/sys']}}", "'linux.readonlyPaths'", 0},
    {"linux.readonlyPaths element type",
     "{'linux': {'readonlyPaths': ['/a', 1]}}", "'linux.readonlyPaths[1]'", 0},
    {"linux.mountLabel type", "{'linux': {'mountLabel': 1}}",
     "'linux.mountLabel'", 0},
    {"linux.personality type", "{'linux': {'personality': 'LINUX'}}",
     "'linux.personality'", 0},
    {"linux.intelRdt", "{'linux': {'intelRdt': {'closID': 'x'}}}",
     "'linux.intelRdt'", EOPNOTSUPP},
    {"linux.intelRdt empty", "{'linux': {'intelRdt': {}}}", "'linux.intelRdt'",
     EOPNOTSUPP},
    {"linux.intelRdt type", "{'linux': {'intelRdt': 1}}", "'linux.intelRdt'",
     0},
    {"linux.rdma", "{'linux': {'rdma': {}}}", "'linux.rdma'", EOPNOTSUPP},
    {"linux.timeOffsets type", "{'linux': {'timeOffsets': 1}}",
     "'linux.timeOffsets'", 0},
    {"linux.timeOffsets without time namespace",
     "{'linux': {'namespaces': " NS_WITHOUT_TIME "}}", "'linux.timeOffsets'",
     0},
    {"linux.timeOffsets nanosecs range",
     "{'linux': {'timeOffsets': {'monotonic': {'nanosecs':"
     " 1000000000}}}}",
     "'linux.timeOffsets.monotonic.nanosecs'", 0},
    {"linux.timeOffsets nanosecs negative",
     "{'linux': {'timeOffsets': {'boottime': {'nanosecs': -1}}}}",
     "'linux.timeOffsets.boottime.nanosecs'", 0},
    {"linux.timeOffsets secs type",
     "{'linux': {'timeOffsets': {'monotonic': {'secs': '1'}}}}",
     "'linux.timeOffsets.monotonic.secs'", 0},
    {"linux.timeOffsets clock type",
     "{'linux': {'timeOffsets': {'boottime': 5}}}",
     "'linux.timeOffsets.boottime'", 0},
    {"linux.timeOffsets unknown clock",
     "{'linux': {'timeOffsets': {'realtime': {'secs': 1}}}}",
     "'linux.timeOffsets.realtime'", 0},
};

static void test_bad_case(void **state)
{
	const struct bad_case *c = *state;
	_cleanup_json_ json_t *patch = J(c->patch);
	struct cove_spec *s = NULL;
	struct cove_error err = {0};
	json_t *root = J(full_doc);
	int want = c->code ? c->code : EINVAL;
	int r;

	merge(root, patch);
	json_incref(root);
	r = parse_doc(root, &s, &err);
	if (r >= 0) {
		cove_spec_free(s);
		json_decref(root);
		fail_msg("'%s' accepted", c->name);
	}
	/* On failure the caller still owns its reference, nothing else. */
	assert_int_equal(root->refcount, 1);
	json_decref(root);
	if (r != -want || err.code != want)
		fail_msg("'%s': error %d (code %d), expected %d: %s", c->name,
			 r, err.code, -want, err.msg);
	if (!strstr(err.msg, c->expect))
		fail_msg("'%s': message '%s' does not contain \"%s\"", c->name,
			 err.msg, c->expect);
	assert_style(err.msg);
}

static void test_not_an_object(void **state)
{
	static const char *const docs[] = {"[]", "'x'", "1", "null"};
	struct cove_spec *s = NULL;
	struct cove_error err = {0};

	for (size_t i = 0; i < ARRAY_SIZE(docs); i++) {
		assert_int_equal(parse_doc(J(docs[i]), &s, &err), -EINVAL);
		assert_non_null(strstr(err.msg, "expected a JSON object"));
	}
}

static void test_too_many_mappings(void **state)
{
	struct cove_spec *s = NULL;
	struct cove_error err = {0};
	json_t *root = J(full_doc);
	json_t *maps = json_array();

	for (unsigned i = 0; i < 341; i++)
		json_array_append_new(
		    maps, json_pack("{s:i, s:i, s:i}", "containerID", i,
				    "hostID", 100000 + i, "size", 1));
	json_object_set_new(json_object_get(root, "linux"), "uidMappings",
			    maps);
	assert_int_equal(parse_doc(root, &s, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "'linux.uidMappings'"));
	assert_non_null(strstr(err.msg, "340"));
}

static void test_too_many_gids(void **state)
{
	struct cove_spec *s = NULL;
	struct cove_error err = {0};
	json_t *root = J(full_doc);
	json_t *gids = json_array();

	for (unsigned i = 0; i < 65537; i++)
		json_array_append_new(gids, json_integer(i));
	json_object_set_new(
	    json_object_get(json_object_get(root, "process"), "user"),
	    "additionalGids", gids);
	assert_int_equal(parse_doc(root, &s, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "'process.user.additionalGids'"));
}

/* exec --process parses a process object on its own. */
static void test_process_parse(void **state)
{
	_cleanup_json_ json_t *good = J("{'args': ['ls'], 'cwd': '/',"
					" 'env': ['A=B']}");
	_cleanup_json_ json_t *bad = J("{'args': ['ls'], 'cwd': 'x'}");
	_cleanup_json_ json_t *arr = J("[]");
	struct cove_process p;
	struct cove_error err = {0};

	assert_int_equal(cove_process_parse(good, "process", &p, &err), 0);
	assert_string_equal(p.args[0], "ls");
	assert_string_equal(p.cwd, "/");
	cove_process_release(&p);
	assert_null(p.args);

	assert_int_equal(cove_process_parse(bad, "exec.process", &p, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "'exec.process.cwd'"));
	cove_process_release(&p);
	assert_int_equal(cove_process_parse(arr, "process", &p, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "'process'"));
	cove_process_release(&p);
}

/* ---- names -------------------------------------------------------------- */

static void test_names(void **state)
{
	assert_string_equal(cove_ns_name(COVE_NS_NET), "network");
	assert_string_equal(cove_ns_proc_name(COVE_NS_NET), "net");
	assert_string_equal(cove_ns_name(COVE_NS_MNT), "mount");
	assert_string_equal(cove_ns_proc_name(COVE_NS_MNT), "mnt");
	assert_int_equal(cove_ns_clone_flag(COVE_NS_USER), CLONE_NEWUSER);
	assert_int_equal(cove_ns_clone_flag(COVE_NS_PID), CLONE_NEWPID);
	assert_null(cove_ns_name(COVE_NS_MAX));
	assert_null(cove_ns_proc_name(COVE_NS_MAX));
	assert_int_equal(cove_ns_clone_flag(COVE_NS_MAX), 0);
	for (int t = 0; t < COVE_NS_MAX; t++) {
		assert_non_null(cove_ns_name(t));
		assert_true(cove_ns_clone_flag(t) != 0);
	}

	assert_int_equal(cove_rlimit_from_name("RLIMIT_NOFILE"), RLIMIT_NOFILE);
	assert_int_equal(cove_rlimit_from_name("RLIMIT_AS"), RLIMIT_AS);
	assert_int_equal(cove_rlimit_from_name("RLIMIT_RTTIME"), RLIMIT_RTTIME);
	assert_int_equal(cove_rlimit_from_name("NOFILE"), -1);
	assert_int_equal(cove_rlimit_from_name("rlimit_nofile"), -1);
	assert_int_equal(cove_rlimit_from_name(""), -1);
}

/* ---- mount options ------------------------------------------------------ */

struct opt_case {
	const char *type;
	const char *options; /* space-separated, NULL: no options */
	unsigned long flags, clear_flags, propagation;
	bool bind, recursive_bind, idmap;
	const char *data;
};

static const struct opt_case opt_cases[] = {
    {"tmpfs", NULL, 0, 0, 0, false, false, false, NULL},
    {"tmpfs", "ro", MS_RDONLY, 0, 0, false, false, false, NULL},
    {"tmpfs", "rw", 0, MS_RDONLY, 0, false, false, false, NULL},
    /* The last of two contradicting options wins. */
    {"tmpfs", "ro rw", 0, MS_RDONLY, 0, false, false, false, NULL},
    {"tmpfs", "rw ro", MS_RDONLY, 0, 0, false, false, false, NULL},
    {"tmpfs", "nosuid nodev noexec", MS_NOSUID | MS_NODEV | MS_NOEXEC, 0, 0,
     false, false, false, NULL},
    {"tmpfs", "suid dev exec", 0, MS_NOSUID | MS_NODEV | MS_NOEXEC, 0, false,
     false, false, NULL},
    {"tmpfs", "sync dirsync mand", MS_SYNCHRONOUS | MS_DIRSYNC | MS_MANDLOCK, 0,
     0, false, false, false, NULL},
    {"tmpfs", "async nomand", 0, MS_SYNCHRONOUS | MS_MANDLOCK, 0, false, false,
     false, NULL},
    {"tmpfs", "noatime nodiratime", MS_NOATIME | MS_NODIRATIME, 0, 0, false,
     false, false, NULL},
    {"tmpfs", "atime diratime", 0, MS_NOATIME | MS_NODIRATIME, 0, false, false,
     false, NULL},
    {"tmpfs", "relatime strictatime", MS_RELATIME | MS_STRICTATIME, 0, 0, false,
     false, false, NULL},
    {"tmpfs", "norelatime nostrictatime", 0, MS_RELATIME | MS_STRICTATIME, 0,
     false, false, false, NULL},
    {"tmpfs", "silent lazytime iversion",
     MS_SILENT | MS_LAZYTIME | MS_I_VERSION, 0, 0, false, false, false, NULL},
    {"tmpfs", "loud nolazytime noiversion", 0,
     MS_SILENT | MS_LAZYTIME | MS_I_VERSION, 0, false, false, false, NULL},
    {"tmpfs", "remount ro", MS_REMOUNT | MS_RDONLY, 0, 0, false, false, false,
     NULL},
    {"tmpfs", "private", 0, 0, MS_PRIVATE, false, false, false, NULL},
    {"tmpfs", "rprivate", 0, 0, MS_PRIVATE | MS_REC, false, false, false, NULL},
    {"tmpfs", "shared", 0, 0, MS_SHARED, false, false, false, NULL},
    {"tmpfs", "rshared", 0, 0, MS_SHARED | MS_REC, false, false, false, NULL},
    {"tmpfs", "slave", 0, 0, MS_SLAVE, false, false, false, NULL},
    {"tmpfs", "rslave", 0, 0, MS_SLAVE | MS_REC, false, false, false, NULL},
    {"tmpfs", "unbindable", 0, 0, MS_UNBINDABLE, false, false, false, NULL},
    {"tmpfs", "runbindable", 0, 0, MS_UNBINDABLE | MS_REC, false, false, false,
     NULL},
    {"tmpfs", "shared rslave", 0, 0, MS_SLAVE | MS_REC, false, false, false,
     NULL},
    {NULL, "bind", 0, 0, 0, true, false, false, NULL},
    {NULL, "rbind", 0, 0, 0, true, true, false, NULL},
    {"bind", NULL, 0, 0, 0, true, false, false, NULL},
    {"rbind", NULL, 0, 0, 0, true, true, false, NULL},
    {"none", "bind ro nosuid rprivate", MS_RDONLY | MS_NOSUID, 0,
     MS_PRIVATE | MS_REC, true, false, false, NULL},
    {"bind", "idmap", 0, 0, 0, true, false, true, NULL},
    {"bind", "ridmap", 0, 0, 0, true, false, true, NULL},
    /* Recursive attributes are recorded as the plain flag. */
    {"bind", "rro rnosuid rnodev rnoexec",
     MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, 0, 0, true, false, false,
     NULL},
    {"bind", "rrw rsuid rdev rexec", 0,
     MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, 0, true, false, false, NULL},
    {"bind", "rnoatime rrelatime rstrictatime rnodiratime",
     MS_NOATIME | MS_RELATIME | MS_STRICTATIME | MS_NODIRATIME, 0, 0, true,
     false, false, NULL},
    {"bind", "ratime rnorelatime rdiratime", 0,
     MS_NOATIME | MS_RELATIME | MS_NODIRATIME, 0, true, false, false, NULL},
    /* Engine-level hints are dropped, not passed as data. */
    {"tmpfs", "tmpcopyup notmpcopyup copy-symlink nocopy", 0, 0, 0, false,
     false, false, NULL},
    /* Anything else is file-system data, in order, joined by ','. */
    {"tmpfs", "size=64m", 0, 0, 0, false, false, false, "size=64m"},
    {"tmpfs", "nosuid size=64m ro mode=1777 nr_inodes=1k",
     MS_NOSUID | MS_RDONLY, 0, 0, false, false, false,
     "size=64m,mode=1777,nr_inodes=1k"},
    {"devpts", "newinstance ptmxmode=0666 mode=0620 gid=5", 0, 0, 0, false,
     false, false, "newinstance,ptmxmode=0666,mode=0620,gid=5"},
    {"overlay", "lowerdir=/a:/b upperdir=/u workdir=/w", 0, 0, 0, false, false,
     false, "lowerdir=/a:/b,upperdir=/u,workdir=/w"},
    /* Near misses of flag names are data, for the kernel to judge. */
    {"tmpfs", "RO nosuid2", 0, 0, 0, false, false, false, "RO,nosuid2"},
};

static char **split_options(const char *s)
{
	_cleanup_free_ char *copy = NULL;
	char **v = calloc(1, sizeof(char *));
	char *save = NULL;

	assert_non_null(v);
	if (!s)
		return v;
	copy = strdup(s);
	assert_non_null(copy);
	for (char *t = strtok_r(copy, " ", &save); t;
	     t = strtok_r(NULL, " ", &save))
		assert_int_equal(cove_strv_push(&v, t), 0);
	return v;
}

static void test_mount_options(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(opt_cases); i++) {
		const struct opt_case *c = &opt_cases[i];
		struct cove_mount m = {0};
		struct cove_error err = {0};
		_cleanup_strv_ char **options = split_options(c->options);
		int r;

		m.destination = (char *)"/mnt";
		m.type = (char *)c->type;
		m.options = c->options ? options : NULL;
		r = cove_mount_parse_options(&m, &err);
		if (r < 0)
			fail_msg("[%zu] '%s' refused: %s", i, c->options,
				 err.msg);
		if (m.flags != c->flags || m.clear_flags != c->clear_flags ||
		    m.propagation != c->propagation)
			fail_msg("[%zu] '%s': flags %#lx/%#lx/%#lx, expected "
				 "%#lx/%#lx/%#lx",
				 i, c->options, m.flags, m.clear_flags,
				 m.propagation, c->flags, c->clear_flags,
				 c->propagation);
		if (m.bind != c->bind ||
		    m.recursive_bind != c->recursive_bind ||
		    m.idmap != c->idmap)
			fail_msg("[%zu] '%s': bind %d rbind %d idmap %d", i,
				 c->options, m.bind, m.recursive_bind, m.idmap);
		if (c->data)
			assert_string_equal(m.data, c->data);
		else if (m.data)
			fail_msg("[%zu] '%s': unexpected data '%s'", i,
				 c->options, m.data);
		free(m.data);
	}
}

static void test_mount_option_comma(void **state)
{
	char *options[] = {(char *)"ro", (char *)"uid=1,gid=2", NULL};
	struct cove_mount m = {0};
	struct cove_error err = {0};

	m.destination = (char *)"/mnt";
	m.type = (char *)"tmpfs";
	m.options = options;
	assert_int_equal(cove_mount_parse_options(&m, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "'uid=1,gid=2'"));
	assert_non_null(strstr(err.msg, "'/mnt'"));
	assert_style(err.msg);
	free(m.data);
}

/* ---- cove_spec_load ----------------------------------------------------- */

static int setup_bundle(void **state)
{
	char *dir = strdup("/tmp/cove-test-spec-XXXXXX");

	if (!dir || !mkdtemp(dir)) {
		free(dir);
		return -1;
	}
	*state = dir;
	return 0;
}

static int teardown_bundle(void **state)
{
	char *dir = *state;

	if (dir) {
		cove_rm_rf(dir);
		free(dir);
	}
	return 0;
}

static char *write_config(const char *dir, const char *name, const char *text)
{
	char *file = cove_strdup_printf("%s/%s", dir, name);
	_cleanup_fclose_ FILE *f = NULL;

	assert_non_null(file);
	f = fopen(file, "we");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	return file;
}

static void test_load(void **state)
{
	const char *dir = *state;
	_cleanup_spec_ struct cove_spec *s = NULL;
	_cleanup_free_ char *text = NULL;
	_cleanup_free_ char *file = NULL;
	_cleanup_free_ char *want_root = NULL;
	_cleanup_json_ json_t *def = cove_spec_default(false);
	struct cove_error err = {0};

	text = json_dumps(def, JSON_INDENT(8));
	assert_non_null(text);
	file = write_config(dir, "config.json", text);
	if (cove_spec_load(dir, NULL, &s, &err) < 0)
		fail_msg("load failed: %s", err.msg);
	want_root = cove_strdup_printf("%s/rootfs", dir);
	assert_string_equal(s->root_path, want_root);
	assert_string_equal(s->process.args[0], "sh");
	cove_spec_free(TAKE_PTR(s));

	/* --config: another file; the root still comes from the bundle. */
	{
		_cleanup_free_ char *other =
		    write_config(dir, "other.json", text);
		if (cove_spec_load(dir, other, &s, &err) < 0)
			fail_msg("load --config failed: %s", err.msg);
		assert_string_equal(s->root_path, want_root);
	}
}

static void test_load_missing(void **state)
{
	_cleanup_free_ char *bundle =
	    cove_strdup_printf("%s/nonexistent", (char *)*state);
	_cleanup_free_ char *file =
	    cove_strdup_printf("%s/config.json", bundle);
	struct cove_spec *s = NULL;
	struct cove_error err = {0};

	assert_int_equal(cove_spec_load(bundle, NULL, &s, &err), -ENOENT);
	assert_null(s);
	assert_int_equal(err.code, ENOENT);
	assert_non_null(strstr(err.msg, file));
	assert_style(err.msg);

	assert_int_equal(
	    cove_spec_load(*state, "/nonexistent/c.json", &s, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "/nonexistent/c.json"));

	/* A directory where the file should be. */
	assert_int_equal(cove_spec_load(*state, *state, &s, &err), -EISDIR);
	assert_non_null(strstr(err.msg, (char *)*state));
}

static void test_load_invalid_json(void **state)
{
	_cleanup_free_ char *file = write_config(
	    *state, "config.json",
	    "{\n  \"ociVersion\": \"1.2.0\",\n  \"root\": {\"path\": "
	    "\"rootfs\"},\n  oops\n}\n");
	_cleanup_free_ char *dup = write_config(
	    *state, "dup.json",
	    "{\"ociVersion\": \"1.2.0\",\n\"root\": {\"path\": \"r\"},\n"
	    "\"ociVersion\": \"1.0.0\"}\n");
	struct cove_spec *s = NULL;
	struct cove_error err = {0};

	assert_int_equal(cove_spec_load(*state, NULL, &s, &err), -EINVAL);
	assert_null(s);
	assert_non_null(strstr(err.msg, file));
	assert_non_null(strstr(err.msg, "line 4 column"));
	assert_style(err.msg);

	assert_int_equal(cove_spec_load(*state, dup, &s, &err), -EINVAL);
	assert_non_null(strstr(err.msg, dup));
	assert_non_null(strstr(err.msg, "line 3"));
	assert_non_null(strstr(err.msg, "duplicate"));
}

/* Valid JSON, invalid config: the message names the file and the field. */
static void test_load_invalid_field(void **state)
{
	_cleanup_free_ char *file = write_config(
	    *state, "config.json",
	    "{\"ociVersion\": \"1.2.0\", \"root\": {\"path\": \"rootfs\"},"
	    " \"process\": {\"args\": [\"sh\"], \"cwd\": \"/\","
	    " \"rlimits\": [{\"type\": \"RLIMIT_NOPE\", \"soft\": 1,"
	    " \"hard\": 1}]}}");
	_cleanup_free_ char *want = NULL;
	struct cove_spec *s = NULL;
	struct cove_error err = {0};

	assert_int_equal(cove_spec_load(*state, NULL, &s, &err), -EINVAL);
	assert_null(s);
	want =
	    cove_strdup_printf("%s: invalid 'process.rlimits[0].type'", file);
	if (strncmp(err.msg, want, strlen(want)) != 0)
		fail_msg("unexpected message '%s'", err.msg);
	assert_style(err.msg);
}

static void test_load_too_big(void **state)
{
	_cleanup_free_ char *file =
	    cove_strdup_printf("%s/config.json", (char *)*state);
	_cleanup_free_ char *size = NULL;
	_cleanup_close_ int fd = -1;
	struct cove_spec *s = NULL;
	struct cove_error err = {0};

	/* A sparse file: no disk space used. */
	fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)COVE_SPEC_MAX_SIZE + 1), 0);
	assert_int_equal(cove_spec_load(*state, NULL, &s, &err), -EFBIG);
	assert_null(s);
	assert_int_equal(err.code, EFBIG);
	assert_non_null(strstr(err.msg, file));
	size = cove_strdup_printf("%u", COVE_SPEC_MAX_SIZE);
	assert_non_null(strstr(err.msg, size));
	assert_style(err.msg);
}

int main(void)
{
	const struct CMUnitTest fixed[] = {
	    cmocka_unit_test(test_full),
	    cmocka_unit_test(test_default),
	    cmocka_unit_test(test_default_rootless),
	    cmocka_unit_test(test_minimal),
	    cmocka_unit_test(test_user_namespace),
	    cmocka_unit_test(test_deep_nesting),
	    cmocka_unit_test(test_not_an_object),
	    cmocka_unit_test(test_too_many_mappings),
	    cmocka_unit_test(test_too_many_gids),
	    cmocka_unit_test(test_process_parse),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_mount_options),
	    cmocka_unit_test(test_mount_option_comma),
	    cmocka_unit_test_setup_teardown(test_load, setup_bundle,
					    teardown_bundle),
	    cmocka_unit_test_setup_teardown(test_load_missing, setup_bundle,
					    teardown_bundle),
	    cmocka_unit_test_setup_teardown(test_load_invalid_json,
					    setup_bundle, teardown_bundle),
	    cmocka_unit_test_setup_teardown(test_load_invalid_field,
					    setup_bundle, teardown_bundle),
	    cmocka_unit_test_setup_teardown(test_load_too_big, setup_bundle,
					    teardown_bundle),
	};
	size_t n_fixed = ARRAY_SIZE(fixed), n = n_fixed + ARRAY_SIZE(bad_cases);
	struct CMUnitTest *tests = calloc(n, sizeof(*tests));
	int r;

	if (!tests)
		return 1;
	memcpy(tests, fixed, sizeof(fixed));
	/* One test per invalid field, named after it. */
	for (size_t i = 0; i < ARRAY_SIZE(bad_cases); i++) {
		tests[n_fixed + i].name = bad_cases[i].name;
		tests[n_fixed + i].test_func = test_bad_case;
		tests[n_fixed + i].initial_state = (void *)&bad_cases[i];
	}
	r = _cmocka_run_group_tests("spec", tests, n, NULL, NULL);
	free(tests);
	return r;
}
