/*
 * Unit tests for src/engine/userns.c: the --userns values (podman's modes,
 * hostile ones refused naming the value), the maps of keep-id and nomap
 * (the same lines podman writes), the HostConfig.IDMappings round trip,
 * and shifting a tree's owners through a mapping (hard links once,
 * set-id bits kept, symlinks not followed).  Shifting needs root.
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
#include <sys/stat.h>
#include <unistd.h>

#include "engine/userns.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

static void test_mode_parse(void **state)
{
	struct cove_userns_mode m;
	struct cove_error err = {0};

	(void)state;
	assert_int_equal(cove_userns_mode_parse(NULL, &m, &err), 0);
	assert_int_equal(m.kind, COVE_USERNS_HOST);
	assert_int_equal(cove_userns_mode_parse("host", &m, &err), 0);
	assert_int_equal(m.kind, COVE_USERNS_HOST);
	assert_int_equal(cove_userns_mode_parse("auto", &m, &err), 0);
	assert_int_equal(m.kind, COVE_USERNS_AUTO);
	assert_int_equal(cove_userns_mode_parse("nomap", &m, &err), 0);
	assert_int_equal(m.kind, COVE_USERNS_NOMAP);
	assert_int_equal(cove_userns_mode_parse("keep-id", &m, &err), 0);
	assert_int_equal(m.kind, COVE_USERNS_KEEP_ID);
	assert_false(m.has_uid || m.has_gid);
	assert_int_equal(
	    cove_userns_mode_parse("keep-id:uid=5,gid=6", &m, &err), 0);
	assert_true(m.has_uid && m.has_gid);
	assert_int_equal(m.uid, 5);
	assert_int_equal(m.gid, 6);
	assert_int_equal(cove_userns_mode_parse("keep-id:gid=7", &m, &err), 0);
	assert_true(!m.has_uid && m.has_gid && m.gid == 7);
	assert_int_equal(cove_userns_mode_parse("ns:/proc/1/ns/user", &m, &err),
			 0);
	assert_int_equal(m.kind, COVE_USERNS_NS);
	assert_string_equal(m.path, "/proc/1/ns/user");
}

static void test_mode_parse_refused(void **state)
{
	static const char *const bad[] = {
	    "bogus",	     "nomap:x",
	    "keep-id:",	     "keep-id:foo=1",
	    "keep-id:uid=",  "keep-id:uid=-1",
	    "keep-id:uid=x", "keep-id:uid=1x",
	    "keep-id:uid",   "ns:",
	    "ns:relative",   "auto:size=5",
	    "private",	     "keep-id:uid=4294967295",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct cove_userns_mode m = {0};
		struct cove_error err = {0};
		int r = cove_userns_mode_parse(bad[i], &m, &err);
		if (r != -EINVAL)
			fail_msg("'%s' accepted (%d)", bad[i], r);
		assert_non_null(strstr(err.msg, bad[i]));
	}
}

static void assert_line(const struct cove_id_mapping *m, uint32_t c, uint32_t h,
			uint32_t n)
{
	assert_int_equal(m->container_id, c);
	assert_int_equal(m->host_id, h);
	assert_int_equal(m->size, n);
}

static void test_keep_id_maps(void **state)
{
	struct cove_userns_mode m = {.kind = COVE_USERNS_KEEP_ID};
	struct cove_userns_maps *maps = calloc(1, sizeof(*maps));
	struct cove_error err = {0};
	uint32_t h;

	(void)state;
	assert_non_null(maps);
	/* podman 4.3, uid 1001 with 65536 subordinate ids */
	assert_int_equal(
	    cove_userns_build_maps(&m, 65537, 65537, 1001, 1002, maps, &err),
	    0);
	assert_int_equal(maps->n_uid, 3);
	assert_line(&maps->uid[0], 0, 1, 1001);
	assert_line(&maps->uid[1], 1001, 0, 1);
	assert_line(&maps->uid[2], 1002, 1002, 64535);
	assert_int_equal(maps->n_gid, 3);
	assert_line(&maps->gid[0], 0, 1, 1002);
	assert_line(&maps->gid[1], 1002, 0, 1);
	assert_line(&maps->gid[2], 1003, 1003, 64534);
	assert_int_equal(cove_userns_map_id(maps->uid, maps->n_uid, 0, &h), 0);
	assert_int_equal(h, 1);
	assert_int_equal(cove_userns_map_id(maps->uid, maps->n_uid, 1001, &h),
			 0);
	assert_int_equal(h, 0);
	assert_int_equal(cove_userns_map_id(maps->uid, maps->n_uid, 65537, &h),
			 -ENOENT);

	/* keep-id:uid=5,gid=6 */
	m.has_uid = m.has_gid = true;
	m.uid = 5;
	m.gid = 6;
	assert_int_equal(
	    cove_userns_build_maps(&m, 65537, 65537, 1001, 1001, maps, &err),
	    0);
	assert_line(&maps->uid[0], 0, 1, 5);
	assert_line(&maps->uid[1], 5, 0, 1);
	assert_line(&maps->uid[2], 6, 6, 65531);

	/* a target above the namespace's ids; uid 0; one id only */
	m.uid = 100000;
	assert_int_equal(
	    cove_userns_build_maps(&m, 1000, 1000, 1001, 1001, maps, &err), 0);
	assert_int_equal(maps->n_uid, 2);
	assert_line(&maps->uid[0], 0, 1, 999);
	assert_line(&maps->uid[1], 100000, 0, 1);
	m.uid = 0;
	assert_int_equal(
	    cove_userns_build_maps(&m, 1000, 1000, 1001, 1001, maps, &err), 0);
	assert_int_equal(maps->n_uid, 2);
	assert_line(&maps->uid[0], 0, 0, 1);
	assert_line(&maps->uid[1], 1, 1, 999);
	m.has_uid = m.has_gid = false;
	assert_int_equal(
	    cove_userns_build_maps(&m, 1, 1, 1001, 1001, maps, &err), 0);
	assert_int_equal(maps->n_uid, 1);
	assert_line(&maps->uid[0], 1001, 0, 1);
	free(maps);
}

