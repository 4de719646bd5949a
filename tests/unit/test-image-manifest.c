/*
 * Unit tests for src/image/manifest.c: OCI and Docker manifests, indexes
 * and manifest lists, image configs, platform selection, serialisation,
 * and an error naming the document and field for every invalid field.
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

#include "image/manifest.h"
#include "util/cleanup.h"
#include "util/strutil.h"

#define D1                                                                     \
	"sha256:"                                                              \
	"1111111111111111111111111111111111111111111111111111111111111111"
#define D2                                                                     \
	"sha256:"                                                              \
	"2222222222222222222222222222222222222222222222222222222222222222"
#define D3                                                                     \
	"sha256:"                                                              \
	"3333333333333333333333333333333333333333333333333333333333333333"
#define D4                                                                     \
	"sha256:"                                                              \
	"4444444444444444444444444444444444444444444444444444444444444444"
#define D5                                                                     \
	"sha256:"                                                              \
	"5555555555555555555555555555555555555555555555555555555555555555"
#define NAME "sha256:abcd"

static const char oci_manifest[] =
    "{\n"
    "  \"schemaVersion\": 2,\n"
    "  \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",\n"
    "  \"config\": {\"mediaType\": "
    "\"application/vnd.oci.image.config.v1+json\","
    "   \"digest\": \"" D1 "\", \"size\": 1234},\n"
    "  \"layers\": [\n"
    "    {\"mediaType\": \"application/vnd.oci.image.layer.v1.tar+gzip\","
    "     \"digest\": \"" D2 "\", \"size\": 100},\n"
    "    {\"mediaType\": \"application/vnd.oci.image.layer.v1.tar+zstd\","
    "     \"digest\": \"" D3 "\", \"size\": 0,"
    "     \"annotations\": {\"org.opencontainers.image.title\": \"x\"}},\n"
    "    {\"mediaType\": \"application/vnd.oci.image.layer.v1.tar\","
    "     \"digest\": \"" D4 "\", \"size\": 9007199254740993,"
    "     \"urls\": [\"https://example.com/l\"]}\n"
    "  ],\n"
    "  \"subject\": {\"mediaType\": "
    "\"application/vnd.oci.image.manifest.v1+json\","
    "   \"digest\": \"" D5 "\", \"size\": 10},\n"
    "  \"annotations\": {\"a\": \"1\", \"b\": \"2\"},\n"
    "  \"unknownMember\": [1, 2, 3]\n"
    "}\n";

static const char docker_manifest[] =
    "{\"schemaVersion\":2,"
    "\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
    "\"config\":{\"mediaType\":\"application/"
    "vnd.docker.container.image.v1+json\","
    "\"size\":7023,\"digest\":\"" D1 "\"},"
    "\"layers\":["
    "{\"mediaType\":\"application/"
    "vnd.docker.image.rootfs.diff.tar.gzip\",\"size\":32654,\"digest\":\"" D2
    "\"},"
    "{\"mediaType\":\"application/"
    "vnd.docker.image.rootfs.foreign.diff.tar.gzip\",\"size\":16724,\"digest\":"
    "\"" D3 "\",\"urls\":[\"https://x/y\"]},"
    "{\"mediaType\":\"application/"
    "vnd.docker.image.rootfs.diff.tar\",\"size\":73109,\"digest\":\"" D4
    "\"}]}";

/* A buildkit-style index: images plus an attestation for unknown/unknown. */
static const char oci_index[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/"
    "vnd.oci.image.index.v1+json\","
    "\"manifests\":["
    "{\"mediaType\":\"application/"
    "vnd.oci.image.manifest.v1+json\",\"digest\":\"" D1 "\",\"size\":500,"
    " \"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
    "{\"mediaType\":\"application/"
    "vnd.oci.image.manifest.v1+json\",\"digest\":\"" D2 "\",\"size\":500,"
    " \"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":"
    "\"v8\"}},"
    "{\"mediaType\":\"application/"
    "vnd.oci.image.manifest.v1+json\",\"digest\":\"" D3 "\",\"size\":500,"
    " \"platform\":{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":"
    "\"v6\"}},"
    "{\"mediaType\":\"application/"
    "vnd.oci.image.manifest.v1+json\",\"digest\":\"" D4 "\",\"size\":500,"
    " \"platform\":{\"architecture\":\"unknown\",\"os\":\"unknown\"},"
    " \"annotations\":{\"vnd.docker.reference.type\":\"attestation-manifest\"}}"
    ","
    "{\"mediaType\":\"application/"
    "vnd.oci.image.manifest.v1+json\",\"digest\":\"" D5 "\",\"size\":500,"
    " \"platform\":{\"architecture\":\"amd64\",\"os\":\"windows\",\"os."
    "version\":\"10.0.17763.1\","
    "  \"os.features\":[\"win32k\"]}}"
    "]}";

static const char docker_list[] =
    "{\"schemaVersion\":2,"
    "\"mediaType\":\"application/"
    "vnd.docker.distribution.manifest.list.v2+json\","
    "\"manifests\":["
    "{\"mediaType\":\"application/"
    "vnd.docker.distribution.manifest.v2+json\",\"size\":7143,\"digest\":\"" D1
    "\","
    " \"platform\":{\"architecture\":\"ppc64le\",\"os\":\"linux\"}},"
    "{\"mediaType\":\"application/"
    "vnd.docker.distribution.manifest.v2+json\",\"size\":7682,\"digest\":\"" D2
    "\","
    " \"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\",\"features\":["
    "\"sse4\"]}},"
    "{\"mediaType\":\"application/"
    "vnd.docker.distribution.manifest.v2+json\",\"size\":7682,\"digest\":\"" D3
    "\","
    " \"platform\":{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":"
    "\"v7\"}}"
    "]}";

static struct cove_manifest *parse_ok(const char *doc, const char *mt,
				      unsigned flags)
{
	struct cove_manifest *m = NULL;
	struct cove_error err = {0};

	if (cove_manifest_parse(doc, strlen(doc), NAME, mt, flags, &m, &err) <
	    0)
		fail_msg("refused: %s", err.msg);
	return m;
}

/* ---- valid documents ---------------------------------------------------- */

static void test_oci_manifest(void **state)
{
	struct cove_manifest *m = parse_ok(oci_manifest, NULL, 0);
	enum cove_compression comp;
	bool foreign = true;

	assert_int_equal(m->kind, COVE_MANIFEST_OCI);
	assert_false(cove_manifest_is_index(m));
	assert_string_equal(m->media_type, COVE_MT_OCI_MANIFEST);
	assert_string_equal(m->config.media_type, COVE_MT_OCI_CONFIG);
	assert_string_equal(m->config.digest, D1);
	assert_int_equal(m->config.size, 1234);
	assert_int_equal(m->n_layers, 3);
	assert_string_equal(m->layers[0].digest, D2);
	assert_int_equal(m->layers[1].size, 0);
	assert_int_equal(m->layers[1].n_annotations, 1);
	assert_string_equal(m->layers[1].annotations[0].key,
			    "org.opencontainers.image.title");
	assert_true(m->layers[2].size == 9007199254740993LL);
	assert_string_equal(m->layers[2].urls[0], "https://example.com/l");
	assert_null(m->layers[2].urls[1]);
	assert_non_null(m->subject);
	assert_string_equal(m->subject->digest, D5);
	assert_int_equal(m->n_annotations, 2);
	assert_null(m->manifests);

	assert_int_equal(
	    cove_media_type_layer(m->layers[0].media_type, &comp, &foreign), 0);
	assert_int_equal(comp, COVE_COMPRESSION_GZIP);
	assert_false(foreign);
	assert_int_equal(
	    cove_media_type_layer(m->layers[1].media_type, &comp, NULL), 0);
	assert_int_equal(comp, COVE_COMPRESSION_ZSTD);
	assert_int_equal(
	    cove_media_type_layer(m->layers[2].media_type, &comp, NULL), 0);
	assert_int_equal(comp, COVE_COMPRESSION_NONE);
	cove_manifest_free(m);

	/* The registry's Content-Type, with parameters, agrees. */
	m = parse_ok(
	    oci_manifest,
	    "application/vnd.oci.image.manifest.v1+json; charset=utf-8", 0);
	cove_manifest_free(m);
	cove_manifest_free(NULL);
}

static void test_docker_manifest(void **state)
{
	struct cove_manifest *m =
	    parse_ok(docker_manifest, COVE_MT_DOCKER_MANIFEST, 0);
	enum cove_compression comp;
	bool foreign = false;

	assert_int_equal(m->kind, COVE_MANIFEST_DOCKER);
	assert_string_equal(m->config.media_type, COVE_MT_DOCKER_CONFIG);
	assert_int_equal(m->n_layers, 3);
	assert_int_equal(
	    cove_media_type_layer(m->layers[1].media_type, &comp, &foreign), 0);
	assert_true(foreign);
	assert_int_equal(comp, COVE_COMPRESSION_GZIP);
	assert_int_equal(
	    cove_media_type_layer(m->layers[2].media_type, &comp, &foreign), 0);
	assert_false(foreign);
	assert_int_equal(comp, COVE_COMPRESSION_NONE);
	assert_null(m->subject);
	cove_manifest_free(m);
}

static void test_indexes(void **state)
{
	struct cove_manifest *m = parse_ok(oci_index, NULL, 0);

	assert_int_equal(m->kind, COVE_INDEX_OCI);
	assert_true(cove_manifest_is_index(m));
	assert_int_equal(m->n_manifests, 5);
	assert_null(m->layers);
	assert_string_equal(m->manifests[1].platform->variant, "v8");
	assert_string_equal(m->manifests[4].platform->os_version,
			    "10.0.17763.1");
	assert_string_equal(m->manifests[4].platform->os_features[0], "win32k");
	assert_null(m->manifests[0].platform->variant);
	cove_manifest_free(m);

	m = parse_ok(docker_list, COVE_MT_DOCKER_LIST, 0);
	assert_int_equal(m->kind, COVE_INDEX_DOCKER);
	assert_int_equal(m->n_manifests, 3);
	assert_string_equal(m->manifests[0].platform->architecture, "ppc64le");
	cove_manifest_free(m);

	/* OCI lets mediaType out: the shape decides. */
	m = parse_ok("{\"schemaVersion\":2,\"manifests\":[]}", NULL, 0);
	assert_int_equal(m->kind, COVE_INDEX_OCI);
	assert_int_equal(m->n_manifests, 0);
	cove_manifest_free(m);
	m = parse_ok("{\"schemaVersion\":2,\"config\":{\"mediaType\":"
		     "\"" COVE_MT_OCI_CONFIG "\",\"digest\":\"" D1
		     "\",\"size\":2},"
		     "\"layers\":[]}",
		     NULL, 0);
	assert_int_equal(m->kind, COVE_MANIFEST_OCI);
	cove_manifest_free(m);
	/* ... or the descriptor it was reached by */
	m = parse_ok("{\"schemaVersion\":2,\"manifests\":[]}",
		     COVE_MT_OCI_INDEX, 0);
	cove_manifest_free(m);
}

static void test_artifacts(void **state)
{
	/* A cosign signature: unknown layer type, allowed only on request */
	static const char sig[] =
	    "{\"schemaVersion\":2,\"mediaType\":\"" COVE_MT_OCI_MANIFEST "\","
	    "\"config\":{\"mediaType\":\"application/"
	    "vnd.oci.image.config.v1+json\","
	    "\"digest\":\"" D1 "\",\"size\":233},"
	    "\"layers\":[{\"mediaType\":\"application/"
	    "vnd.dev.cosign.simplesigning.v1+json\","
	    "\"digest\":\"" D2 "\",\"size\":250,\"annotations\":"
	    "{\"dev.cosignproject.cosign/signature\":\"MEUC\"}}]}";
	static const char art[] =
	    "{\"schemaVersion\":2,\"mediaType\":\"" COVE_MT_OCI_MANIFEST "\","
	    "\"artifactType\":\"application/vnd.example.sbom\","
	    "\"config\":{\"mediaType\":\"" COVE_MT_OCI_EMPTY "\","
	    "\"digest\":\"" D1 "\",\"size\":2},"
	    "\"layers\":[{\"mediaType\":\"application/spdx+json\","
	    "\"digest\":\"" D2 "\",\"size\":250}]}";
	struct cove_manifest *m = NULL;
	struct cove_error err = {0};

	assert_int_equal(
	    cove_manifest_parse(sig, strlen(sig), NAME, NULL, 0, &m, &err),
	    -EINVAL);
	assert_string_equal(
	    err.msg, "manifest " NAME
		     ": invalid 'layers[0].mediaType': unknown layer media "
		     "type 'application/vnd.dev.cosign.simplesigning.v1+json'");
	m = parse_ok(sig, NULL, COVE_MANIFEST_ALLOW_ARTIFACTS);
	assert_string_equal(m->layers[0].annotations[0].value, "MEUC");
	cove_manifest_free(m);

	assert_int_equal(
	    cove_manifest_parse(art, strlen(art), NAME, NULL, 0, &m, &err),
	    -EINVAL);
	assert_non_null(strstr(err.msg, "unknown config media type"));
	m = parse_ok(art, NULL, COVE_MANIFEST_ALLOW_ARTIFACTS);
	assert_string_equal(m->artifact_type, "application/vnd.example.sbom");
	cove_manifest_free(m);
}

/* ---- platforms ---------------------------------------------------------- */

static void expect_platform(const char *in, const char *want)
{
	struct cove_platform p;
	struct cove_error err = {0};
	_cleanup_free_ char *s = NULL;

	if (cove_platform_parse(in, &p, &err) < 0)
		fail_msg("'%s': %s", in, err.msg);
	s = cove_platform_format(&p);
	assert_string_equal(s, want);
	cove_platform_release(&p);
}

static void test_platform_parse(void **state)
{
	struct cove_platform p;
	struct cove_error err = {0};
	_cleanup_free_ char *s = NULL;

	expect_platform("linux/amd64", "linux/amd64");
	expect_platform("linux/x86_64", "linux/amd64");
	expect_platform("linux/arm64/v8", "linux/arm64");
	expect_platform("linux/aarch64", "linux/arm64");
	expect_platform("linux/arm", "linux/arm/v7");
	expect_platform("linux/armhf", "linux/arm/v7");
	expect_platform("linux/armel", "linux/arm/v6");
	expect_platform("linux/arm/6", "linux/arm/v6");
	expect_platform("linux/i386", "linux/386");
	expect_platform("Linux/AMD64", "linux/amd64");
	expect_platform("linux/amd64/v3", "linux/amd64/v3");
	expect_platform("arm64", "linux/arm64");
	expect_platform("linux/riscv64", "linux/riscv64");

	assert_int_equal(cove_platform_parse("", &p, &err), -EINVAL);
	assert_int_equal(cove_platform_parse("linux/", &p, &err), -EINVAL);
	assert_int_equal(cove_platform_parse("/amd64", &p, &err), -EINVAL);
	assert_int_equal(cove_platform_parse("linux/arm/v7/x", &p, &err),
			 -EINVAL);
	assert_int_equal(cove_platform_parse("linux/am d64", &p, &err),
			 -EINVAL);
	assert_string_equal(
	    err.msg,
	    "invalid platform 'linux/am d64': expected os/arch[/variant]");

	assert_int_equal(cove_platform_host(&p), 0);
	s = cove_platform_format(&p);
	assert_true(cove_str_has_prefix(s, "linux/"));
#if defined(__x86_64__)
	assert_string_equal(s, "linux/amd64");
#endif
	cove_platform_release(&p);
}

static int match(const char *want, const char *os, const char *arch,
		 const char *variant)
{
	struct cove_platform w, h = {.os = (char *)os,
				     .architecture = (char *)arch,
				     .variant = (char *)variant};
	int r;

	assert_int_equal(cove_platform_parse(want, &w, NULL), 0);
	r = cove_platform_match(&w, &h);
	cove_platform_release(&w);
	return r;
}

static void test_platform_match(void **state)
{
	assert_int_equal(match("linux/amd64", "linux", "amd64", NULL), 0);
	assert_int_equal(match("linux/amd64", "linux", "x86_64", NULL), 0);
	assert_int_equal(match("linux/amd64", "linux", "arm64", NULL), -1);
	assert_int_equal(match("linux/amd64", "windows", "amd64", NULL), -1);
	assert_int_equal(match("linux/amd64", "linux", "amd64", "v2"), -1);
	assert_int_equal(match("linux/amd64/v3", "linux", "amd64", "v3"), 0);
	assert_int_equal(match("linux/amd64/v3", "linux", "amd64", "v2"), 1);
	assert_int_equal(match("linux/amd64/v3", "linux", "amd64", NULL), 2);
	assert_int_equal(match("linux/arm64/v8", "linux", "arm64", NULL), 0);
	assert_int_equal(match("linux/arm64", "linux", "arm64", "v8"), 0);
	assert_int_equal(match("linux/arm64", "linux", "aarch64", "8"), 0);
	assert_int_equal(match("linux/arm/v7", "linux", "arm", "v7"), 0);
	assert_int_equal(match("linux/arm/v7", "linux", "arm", NULL), 0);
	assert_int_equal(match("linux/arm/v7", "linux", "arm", "v6"), 1);
	assert_int_equal(match("linux/arm/v7", "linux", "arm", "v5"), 2);
	assert_int_equal(match("linux/arm/v6", "linux", "arm", "v7"), -1);
	assert_int_equal(match("linux/riscv64", "linux", "riscv64", "rva22"),
			 1);
	assert_int_equal(match("linux/386", "linux", "i386", NULL), 0);
	{
		struct cove_platform w = {0}, h = {0};
		assert_int_equal(cove_platform_match(&w, &h), -1);
		assert_int_equal(cove_platform_match(NULL, &h), -1);
	}
}

static int select_in(const char *doc, const char *want, struct cove_error *err)
{
	struct cove_manifest *m = parse_ok(doc, NULL, 0);
	struct cove_platform p;
	int r;

	if (want) {
		assert_int_equal(cove_platform_parse(want, &p, NULL), 0);
		r = cove_index_select(m, "idx", &p, err);
		cove_platform_release(&p);
	} else {
		r = cove_index_select(m, "idx", NULL, err);
	}
	cove_manifest_free(m);
	return r;
}

static void test_select(void **state)
{
	struct cove_error err = {0};
	struct cove_manifest *m;

	assert_int_equal(select_in(oci_index, "linux/amd64", &err), 0);
	assert_int_equal(select_in(oci_index, "linux/arm64/v8", &err), 1);
	assert_int_equal(select_in(oci_index, "linux/arm64", &err), 1);
	/* arm/v7 runs the v6 image when there is no v7 one */
	assert_int_equal(select_in(oci_index, "linux/arm/v7", &err), 2);
	assert_int_equal(select_in(oci_index, "linux/arm/v6", &err), 2);
	assert_int_equal(select_in(oci_index, "windows/amd64", &err), 4);
	assert_int_equal(select_in(docker_list, "linux/ppc64le", &err), 0);
	assert_int_equal(select_in(docker_list, "linux/arm/v7", &err), 2);
	assert_int_equal(select_in(docker_list, "linux/arm/v6", &err), -ENOENT);
	assert_string_equal(
	    err.msg, "index idx has no image for linux/arm/v6 (it offers: "
		     "linux/ppc64le, linux/amd64, linux/arm/v7)");
	assert_int_equal(select_in(oci_index, "linux/s390x", &err), -ENOENT);
	assert_non_null(strstr(err.msg,
			       "linux/amd64, linux/arm64/v8, linux/arm/v6, "
			       "unknown/unknown, windows/amd64"));
#if defined(__x86_64__)
	assert_int_equal(select_in(oci_index, NULL, &err), 0);
	assert_int_equal(select_in(docker_list, NULL, &err), 1);
#endif
	/* An exact variant beats a compatible one whatever the order. */
	assert_int_equal(select_in("{\"schemaVersion\":2,\"manifests\":["
				   "{\"mediaType\":\"" COVE_MT_OCI_MANIFEST
				   "\",\"digest\":\"" D1 "\",\"size\":1,"
				   "\"platform\":{\"architecture\":\"arm\","
				   "\"os\":\"linux\",\"variant\":\"v5\"}},"
				   "{\"mediaType\":\"" COVE_MT_OCI_MANIFEST
				   "\",\"digest\":\"" D2 "\",\"size\":1,"
				   "\"platform\":{\"architecture\":\"arm\","
				   "\"os\":\"linux\",\"variant\":\"v7\"}},"
				   "{\"mediaType\":\"" COVE_MT_OCI_MANIFEST
				   "\",\"digest\":\"" D3 "\",\"size\":1,"
				   "\"platform\":{\"architecture\":\"arm\","
				   "\"os\":\"linux\",\"variant\":\"v6\"}}]}",
				   "linux/arm/v7", &err),
			 1);
	/* No platform: the last resort.  Non-manifests: never. */
	assert_int_equal(select_in("{\"schemaVersion\":2,\"manifests\":["
				   "{\"mediaType\":\"application/"
				   "vnd.example+json\",\"digest\":\"" D1
				   "\",\"size\":1},"
				   "{\"mediaType\":\"" COVE_MT_OCI_MANIFEST
				   "\",\"digest\":\"" D2 "\",\"size\":1}]}",
				   "linux/amd64", &err),
			 1);
	assert_int_equal(
	    select_in(
		"{\"schemaVersion\":2,\"manifests\":["
		"{\"mediaType\":\"application/"
		"vnd.example+json\",\"digest\":\"" D1 "\",\"size\":1,"
		"\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}",
		"linux/amd64", &err),
	    -ENOENT);
	assert_non_null(strstr(err.msg, "it offers: nothing"));

	m = parse_ok(oci_manifest, NULL, 0);
	assert_int_equal(cove_index_select(m, "m", NULL, &err), -EINVAL);
	assert_string_equal(err.msg, "manifest m is not an index");
	cove_manifest_free(m);
}

/* ---- invalid manifests -------------------------------------------------- */

static void expect_manifest_error(const char *doc, const char *hint, int code,
				  const char *msg)
{
	struct cove_manifest *m = (struct cove_manifest *)1;
	struct cove_error err = {0};
	int r;

	r = cove_manifest_parse(doc, strlen(doc), NAME, hint, 0, &m, &err);
	if (r >= 0)
		fail_msg("accepted: %s", doc);
	assert_int_equal(r, -code);
	assert_int_equal(err.code, code);
	if (strcmp(err.msg, msg) != 0 &&
	    !(msg[strlen(msg) - 1] == '*' &&
	      !strncmp(err.msg, msg, strlen(msg) - 1)))
		fail_msg("message\n  '%s'\nwanted\n  '%s'", err.msg, msg);
	/* Untouched on failure */
	assert_ptr_equal(m, (struct cove_manifest *)1);
}

/* An OCI manifest with @layer0 as its first layer and @config as config. */
static char *with(const char *config, const char *layer0)
{
	return cove_strdup_printf(
	    "{\"schemaVersion\":2,\"mediaType\":\"" COVE_MT_OCI_MANIFEST "\","
	    "\"config\":%s,\"layers\":[%s,"
	    "{\"mediaType\":\"" COVE_MT_OCI_LAYER_GZIP "\",\"digest\":\"" D3
	    "\",\"size\":3}]}",
	    config, layer0);
}

#define CFG_OK                                                                 \
	"{\"mediaType\":\"" COVE_MT_OCI_CONFIG "\",\"digest\":\"" D1           \
	"\",\"size\":2}"
#define LAYER_OK                                                               \
	"{\"mediaType\":\"" COVE_MT_OCI_LAYER_GZIP "\",\"digest\":\"" D2       \
	"\",\"size\":2}"
#define P "manifest " NAME ": "

static void expect_with(const char *config, const char *layer0, const char *msg)
{
	_cleanup_free_ char *doc = with(config, layer0);
	_cleanup_free_ char *want = strdup(msg);
	size_t n = strlen(want);
	int code = EINVAL;

	/* A final '!' marks a size limit (EFBIG). */
	if (want[n - 1] == '!') {
		want[n - 1] = '\0';
		code = EFBIG;
	}
	expect_manifest_error(doc, NULL, code, want);
}

static void test_manifest_errors(void **state)
{
	_cleanup_free_ char *big = NULL;
	char third[1024];

	/* the document */
	expect_manifest_error("", NULL, EINVAL,
			      "manifest " NAME ": invalid JSON at line*");
	expect_manifest_error("{\"a\":1,\"a\":2}", NULL, EINVAL,
			      "manifest " NAME ": invalid JSON at line*");
	expect_manifest_error("[]", NULL, EINVAL, P "expected a JSON object");
	expect_manifest_error("{}", NULL, EINVAL, P "missing 'schemaVersion'");
	expect_manifest_error("{\"schemaVersion\":\"2\"}", NULL, EINVAL,
			      P "invalid 'schemaVersion': expected an integer");
	expect_manifest_error("{\"schemaVersion\":3}", NULL, EINVAL,
			      P "invalid 'schemaVersion': expected 2, got 3");
	expect_manifest_error("{\"schemaVersion\":1,\"name\":\"x\"}", NULL,
			      ENOTSUP,
			      P "docker schema 1 manifests are not supported");
	expect_manifest_error(
	    "{\"schemaVersion\":2,\"mediaType\":\"application/"
	    "vnd.docker.distribution.manifest.v1+prettyjws\"}",
	    NULL, ENOTSUP, P "docker schema 1 manifests are not supported*");
	expect_manifest_error(
	    "{\"schemaVersion\":2,\"mediaType\":\"text/html\"}", NULL, EINVAL,
	    P
	    "invalid 'mediaType': unsupported manifest media type 'text/html'");
	expect_manifest_error("{\"schemaVersion\":2,\"mediaType\":7}", NULL,
			      EINVAL,
			      P "invalid 'mediaType': expected a string");
	expect_manifest_error(
	    "{\"schemaVersion\":2}", NULL, EINVAL,
	    P "missing 'mediaType': neither a manifest nor an index");
	expect_manifest_error(
	    oci_manifest, COVE_MT_DOCKER_MANIFEST, EINVAL,
	    P "invalid 'mediaType': document says '" COVE_MT_OCI_MANIFEST
	      "' but it was served as '" COVE_MT_DOCKER_MANIFEST "'");
	big = malloc(COVE_MANIFEST_MAX + 2);
	assert_non_null(big);
	memset(big, ' ', COVE_MANIFEST_MAX + 1);
	big[0] = '{';
	big[COVE_MANIFEST_MAX] = '}';
	big[COVE_MANIFEST_MAX + 1] = '\0';
	expect_manifest_error(big, NULL, EFBIG,
			      P "larger than the 4 MiB limit");

	/* shapes */
	expect_manifest_error(
	    "{\"schemaVersion\":2,\"mediaType\":\"" COVE_MT_OCI_MANIFEST
	    "\",\"layers\":[]}",
	    NULL, EINVAL, P "missing 'config'");
	expect_manifest_error(
	    "{\"schemaVersion\":2,\"mediaType\":\"" COVE_MT_OCI_MANIFEST
	    "\",\"config\":[],\"layers\":[]}",
	    NULL, EINVAL, P "invalid 'config': expected an object");
	expect_manifest_error(
	    "{\"schemaVersion\":2,\"mediaType\":\"" COVE_MT_OCI_MANIFEST
	    "\",\"config\":" CFG_OK "}",
	    NULL, EINVAL, P "missing 'layers'");
	expect_manifest_error(
	    "{\"schemaVersion\":2,\"mediaType\":\"" COVE_MT_OCI_MANIFEST
	    "\",\"config\":" CFG_OK ",\"layers\":{}}",
	    NULL, EINVAL, P "invalid 'layers': expected an array");
	expect_manifest_error(
	    "{\"schemaVersion\":2,\"mediaType\":\"" COVE_MT_OCI_MANIFEST
	    "\",\"config\":" CFG_OK ",\"layers\":[],\"manifests\":[]}",
	    NULL, EINVAL, P "invalid manifest: 'manifests' belongs to indexes");
	expect_manifest_error(
	    "{\"schemaVersion\":2,\"mediaType\":\"" COVE_MT_OCI_INDEX
	    "\",\"manifests\":[],\"config\":" CFG_OK "}",
	    NULL, EINVAL,
	    P "invalid index: 'config' and 'layers' belong to image manifests");
	expect_manifest_error(
	    "{\"schemaVersion\":2,\"mediaType\":\"" COVE_MT_OCI_INDEX "\"}",
	    NULL, EINVAL, P "missing 'manifests'");
	expect_manifest_error(
	    "{\"schemaVersion\":2,\"mediaType\":\"" COVE_MT_OCI_INDEX
	    "\",\"manifests\":[7]}",
	    NULL, EINVAL, P "invalid 'manifests[0]': expected an object");
	expect_manifest_error(
	    "{\"schemaVersion\":2,\"mediaType\":\"" COVE_MT_OCI_INDEX
	    "\",\"manifests\":[],\"annotations\":{\"k\":1}}",
	    NULL, EINVAL, P "invalid 'annotations.k': expected a string");
	expect_manifest_error(
	    "{\"schemaVersion\":2,\"mediaType\":\"" COVE_MT_OCI_INDEX
	    "\",\"manifests\":[],\"annotations\":[]}",
	    NULL, EINVAL, P "invalid 'annotations': expected an object");

	/* config descriptor */
	expect_with("{\"digest\":\"" D1 "\",\"size\":2}", LAYER_OK,
		    P "missing 'config.mediaType'");
	expect_with(
	    "{\"mediaType\":\"nonsense\",\"digest\":\"" D1 "\",\"size\":2}",
	    LAYER_OK,
	    P "invalid 'config.mediaType': 'nonsense' is not a media type");
	expect_with("{\"mediaType\":\"" COVE_MT_OCI_LAYER "\",\"digest\":\"" D1
		    "\",\"size\":2}",
		    LAYER_OK,
		    P "invalid 'config.mediaType': unknown config media type "
		      "'" COVE_MT_OCI_LAYER "'");
	expect_with("{\"mediaType\":\"" COVE_MT_OCI_CONFIG "\",\"size\":2}",
		    LAYER_OK, P "missing 'config.digest'");
	expect_with("{\"mediaType\":\"" COVE_MT_OCI_CONFIG
		    "\",\"digest\":\"sha256:12\",\"size\":2}",
		    LAYER_OK,
		    P "invalid 'config.digest': invalid digest 'sha256:12': "
		      "sha256 needs 64 hex characters, got 2");
	expect_with("{\"mediaType\":\"" COVE_MT_OCI_CONFIG "\",\"digest\":\"" D1
		    "\"}",
		    LAYER_OK, P "missing 'config.size'");
	expect_with("{\"mediaType\":\"" COVE_MT_OCI_CONFIG "\",\"digest\":\"" D1
		    "\",\"size\":-1}",
		    LAYER_OK, P "invalid 'config.size': must be >= 0, got -1");
	expect_with("{\"mediaType\":\"" COVE_MT_OCI_CONFIG "\",\"digest\":\"" D1
		    "\",\"size\":1.5}",
		    LAYER_OK, P "invalid 'config.size': expected an integer");
	expect_with("{\"mediaType\":\"" COVE_MT_OCI_CONFIG "\",\"digest\":\"" D1
		    "\",\"size\":1e30}",
		    LAYER_OK, P "invalid 'config.size': expected an integer");
	expect_with("{\"mediaType\":\"" COVE_MT_OCI_CONFIG "\",\"digest\":\"" D1
		    "\",\"size\":16777217}",
		    LAYER_OK,
		    P "invalid 'config.size': 16777217 bytes is above the 16 "
		      "MiB config limit!");

	/* layers */
	expect_with(CFG_OK,
		    "{\"mediaType\":\"application/x-tar\",\"digest\":\"" D2
		    "\",\"size\":2}",
		    P "invalid 'layers[0].mediaType': unknown layer media type "
		      "'application/x-tar'");
	expect_with(CFG_OK,
		    "{\"mediaType\":\"" COVE_MT_OCI_LAYER_GZIP
		    "\",\"digest\":\"md5:aa\",\"size\":2}",
		    P "invalid 'layers[0].digest': invalid digest 'md5:aa': "
		      "unsupported algorithm 'md5' (sha256 or sha512)");
	expect_with(CFG_OK,
		    "{\"mediaType\":\"" COVE_MT_OCI_LAYER_GZIP
		    "\",\"digest\":\"" D2 "\",\"size\":-5}",
		    P "invalid 'layers[0].size': must be >= 0, got -5");
	expect_with(CFG_OK,
		    "{\"mediaType\":\"" COVE_MT_OCI_LAYER_GZIP
		    "\",\"digest\":\"" D2 "\",\"size\":2,\"urls\":[1]}",
		    P "invalid 'layers[0].urls[0]': expected a string");
	expect_with(CFG_OK,
		    "{\"mediaType\":\"" COVE_MT_OCI_LAYER_GZIP
		    "\",\"digest\":\"" D2 "\",\"size\":2,\"urls\":\"x\"}",
		    P "invalid 'layers[0].urls': expected an array of strings");
	expect_with(CFG_OK,
		    "{\"mediaType\":\"" COVE_MT_OCI_LAYER_GZIP
		    "\",\"digest\":\"" D2
		    "\",\"size\":2,\"annotations\":{\"a\":null}}",
		    P "invalid 'layers[0].annotations.a': expected a string");
	expect_with(CFG_OK, "\"layer\"",
		    P "invalid 'layers[0]': expected an object");

	/* the third layer, as the brief's example */
	snprintf(third, sizeof(third),
		 "{\"schemaVersion\":2,\"mediaType\":\"" COVE_MT_DOCKER_MANIFEST
		 "\","
		 "\"config\":{\"mediaType\":\"" COVE_MT_DOCKER_CONFIG
		 "\",\"digest\":\"" D1 "\",\"size\":2},"
		 "\"layers\":[" LAYER_OK "," LAYER_OK
		 ",{\"mediaType\":\"" COVE_MT_DOCKER_LAYER "\","
		 "\"digest\":\"sha256:XYZ\",\"size\":2}]}");
	expect_manifest_error(
	    third, NULL, EINVAL,
	    P "invalid 'layers[2].digest': invalid digest 'sha256:XYZ': sha256 "
	      "needs 64 hex characters, got 3");

	/* index entries */
	expect_manifest_error(
	    "{\"schemaVersion\":2,\"mediaType\":\"" COVE_MT_OCI_INDEX
	    "\",\"manifests\":["
	    "{\"mediaType\":\"" COVE_MT_OCI_MANIFEST "\",\"digest\":\"" D1
	    "\",\"size\":2,\"platform\":{\"os\":\"linux\"}}]}",
	    NULL, EINVAL, P "missing 'manifests[0].platform.architecture'");
	expect_manifest_error(
	    "{\"schemaVersion\":2,\"mediaType\":\"" COVE_MT_OCI_INDEX
	    "\",\"manifests\":["
	    "{\"mediaType\":\"" COVE_MT_OCI_MANIFEST "\",\"digest\":\"" D1
	    "\",\"size\":2,\"platform\":{\"os\":\"linux\",\"architecture\":"
	    "\"amd64\",\"variant\":3}}]}",
	    NULL, EINVAL,
	    P "invalid 'manifests[0].platform.variant': expected a string");
	expect_manifest_error(
	    "{\"schemaVersion\":2,\"mediaType\":\"" COVE_MT_OCI_INDEX
	    "\",\"manifests\":["
	    "{\"mediaType\":\"" COVE_MT_OCI_MANIFEST "\",\"digest\":\"" D1
	    "\",\"size\":2,\"platform\":\"linux\"}]}",
	    NULL, EINVAL,
	    P "invalid 'manifests[0].platform': expected an object");
	expect_manifest_error(
	    "{\"schemaVersion\":2,\"mediaType\":\"" COVE_MT_OCI_INDEX
	    "\",\"manifests\":["
	    "{\"mediaType\":\"" COVE_MT_OCI_MANIFEST "\",\"digest\":\"" D1
	    "\",\"size\":4194305}]}",
	    NULL, EFBIG,
	    P "invalid 'manifests[0].size': 4194305 bytes is above the 4 MiB "
	      "manifest limit");
	expect_manifest_error(
	    "{\"schemaVersion\":2,\"mediaType\":\"" COVE_MT_DOCKER_LIST
	    "\",\"manifests\":["
	    "{\"mediaType\":\"" COVE_MT_DOCKER_MANIFEST "\",\"digest\":\"" D1
	    "\",\"size\":2}]}",
	    NULL, EINVAL, P "missing 'manifests[0].platform'");
	expect_manifest_error(
	    "{\"schemaVersion\":2,\"mediaType\":\"" COVE_MT_OCI_INDEX
	    "\",\"manifests\":[],"
	    "\"subject\":{\"mediaType\":\"" COVE_MT_OCI_MANIFEST
	    "\",\"digest\":\"" D1 "\"}}",
	    NULL, EINVAL, P "missing 'subject.size'");
	expect_manifest_error(
	    "{\"schemaVersion\":2,\"mediaType\":\"" COVE_MT_OCI_INDEX
	    "\",\"manifests\":[],"
	    "\"artifactType\":\"x\"}",
	    NULL, EINVAL, P "invalid 'artifactType': 'x' is not a media type");
}

static void test_media_types(void **state)
{
	assert_true(cove_media_type_valid(
	    "application/vnd.oci.image.layer.v1.tar+gzip"));
	assert_true(cove_media_type_valid("a/b"));
	assert_false(cove_media_type_valid("a/"));
	assert_false(cove_media_type_valid("/b"));
	assert_false(cove_media_type_valid("ab"));
	assert_false(cove_media_type_valid("a/b/c"));
	assert_false(cove_media_type_valid("a/b c"));
	assert_false(cove_media_type_valid(""));
	assert_false(cove_media_type_valid(NULL));
	assert_true(cove_media_type_is_manifest(COVE_MT_DOCKER_MANIFEST));
	assert_false(cove_media_type_is_manifest(COVE_MT_OCI_INDEX));
	assert_true(cove_media_type_is_index(COVE_MT_DOCKER_LIST));
	assert_int_equal(
	    cove_media_type_layer(
		"application/vnd.oci.image.layer.v1.tar+gzip+encrypted", NULL,
		NULL),
	    -EINVAL);
	assert_int_equal(
	    cove_media_type_layer(COVE_MT_OCI_LAYER_ND_ZSTD, NULL, NULL), 0);
	assert_int_equal(cove_media_type_layer(NULL, NULL, NULL), -EINVAL);
}

/* ---- serialisation ------------------------------------------------------ */

static void roundtrip(const char *doc)
{
	struct cove_manifest *a = parse_ok(doc, NULL, 0), *b;
	_cleanup_free_ char *ja = NULL, *jb = NULL;
	struct cove_error err = {0};
	size_t la = 0, lb = 0;

	assert_int_equal(cove_manifest_to_json(a, &ja, &la, &err), 0);
	assert_int_equal(strlen(ja), la);
	b = parse_ok(ja, a->media_type, 0);
	assert_int_equal(cove_manifest_to_json(b, &jb, &lb, &err), 0);
	/* A fixed point: same bytes, same digest. */
	assert_string_equal(ja, jb);
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->n_layers, b->n_layers);
	assert_int_equal(a->n_manifests, b->n_manifests);
	for (size_t i = 0; i < a->n_layers; i++) {
		assert_string_equal(a->layers[i].digest, b->layers[i].digest);
		assert_true(a->layers[i].size == b->layers[i].size);
		assert_string_equal(a->layers[i].media_type,
				    b->layers[i].media_type);
	}
	for (size_t i = 0; i < a->n_manifests; i++) {
		_cleanup_free_ char *pa = NULL, *pb = NULL;
		pa = cove_platform_format(a->manifests[i].platform);
		pb = cove_platform_format(b->manifests[i].platform);
		assert_string_equal(pa, pb);
	}
	assert_true(
	    cove_str_has_prefix(ja, "{\"schemaVersion\":2,\"mediaType\":"));
	cove_manifest_free(a);
	cove_manifest_free(b);
}

