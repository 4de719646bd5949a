/*
 * libFuzzer target for the value parsers of create/run's namespace,
 * device, sysctl and resource options (ctrns.h, engine.h): the first byte
 * picks the parser, the rest is the value.  A refused value must say
 * why; an accepted one must hold what the parser promises.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ctrns.h"
#include "engine/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const opts[] = {"pid", "ipc", "uts"};
	struct cove_error err = {0};
	char *s;
	int r = 0;

	if (size < 1 || size > 4096)
		return 0;
	s = malloc(size);
	if (!s)
		abort();
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 5) {
	case 0:
	case 1: {
		struct cove_nsmode m;
		r = cove_nsmode_parse(opts[data[0] % 3], s, &m, &err);
		if (r == 0 && m.arg && (m.arg < s || m.arg > s + size))
			abort(); /* arg points into the value */
		break;
	}
	case 2: {
		struct cove_device_opt d = {0};
		r = cove_device_opt_parse(s, &d, &err);
		if (r == 0) {
			if (!d.host || d.host[0] != '/' || !d.ctr ||
			    d.ctr[0] != '/' || !d.perms[0] ||
			    strspn(d.perms, "rwm") != strlen(d.perms))
				abort();
			cove_device_opt_release(&d);
		}
		break;
	}
	case 3: {
		char *key = NULL;
		const char *value = NULL;
		r = cove_sysctl_parse(s, &key, &value, &err);
		if (r == 0) {
			if (!key || !*key || !value ||
			    cove_sysctl_namespace(key) ==
				COVE_SYSCTL_NOT_ALLOWED)
				abort();
			free(key);
		}
		break;
	}
	case 4: {
		uint8_t bits[16] = {0};
		r = cove_engine_idlist_parse(s, bits, sizeof(bits) * 8);
		if (r < 0 && r != -EINVAL && r != -ERANGE)
			abort();
		r = 0; /* no message: the caller words it */
		break;
	}
	}
	if (r < 0 && err.msg[0] == '\0')
		abort();
	free(s);
	return 0;
}