static void test_nomap_maps(void **state)
{
	struct cove_userns_mode m = {.kind = COVE_USERNS_NOMAP};
	struct cove_userns_maps *maps = calloc(1, sizeof(*maps));
	struct cove_error err = {0};

	(void)state;
	assert_non_null(maps);
	assert_int_equal(
	    cove_userns_build_maps(&m, 65537, 100001, 1001, 1001, maps, &err),
	    0);
	assert_int_equal(maps->n_uid, 1);
	assert_line(&maps->uid[0], 0, 1, 65536);
	assert_line(&maps->gid[0], 0, 1, 100000);
	assert_int_equal(
	    cove_userns_build_maps(&m, 1, 1, 1001, 1001, maps, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "nomap"));
	free(maps);
}

static void test_maps_json_round_trip(void **state)
{
	struct cove_userns_mode m = {.kind = COVE_USERNS_KEEP_ID};
	struct cove_userns_maps *a = calloc(1, sizeof(*a)),
				*b = calloc(1, sizeof(*b));
	struct cove_error err = {0};
	json_t *host = json_object();
	char *txt;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(
	    cove_userns_build_maps(&m, 65537, 65537, 1001, 1001, a, &err), 0);
	json_object_set_new(host, "IDMappings", cove_userns_maps_json(a));
	txt = json_dumps(json_object_get(host, "IDMappings"), JSON_COMPACT);
	assert_string_equal(txt, "{\"UidMap\":[\"0:1:1001\",\"1001:0:1\","
				 "\"1002:1002:64535\"],\"GidMap\":[\"0:1:"
				 "1001\",\"1001:0:1\",\"1002:1002:64535\"]}");
	free(txt);
	assert_int_equal(cove_userns_maps_from_config(host, b), 0);
	assert_int_equal(b->n_uid, 3);
	assert_memory_equal(a->uid, b->uid, 3 * sizeof(a->uid[0]));
	assert_memory_equal(a->gid, b->gid, 3 * sizeof(a->gid[0]));

	/* auto of before IDMappings: from IDMapBase */
	json_object_clear(host);
	json_object_set_new(host, "IDMapBase", json_integer(0x80000000));
	assert_int_equal(cove_userns_maps_from_config(host, b), 0);
	assert_int_equal(b->n_uid, 1);
	assert_line(&b->uid[0], 0, 0x80000000u, 65536);
	/* none */
	json_object_clear(host);
	assert_int_equal(cove_userns_maps_from_config(host, b), 0);
	assert_int_equal(b->n_uid, 0);
	/* hostile */
	{
		static const char *const bad[] = {
		    "{\"UidMap\":[\"0:1\"],\"GidMap\":[\"0:1:1\"]}",
		    "{\"UidMap\":[\"0:1:0\"],\"GidMap\":[\"0:1:1\"]}",
		    "{\"UidMap\":[\"0:1:1x\"],\"GidMap\":[\"0:1:1\"]}",
		    "{\"UidMap\":[\"4294967295:1:1\"],\"GidMap\":[\"0:1:1\"]}",
		    "{\"UidMap\":[],\"GidMap\":[\"0:1:1\"]}",
		    "{\"UidMap\":[\"0:1:1\"]}",
		    "{\"UidMap\":[1],\"GidMap\":[\"0:1:1\"]}",
		};
		for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
			json_object_set_new(host, "IDMappings",
					    json_loads(bad[i], 0, NULL));
			if (cove_userns_maps_from_config(host, b) != -EINVAL)
				fail_msg("accepted %s", bad[i]);
			assert_int_equal(b->n_uid, 0);
		}
	}
	json_decref(host);
	free(a);
	free(b);
}