static void test_to_json(void **state)
{
	struct cove_manifest m = {0};
	struct cove_descriptor layer = {0};
	_cleanup_free_ char *out = NULL;
	struct cove_error err = {0};

	roundtrip(oci_manifest);
	roundtrip(docker_manifest);
	roundtrip(oci_index);
	roundtrip(docker_list);

	/* Built from scratch, as a build or save would */
	m.kind = COVE_MANIFEST_OCI;
	m.config.media_type = (char *)COVE_MT_OCI_CONFIG;
	snprintf(m.config.digest, sizeof(m.config.digest), "%s", D1);
	m.config.size = 10;
	layer.media_type = (char *)COVE_MT_OCI_LAYER_GZIP;
	snprintf(layer.digest, sizeof(layer.digest), "%s", D2);
	layer.size = 20;
	m.layers = &layer;
	m.n_layers = 1;
	layer.size = -1;
	assert_int_equal(cove_manifest_to_json(&m, &out, NULL, &err), -EINVAL);
	assert_string_equal(
	    err.msg,
	    "cannot write manifest: invalid 'layers[0].size': must be >= 0");
	layer.size = 20;
	m.config.digest[0] = '\0';
	assert_int_equal(cove_manifest_to_json(&m, &out, NULL, &err), -EINVAL);
	assert_non_null(
	    strstr(err.msg, "cannot write manifest: invalid 'config.digest'"));
	snprintf(m.config.digest, sizeof(m.config.digest), "%s", D1);
	assert_int_equal(cove_manifest_to_json(&m, &out, NULL, &err), 0);
	assert_string_equal(
	    out,
	    "{\"schemaVersion\":2,\"mediaType\":\"" COVE_MT_OCI_MANIFEST "\","
	    "\"config\":{\"mediaType\":\"" COVE_MT_OCI_CONFIG
	    "\",\"digest\":\"" D1 "\",\"size\":10},"
	    "\"layers\":[{\"mediaType\":\"" COVE_MT_OCI_LAYER_GZIP
	    "\",\"digest\":\"" D2 "\",\"size\":20}]}");
}

