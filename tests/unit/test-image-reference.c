/*
 * Unit tests for src/image/reference.c: parsing and normalising image
 * references the way docker and podman do, and refusing everything their
 * grammar refuses with a message that says why.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "image/reference.h"
#include "util/cleanup.h"

#define D256                                                                   \
	"sha256:"                                                              \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void expect_ref(const char *in, const char *registry,
		       const char *repository, const char *tag,
		       const char *digest, const char *formatted)
{
	struct cove_image_ref ref;
	struct cove_error err = {0};
	_cleanup_free_ char *s = NULL;
	int r;

	r = cove_image_ref_parse(in, &ref, &err);
	if (r < 0)
		fail_msg("'%s' refused: %s", in, err.msg);
	assert_string_equal(ref.registry, registry);
	assert_string_equal(ref.repository, repository);
	if (tag)
		assert_string_equal(ref.tag, tag);
	else
		assert_null(ref.tag);
	if (digest)
		assert_string_equal(ref.digest, digest);
	else
		assert_null(ref.digest);
	s = cove_image_ref_format(&ref);
	assert_string_equal(s, formatted);
	cove_image_ref_release(&ref);

	/* The formatted form is a fixed point. */
	assert_int_equal(cove_image_ref_parse(formatted, &ref, &err), 0);
	free(s);
	s = cove_image_ref_format(&ref);
	assert_string_equal(s, formatted);
	cove_image_ref_release(&ref);
}

static void test_normalise(void **state)
{
	expect_ref("busybox", "docker.io", "library/busybox", "latest", NULL,
		   "docker.io/library/busybox:latest");
	expect_ref("busybox:1.36", "docker.io", "library/busybox", "1.36", NULL,
		   "docker.io/library/busybox:1.36");
	expect_ref("library/busybox", "docker.io", "library/busybox", "latest",
		   NULL, "docker.io/library/busybox:latest");
	expect_ref("docker.io/busybox", "docker.io", "library/busybox",
		   "latest", NULL, "docker.io/library/busybox:latest");
	expect_ref("index.docker.io/busybox:x", "docker.io", "library/busybox",
		   "x", NULL, "docker.io/library/busybox:x");
	expect_ref("a/b", "docker.io", "a/b", "latest", NULL,
		   "docker.io/a/b:latest");
	expect_ref("a/b/c/d", "docker.io", "a/b/c/d", "latest", NULL,
		   "docker.io/a/b/c/d:latest");
	expect_ref("localhost/foo", "localhost", "foo", "latest", NULL,
		   "localhost/foo:latest");
	expect_ref("localhost:5000/a/b:tag", "localhost:5000", "a/b", "tag",
		   NULL, "localhost:5000/a/b:tag");
	expect_ref("registry.example:443/x@" D256, "registry.example:443", "x",
		   NULL, D256, "registry.example:443/x@" D256);
	expect_ref("busybox@" D256, "docker.io", "library/busybox", NULL, D256,
		   "docker.io/library/busybox@" D256);
	expect_ref("quay.io/a/b:v1.2@" D256, "quay.io", "a/b", "v1.2", D256,
		   "quay.io/a/b:v1.2@" D256);
	expect_ref("127.0.0.1:5000/x", "127.0.0.1:5000", "x", "latest", NULL,
		   "127.0.0.1:5000/x:latest");
	expect_ref("[::1]:5000/foo:bar", "[::1]:5000", "foo", "bar", NULL,
		   "[::1]:5000/foo:bar");
	expect_ref("[fe80::1]/foo", "[fe80::1]", "foo", "latest", NULL,
		   "[fe80::1]/foo:latest");
	/* A registry with no dot but a port is still a registry. */
	expect_ref("myhost:5000/foo", "myhost:5000", "foo", "latest", NULL,
		   "myhost:5000/foo:latest");
	/* Without a '/', "host:port" is a name and a tag, as in docker. */
	expect_ref("localhost:5000", "docker.io", "library/localhost", "5000",
		   NULL, "docker.io/library/localhost:5000");
	/* An uppercase first component can only be a registry. */
	expect_ref("Foo/bar", "Foo", "bar", "latest", NULL, "Foo/bar:latest");
	expect_ref("my-registry.Example.com/team/app",
		   "my-registry.Example.com", "team/app", "latest", NULL,
		   "my-registry.Example.com/team/app:latest");
	/* Separators: '.', '_', '__', any run of '-'. */
	expect_ref("docker.io/a.b_c__d---e/f-g", "docker.io",
		   "a.b_c__d---e/f-g", "latest", NULL,
		   "docker.io/a.b_c__d---e/f-g:latest");
	expect_ref("a_b__c---d/e", "docker.io", "a_b__c---d/e", "latest", NULL,
		   "docker.io/a_b__c---d/e:latest");
	/* A dot makes the first component a registry, as in docker. */
	expect_ref("a.b/c", "a.b", "c", "latest", NULL, "a.b/c:latest");
	/* Tags may carry uppercase, '_', '.', '-'. */
	expect_ref("busybox:_V1.2-rc_3", "docker.io", "library/busybox",
		   "_V1.2-rc_3", NULL, "docker.io/library/busybox:_V1.2-rc_3");
}

