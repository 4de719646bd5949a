#pragma once
/*
 * Checked conversions and string vectors.  Integer parsers accept the whole
 * string or nothing (no trailing junk, no silent overflow) and return 0 or
 * -EINVAL / -ERANGE.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int cove_parse_int64(const char *s, int64_t *ret);
int cove_parse_uint64(const char *s, uint64_t *ret);
int cove_parse_int(const char *s, int *ret);
int cove_parse_uint32(const char *s, uint32_t *ret);

/* Number of entries of a NULL-terminated vector. */
size_t cove_strv_length(char *const *v);
/* Deep copy; NULL on allocation failure. */
char **cove_strv_copy(char *const *v);
/* Append a copy of @s; returns 0 or -ENOMEM; *v may be NULL. */
int cove_strv_push(char ***v, const char *s);
bool cove_strv_contains(char *const *v, const char *s);
/* The strings of @v (may be NULL) with @sep between them; caller frees. */
char *cove_strv_join(char *const *v, const char *sep);

/* Allocating printf; NULL on failure. */
char *cove_strdup_printf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

bool cove_str_has_prefix(const char *s, const char *prefix);