/* ---- image configs ------------------------------------------------------ */

static const char config_doc[] =
    "{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\","
    "\"created\":\"2023-06-01T12:34:56.123456789+02:00\",\"author\":\"me\","
    "\"config\":{\"User\":\"1000:1000\",\"Env\":[\"PATH=/usr/bin:/"
    "bin\",\"EMPTY=\"],"
    "\"Entrypoint\":[\"/bin/sh\",\"-c\"],\"Cmd\":[\"echo "
    "hi\"],\"WorkingDir\":\"/srv\","
    "\"ExposedPorts\":{\"80/tcp\":{},\"53/udp\":{},\"8000-8010/"
    "tcp\":{},\"9\":{}},"
    "\"Volumes\":{\"/"
    "data\":{}},\"Labels\":{\"org.example.a\":\"1\",\"b\":\"\"},"
    "\"StopSignal\":\"SIGQUIT\",\"Healthcheck\":{\"Test\":[\"CMD\",\"true\"]},"
    "\"ArgsEscaped\":true},"
    "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D1 "\",\"" D2 "\"]},"
    "\"history\":[{\"created\":\"2023-06-01T10:00:00Z\",\"created_by\":\"ADD x "
    "/\"},"
    "{\"created_by\":\"ENV "
    "a=b\",\"empty_layer\":true,\"comment\":\"c\",\"author\":\"a\"},"
    "{\"created_by\":\"RUN y\"}],"
    "\"moby.buildkit.buildinfo.v1\":\"e30=\"}";

