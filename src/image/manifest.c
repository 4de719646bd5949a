#include "image/manifest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/json.h"
#include "util/strutil.h"

/* ---- media types ------------------------------------------------------- */

static const struct {
	const char *type;
	enum cove_compression comp;
	bool foreign;
} layer_types[] = {
    {COVE_MT_OCI_LAYER, COVE_COMPRESSION_NONE, false},
    {COVE_MT_OCI_LAYER_GZIP, COVE_COMPRESSION_GZIP, false},
    {COVE_MT_OCI_LAYER_ZSTD, COVE_COMPRESSION_ZSTD, false},
    {COVE_MT_OCI_LAYER_ND, COVE_COMPRESSION_NONE, true},
    {COVE_MT_OCI_LAYER_ND_GZIP, COVE_COMPRESSION_GZIP, true},
    {COVE_MT_OCI_LAYER_ND_ZSTD, COVE_COMPRESSION_ZSTD, true},
    {COVE_MT_DOCKER_LAYER, COVE_COMPRESSION_GZIP, false},
    {COVE_MT_DOCKER_LAYER_TAR, COVE_COMPRESSION_NONE, false},
    {COVE_MT_DOCKER_LAYER_FOREIGN, COVE_COMPRESSION_GZIP, true},
};

int cove_media_type_layer(const char *media_type,
			  enum cove_compression *ret_comp, bool *ret_foreign)
{
	if (!media_type)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(layer_types); i++) {
		if (strcmp(media_type, layer_types[i].type) != 0)
			continue;
		if (ret_comp)
			*ret_comp = layer_types[i].comp;
		if (ret_foreign)
			*ret_foreign = layer_types[i].foreign;
		return 0;
	}
	return -EINVAL;
}

bool cove_media_type_is_manifest(const char *media_type)
{
	return media_type && (!strcmp(media_type, COVE_MT_OCI_MANIFEST) ||
			      !strcmp(media_type, COVE_MT_DOCKER_MANIFEST));
}

bool cove_media_type_is_index(const char *media_type)
{
	return media_type && (!strcmp(media_type, COVE_MT_OCI_INDEX) ||
			      !strcmp(media_type, COVE_MT_DOCKER_LIST));
}

static bool is_config_type(const char *media_type)
{
	return !strcmp(media_type, COVE_MT_OCI_CONFIG) ||
	       !strcmp(media_type, COVE_MT_DOCKER_CONFIG);
}

/* RFC 6838 restricted-name: an alphanumeric then up to 126 of these. */
static size_t restricted_name(const char *s)
{
	size_t n = 0;

	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
	      (s[0] >= '0' && s[0] <= '9')))
		return 0;
	for (n = 1; s[n] && n < 127; n++) {
		char c = s[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || strchr("!#$&^_.+-", c)))
			break;
	}
	return n;
}

bool cove_media_type_valid(const char *media_type)
{
	size_t a, b;

	if (!media_type)
		return false;
	a = restricted_name(media_type);
	if (a == 0 || media_type[a] != '/')
		return false;
	b = restricted_name(media_type + a + 1);
	return b > 0 && media_type[a + 1 + b] == '\0';
}

/* ---- small helpers ----------------------------------------------------- */

static int nomem(struct cove_error *err)
{
	return cove_error_set(err, ENOMEM, "out of memory");
}

static int dup_str(const char *s, char **ret, struct cove_error *err)
{
	*ret = NULL;
	if (!s)
		return 0;
	*ret = strdup(s);
	return *ret ? 0 : nomem(err);
}

/* A string member, copied; absent is fine unless @required. */
static int get_str(const json_t *obj, const char *path, const char *key,
		   bool required, char **ret, struct cove_error *err)
{
	const char *v = NULL;
	int r;

	*ret = NULL;
	r = cove_json_string(obj, path, key, &v, err);
	if (r < 0)
		return r;
	if (!v && required)
		return cove_error_set(err, EINVAL, "missing '%s%s%s'", path,
				      *path ? "." : "", key);
	return dup_str(v, ret, err);
}

