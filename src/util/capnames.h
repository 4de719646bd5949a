#pragma once
/*
 * Linux capability names in the OCI spelling ("CAP_CHOWN"), indexed by
 * capability number (linux/capability.h).  Shared by the runtime (parsing
 * process.capabilities) and the image layer (the default profile of
 * `cove bundle`), which may not depend on each other.  A static table
 * rather than libcap's cap_to_name(): the names are needed as static
 * strings, and for capabilities the installed libcap may not know yet.
 */
#include <stddef.h>

extern const char *const cove_cap_names[];
extern const size_t cove_cap_names_n;