static struct cove_image_config *config_ok(const char *doc)
{
	struct cove_image_config *c = NULL;
	struct cove_error err = {0};

	if (cove_image_config_parse(doc, strlen(doc), NAME, &c, &err) < 0)
		fail_msg("refused: %s", err.msg);
	return c;
}

static void test_config(void **state)
{
	struct cove_image_config *c = config_ok(config_doc), *c2;
	_cleanup_free_ char *out = NULL, *out2 = NULL;
	struct cove_error err = {0};

	assert_string_equal(c->architecture, "arm64");
	assert_string_equal(c->os, "linux");
	assert_string_equal(c->variant, "v8");
	assert_true(c->created_unix == 1685615696);
	assert_string_equal(c->author, "me");
	assert_string_equal(c->user, "1000:1000");
	assert_int_equal(cove_strv_length(c->env), 2);
	assert_string_equal(c->env[1], "EMPTY=");
	assert_string_equal(c->entrypoint[0], "/bin/sh");
	assert_string_equal(c->cmd[0], "echo hi");
	assert_string_equal(c->working_dir, "/srv");
	assert_int_equal(cove_strv_length(c->exposed_ports), 4);
	assert_true(cove_strv_contains(c->exposed_ports, "53/udp"));
	assert_string_equal(c->volumes[0], "/data");
	assert_int_equal(c->n_labels, 2);
	assert_string_equal(c->labels[0].key, "org.example.a");
	assert_string_equal(c->labels[1].value, "");
	assert_string_equal(c->stop_signal, "SIGQUIT");
	assert_int_equal(c->n_diff_ids, 2);
	assert_string_equal(c->diff_ids[1], D2);
	assert_int_equal(c->n_history, 3);
	assert_true(c->history[0].created_unix == 1685613600);
	assert_true(c->history[1].empty_layer);
	assert_string_equal(c->history[1].comment, "c");
	assert_false(c->history[2].empty_layer);
	assert_null(c->history[2].created);

	/* Serialised back: the model from the struct, the rest kept. */
	free(c->cmd[0]);
	c->cmd[0] = strdup("echo bye");
	assert_int_equal(cove_image_config_to_json(c, &out, NULL, &err), 0);
	assert_non_null(
	    strstr(out, "\"Healthcheck\":{\"Test\":[\"CMD\",\"true\"]}"));
	assert_non_null(strstr(out, "moby.buildkit.buildinfo.v1"));
	assert_non_null(strstr(out, "\"ArgsEscaped\":true"));
	c2 = config_ok(out);
	assert_string_equal(c2->cmd[0], "echo bye");
	assert_int_equal(c2->n_labels, 2);
	assert_int_equal(c2->n_history, 3);
	assert_true(c2->history[1].empty_layer);
	assert_int_equal(cove_strv_length(c2->exposed_ports), 4);
	assert_int_equal(cove_image_config_to_json(c2, &out2, NULL, &err), 0);
	assert_string_equal(out, out2);
	cove_image_config_free(c2);
	cove_image_config_free(c);

	/* Minimal, Docker style with nulls */
	c = config_ok("{\"architecture\":\"amd64\",\"os\":\"linux\","
		      "\"config\":{\"Env\":null,\"Cmd\":null,\"Entrypoint\":"
		      "null,\"Labels\":null},"
		      "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}");
	assert_null(c->cmd);
	assert_null(c->env);
	assert_int_equal(c->n_diff_ids, 0);
	assert_int_equal(c->created_unix, 0);
	cove_image_config_free(c);
	cove_image_config_free(NULL);

	/* From scratch */
	{
		struct cove_image_config fresh = {0};
		char *ids[] = {(char *)D1, NULL};
		char *cmd[] = {(char *)"/init", NULL};
		_cleanup_free_ char *j = NULL;
		fresh.architecture = (char *)"amd64";
		fresh.os = (char *)"linux";
		fresh.cmd = cmd;
		fresh.diff_ids = ids;
		fresh.n_diff_ids = 1;
		assert_int_equal(
		    cove_image_config_to_json(&fresh, &j, NULL, &err), 0);
		c = config_ok(j);
		assert_string_equal(c->cmd[0], "/init");
		assert_string_equal(c->diff_ids[0], D1);
		cove_image_config_free(c);
	}
}