static void test_shift_tree(void **state)
{
	char dir[] = "/tmp/cove-test-userns-XXXXXX";
	struct cove_userns_maps *m = calloc(1, sizeof(*m));
	struct cove_error err = {0};
	char p[256];
	struct stat st;
	int fd;

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_non_null(m);
	assert_non_null(mkdtemp(dir));
	/* keep-id of uid 1000 in a namespace of 65537 ids */
	m->uid[0] = m->gid[0] = (struct cove_id_mapping){0, 1, 1000};
	m->uid[1] = m->gid[1] = (struct cove_id_mapping){1000, 0, 1};
	m->uid[2] = m->gid[2] = (struct cove_id_mapping){1001, 1001, 64536};
	m->n_uid = m->n_gid = 3;

	snprintf(p, sizeof(p), "%s/bin", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/bin/su", dir);
	fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0755);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(chmod(p, 04755), 0);
	{
		char a[256], b[256];
		snprintf(a, sizeof(a), "%s/bin/su", dir);
		snprintf(b, sizeof(b), "%s/bin/su2", dir);
		assert_int_equal(link(a, b), 0);
	}
	snprintf(p, sizeof(p), "%s/user", dir);
	fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(chown(p, 1000, 1000), 0);
	snprintf(p, sizeof(p), "%s/high", dir);
	fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(chown(p, 100000, 70000), 0);
	/* a symlink to the outside is shifted itself, never followed */
	snprintf(p, sizeof(p), "%s/escape", dir);
	assert_int_equal(symlink("/etc/passwd", p), 0);

	assert_int_equal(cove_userns_shift_tree(dir, m, &err), 0);

	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_uid, 1);
	snprintf(p, sizeof(p), "%s/bin/su", dir);
	assert_int_equal(stat(p, &st), 0);
	/* linked twice, shifted once */
	assert_int_equal(st.st_uid, 1);
	assert_int_equal(st.st_gid, 1);
	assert_int_equal(st.st_mode & 07777, 04755);
	snprintf(p, sizeof(p), "%s/user", dir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_uid, 0);
	snprintf(p, sizeof(p), "%s/high", dir);
	assert_int_equal(stat(p, &st), 0);
	/* unmapped: 65534's */
	assert_int_equal(st.st_uid, 65534);
	assert_int_equal(st.st_gid, 65534);
	snprintf(p, sizeof(p), "%s/escape", dir);
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(st.st_uid, 1);
	assert_int_equal(stat("/etc/passwd", &st), 0);
	assert_int_equal(st.st_uid, 0);
	cove_rm_rf(dir);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mode_parse),
	    cmocka_unit_test(test_mode_parse_refused),
	    cmocka_unit_test(test_keep_id_maps),
	    cmocka_unit_test(test_nomap_maps),
	    cmocka_unit_test(test_maps_json_round_trip),
	    cmocka_unit_test(test_shift_tree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