static void kv_free(struct cove_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

/* An object whose members are all strings (annotations, labels). */
static int get_kv(const json_t *obj, const char *path, const char *key,
		  struct cove_kv **ret, size_t *ret_n, struct cove_error *err)
{
	json_t *o = NULL, *v;
	const char *k;
	struct cove_kv *kv;
	size_t n = 0;
	int r;

	*ret = NULL;
	*ret_n = 0;
	r = cove_json_object(obj, path, key, &o, err);
	if (r < 0 || !o || json_object_size(o) == 0)
		return r;
	kv = calloc(json_object_size(o), sizeof(*kv));
	if (!kv)
		return nomem(err);
	json_object_foreach(o, k, v)
	{
		if (!json_is_string(v)) {
			kv_free(kv, n);
			return cove_error_set(
			    err, EINVAL,
			    "invalid '%s%s%s.%.100s': expected a string", path,
			    *path ? "." : "", key, k);
		}
		kv[n].key = strdup(k);
		kv[n].value = strdup(json_string_value(v));
		n++;
		if (!kv[n - 1].key || !kv[n - 1].value) {
			kv_free(kv, n);
			return nomem(err);
		}
	}
	*ret = kv;
	*ret_n = n;
	return 0;
}

/* The keys of an object whose members are all objects (ports, volumes). */
static int get_key_set(const json_t *obj, const char *path, const char *key,
		       char ***ret, struct cove_error *err)
{
	json_t *o = NULL, *v;
	const char *k;
	_cleanup_strv_ char **out = NULL;
	size_t n = 0;
	int r;

	*ret = NULL;
	r = cove_json_object(obj, path, key, &o, err);
	if (r < 0 || !o)
		return r;
	out = calloc(json_object_size(o) + 1, sizeof(char *));
	if (!out)
		return nomem(err);
	json_object_foreach(o, k, v)
	{
		if (!json_is_object(v) && !json_is_null(v))
			return cove_error_set(
			    err, EINVAL,
			    "invalid '%s%s%s.%.100s': expected an object", path,
			    *path ? "." : "", key, k);
		if (!*k)
			return cove_error_set(err, EINVAL,
					      "invalid '%s%s%s': empty key",
					      path, *path ? "." : "", key);
		out[n] = strdup(k);
		if (!out[n++])
			return nomem(err);
	}
	*ret = TAKE_PTR(out);
	return 0;
}

static int kv_to_json(const struct cove_kv *kv, size_t n, json_t *parent,
		      const char *key)
{
	json_t *o;

	if (n == 0)
		return 0;
	o = json_object();
	if (!o || json_object_set_new(parent, key, o) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (json_object_set_new(o, kv[i].key,
					json_string(kv[i].value)) < 0)
			return -ENOMEM;
	return 0;
}

static json_t *strv_to_json(char *const *v)
{
	json_t *a = json_array();

	if (!a)
		return NULL;
	for (size_t i = 0; v && v[i]; i++)
		if (json_array_append_new(a, json_string(v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/* ---- platforms --------------------------------------------------------- */

void cove_platform_release(struct cove_platform *p)
{
	if (!p)
		return;
	free(p->os);
	free(p->architecture);
	free(p->variant);
	free(p->os_version);
	cove_strv_free(p->os_features);
	*p = (struct cove_platform){0};
}

static void platform_free(struct cove_platform *p)
{
	cove_platform_release(p);
	free(p);
}

/*
 * containerd's normalisation, into fixed buffers: lowercase names, one
 * spelling per architecture, and variants that mean the default dropped
 * (arm64/v8) or made explicit (arm -> v7).
 */
struct norm_platform {
	char os[32];
	char arch[32];
	char variant[32];
};

static void lower_copy(char *dst, size_t size, const char *src)
{
	size_t i = 0;

	for (; src && src[i] && i + 1 < size; i++)
		dst[i] = (src[i] >= 'A' && src[i] <= 'Z') ? src[i] - 'A' + 'a'
							  : src[i];
	dst[i] = '\0';
}

static void normalize(const char *os, const char *arch, const char *variant,
		      struct norm_platform *n)
{
	lower_copy(n->os, sizeof(n->os), os);
	lower_copy(n->arch, sizeof(n->arch), arch);
	lower_copy(n->variant, sizeof(n->variant), variant);
	if (!strcmp(n->os, "macos"))
		snprintf(n->os, sizeof(n->os), "darwin");
	if (!strcmp(n->arch, "i386")) {
		snprintf(n->arch, sizeof(n->arch), "386");
		n->variant[0] = '\0';
	} else if (!strcmp(n->arch, "x86_64") || !strcmp(n->arch, "x86-64") ||
		   !strcmp(n->arch, "amd64")) {
		snprintf(n->arch, sizeof(n->arch), "amd64");
		if (!strcmp(n->variant, "v1"))
			n->variant[0] = '\0';
	} else if (!strcmp(n->arch, "aarch64") || !strcmp(n->arch, "arm64")) {
		snprintf(n->arch, sizeof(n->arch), "arm64");
		if (!strcmp(n->variant, "8") || !strcmp(n->variant, "v8") ||
		    !strcmp(n->variant, "v8.0"))
			n->variant[0] = '\0';
	} else if (!strcmp(n->arch, "armhf")) {
		snprintf(n->arch, sizeof(n->arch), "arm");
		snprintf(n->variant, sizeof(n->variant), "v7");
	} else if (!strcmp(n->arch, "armel")) {
		snprintf(n->arch, sizeof(n->arch), "arm");
		snprintf(n->variant, sizeof(n->variant), "v6");
	} else if (!strcmp(n->arch, "arm")) {
		if (!n->variant[0] || !strcmp(n->variant, "7"))
			snprintf(n->variant, sizeof(n->variant), "v7");
		else if (!strcmp(n->variant, "5") || !strcmp(n->variant, "6") ||
			 !strcmp(n->variant, "8")) {
			char v = n->variant[0];
			snprintf(n->variant, sizeof(n->variant), "v%c", v);
		}
	}
}

/* "vN" -> N (1..99), else 0. */
static int variant_level(const char *v)
{
	int n = 0;

	if (v[0] != 'v' || v[1] < '0' || v[1] > '9')
		return 0;
	for (v++; *v; v++) {
		if (*v < '0' || *v > '9' || n > 99)
			return 0;
		n = n * 10 + (*v - '0');
	}
	return n;
}

int cove_platform_match(const struct cove_platform *want,
			const struct cove_platform *have)
{
	struct norm_platform w, h;
	int wl, hl;

	if (!want || !have || !have->os || !have->architecture)
		return -1;
	normalize(want->os, want->architecture, want->variant, &w);
	normalize(have->os, have->architecture, have->variant, &h);
	if (strcmp(w.os, h.os) != 0 || strcmp(w.arch, h.arch) != 0)
		return -1;
	if (!strcmp(w.variant, h.variant))
		return 0;
	/* Older instruction-set levels run on newer CPUs. */
	if (!strcmp(w.arch, "arm") || !strcmp(w.arch, "amd64")) {
		wl = w.variant[0] ? variant_level(w.variant) : 1;
		hl = h.variant[0] ? variant_level(h.variant) : 1;
		if (wl > 0 && hl > 0 && hl <= wl)
			return wl - hl;
		return -1;
	}
	if (!strcmp(w.arch, "arm64"))
		return w.variant[0] && !h.variant[0] ? 1 : -1;
	/* No variant asked for: any will do, the plain one first. */
	if (!w.variant[0])
		return 1;
	return -1;
}

static bool platform_word(const char *s, size_t n)
{
	if (n == 0 || n > 31)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr("._-", s[i])))
			return false;
	return true;
}

static int set_platform(struct cove_platform *p, const char *os,
			const char *arch, const char *variant)
{
	struct norm_platform n;

	normalize(os, arch, variant, &n);
	*p = (struct cove_platform){0};
	p->os = strdup(n.os);
	p->architecture = strdup(n.arch);
	if (n.variant[0])
		p->variant = strdup(n.variant);
	if (!p->os || !p->architecture || (n.variant[0] && !p->variant)) {
		cove_platform_release(p);
		return -ENOMEM;
	}
	return 0;
}

int cove_platform_parse(const char *s, struct cove_platform *ret,
			struct cove_error *err)
{
	char parts[3][32] = {{0}};
	size_t n = 0;
	const char *p = s;

	*ret = (struct cove_platform){0};
	if (!s || !*s)
		return cove_error_set(err, EINVAL,
				      "invalid platform '': empty");
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 3 || !platform_word(p, len))
			return cove_error_set(err, EINVAL,
					      "invalid platform '%.100s': "
					      "expected os/arch[/variant]",
					      s);
		memcpy(parts[n++], p, len);
		if (!slash)
			break;
		p = slash + 1;
	}
	if (n == 1) /* "arm64": an architecture for this os */
		return set_platform(ret, "linux", parts[0], NULL) < 0
			   ? nomem(err)
			   : 0;
	if (set_platform(ret, parts[0], parts[1], n == 3 ? parts[2] : NULL) < 0)
		return nomem(err);
	return 0;
}

int cove_platform_host(struct cove_platform *ret)
{
	const char *arch, *variant = NULL;

#if defined(__x86_64__)
	arch = "amd64";
#elif defined(__aarch64__)
	arch = "arm64";
#elif defined(__arm__)
	arch = "arm";
#if defined(__ARM_ARCH) && __ARM_ARCH >= 7
	variant = "v7";
#elif defined(__ARM_ARCH) && __ARM_ARCH == 6
	variant = "v6";
#else
	variant = "v5";
#endif
#elif defined(__i386__)
	arch = "386";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	arch = "ppc64le";
#elif defined(__s390x__)
	arch = "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
	arch = "riscv64";
#elif defined(__mips64) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	arch = "mips64le";
#elif defined(__loongarch64)
	arch = "loong64";
#else
	arch = "unknown";
#endif
	return set_platform(ret, "linux", arch, variant);
}

char *cove_platform_format(const struct cove_platform *p)
{
	return cove_strdup_printf("%s/%s%s%s", p->os ? p->os : "?",
				  p->architecture ? p->architecture : "?",
				  p->variant ? "/" : "",
				  p->variant ? p->variant : "");
}

static int parse_platform(const json_t *obj, const char *path,
			  struct cove_platform **ret, struct cove_error *err)
{
	struct cove_platform *p;
	json_t *o = NULL;
	char sub[128];
	int r;

	*ret = NULL;
	r = cove_json_object(obj, path, "platform", &o, err);
	if (r < 0 || !o)
		return r;
	snprintf(sub, sizeof(sub), "%s.platform", path);
	p = calloc(1, sizeof(*p));
	if (!p)
		return nomem(err);
	if ((r = get_str(o, sub, "architecture", true, &p->architecture, err)) <
		0 ||
	    (r = get_str(o, sub, "os", true, &p->os, err)) < 0 ||
	    (r = get_str(o, sub, "variant", false, &p->variant, err)) < 0 ||
	    (r = get_str(o, sub, "os.version", false, &p->os_version, err)) <
		0 ||
	    (r = cove_json_strv(o, sub, "os.features", &p->os_features, err)) <
		0) {
		platform_free(p);
		return r;
	}
	*ret = p;
	return 0;
}

static json_t *platform_to_json(const struct cove_platform *p)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	if (json_object_set_new(
		o, "architecture",
		json_string(p->architecture ? p->architecture : "")) < 0 ||
	    json_object_set_new(o, "os", json_string(p->os ? p->os : "")) < 0)
		goto fail;
	if (p->os_version &&
	    json_object_set_new(o, "os.version", json_string(p->os_version)) <
		0)
		goto fail;
	if (p->os_features &&
	    json_object_set_new(o, "os.features",
				strv_to_json(p->os_features)) < 0)
		goto fail;
	if (p->variant &&
	    json_object_set_new(o, "variant", json_string(p->variant)) < 0)
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

/* ---- descriptors ------------------------------------------------------- */

static void descriptor_release(struct cove_descriptor *d)
{
	free(d->media_type);
	cove_strv_free(d->urls);
	kv_free(d->annotations, d->n_annotations);
	if (d->platform)
		platform_free(d->platform);
	free(d->artifact_type);
	*d = (struct cove_descriptor){0};
}

static void descriptors_free(struct cove_descriptor *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		descriptor_release(&d[i]);
	free(d);
}

enum desc_kind {
	DESC_CONFIG,
	DESC_LAYER,
	DESC_ENTRY, /* of an index */
	DESC_SUBJECT,
};

static int parse_descriptor(const json_t *obj, const char *path,
			    enum desc_kind kind, unsigned flags,
			    struct cove_descriptor *d, struct cove_error *err)
{
	const char *digest = NULL;
	bool present = false;
	int r;

	*d = (struct cove_descriptor){0};
	if (!json_is_object(obj))
		return cove_error_set(err, EINVAL,
				      "invalid '%s': expected an object", path);
	r = get_str(obj, path, "mediaType", true, &d->media_type, err);
	if (r < 0)
		return r;
	if (!cove_media_type_valid(d->media_type))
		return cove_error_set(
		    err, EINVAL,
		    "invalid '%s.mediaType': '%.200s' is not a media type",
		    path, d->media_type);
	if (!(flags & COVE_MANIFEST_ALLOW_ARTIFACTS)) {
		if (kind == DESC_LAYER &&
		    cove_media_type_layer(d->media_type, NULL, NULL) < 0)
			return cove_error_set(err, EINVAL,
					      "invalid '%s.mediaType': unknown "
					      "layer media type '%.200s'",
					      path, d->media_type);
		if (kind == DESC_CONFIG && !is_config_type(d->media_type))
			return cove_error_set(err, EINVAL,
					      "invalid '%s.mediaType': unknown "
					      "config media type '%.200s'",
					      path, d->media_type);
	}
	r = cove_json_string(obj, path, "digest", &digest, err);
	if (r < 0)
		return r;
	if (!digest)
		return cove_error_set(err, EINVAL, "missing '%s.digest'", path);
	r = cove_digest_validate(digest, NULL, err);
	if (r < 0)
		return cove_error_wrap(err, "invalid '%s.digest'", path);
	snprintf(d->digest, sizeof(d->digest), "%s", digest);
	r = cove_json_int64(obj, path, "size", &d->size, &present, err);
	if (r < 0)
		return r;
	if (!present)
		return cove_error_set(err, EINVAL, "missing '%s.size'", path);
	if (d->size < 0)
		return cove_error_set(
		    err, EINVAL, "invalid '%s.size': must be >= 0, got %lld",
		    path, (long long)d->size);
	/* Refuse before fetching what the parser would refuse anyway. */
	if (kind == DESC_CONFIG && d->size > (int64_t)COVE_CONFIG_MAX)
		return cove_error_set(err, EFBIG,
				      "invalid '%s.size': %lld bytes is above "
				      "the %u MiB config limit",
				      path, (long long)d->size,
				      COVE_CONFIG_MAX >> 20);
	if ((kind == DESC_ENTRY || kind == DESC_SUBJECT) &&
	    (cove_media_type_is_manifest(d->media_type) ||
	     cove_media_type_is_index(d->media_type)) &&
	    d->size > (int64_t)COVE_MANIFEST_MAX)
		return cove_error_set(err, EFBIG,
				      "invalid '%s.size': %lld bytes is above "
				      "the %u MiB manifest limit",
				      path, (long long)d->size,
				      COVE_MANIFEST_MAX >> 20);
	r = cove_json_strv(obj, path, "urls", &d->urls, err);
	if (r < 0)
		return r;
	r = get_kv(obj, path, "annotations", &d->annotations, &d->n_annotations,
		   err);
	if (r < 0)
		return r;
	r = get_str(obj, path, "artifactType", false, &d->artifact_type, err);
	if (r < 0)
		return r;
	if (d->artifact_type && !cove_media_type_valid(d->artifact_type))
		return cove_error_set(
		    err, EINVAL,
		    "invalid '%s.artifactType': '%.200s' is not a media type",
		    path, d->artifact_type);
	if (kind == DESC_ENTRY) {
		r = parse_platform(obj, path, &d->platform, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_descriptor_array(const json_t *obj, const char *key,
				  enum desc_kind kind, unsigned flags,
				  bool required, struct cove_descriptor **ret,
				  size_t *ret_n, struct cove_error *err)
{
	json_t *a = NULL, *e;
	struct cove_descriptor *d;
	size_t i;
	int r;

	*ret = NULL;
	*ret_n = 0;
	r = cove_json_array(obj, "", key, &a, err);
	if (r < 0)
		return r;
	if (!a) {
		if (required)
			return cove_error_set(err, EINVAL, "missing '%s'", key);
		return 0;
	}
	if (json_array_size(a) == 0)
		return 0;
	d = calloc(json_array_size(a), sizeof(*d));
	if (!d)
		return nomem(err);
	json_array_foreach(a, i, e)
	{
		char path[64];
		snprintf(path, sizeof(path), "%s[%zu]", key, i);
		r = parse_descriptor(e, path, kind, flags, &d[i], err);
		if (r < 0) {
			descriptors_free(d, i + 1);
			return r;
		}
	}
	*ret = d;
	*ret_n = json_array_size(a);
	return 0;
}

static json_t *descriptor_to_json(const struct cove_descriptor *d)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	if (json_object_set_new(o, "mediaType", json_string(d->media_type)) <
		0 ||
	    json_object_set_new(o, "digest", json_string(d->digest)) < 0 ||
	    json_object_set_new(o, "size", json_integer(d->size)) < 0)
		goto fail;
	if (d->urls &&
	    json_object_set_new(o, "urls", strv_to_json(d->urls)) < 0)
		goto fail;
	if (kv_to_json(d->annotations, d->n_annotations, o, "annotations") < 0)
		goto fail;
	if (d->artifact_type &&
	    json_object_set_new(o, "artifactType",
				json_string(d->artifact_type)) < 0)
		goto fail;
	if (d->platform &&
	    json_object_set_new(o, "platform", platform_to_json(d->platform)) <
		0)
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

/* ---- manifests and indexes --------------------------------------------- */

void cove_manifest_free(struct cove_manifest *m)
{
	if (!m)
		return;
	free(m->media_type);
	free(m->artifact_type);
	descriptor_release(&m->config);
	descriptors_free(m->layers, m->n_layers);
	descriptors_free(m->manifests, m->n_manifests);
	if (m->subject) {
		descriptor_release(m->subject);
		free(m->subject);
	}
	kv_free(m->annotations, m->n_annotations);
	free(m);
}

bool cove_manifest_is_index(const struct cove_manifest *m)
{
	return m->kind == COVE_INDEX_OCI || m->kind == COVE_INDEX_DOCKER;
}

/* "type/subtype; charset=utf-8" -> "type/subtype" (into @buf). */
static const char *strip_params(const char *mt, char *buf, size_t size)
{
	size_t n = strcspn(mt, "; \t");

	if (n >= size)
		n = size - 1;
	memcpy(buf, mt, n);
	buf[n] = '\0';
	return buf;
}

static int manifest_kind(const json_t *root, const char *hint,
			 enum cove_manifest_kind *ret, const char **ret_mt,
			 struct cove_error *err)
{
	const char *mt = NULL;
	char hbuf[256];
	int r;

	r = cove_json_string(root, "", "mediaType", &mt, err);
	if (r < 0)
		return r;
	if (hint && *hint) {
		hint = strip_params(hint, hbuf, sizeof(hbuf));
		if (mt && strcmp(mt, hint) != 0)
			return cove_error_set(
			    err, EINVAL,
			    "invalid 'mediaType': document says '%.200s' but "
			    "it was served as '%.200s'",
			    mt, hint);
		if (!mt)
			mt = hint;
	}
	if (!mt) {
		/* OCI made mediaType optional; tell the two apart by shape. */
		if (json_object_get(root, "manifests"))
			mt = COVE_MT_OCI_INDEX;
		else if (json_object_get(root, "config"))
			mt = COVE_MT_OCI_MANIFEST;
		else
			return cove_error_set(err, EINVAL,
					      "missing 'mediaType': neither a "
					      "manifest nor an index");
	}
	/* *ret_mt is a constant: @mt may point into this frame (hbuf). */
	if (!strcmp(mt, COVE_MT_OCI_MANIFEST)) {
		*ret = COVE_MANIFEST_OCI;
		*ret_mt = COVE_MT_OCI_MANIFEST;
	} else if (!strcmp(mt, COVE_MT_DOCKER_MANIFEST)) {
		*ret = COVE_MANIFEST_DOCKER;
		*ret_mt = COVE_MT_DOCKER_MANIFEST;
	} else if (!strcmp(mt, COVE_MT_OCI_INDEX)) {
		*ret = COVE_INDEX_OCI;
		*ret_mt = COVE_MT_OCI_INDEX;
	} else if (!strcmp(mt, COVE_MT_DOCKER_LIST)) {
		*ret = COVE_INDEX_DOCKER;
		*ret_mt = COVE_MT_DOCKER_LIST;
	} else if (cove_str_has_prefix(
		       mt, "application/vnd.docker.distribution.manifest.v1"))
		return cove_error_set(
		    err, ENOTSUP,
		    "docker schema 1 manifests are not supported ('%.200s')",
		    mt);
	else
		return cove_error_set(err, EINVAL,
				      "invalid 'mediaType': unsupported "
				      "manifest media type '%.200s'",
				      mt);
	return 0;
}

static int parse_manifest_root(const json_t *root, const char *hint,
			       unsigned flags, struct cove_manifest *m,
			       struct cove_error *err)
{
	const char *mt = NULL;
	json_t *o = NULL;
	int64_t version = 0;
	bool present = false;
	int r;

	if (!json_is_object(root))
		return cove_error_set(err, EINVAL, "expected a JSON object");
	r = cove_json_int64(root, "", "schemaVersion", &version, &present, err);
	if (r < 0)
		return r;
	if (!present)
		return cove_error_set(err, EINVAL, "missing 'schemaVersion'");
	if (version == 1)
		return cove_error_set(
		    err, ENOTSUP,
		    "docker schema 1 manifests are not supported");
	if (version != 2)
		return cove_error_set(
		    err, EINVAL,
		    "invalid 'schemaVersion': expected 2, got %lld",
		    (long long)version);
	r = manifest_kind(root, hint, &m->kind, &mt, err);
	if (r < 0)
		return r;
	m->media_type = strdup(mt);
	if (!m->media_type)
		return nomem(err);
	r = get_str(root, "", "artifactType", false, &m->artifact_type, err);
	if (r < 0)
		return r;
	if (m->artifact_type && !cove_media_type_valid(m->artifact_type))
		return cove_error_set(
		    err, EINVAL,
		    "invalid 'artifactType': '%.200s' is not a media type",
		    m->artifact_type);

	if (cove_manifest_is_index(m)) {
		/* An index that also looks like a manifest is ambiguous. */
		if (json_object_get(root, "config") ||
		    json_object_get(root, "layers"))
			return cove_error_set(
			    err, EINVAL,
			    "invalid index: 'config' and 'layers' belong to "
			    "image manifests");
		r = parse_descriptor_array(root, "manifests", DESC_ENTRY, flags,
					   true, &m->manifests, &m->n_manifests,
					   err);
		if (r < 0)
			return r;
		if (m->kind == COVE_INDEX_DOCKER)
			for (size_t i = 0; i < m->n_manifests; i++)
				if (!m->manifests[i].platform)
					return cove_error_set(
					    err, EINVAL,
					    "missing 'manifests[%zu].platform'",
					    i);
	} else {
		if (json_object_get(root, "manifests"))
			return cove_error_set(
			    err, EINVAL,
			    "invalid manifest: 'manifests' belongs to indexes");
		r = cove_json_object(root, "", "config", &o, err);
		if (r < 0)
			return r;
		if (!o)
			return cove_error_set(err, EINVAL, "missing 'config'");
		r = parse_descriptor(o, "config", DESC_CONFIG, flags,
				     &m->config, err);
		if (r < 0)
			return r;
		r = parse_descriptor_array(root, "layers", DESC_LAYER, flags,
					   true, &m->layers, &m->n_layers, err);
		if (r < 0)
			return r;
	}
	r = cove_json_object(root, "", "subject", &o, err);
	if (r < 0)
		return r;
	if (o) {
		m->subject = calloc(1, sizeof(*m->subject));
		if (!m->subject)
			return nomem(err);
		r = parse_descriptor(o, "subject", DESC_SUBJECT, flags,
				     m->subject, err);
		if (r < 0)
			return r;
	}
	return get_kv(root, "", "annotations", &m->annotations,
		      &m->n_annotations, err);
}

int cove_manifest_parse(const char *buf, size_t len, const char *name,
			const char *media_type, unsigned flags,
			struct cove_manifest **ret, struct cove_error *err)
{
	_cleanup_json_ json_t *root = NULL;
	struct cove_manifest *m;
	char label[COVE_DIGEST_MAX + 200];
	int r;

	snprintf(label, sizeof(label), "manifest %.300s", name ? name : "");
	if (len > COVE_MANIFEST_MAX)
		return cove_error_set(err, EFBIG,
				      "%s: larger than the %u MiB limit", label,
				      COVE_MANIFEST_MAX >> 20);
	r = cove_json_load_buffer(label, buf, len, &root, err);
	if (r < 0)
		return r;
	m = calloc(1, sizeof(*m));
	if (!m)
		return nomem(err);
	r = parse_manifest_root(root, media_type, flags, m, err);
	if (r < 0) {
		cove_manifest_free(m);
		return cove_error_wrap(err, "%s", label);
	}
	*ret = m;
	return 0;
}

static int append_descriptors(json_t *parent, const char *key,
			      const struct cove_descriptor *d, size_t n)
{
	json_t *a = json_array();

	if (!a || json_object_set_new(parent, key, a) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(a, descriptor_to_json(&d[i])) < 0)
			return -ENOMEM;
	return 0;
}

static int dump(json_t *root, char **ret_buf, size_t *ret_len,
		struct cove_error *err)
{
	char *s = json_dumps(root, JSON_COMPACT);

	if (!s)
		return nomem(err);
	*ret_buf = s;
	if (ret_len)
		*ret_len = strlen(s);
	return 0;
}

/* A descriptor the caller built must be complete before it is written. */
static int check_written(const struct cove_descriptor *d, const char *key,
			 size_t i, bool indexed, struct cove_error *err)
{
	char path[64];

	if (indexed)
		snprintf(path, sizeof(path), "%s[%zu]", key, i);
	else
		snprintf(path, sizeof(path), "%s", key);
	if (!cove_media_type_valid(d->media_type))
		return cove_error_set(
		    err, EINVAL,
		    "cannot write manifest: invalid '%s.mediaType'", path);
	if (cove_digest_validate(d->digest, NULL, err) < 0)
		return cove_error_wrap(
		    err, "cannot write manifest: invalid '%s.digest'", path);
	if (d->size < 0)
		return cove_error_set(
		    err, EINVAL,
		    "cannot write manifest: invalid '%s.size': must be >= 0",
		    path);
	return 0;
}

static int check_manifest_written(const struct cove_manifest *m,
				  struct cove_error *err)
{
	int r = 0;

	if (cove_manifest_is_index(m)) {
		for (size_t i = 0; i < m->n_manifests && r >= 0; i++)
			r = check_written(&m->manifests[i], "manifests", i,
					  true, err);
	} else {
		r = check_written(&m->config, "config", 0, false, err);
		for (size_t i = 0; i < m->n_layers && r >= 0; i++)
			r = check_written(&m->layers[i], "layers", i, true,
					  err);
	}
	if (r >= 0 && m->subject)
		r = check_written(m->subject, "subject", 0, false, err);
	return r;
}

int cove_manifest_to_json(const struct cove_manifest *m, char **ret_buf,
			  size_t *ret_len, struct cove_error *err)
{
	_cleanup_json_ json_t *root = json_object();
	const char *mt = m->media_type;
	int r;

	if (!root)
		return nomem(err);
	r = check_manifest_written(m, err);
	if (r < 0)
		return r;
	if (!mt)
		mt = m->kind == COVE_MANIFEST_OCI      ? COVE_MT_OCI_MANIFEST
		     : m->kind == COVE_MANIFEST_DOCKER ? COVE_MT_DOCKER_MANIFEST
		     : m->kind == COVE_INDEX_OCI       ? COVE_MT_OCI_INDEX
						       : COVE_MT_DOCKER_LIST;
	if (json_object_set_new(root, "schemaVersion", json_integer(2)) < 0 ||
	    json_object_set_new(root, "mediaType", json_string(mt)) < 0)
		return nomem(err);
	if (m->artifact_type &&
	    json_object_set_new(root, "artifactType",
				json_string(m->artifact_type)) < 0)
		return nomem(err);
	if (cove_manifest_is_index(m)) {
		if (append_descriptors(root, "manifests", m->manifests,
				       m->n_manifests) < 0)
			return nomem(err);
	} else {
		if (json_object_set_new(root, "config",
					descriptor_to_json(&m->config)) < 0 ||
		    append_descriptors(root, "layers", m->layers, m->n_layers) <
			0)
			return nomem(err);
	}
	if (m->subject &&
	    json_object_set_new(root, "subject",
				descriptor_to_json(m->subject)) < 0)
		return nomem(err);
	if (kv_to_json(m->annotations, m->n_annotations, root, "annotations") <
	    0)
		return nomem(err);
	return dump(root, ret_buf, ret_len, err);
}

int cove_index_select(const struct cove_manifest *index, const char *name,
		      const struct cove_platform *want, struct cove_error *err)
{
	struct cove_platform host = {0};
	_cleanup_free_ char *want_s = NULL;
	char offered[512] = "";
	size_t off = 0;
	int best = -1, best_rank = -1, r;

	if (!cove_manifest_is_index(index))
		return cove_error_set(err, EINVAL,
				      "manifest %.300s is not an index", name);
	if (!want) {
		r = cove_platform_host(&host);
		if (r < 0)
			return nomem(err);
		want = &host;
	}
	for (size_t i = 0; i < index->n_manifests; i++) {
		const struct cove_descriptor *d = &index->manifests[i];
		int rank;

		if (!cove_media_type_is_manifest(d->media_type))
			continue;
		/* An entry for no platform in particular: the last resort. */
		rank =
		    d->platform ? cove_platform_match(want, d->platform) : 1000;
		if (rank >= 0 && (best < 0 || rank < best_rank)) {
			best = (int)i;
			best_rank = rank;
		}
	}
	if (best >= 0) {
		cove_platform_release(&host);
		return best;
	}
	for (size_t i = 0; i < index->n_manifests && off < sizeof(offered);
	     i++) {
		const struct cove_descriptor *d = &index->manifests[i];
		_cleanup_free_ char *p = NULL;
		if (!d->platform || !cove_media_type_is_manifest(d->media_type))
			continue;
		p = cove_platform_format(d->platform);
		if (!p)
			break;
		off += (size_t)snprintf(offered + off, sizeof(offered) - off,
					"%s%s", off ? ", " : "", p);
	}
	want_s = cove_platform_format(want);
	r = cove_error_set(
	    err, ENOENT, "index %.300s has no image for %s (it offers: %s)",
	    name, want_s ? want_s : "?", off ? offered : "nothing");
	cove_platform_release(&host);
	return r;
}

/* ---- time -------------------------------------------------------------- */

static int digits(const char *s, int n, int *ret)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	*ret = v;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int cove_parse_rfc3339(const char *s, int64_t *ret)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31};
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	const char *p;
	int64_t t;

	if (!s || strlen(s) < 20)
		return -EINVAL;
	if (digits(s, 4, &y) < 0 || s[4] != '-' || digits(s + 5, 2, &mo) < 0 ||
	    s[7] != '-' || digits(s + 8, 2, &d) < 0 ||
	    (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h) < 0 ||
	    s[13] != ':' || digits(s + 14, 2, &mi) < 0 || s[16] != ':' ||
	    digits(s + 17, 2, &sec) < 0)
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 ||
	    mi > 59 || sec > 60)
		return -EINVAL;
	if (mo == 2 && d == 29 &&
	    !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -EINVAL;
	p = s + 19;
	if (*p == '.') {
		const char *f = ++p;
		while (*p >= '0' && *p <= '9')
			p++;
		if (p == f || p - f > 9)
			return -EINVAL;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '+' ? 1 : -1;
		if (digits(p + 1, 2, &oh) < 0 || p[3] != ':' ||
		    digits(p + 4, 2, &om) < 0 || oh > 23 || om > 59)
			return -EINVAL;
		p += 6;
	} else {
		return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	t -= (int64_t)sign * (oh * 3600 + om * 60);
	*ret = t;
	return 0;
}

static int get_time(const json_t *obj, const char *path, const char *key,
		    char **ret, int64_t *ret_unix, struct cove_error *err)
{
	int r = get_str(obj, path, key, false, ret, err);

	*ret_unix = 0;
	if (r < 0 || !*ret)
		return r;
	if (cove_parse_rfc3339(*ret, ret_unix) < 0)
		return cove_error_set(
		    err, EINVAL,
		    "invalid '%s%s%s': '%.100s' is not an RFC 3339 time", path,
		    *path ? "." : "", key, *ret);
	return 0;
}

/* ---- image configs ----------------------------------------------------- */

static void history_free(struct cove_history *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(h[i].created);
		free(h[i].created_by);
		free(h[i].author);
		free(h[i].comment);
	}
	free(h);
}

void cove_image_config_free(struct cove_image_config *c)
{
	if (!c)
		return;
	free(c->architecture);
	free(c->os);
	free(c->variant);
	free(c->os_version);
	free(c->created);
	free(c->author);
	free(c->user);
	cove_strv_free(c->env);
	cove_strv_free(c->entrypoint);
	cove_strv_free(c->cmd);
	free(c->working_dir);
	cove_strv_free(c->exposed_ports);
	cove_strv_free(c->volumes);
	kv_free(c->labels, c->n_labels);
	free(c->stop_signal);
	cove_strv_free(c->diff_ids);
	history_free(c->history, c->n_history);
	if (c->raw)
		json_decref(c->raw);
	free(c);
}

/* "80", "80/tcp", "8000-8010/udp", "9/sctp" */
static bool port_spec_valid(const char *s)
{
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	char buf[16];
	const char *dash;
	uint32_t a, b;

	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	dash = strchr(buf, '-');
	if (dash) {
		buf[dash - buf] = '\0';
		if (cove_parse_uint32(buf, &a) < 0 ||
		    cove_parse_uint32(dash + 1, &b) < 0 || a > b)
			return false;
	} else {
		if (cove_parse_uint32(buf, &a) < 0)
			return false;
		b = a;
	}
	if (a < 1 || b > 65535)
		return false;
	if (!slash)
		return true;
	return !strcmp(slash + 1, "tcp") || !strcmp(slash + 1, "udp") ||
	       !strcmp(slash + 1, "sctp");
}

static int parse_run_config(const json_t *root, struct cove_image_config *c,
			    struct cove_error *err)
{
	const char *path = "config";
	json_t *o = NULL;
	int r;

	r = cove_json_object(root, "", "config", &o, err);
	if (r < 0 || !o)
		return r;
	if ((r = get_str(o, path, "User", false, &c->user, err)) < 0 ||
	    (r = cove_json_strv(o, path, "Env", &c->env, err)) < 0 ||
	    (r = cove_json_strv(o, path, "Entrypoint", &c->entrypoint, err)) <
		0 ||
	    (r = cove_json_strv(o, path, "Cmd", &c->cmd, err)) < 0 ||
	    (r = get_str(o, path, "WorkingDir", false, &c->working_dir, err)) <
		0 ||
	    (r = get_key_set(o, path, "ExposedPorts", &c->exposed_ports, err)) <
		0 ||
	    (r = get_key_set(o, path, "Volumes", &c->volumes, err)) < 0 ||
	    (r = get_kv(o, path, "Labels", &c->labels, &c->n_labels, err)) <
		0 ||
	    (r = get_str(o, path, "StopSignal", false, &c->stop_signal, err)) <
		0)
		return r;
	for (size_t i = 0; c->env && c->env[i]; i++)
		if (c->env[i][0] == '=' || c->env[i][0] == '\0')
			return cove_error_set(err, EINVAL,
					      "invalid 'config.Env[%zu]': "
					      "'%.100s' has no variable name",
					      i, c->env[i]);
	for (size_t i = 0; c->exposed_ports && c->exposed_ports[i]; i++)
		if (!port_spec_valid(c->exposed_ports[i]))
			return cove_error_set(
			    err, EINVAL,
			    "invalid 'config.ExposedPorts': '%.100s' is not "
			    "port[/tcp|udp|sctp]",
			    c->exposed_ports[i]);
	return 0;
}

static int parse_rootfs(const json_t *root, struct cove_image_config *c,
			struct cove_error *err)
{
	const char *type = NULL;
	json_t *o = NULL;
	int r;

	r = cove_json_object(root, "", "rootfs", &o, err);
	if (r < 0)
		return r;
	if (!o)
		return cove_error_set(err, EINVAL, "missing 'rootfs'");
	r = cove_json_string(o, "rootfs", "type", &type, err);
	if (r < 0)
		return r;
	if (!type || strcmp(type, "layers") != 0)
		return cove_error_set(
		    err, EINVAL, "invalid 'rootfs.type': expected \"layers\"");
	if (!json_object_get(o, "diff_ids"))
		return cove_error_set(err, EINVAL, "missing 'rootfs.diff_ids'");
	r = cove_json_strv(o, "rootfs", "diff_ids", &c->diff_ids, err);
	if (r < 0)
		return r;
	c->n_diff_ids = cove_strv_length(c->diff_ids);
	for (size_t i = 0; i < c->n_diff_ids; i++) {
		r = cove_digest_validate(c->diff_ids[i], NULL, err);
		if (r < 0)
			return cove_error_wrap(
			    err, "invalid 'rootfs.diff_ids[%zu]'", i);
	}
	return 0;
}

static int parse_history(const json_t *root, struct cove_image_config *c,
			 struct cove_error *err)
{
	json_t *a = NULL, *e;
	size_t i;
	int r;

	r = cove_json_array(root, "", "history", &a, err);
	if (r < 0 || !a || json_array_size(a) == 0)
		return r;
	c->history = calloc(json_array_size(a), sizeof(*c->history));
	if (!c->history)
		return nomem(err);
	json_array_foreach(a, i, e)
	{
		struct cove_history *h = &c->history[i];
		char path[48];

		c->n_history = i + 1;
		snprintf(path, sizeof(path), "history[%zu]", i);
		if (!json_is_object(e))
			return cove_error_set(
			    err, EINVAL, "invalid '%s': expected an object",
			    path);
		if ((r = get_time(e, path, "created", &h->created,
				  &h->created_unix, err)) < 0 ||
		    (r = get_str(e, path, "created_by", false, &h->created_by,
				 err)) < 0 ||
		    (r = get_str(e, path, "author", false, &h->author, err)) <
			0 ||
		    (r = get_str(e, path, "comment", false, &h->comment, err)) <
			0 ||
		    (r = cove_json_bool(e, path, "empty_layer", &h->empty_layer,
					err)) < 0)
			return r;
	}
	return 0;
}

static int parse_config_root(json_t *root, struct cove_image_config *c,
			     struct cove_error *err)
{
	int r;

	if (!json_is_object(root))
		return cove_error_set(err, EINVAL, "expected a JSON object");
	if ((r = get_str(root, "", "architecture", true, &c->architecture,
			 err)) < 0 ||
	    (r = get_str(root, "", "os", true, &c->os, err)) < 0 ||
	    (r = get_str(root, "", "variant", false, &c->variant, err)) < 0 ||
	    (r = get_str(root, "", "os.version", false, &c->os_version, err)) <
		0 ||
	    (r = get_time(root, "", "created", &c->created, &c->created_unix,
			  err)) < 0 ||
	    (r = get_str(root, "", "author", false, &c->author, err)) < 0)
		return r;
	if (!*c->architecture)
		return cove_error_set(err, EINVAL,
				      "invalid 'architecture': empty");
	if (!*c->os)
		return cove_error_set(err, EINVAL, "invalid 'os': empty");
	r = parse_run_config(root, c, err);
	if (r < 0)
		return r;
	r = parse_rootfs(root, c, err);
	if (r < 0)
		return r;
	return parse_history(root, c, err);
}

int cove_image_config_parse(const char *buf, size_t len, const char *name,
			    struct cove_image_config **ret,
			    struct cove_error *err)
{
	struct cove_image_config *c;
	char label[COVE_DIGEST_MAX + 200];
	json_t *root = NULL;
	int r;

	snprintf(label, sizeof(label), "config %.300s", name ? name : "");
	if (len > COVE_CONFIG_MAX)
		return cove_error_set(err, EFBIG,
				      "%s: larger than the %u MiB limit", label,
				      COVE_CONFIG_MAX >> 20);
	r = cove_json_load_buffer(label, buf, len, &root, err);
	if (r < 0)
		return r;
	c = calloc(1, sizeof(*c));
	if (!c) {
		json_decref(root);
		return nomem(err);
	}
	c->raw = root;
	r = parse_config_root(root, c, err);
	if (r < 0) {
		cove_image_config_free(c);
		return cove_error_wrap(err, "%s", label);
	}
	*ret = c;
	return 0;
}

/* Set or (NULL) delete a member. */
static int set_or_del(json_t *o, const char *key, json_t *v)
{
	if (!v) {
		json_object_del(o, key);
		return 0;
	}
	return json_object_set_new(o, key, v) < 0 ? -ENOMEM : 0;
}

static json_t *opt_string(const char *s)
{
	return s ? json_string(s) : NULL;
}

static json_t *opt_strv(char *const *v)
{
	return v ? strv_to_json(v) : NULL;
}

static json_t *key_set_to_json(char *const *v)
{
	json_t *o;

	if (!v)
		return NULL;
	o = json_object();
	for (size_t i = 0; o && v[i]; i++)
		if (json_object_set_new(o, v[i], json_object()) < 0) {
			json_decref(o);
			return NULL;
		}
	return o;
}

static json_t *history_to_json(const struct cove_history *h, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++) {
		json_t *e = json_object();
		if (!e || json_array_append_new(a, e) < 0 ||
		    set_or_del(e, "created", opt_string(h[i].created)) < 0 ||
		    set_or_del(e, "created_by", opt_string(h[i].created_by)) <
			0 ||
		    set_or_del(e, "author", opt_string(h[i].author)) < 0 ||
		    set_or_del(e, "comment", opt_string(h[i].comment)) < 0 ||
		    (h[i].empty_layer &&
		     json_object_set_new(e, "empty_layer", json_true()) < 0)) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

int cove_image_config_to_json(const struct cove_image_config *c, char **ret_buf,
			      size_t *ret_len, struct cove_error *err)
{
	_cleanup_json_ json_t *root = NULL;
	json_t *run = NULL, *rootfs, *labels;

	root = c->raw && json_is_object(c->raw) ? json_deep_copy(c->raw)
						: json_object();
	if (!root)
		return nomem(err);
	run = json_object_get(root, "config");
	if (!json_is_object(run)) {
		run = json_object();
		if (!run || json_object_set_new(root, "config", run) < 0)
			return nomem(err);
	}
	labels = c->n_labels ? json_object() : NULL;
	if (c->n_labels && !labels)
		return nomem(err);
	for (size_t i = 0; i < c->n_labels; i++)
		if (json_object_set_new(labels, c->labels[i].key,
					json_string(c->labels[i].value)) < 0) {
			json_decref(labels);
			return nomem(err);
		}
	rootfs = json_object();
	if (!rootfs || json_object_set_new(root, "rootfs", rootfs) < 0 ||
	    json_object_set_new(rootfs, "type", json_string("layers")) < 0 ||
	    json_object_set_new(rootfs, "diff_ids", strv_to_json(c->diff_ids)) <
		0)
		return nomem(err);
	if (set_or_del(root, "architecture", opt_string(c->architecture)) < 0 ||
	    set_or_del(root, "os", opt_string(c->os)) < 0 ||
	    set_or_del(root, "variant", opt_string(c->variant)) < 0 ||
	    set_or_del(root, "os.version", opt_string(c->os_version)) < 0 ||
	    set_or_del(root, "created", opt_string(c->created)) < 0 ||
	    set_or_del(root, "author", opt_string(c->author)) < 0 ||
	    set_or_del(run, "User", opt_string(c->user)) < 0 ||
	    set_or_del(run, "Env", opt_strv(c->env)) < 0 ||
	    set_or_del(run, "Entrypoint", opt_strv(c->entrypoint)) < 0 ||
	    set_or_del(run, "Cmd", opt_strv(c->cmd)) < 0 ||
	    set_or_del(run, "WorkingDir", opt_string(c->working_dir)) < 0 ||
	    set_or_del(run, "ExposedPorts", key_set_to_json(c->exposed_ports)) <
		0 ||
	    set_or_del(run, "Volumes", key_set_to_json(c->volumes)) < 0 ||
	    set_or_del(run, "Labels", labels) < 0 ||
	    set_or_del(run, "StopSignal", opt_string(c->stop_signal)) < 0)
		return nomem(err);
	if (c->n_history) {
		if (json_object_set_new(
			root, "history",
			history_to_json(c->history, c->n_history)) < 0)
			return nomem(err);
	} else {
		json_object_del(root, "history");
	}
	return dump(root, ret_buf, ret_len, err);
}

int cove_manifest_check_config(const struct cove_manifest *m,
			       const struct cove_image_config *c,
			       const char *name, struct cove_error *err)
{
	if (cove_manifest_is_index(m))
		return cove_error_set(err, EINVAL,
				      "manifest %.300s: an index has no config",
				      name);
	if (c->n_diff_ids != m->n_layers)
		return cove_error_set(err, EINVAL,
				      "manifest %.300s: %zu layers but its "
				      "config %s lists %zu diff_ids",
				      name, m->n_layers, m->config.digest,
				      c->n_diff_ids);
	return 0;
}
