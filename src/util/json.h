#pragma once
/*
 * Typed access to JSON object members, with errors that name the field by
 * its full dotted path ("invalid 'process.user.uid': expected an unsigned
 * integer").  Absent members are not errors: the *_present flag or a NULL
 * result tells the caller.  A member of the wrong type always is.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/error.h"

/* @path is the dotted path of @obj ("" for the document root). */
int cove_json_string(const json_t *obj, const char *path, const char *key,
		     const char **ret, struct cove_error *err);
int cove_json_bool(const json_t *obj, const char *path, const char *key,
		   bool *ret, struct cove_error *err);
int cove_json_int64(const json_t *obj, const char *path, const char *key,
		    int64_t *ret, bool *ret_present, struct cove_error *err);
int cove_json_uint64(const json_t *obj, const char *path, const char *key,
		     uint64_t *ret, bool *ret_present, struct cove_error *err);
int cove_json_uint32(const json_t *obj, const char *path, const char *key,
		     uint32_t *ret, bool *ret_present, struct cove_error *err);
/* Array of strings to a NULL-terminated vector (NULL when absent). */
int cove_json_strv(const json_t *obj, const char *path, const char *key,
		   char ***ret, struct cove_error *err);
/* Object or array member, borrowed; NULL when absent; wrong type fails. */
int cove_json_object(const json_t *obj, const char *path, const char *key,
		     json_t **ret, struct cove_error *err);
int cove_json_array(const json_t *obj, const char *path, const char *key,
		    json_t **ret, struct cove_error *err);

/*
 * The object member @key of @obj, made (an empty object, replacing
 * whatever else was there) when it is not an object.  Borrowed.
 */
json_t *cove_json_object_member(json_t *obj, const char *key);

/* A NULL-terminated string vector (may be NULL) as a JSON array. */
json_t *cove_json_strv_array(const char *const *v);

/*
 * Parse a JSON document from a file with a size cap.  Errors name the file,
 * line and column.  The returned root is owned by the caller.
 */
int cove_json_load_file(const char *file, size_t max, json_t **ret,
			struct cove_error *err);
int cove_json_load_buffer(const char *name, const char *buf, size_t len,
			  json_t **ret, struct cove_error *err);
