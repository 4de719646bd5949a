#include "util/json.h"

#include <errno.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

static int type_error(struct cove_error *err, const char *path, const char *key,
		      const char *what)
{
	return cove_error_set(err, EINVAL, "invalid '%s%s%s': expected %s",
			      path, *path ? "." : "", key, what);
}

int cove_json_string(const json_t *obj, const char *path, const char *key,
		     const char **ret, struct cove_error *err)
{
	json_t *v = json_object_get(obj, key);
	*ret = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return type_error(err, path, key, "a string");
	*ret = json_string_value(v);
	return 0;
}

int cove_json_bool(const json_t *obj, const char *path, const char *key,
		   bool *ret, struct cove_error *err)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return type_error(err, path, key, "a boolean");
	*ret = json_is_true(v);
	return 0;
}

int cove_json_int64(const json_t *obj, const char *path, const char *key,
		    int64_t *ret, bool *ret_present, struct cove_error *err)
{
	json_t *v = json_object_get(obj, key);
	if (ret_present)
		*ret_present = false;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return type_error(err, path, key, "an integer");
	*ret = json_integer_value(v);
	if (ret_present)
		*ret_present = true;
	return 0;
}

int cove_json_uint64(const json_t *obj, const char *path, const char *key,
		     uint64_t *ret, bool *ret_present, struct cove_error *err)
{
	json_t *v = json_object_get(obj, key);
	if (ret_present)
		*ret_present = false;
	if (!v || json_is_null(v))
		return 0;
	/*
	 * jansson stores integers as long long; values above INT64_MAX
	 * arrive as reals and are refused here rather than rounded.
	 */
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return type_error(err, path, key, "an unsigned integer");
	*ret = (uint64_t)json_integer_value(v);
	if (ret_present)
		*ret_present = true;
	return 0;
}

int cove_json_uint32(const json_t *obj, const char *path, const char *key,
		     uint32_t *ret, bool *ret_present, struct cove_error *err)
{
	uint64_t v = 0;
	bool present = false;
	int r = cove_json_uint64(obj, path, key, &v, &present, err);
	if (r < 0)
		return r;
	if (present && v > UINT32_MAX)
		return type_error(err, path, key, "an unsigned 32-bit integer");
	if (present)
		*ret = (uint32_t)v;
	if (ret_present)
		*ret_present = present;
	return 0;
}

int cove_json_strv(const json_t *obj, const char *path, const char *key,
		   char ***ret, struct cove_error *err)
{
	json_t *v = json_object_get(obj, key), *e;
	_cleanup_strv_ char **out = NULL;
	size_t i;

	*ret = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return type_error(err, path, key, "an array of strings");
	out = calloc(json_array_size(v) + 1, sizeof(char *));
	if (!out)
		return -ENOMEM;
	json_array_foreach(v, i, e)
	{
		if (!json_is_string(e))
			return cove_error_set(
			    err, EINVAL,
			    "invalid '%s%s%s[%zu]': expected a string", path,
			    *path ? "." : "", key, i);
		out[i] = strdup(json_string_value(e));
		if (!out[i])
			return -ENOMEM;
	}
	*ret = TAKE_PTR(out);
	return 0;
}

int cove_json_object(const json_t *obj, const char *path, const char *key,
		     json_t **ret, struct cove_error *err)
{
	json_t *v = json_object_get(obj, key);
	*ret = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return type_error(err, path, key, "an object");
	*ret = v;
	return 0;
}

int cove_json_array(const json_t *obj, const char *path, const char *key,
		    json_t **ret, struct cove_error *err)
{
	json_t *v = json_object_get(obj, key);
	*ret = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return type_error(err, path, key, "an array");
	*ret = v;
	return 0;
}

int cove_json_load_buffer(const char *name, const char *buf, size_t len,
			  json_t **ret, struct cove_error *err)
{
	json_error_t jerr;
	json_t *root;

	/* Rejecting duplicate keys keeps two readers from disagreeing. */
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return cove_error_set(
		    err, EINVAL, "%s: invalid JSON at line %d column %d: %s",
		    name, jerr.line, jerr.column, jerr.text);
	*ret = root;
	return 0;
}

int cove_json_load_file(const char *file, size_t max, json_t **ret,
			struct cove_error *err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r;

	r = cove_read_file(file, max, &buf, &len);
	if (r == -EFBIG)
		return cove_error_set(
		    err, EFBIG, "%s: file larger than %zu bytes", file, max);
	if (r < 0)
		return cove_error_setx(err, r, "cannot read %s", file);
	return cove_json_load_buffer(file, buf, len, ret, err);
}

json_t *cove_json_strv_array(const char *const *v)
{
	json_t *a = json_array();

	for (; a && v && *v; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

json_t *cove_json_object_member(json_t *obj, const char *key)
{
	json_t *o = json_object_get(obj, key);

	if (!json_is_object(o)) {
		o = json_object();
		json_object_set_new(obj, key, o);
	}
	return o;
}
