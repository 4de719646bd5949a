#pragma once
/*
 * Shared by the container commands' files (container.c, container-io.c);
 * not used elsewhere.
 */
#include <getopt.h>
#include <stdbool.h>

#include "engine/engine.h"

/*
 * Parse options that are only --help (and -h), or @opts handed one by one
 * to @each; returns -1 to go on, else an exit status.
 */
int cove_cli_no_options(const char *cmd, const char *help, int argc,
			char **argv, const char *shortopts,
			const struct option *opts,
			int (*each)(int c, void *data), void *data);

/*
 * For commands whose only option is one flag: getopt has already refused
 * any other, so whichever it is, it sets the bool at @data.
 */
int cove_cli_flag_opt(int c, void *data);