static void expect_config_error(const char *doc, const char *msg)
{
	struct cove_image_config *c = NULL;
	struct cove_error err = {0};

	if (cove_image_config_parse(doc, strlen(doc), NAME, &c, &err) >= 0)
		fail_msg("accepted: %s", doc);
	if (strcmp(err.msg, msg) != 0)
		fail_msg("message\n  '%s'\nwanted\n  '%s'", err.msg, msg);
	assert_null(c);
}

#define CP "config " NAME ": "
#define ROOTFS "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}"
#define AO "\"architecture\":\"amd64\",\"os\":\"linux\","

static void test_config_errors(void **state)
{
	_cleanup_free_ char *big = NULL;
	struct cove_image_config *c = NULL;
	struct cove_error err = {0};

	expect_config_error("[1]", CP "expected a JSON object");
	expect_config_error("{\"os\":\"linux\"," ROOTFS "}",
			    CP "missing 'architecture'");
	expect_config_error("{\"architecture\":\"amd64\"," ROOTFS "}",
			    CP "missing 'os'");
	expect_config_error("{\"architecture\":\"\",\"os\":\"linux\"," ROOTFS
			    "}",
			    CP "invalid 'architecture': empty");
	expect_config_error("{\"architecture\":1,\"os\":\"linux\"}",
			    CP "invalid 'architecture': expected a string");
	expect_config_error(
	    "{" AO "\"created\":\"yesterday\"," ROOTFS "}",
	    CP "invalid 'created': 'yesterday' is not an RFC 3339 time");
	expect_config_error("{" AO "\"config\":[]," ROOTFS "}",
			    CP "invalid 'config': expected an object");
	expect_config_error(
	    "{" AO "\"config\":{\"Env\":\"A=1\"}," ROOTFS "}",
	    CP "invalid 'config.Env': expected an array of strings");
	expect_config_error("{" AO "\"config\":{\"Env\":[\"A=1\",2]}," ROOTFS
			    "}",
			    CP "invalid 'config.Env[1]': expected a string");
	expect_config_error(
	    "{" AO "\"config\":{\"Env\":[\"=x\"]}," ROOTFS "}",
	    CP "invalid 'config.Env[0]': '=x' has no variable name");
	expect_config_error("{" AO "\"config\":{\"Cmd\":[1]}," ROOTFS "}",
			    CP "invalid 'config.Cmd[0]': expected a string");
	expect_config_error(
	    "{" AO "\"config\":{\"Entrypoint\":{}}," ROOTFS "}",
	    CP "invalid 'config.Entrypoint': expected an array of strings");
	expect_config_error("{" AO "\"config\":{\"User\":0}," ROOTFS "}",
			    CP "invalid 'config.User': expected a string");
	expect_config_error("{" AO "\"config\":{\"WorkingDir\":[]}," ROOTFS "}",
			    CP
			    "invalid 'config.WorkingDir': expected a string");
	expect_config_error(
	    "{" AO "\"config\":{\"ExposedPorts\":{\"http\":{}}}," ROOTFS "}", CP
	    "invalid 'config.ExposedPorts': 'http' is not port[/tcp|udp|sctp]");
	expect_config_error(
	    "{" AO "\"config\":{\"ExposedPorts\":{\"70000/tcp\":{}}}," ROOTFS
	    "}",
	    CP "invalid 'config.ExposedPorts': '70000/tcp' is not "
	       "port[/tcp|udp|sctp]");
	expect_config_error(
	    "{" AO "\"config\":{\"ExposedPorts\":{\"80/icmp\":{}}}," ROOTFS "}",
	    CP "invalid 'config.ExposedPorts': '80/icmp' is not "
	       "port[/tcp|udp|sctp]");
	expect_config_error(
	    "{" AO "\"config\":{\"ExposedPorts\":{\"80/tcp\":1}}," ROOTFS "}",
	    CP "invalid 'config.ExposedPorts.80/tcp': expected an object");
	expect_config_error(
	    "{" AO "\"config\":{\"ExposedPorts\":[\"80\"]}," ROOTFS "}",
	    CP "invalid 'config.ExposedPorts': expected an object");
	expect_config_error("{" AO "\"config\":{\"Volumes\":{\"\":{}}}," ROOTFS
			    "}",
			    CP "invalid 'config.Volumes': empty key");
	expect_config_error("{" AO "\"config\":{\"Labels\":{\"a\":1}}," ROOTFS
			    "}",
			    CP "invalid 'config.Labels.a': expected a string");
	expect_config_error("{" AO "\"config\":{\"StopSignal\":9}," ROOTFS "}",
			    CP
			    "invalid 'config.StopSignal': expected a string");
	expect_config_error("{" AO "\"config\":{}}", CP "missing 'rootfs'");
	expect_config_error("{" AO
			    "\"rootfs\":{\"type\":\"layer\",\"diff_ids\":[]}}",
			    CP "invalid 'rootfs.type': expected \"layers\"");
	expect_config_error("{" AO "\"rootfs\":{\"type\":\"layers\"}}",
			    CP "missing 'rootfs.diff_ids'");
	expect_config_error(
	    "{" AO "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D1
	    "\",\"sha256:x\"]}}",
	    CP "invalid 'rootfs.diff_ids[1]': invalid digest 'sha256:x': "
	       "sha256 needs 64 hex characters, got 1");
	expect_config_error("{" AO ROOTFS ",\"history\":{}}",
			    CP "invalid 'history': expected an array");
	expect_config_error("{" AO ROOTFS ",\"history\":[{},3]}",
			    CP "invalid 'history[1]': expected an object");
	expect_config_error(
	    "{" AO ROOTFS
	    ",\"history\":[{},{\"created\":\"2023-02-30T00:00:00Z\"}]}",
	    CP "invalid 'history[1].created': '2023-02-30T00:00:00Z' is not an "
	       "RFC 3339 time");
	expect_config_error(
	    "{" AO ROOTFS ",\"history\":[{\"empty_layer\":\"yes\"}]}",
	    CP "invalid 'history[0].empty_layer': expected a boolean");

	big = malloc(COVE_CONFIG_MAX + 2);
	assert_non_null(big);
	memset(big, ' ', COVE_CONFIG_MAX + 1);
	big[COVE_CONFIG_MAX + 1] = '\0';
	assert_int_equal(
	    cove_image_config_parse(big, COVE_CONFIG_MAX + 1, NAME, &c, &err),
	    -EFBIG);
	assert_string_equal(err.msg, CP "larger than the 16 MiB limit");
}

