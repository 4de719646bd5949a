/*
 * Unit tests for src/engine/containers.c: cove_ctr_config_set changes one
 * member of a row's stored config and keeps the others as the row has
 * them, even when the writers hold copies read before each other's change
 * (the monitor's health checks against `cove update`, say); it removes a
 * member, refuses a key that is not a plain name and says ENOENT for a
 * row that is gone.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "engine/containers.h"
#include "engine/db.h"
#include "util/fs.h"

struct fixture {
	char dir[64];
	sqlite3 *db;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct cove_error err = {0};
	struct cove_ctr c = {0};

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/cove-test-ctrs-XXXXXX");
	if (!mkdtemp(f->dir) || cove_engine_db_open(f->dir, &f->db, &err) < 0)
		return -1;
	memset(c.id, 'a', COVE_CTR_ID_LEN);
	c.name = (char *)"one";
	c.image = (char *)"localhost/busybox";
	c.image_id = (char *)"sha256:00";
	c.state = (char *)"created";
	c.exit_code = -1;
	c.config = json_pack("{s:{s:i}, s:s}", "HostConfig", "Memory", 1,
			     "Image", "localhost/busybox");
	if (!c.config || cove_ctr_insert(f->db, &c, &err) < 0)
		return -1;
	json_decref(c.config);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	sqlite3_close(f->db);
	(void)cove_rm_rf(f->dir);
	free(f);
	return 0;
}

static json_t *stored(struct fixture *f)
{
	struct cove_ctr c = {0};
	struct cove_error err = {0};
	json_t *cfg;

	assert_int_equal(cove_ctr_lookup(f->db, "one", &c, &err), 0);
	cfg = json_incref(c.config);
	cove_ctr_release(&c);
	return cfg;
}

static void test_members_kept_across_stale_writers(void **state)
{
	struct fixture *f = *state;
	struct cove_error err = {0};
	char id[COVE_CTR_ID_LEN + 1] = {0};
	json_t *health =
	    json_pack("{s:s, s:i}", "Status", "healthy", "FailingStreak", 0);
	json_t *host = json_pack("{s:i}", "Memory", 2);
	json_t *net = json_pack("{s:s}", "IPAddress", "10.88.0.2");
	json_t *cfg;

	memset(id, 'a', COVE_CTR_ID_LEN);
	/* three writers, each with what it changes only */
	assert_int_equal(cove_ctr_config_set(f->db, id, "Health", health, &err),
			 0);
	assert_int_equal(
	    cove_ctr_config_set(f->db, id, "HostConfig", host, &err), 0);
	assert_int_equal(
	    cove_ctr_config_set(f->db, id, "NetworkSettings", net, &err), 0);
	cfg = stored(f);
	assert_true(json_equal(json_object_get(cfg, "Health"), health));
	assert_int_equal(json_integer_value(json_object_get(
			     json_object_get(cfg, "HostConfig"), "Memory")),
			 2);
	assert_true(json_equal(json_object_get(cfg, "NetworkSettings"), net));
	assert_string_equal(json_string_value(json_object_get(cfg, "Image")),
			    "localhost/busybox");
	json_decref(cfg);

	/* removal of one member; the others stay */
	assert_int_equal(
	    cove_ctr_config_set(f->db, id, "NetworkSettings", NULL, &err), 0);
	cfg = stored(f);
	assert_null(json_object_get(cfg, "NetworkSettings"));
	assert_non_null(json_object_get(cfg, "Health"));
	json_decref(cfg);
	json_decref(health);
	json_decref(host);
	json_decref(net);
}

static void test_bad_key_and_missing_row(void **state)
{
	struct fixture *f = *state;
	struct cove_error err = {0};
	char id[COVE_CTR_ID_LEN + 1] = {0};
	json_t *v = json_string("x");
	static const char *const bad[] = {"",	  "a.b", "$",
					  "a[0]", "a b", "\"q\""};

	memset(id, 'a', COVE_CTR_ID_LEN);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cove_error_clear(&err);
		assert_int_equal(
		    cove_ctr_config_set(f->db, id, bad[i], v, &err), -EINVAL);
		assert_non_null(strstr(err.msg, "invalid config key"));
	}
	memset(id, 'b', COVE_CTR_ID_LEN);
	cove_error_clear(&err);
	assert_int_equal(cove_ctr_config_set(f->db, id, "Health", v, &err),
			 -ENOENT);
	json_decref(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_members_kept_across_stale_writers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_key_and_missing_row, setup,
					    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
