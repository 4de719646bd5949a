/* cove's top-level commands; each group lives in its own file. */
#include "cli/cove/commands.h"

#include "util/cleanup.h"

const struct cove_command cove_commands[] = {
    {"version", cmd_version, "print the version"},
};

const size_t cove_commands_n = ARRAY_SIZE(cove_commands);