static void test_check_config(void **state)
{
	struct cove_manifest *m = parse_ok(oci_manifest, NULL, 0);
	struct cove_image_config *c = config_ok(config_doc);
	struct cove_error err = {0};

	/* 3 layers, 2 diff_ids */
	assert_int_equal(cove_manifest_check_config(m, c, "m", &err), -EINVAL);
	assert_string_equal(err.msg, "manifest m: 3 layers but its config " D1
				     " lists 2 diff_ids");
	m->n_layers = 2;
	assert_int_equal(cove_manifest_check_config(m, c, "m", &err), 0);
	m->n_layers = 3;
	cove_manifest_free(m);
	m = parse_ok(oci_index, NULL, 0);
	assert_int_equal(cove_manifest_check_config(m, c, "m", &err), -EINVAL);
	cove_manifest_free(m);
	cove_image_config_free(c);
}

static void test_rfc3339(void **state)
{
	int64_t t = 42;

	assert_int_equal(cove_parse_rfc3339("1970-01-01T00:00:00Z", &t), 0);
	assert_true(t == 0);
	assert_int_equal(cove_parse_rfc3339("2023-06-01T10:34:56Z", &t), 0);
	assert_true(t == 1685615696);
	assert_int_equal(cove_parse_rfc3339("2023-06-01t12:34:56.5+02:00", &t),
			 0);
	assert_true(t == 1685615696);
	assert_int_equal(cove_parse_rfc3339("2023-06-01T05:04:56-05:30", &t),
			 0);
	assert_true(t == 1685615696);
	assert_int_equal(cove_parse_rfc3339("0001-01-01T00:00:00Z", &t), 0);
	assert_true(t == -62135596800LL);
	assert_int_equal(cove_parse_rfc3339("2024-02-29T00:00:00Z", &t), 0);
	assert_int_equal(cove_parse_rfc3339("2016-12-31T23:59:60Z", &t), 0);

	t = 42;
	assert_int_equal(cove_parse_rfc3339("2023-02-29T00:00:00Z", &t),
			 -EINVAL);
	assert_int_equal(cove_parse_rfc3339("2023-13-01T00:00:00Z", &t),
			 -EINVAL);
	assert_int_equal(cove_parse_rfc3339("2023-06-01 10:34:56Z", &t),
			 -EINVAL);
	assert_int_equal(cove_parse_rfc3339("2023-06-01T10:34:56", &t),
			 -EINVAL);
	assert_int_equal(cove_parse_rfc3339("2023-06-01T10:34:56.Z", &t),
			 -EINVAL);
	assert_int_equal(
	    cove_parse_rfc3339("2023-06-01T10:34:56.1234567890Z", &t), -EINVAL);
	assert_int_equal(cove_parse_rfc3339("2023-06-01T10:34:56+0200", &t),
			 -EINVAL);
	assert_int_equal(cove_parse_rfc3339("2023-06-01T10:34:56Zjunk", &t),
			 -EINVAL);
	assert_int_equal(cove_parse_rfc3339("2023-06-01T24:00:00Z", &t),
			 -EINVAL);
	assert_int_equal(cove_parse_rfc3339(NULL, &t), -EINVAL);
	assert_true(t == 42);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_oci_manifest),
	    cmocka_unit_test(test_docker_manifest),
	    cmocka_unit_test(test_indexes),
	    cmocka_unit_test(test_artifacts),
	    cmocka_unit_test(test_platform_parse),
	    cmocka_unit_test(test_platform_match),
	    cmocka_unit_test(test_select),
	    cmocka_unit_test(test_manifest_errors),
	    cmocka_unit_test(test_media_types),
	    cmocka_unit_test(test_to_json),
	    cmocka_unit_test(test_config),
	    cmocka_unit_test(test_config_errors),
	    cmocka_unit_test(test_check_config),
	    cmocka_unit_test(test_rfc3339),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