static void expect_bad(const char *in, const char *needle)
{
	struct cove_image_ref ref = {(char *)1, (char *)1, (char *)1,
				     (char *)1};
	struct cove_error err = {0};

	if (cove_image_ref_parse(in, &ref, &err) >= 0)
		fail_msg("'%s' accepted as %s/%s", in, ref.registry,
			 ref.repository);
	assert_int_equal(err.code, EINVAL);
	if (!strstr(err.msg, needle))
		fail_msg("'%s': message '%s' lacks '%s'", in, err.msg, needle);
	/* Failure leaves the output empty, safe to release. */
	assert_null(ref.registry);
	assert_null(ref.repository);
	assert_null(ref.tag);
	assert_null(ref.digest);
	cove_image_ref_release(&ref);
	/* Messages are lowercase-led and name the input. */
	assert_true(strncmp(err.msg, "invalid image reference", 23) == 0);
}

static void test_refused(void **state)
{
	char long_tag[200], long_name[300];

	expect_bad("", "empty");
	expect_bad(NULL, "empty");
	expect_bad("Busybox", "must be lowercase");
	expect_bad("quay.io/Foo/bar", "must be lowercase");
	expect_bad("docker.io/library/BusyBox:1", "must be lowercase");
	expect_bad("busybox:", "empty tag");
	expect_bad("busybox:-x", "tag must start");
	expect_bad("busybox:.x", "tag must start");
	expect_bad("busybox:a+b", "tag may only contain");
	expect_bad("busybox:latest:latest", "repository name may only");
	expect_bad("busybox@sha256:abc", "needs 64 hex");
	expect_bad("busybox@", "invalid digest");
	expect_bad("busybox@md5:d41d8cd98f00b204e9800998ecf8427e",
		   "unsupported algorithm");
	expect_bad("busybox@" D256 "@" D256, "invalid digest");
	expect_bad("a//b", "empty component");
	expect_bad("a/", "empty component");
	expect_bad("/a", "empty component");
	expect_bad("localhost:5000/", "empty repository name");
	expect_bad("-a/b", "must start with a letter or digit");
	expect_bad("a/b.", "must be followed by a letter or digit");
	expect_bad("a..b", "must be followed by a letter or digit");
	expect_bad("a___b", "must be followed by a letter or digit");
	expect_bad("a b", "may only contain");
	expect_bad(" busybox", "must start with a letter or digit");
	expect_bad("busybox ", "may only contain");
	expect_bad("localhost:5000:tag", "may only contain");
	expect_bad(":tag", "empty repository name");
	expect_bad("@" D256, "empty repository name");
	expect_bad("registry.example:99999/x", "invalid registry port");
	expect_bad("registry.example:5a/x", "invalid registry port");
	expect_bad("registry.example:/x", "empty registry port");
	expect_bad("exa_mple.com/x", "invalid registry host name");
	expect_bad("a.b_c/x", "invalid registry host name");
	expect_bad("-bad.com/x", "invalid registry host name");
	expect_bad("bad-.com/x", "invalid registry host name");
	expect_bad("a..com/x", "invalid registry host name");
	expect_bad("[zz]:5000/x", "invalid IPv6 address");
	expect_bad("[::1/x", "invalid IPv6 address");
	expect_bad(
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    "is an image id");

	/* tag: 128 characters at most */
	memset(long_tag, 'a', sizeof(long_tag));
	memcpy(long_tag, "busybox:", 8);
	long_tag[8 + 128] = '\0';
	{
		struct cove_image_ref ref;
		assert_int_equal(cove_image_ref_parse(long_tag, &ref, NULL), 0);
		assert_int_equal(strlen(ref.tag), 128);
		cove_image_ref_release(&ref);
	}
	long_tag[8 + 128] = 'a';
	long_tag[8 + 129] = '\0';
	expect_bad(long_tag, "longer than 128");

	/* registry/repository: 255 characters at most */
	memset(long_name, 'a', sizeof(long_name));
	memcpy(long_name, "quay.io/", 8);
	long_name[255] = '\0'; /* "quay.io/" + 247 */
	{
		struct cove_image_ref ref;
		assert_int_equal(cove_image_ref_parse(long_name, &ref, NULL),
				 0);
		cove_image_ref_release(&ref);
	}
	long_name[255] = 'a';
	long_name[256] = '\0';
	expect_bad(long_name, "longer than 255");
	/* The library/ prefix counts. */
	memset(long_name, 'a', 250);
	long_name[250] = '\0';
	expect_bad(long_name, "longer than 255");
}

static void test_name(void **state)
{
	struct cove_image_ref ref;
	_cleanup_free_ char *name = NULL;

	assert_int_equal(cove_image_ref_parse("busybox:1@" D256, &ref, NULL),
			 0);
	name = cove_image_ref_name(&ref);
	assert_string_equal(name, "docker.io/library/busybox");
	cove_image_ref_release(&ref);
	cove_image_ref_release(&ref); /* idempotent */
	cove_image_ref_release(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_normalise),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
