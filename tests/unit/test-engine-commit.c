/*
 * Unit tests for src/engine/commit.c's --change instructions: each
 * instruction's effect on an image config's "config" object, both
 * spellings ("CMD x", "CMD=x"), the exec and shell forms, and the refused
 * ones naming the instruction or value.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/commit.h"
#include "util/cleanup.h"

static json_t *apply(json_t *cfg, const char *change, int want)
{
	struct cove_error err = {0};

	assert_int_equal(cove_commit_change_apply(cfg, change, &err), want);
	return cfg;
}

static void assert_json(const json_t *v, const char *want)
{
	_cleanup_free_ char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	assert_non_null(s);
	assert_string_equal(s, want);
}

static void test_cmd_entrypoint(void **state)
{
	_cleanup_json_ json_t *cfg = json_object();

	(void)state;
	apply(cfg, "CMD [\"cat\", \"/f\"]", 0);
	assert_json(json_object_get(cfg, "Cmd"), "[\"cat\",\"/f\"]");
	apply(cfg, "cmd=echo hi  ", 0);
	assert_json(json_object_get(cfg, "Cmd"),
		    "[\"/bin/sh\",\"-c\",\"echo hi\"]");
	/* a new entrypoint drops the command, as a Dockerfile does */
	apply(cfg, "ENTRYPOINT [\"/bin/top\", \"-b\"]", 0);
	assert_json(json_object_get(cfg, "Entrypoint"),
		    "[\"/bin/top\",\"-b\"]");
	assert_null(json_object_get(cfg, "Cmd"));
	apply(cfg, "CMD [1, 2]", -EINVAL);
	apply(cfg, "CMD [\"a\"", -EINVAL);
	apply(cfg, "CMD", -EINVAL);
	apply(cfg, "CMD   ", -EINVAL);
}

static void test_env_label(void **state)
{
	_cleanup_json_ json_t *cfg =
	    json_pack("{s:[s, s]}", "Env", "PATH=/bin", "A=1");

	(void)state;
	apply(cfg, "ENV A=2 B=\"x\"", 0);
	assert_json(json_object_get(cfg, "Env"),
		    "[\"PATH=/bin\",\"A=2\",\"B=x\"]");
	apply(cfg, "ENV C several words", 0);
	assert_json(json_array_get(json_object_get(cfg, "Env"), 3),
		    "\"C=several words\"");
	apply(cfg, "ENV =x", -EINVAL);
	apply(cfg, "LABEL a=b \"c\"=d", 0);
	assert_json(json_object_get(cfg, "Labels"),
		    "{\"a\":\"b\",\"c\":\"d\"}");
	apply(cfg, "LABEL=e f", 0);
	assert_json(json_object_get(json_object_get(cfg, "Labels"), "e"),
		    "\"f\"");
}

static void test_others(void **state)
{
	_cleanup_json_ json_t *cfg = json_object();

	(void)state;
	apply(cfg, "EXPOSE 80 53/udp 8000-8001", 0);
	assert_json(json_object_get(cfg, "ExposedPorts"),
		    "{\"80/tcp\":{},\"53/udp\":{},\"8000/tcp\":{},\"8001/"
		    "tcp\":{}}");
	apply(cfg, "EXPOSE http", -EINVAL);
	apply(cfg, "USER nobody:nogroup", 0);
	assert_json(json_object_get(cfg, "User"), "\"nobody:nogroup\"");
	apply(cfg, "WORKDIR /srv", 0);
	assert_json(json_object_get(cfg, "WorkingDir"), "\"/srv\"");
	apply(cfg, "WORKDIR srv", -EINVAL);
	apply(cfg, "STOPSIGNAL SIGINT", 0);
	assert_json(json_object_get(cfg, "StopSignal"), "\"SIGINT\"");
	apply(cfg, "VOLUME /a /b", 0);
	apply(cfg, "VOLUME [\"/c\"]", 0);
	assert_json(json_object_get(cfg, "Volumes"),
		    "{\"/a\":{},\"/b\":{},\"/c\":{}}");
	apply(cfg, "VOLUME rel", -EINVAL);
	apply(cfg, "VOLUME [\"rel\"]", -EINVAL);
}

static void test_refused(void **state)
{
	_cleanup_json_ json_t *cfg = json_object();
	struct cove_error err = {0};

	(void)state;
	assert_int_equal(cove_commit_change_apply(cfg, "ONBUILD RUN x", &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "ONBUILD"));
	apply(cfg, "", -EINVAL);
	apply(cfg, "=x", -EINVAL);
	apply(cfg, "AVERYLONGINSTRUCTIONWORD x", -EINVAL);
	/* nothing was set by the refused ones */
	assert_int_equal(json_object_size(cfg), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cmd_entrypoint),
	    cmocka_unit_test(test_env_label),
	    cmocka_unit_test(test_others),
	    cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
