#include "util/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int normalize(int code)
{
	if (code < 0)
		code = -code;
	return code ? code : EIO;
}

int cove_error_set(struct cove_error *err, int code, const char *fmt, ...)
{
	code = normalize(code);
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
		err->code = code;
	}
	return -code;
}

int cove_error_setx(struct cove_error *err, int code, const char *fmt, ...)
{
	code = normalize(code);
	if (err) {
		va_list ap;
		size_t n;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
		n = strlen(err->msg);
		snprintf(err->msg + n, sizeof(err->msg) - n, ": %s",
			 strerror(code));
		err->code = code;
	}
	return -code;
}

int cove_error_wrap(struct cove_error *err, const char *fmt, ...)
{
	char prefix[COVE_ERROR_MSG_MAX];
	char old[COVE_ERROR_MSG_MAX];
	va_list ap;

	if (!err)
		return -EIO;
	if (!err->code)
		err->code = EIO;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
	return -err->code;
}

void cove_error_clear(struct cove_error *err)
{
	if (err) {
		err->code = 0;
		err->msg[0] = '\0';
	}
}
