/*
 * libFuzzer target for what CNI plugins and configuration files hand to
 * cove: the same bytes as a plugin's result (cove_cni_result_parse) and as
 * a configuration list (cove_network_parse).  Whatever is accepted must be
 * consistent (addresses that parse, prefixes in range, the raw document
 * kept); a refusal must carry a message and the code it returned;
 * everything is freed, so LeakSanitizer sees any leak.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cni.h"
#include "engine/network.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_error(int r, const struct cove_error *err)
{
	if (r < 0 && r != -ENOMEM && (err->msg[0] == '\0' || err->code != -r))
		abort();
}

static void check_addr(int family, const char *a, unsigned prefix, unsigned max)
{
	unsigned char bin[16];

	if (!a)
		return;
	if (inet_pton(family, a, bin) != 1 || prefix > max)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cove_error err = {0};
	struct cove_cni_result res;
	struct cove_network *net = NULL;
	int r;

	if (size > 64 * 1024)
		return 0;

	r = cove_cni_result_parse((const char *)data, size, "eth0", &res, &err);
	check_error(r, &err);
	if (r == 0) {
		if (!res.raw || !res.cni_version)
			abort();
		check_addr(AF_INET, res.ipv4, res.ipv4_prefix, 32);
		check_addr(AF_INET, res.ipv4_gateway, 0, 32);
		check_addr(AF_INET6, res.ipv6, res.ipv6_prefix, 128);
		check_addr(AF_INET6, res.ipv6_gateway, 0, 128);
		cove_cni_result_release(&res);
	} else if (res.raw || res.ipv4 || res.interface) {
		abort(); /* failure leaves the output empty */
	}

	err = (struct cove_error){0};
	r = cove_network_parse("fuzz.conflist", (const char *)data, size, &net,
			       &err);
	check_error(r, &err);
	if (r == 0) {
		json_t *plugins = json_object_get(net->config, "plugins");

		if (!net->name || !net->cni_version || !net->driver ||
		    json_array_size(plugins) == 0)
			abort();
		for (size_t i = 0; i < net->n_ranges; i++)
			if (!net->ranges[i].subnet)
				abort();
		/* every plugin's stdin can be made from what was accepted */
		for (size_t i = 0; i < json_array_size(plugins); i++) {
			json_t *c = NULL;

			err = (struct cove_error){0};
			r = cove_cni_plugin_config(net, i, NULL, NULL, &c,
						   &err);
			if (r == 0)
				json_decref(c);
			else if (r != -ENOMEM)
				abort();
		}
		cove_network_free(net);
	} else if (net) {
		abort();
	}
	return 0;
}
