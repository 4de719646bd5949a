/*
 * libFuzzer target for the network and log options of create/run
 * (netopts.h): the first byte picks an option, the rest is its value;
 * every few bytes a NUL starts the next option.  Then the combinations
 * are checked.  A refused value must say why.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "engine/netopts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const modes[] = {"bridge",	   "none",	 "host",
					    "container:x", "container:", "n"};
	struct cove_error err = {0};
	json_t *config, *host;
	char *buf;
	size_t pos = 0;

	if (size < 1 || size > 4096)
		return 0;
	buf = malloc(size + 1);
	config = json_object();
	host = json_object();
	if (!buf || !config || !host)
		abort();
	memcpy(buf, data, size);
	buf[size] = '\0';
	json_object_set_new(config, "HostConfig", host);
	json_object_set_new(host, "NetworkMode",
			    json_string(modes[data[0] % 6]));
	pos = 1;
	while (pos < size) {
		enum cove_netopt opt = (enum cove_netopt)(buf[pos] % 7);
		const char *value = buf + pos + 1;
		int r;

		if (pos + 1 > size)
			break;
		r = cove_netopt_add(config, opt, value, &err);
		if (r < 0 &&
		    (err.msg[0] == '\0' || (r != -ENOMEM && err.code != -r)))
			abort();
		pos += 2 + strlen(value);
	}
	if (cove_netopts_check(config, data[0] & 0x80, &err) < 0 &&
	    err.msg[0] == '\0')
		abort();
	(void)cove_netopts_endpoint(config);
	(void)cove_netopts_log_driver(config);
	json_decref(config);
	free(buf);
	return 0;
}
