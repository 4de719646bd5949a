#pragma once
/*
 * struct cove_error: filled only on failure, by the function that failed,
 * with an errno value and a message that names the file, field and value.
 * Library code never prints; the CLI prints err->msg and picks the exit code.
 */
#include <stdarg.h>

#define COVE_ERROR_MSG_MAX 1024

struct cove_error {
	int code;		      /* positive errno value, 0 when unset */
	char msg[COVE_ERROR_MSG_MAX]; /* lowercase, no final period */
};

/*
 * Record an error.  @code is a positive or negative errno value.  Returns
 * -abs(code) so that callers can write `return cove_error_set(err, ...)`.
 * @err may be NULL, in which case only the return value carries the error.
 */
int cove_error_set(struct cove_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* As cove_error_set(), appending ": strerror(code)" to the message. */
int cove_error_setx(struct cove_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Prefix context to an already recorded error: "context: old message".
 * Returns -err->code (or -EIO if no error was recorded).
 */
int cove_error_wrap(struct cove_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void cove_error_clear(struct cove_error *err);
