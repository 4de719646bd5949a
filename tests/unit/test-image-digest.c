/*
 * Unit tests for src/image/digest.c: digest syntax, streaming and one-shot
 * SHA-256/512 against known vectors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "image/digest.h"
#include "util/cleanup.h"

#define SHA256_EMPTY                                                           \
	"sha256:"                                                              \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA256_ABC                                                             \
	"sha256:"                                                              \
	"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA512_ABC                                                             \
	"sha512:"                                                              \
	"ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"     \
	"2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
#define SHA256_100K_ZEROS                                                      \
	"sha256:"                                                              \
	"9192c25b734fcbadbe32dadc28089c60db0e39f90cc20ce2e5733f57261acc0c"

static void test_validate_ok(void **state)
{
	enum cove_digest_algo algo = COVE_DIGEST_SHA512;

	assert_int_equal(cove_digest_validate(SHA256_ABC, &algo, NULL), 0);
	assert_int_equal(algo, COVE_DIGEST_SHA256);
	assert_int_equal(cove_digest_validate(SHA512_ABC, &algo, NULL), 0);
	assert_int_equal(algo, COVE_DIGEST_SHA512);
	assert_int_equal(cove_digest_validate(SHA256_EMPTY, NULL, NULL), 0);
	assert_string_equal(cove_digest_algo_name(COVE_DIGEST_SHA256),
			    "sha256");
	assert_int_equal(cove_digest_hex_len(COVE_DIGEST_SHA512), 128);
}

static void expect_invalid(const char *d, const char *needle)
{
	struct cove_error err = {0};

	assert_int_equal(cove_digest_validate(d, NULL, &err), -EINVAL);
	assert_int_equal(err.code, EINVAL);
	if (!strstr(err.msg, needle))
		fail_msg("'%s': message '%s' lacks '%s'", d ? d : "(null)",
			 err.msg, needle);
}

static void test_validate_bad(void **state)
{
	expect_invalid(NULL, "empty");
	expect_invalid("", "empty");
	expect_invalid("sha256", "algorithm:hex");
	expect_invalid(
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    "algorithm:hex");
	expect_invalid("md5:d41d8cd98f00b204e9800998ecf8427e",
		       "unsupported algorithm 'md5'");
	expect_invalid(
	    "SHA256:"
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    "unsupported algorithm");
	expect_invalid("sha256:", "needs 64 hex characters, got 0");
	expect_invalid("sha256:e3b0", "needs 64 hex characters, got 4");
	/* A sha512-length hex under sha256 */
	expect_invalid(
	    "sha256:"
	    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a21"
	    "92992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
	    "got 128");
	expect_invalid(
	    "sha256:"
	    "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
	    "lowercase hex");
	expect_invalid(
	    "sha256:"
	    "g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    "lowercase hex");
	expect_invalid("sha256:../../../../etc/passwd/"
		       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		       "lowercase hex");
	expect_invalid("sha256:"
		       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991"
		       "b7852b855\n",
		       "got 65");
	expect_invalid(":abc", "unsupported algorithm");
}

static void test_buffer(void **state)
{
	char out[COVE_DIGEST_MAX];
	_cleanup_free_ char *zeros = calloc(1, 100000);

	assert_int_equal(cove_digest_buffer(COVE_DIGEST_SHA256, "", 0, out), 0);
	assert_string_equal(out, SHA256_EMPTY);
	assert_int_equal(cove_digest_buffer(COVE_DIGEST_SHA256, "abc", 3, out),
			 0);
	assert_string_equal(out, SHA256_ABC);
	assert_int_equal(cove_digest_buffer(COVE_DIGEST_SHA512, "abc", 3, out),
			 0);
	assert_string_equal(out, SHA512_ABC);
	assert_non_null(zeros);
	assert_int_equal(
	    cove_digest_buffer(COVE_DIGEST_SHA256, zeros, 100000, out), 0);
	assert_string_equal(out, SHA256_100K_ZEROS);
	assert_int_equal(
	    cove_digest_buffer((enum cove_digest_algo)7, "", 0, out), -EINVAL);
}

static void test_streaming(void **state)
{
	_cleanup_free_ char *zeros = calloc(1, 100000);
	struct cove_hasher *h = NULL;
	char out[COVE_DIGEST_MAX];
	size_t done = 0, step = 1;

	assert_non_null(zeros);
	assert_int_equal(cove_hasher_new(COVE_DIGEST_SHA256, &h), 0);
	/* Uneven chunks, including empty ones, give the one-shot digest. */
	while (done < 100000) {
		size_t n = step > 100000 - done ? 100000 - done : step;
		assert_int_equal(cove_hasher_update(h, zeros + done, n), 0);
		assert_int_equal(cove_hasher_update(h, zeros, 0), 0);
		done += n;
		step = step * 3 + 1;
	}
	assert_int_equal(cove_hasher_final(h, out), 0);
	assert_string_equal(out, SHA256_100K_ZEROS);
	assert_int_equal(cove_digest_validate(out, NULL, NULL), 0);
	/* A spent hasher refuses more work. */
	assert_int_equal(cove_hasher_update(h, "a", 1), -EINVAL);
	assert_int_equal(cove_hasher_final(h, out), -EINVAL);
	cove_hasher_free(h);
	cove_hasher_free(NULL);

	assert_int_equal(cove_hasher_new(COVE_DIGEST_SHA512, &h), 0);
	assert_int_equal(cove_hasher_update(h, "a", 1), 0);
	assert_int_equal(cove_hasher_update(h, "bc", 2), 0);
	assert_int_equal(cove_hasher_final(h, out), 0);
	assert_string_equal(out, SHA512_ABC);
	cove_hasher_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_validate_ok),
	    cmocka_unit_test(test_validate_bad),
	    cmocka_unit_test(test_buffer),
	    cmocka_unit_test(test_streaming),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
