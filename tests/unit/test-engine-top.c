/*
 * Unit tests for the parts of src/engine/top.c that need no container: a
 * /proc/PID/stat line whose comm holds spaces and parentheses, Go's
 * duration text, and the descriptors (names, AIX codes, comma lists).
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

#include "engine/top.h"
#include "util/cleanup.h"

/* @line must parse to @want, whose comm is @comm */
static void check(const char *line, const char *comm, struct cove_top_stat want)
{
	struct cove_top_stat s;

	assert_int_equal(cove_top_stat_parse(line, &s), 0);
	assert_string_equal(s.comm, comm);
	free(s.comm);
	assert_int_equal(s.state, want.state);
	assert_int_equal(s.ppid, want.ppid);
	assert_int_equal(s.pgid, want.pgid);
	assert_int_equal(s.tty, want.tty);
	assert_int_equal(s.nice, want.nice);
	assert_int_equal(s.ut, want.ut);
	assert_int_equal(s.st, want.st);
	assert_int_equal(s.start, want.start);
}

static void test_stat_parse(void **state)
{
	struct cove_top_stat s;

	(void)state;
	/* the fields wanted: state, ppid, pgid, nice, tty, ut, st, start */
	/* comm "a) (b": only the last ')' closes it */
	check(
	    "4242 (a) (b) S 1 4240 4240 34817 4240 4194560 10 0 0 0 7 3 0 "
	    "0 20 -5 1 0 12345 1000 200 18446744073709551615\n",
	    "a) (b",
	    (struct cove_top_stat){'S', 1, 4240, -5, 34817, 7, 3, 12345, NULL});
	/* spaces, and a comm that looks like the fields after it */
	check("7 (x) R 1 2 3 4 5 6 7 8 9 10 11 ) Z 9 9 9 9 9 9 9 9 9 9 1 2 3 "
	      "4 5 6 7 8 77\n",
	      "x) R 1 2 3 4 5 6 7 8 9 10 11 ",
	      (struct cove_top_stat){'Z', 9, 9, 6, 9, 1, 2, 77, NULL});
	check("1 () S 0 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 5\n", "",
	      (struct cove_top_stat){'S', 0, 1, 0, 0, 0, 0, 5, NULL});

	/* malformed: no comm, a ')' before the '(', too few fields */
	assert_int_equal(cove_top_stat_parse("1 S 0 1 1", &s), -EINVAL);
	assert_null(s.comm);
	assert_int_equal(cove_top_stat_parse("1 )x( S 0 1 1", &s), -EINVAL);
	assert_int_equal(cove_top_stat_parse("1 (sh) S 0 1 1 0 -1", &s),
			 -EINVAL);
	assert_int_equal(cove_top_stat_parse("", &s), -EINVAL);
	assert_null(s.comm);
}

static void assert_duration(uint64_t ns, const char *want)
{
	char buf[64];

	cove_go_duration(ns, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void test_go_duration(void **state)
{
	(void)state;
	assert_duration(0, "0s");
	assert_duration(1, "1ns");
	assert_duration(999, "999ns");
	assert_duration(1000, "1µs");
	assert_duration(1500, "1.5µs");
	assert_duration(894486124, "894.486124ms");
	assert_duration(1000000, "1ms");
	assert_duration(1000000000, "1s");
	assert_duration(1000000001, "1.000000001s");
	assert_duration(90500000000ULL, "1m30.5s");
	assert_duration(61000000000ULL, "1m1s");
	assert_duration(7200000000000ULL, "2h0m0s");
	assert_duration(3723000000000ULL, "1h2m3s");
}

static void test_descriptor(void **state)
{
	const struct cove_top_descriptor *d;

	(void)state;
	d = cove_top_descriptor("pid");
	assert_non_null(d);
	assert_string_equal(cove_top_descriptor_header(d), "PID");
	/* the AIX code names the same descriptor */
	assert_ptr_equal(cove_top_descriptor("%p"), d);
	assert_ptr_equal(cove_top_descriptor("%a"),
			 cove_top_descriptor("args"));
	assert_string_equal(
	    cove_top_descriptor_header(cove_top_descriptor("%C")), "%CPU");
	assert_string_equal(
	    cove_top_descriptor_header(cove_top_descriptor("%U")), "USER");
	assert_string_equal(
	    cove_top_descriptor_header(cove_top_descriptor("%n")), "NI");
	assert_string_equal(
	    cove_top_descriptor_header(cove_top_descriptor("capeff")),
	    "EFFECTIVE CAPS");
	/* no code for these; names are case-sensitive; no prefixes */
	assert_null(cove_top_descriptor("%h"));
	assert_null(cove_top_descriptor("PID"));
	assert_null(cove_top_descriptor("pi"));
	assert_null(cove_top_descriptor("-eo"));
	assert_null(cove_top_descriptor(""));
}

static void test_descriptors_parse(void **state)
{
	char *list[] = {"pid,%U", "comm", NULL};
	char *gaps[] = {",pid,,etime,", NULL};
	char *empty[] = {"", ",", NULL};
	char *ps[] = {"pid", "-eo", "pid,comm", NULL};
	char *late[] = {"pid,user,bogus", NULL};
	const struct cove_top_descriptor **d = NULL;
	size_t n = 99;

	(void)state;
	assert_int_equal(cove_top_descriptors_parse(list, &d, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(cove_top_descriptor_header(d[0]), "PID");
	assert_string_equal(cove_top_descriptor_header(d[1]), "USER");
	assert_string_equal(cove_top_descriptor_header(d[2]), "COMMAND");
	free(d);

	assert_int_equal(cove_top_descriptors_parse(gaps, &d, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(cove_top_descriptor_header(d[1]), "ELAPSED");
	free(d);

	d = NULL;
	assert_int_equal(cove_top_descriptors_parse(empty, &d, &n), 0);
	assert_int_equal(n, 0);
	assert_null(d);

	/* a word that is no descriptor: the arguments are ps(1)'s */
	n = 99;
	assert_int_equal(cove_top_descriptors_parse(ps, &d, &n), -EINVAL);
	assert_int_equal(cove_top_descriptors_parse(late, &d, &n), -EINVAL);
	assert_int_equal(n, 99);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stat_parse),
	    cmocka_unit_test(test_go_duration),
	    cmocka_unit_test(test_descriptor),
	    cmocka_unit_test(test_descriptors_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
