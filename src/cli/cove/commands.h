#pragma once
/* The table of cove's top-level commands (commands.c). */
#include <stddef.h>

#include "cli/cove/cli.h"

extern const struct cove_command cove_commands[];
extern const size_t cove_commands_n;
