/*
 * libFuzzer target for registries.conf: arbitrary bytes through the TOML
 * subset parser, then lookups on whatever it accepted.  Errors must say
 * where ("NAME:LINE: ..."); everything is freed.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/registries-conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cove_registries_conf *c;
	struct cove_error err = {0};
	int r;

	if (size > 256 * 1024)
		return 0;
	c = cove_registries_conf_new();
	if (!c)
		return 0;
	r = cove_registries_conf_parse(c, "f.conf", (const char *)data, size,
				       &err);
	if (r < 0 && r != -ENOMEM &&
	    (strncmp(err.msg, "f.conf", 6) != 0 || err.code != -r))
		abort();
	(void)cove_registries_conf_insecure(c, "localhost:5000", "a/b");
	(void)cove_registries_conf_blocked(c, "x.example.com", NULL);
	for (char *const *s = cove_registries_conf_search(c); *s; s++)
		if (!*s)
			abort();
	cove_registries_conf_free(c);
	return 0;
}
