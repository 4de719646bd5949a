#pragma once
/*
 * CVE-2019-5736: a container process could open /proc/PID/exe of a runtime
 * process that entered the container and overwrite the host's runtime
 * binary through it.  Before any such command, cove-runtime re-executes
 * itself from a memfd copy sealed against writes, so /proc/PID/exe is that
 * sealed copy, never the host file.
 */

/*
 * If the running executable is not already a sealed memfd, copy it into one
 * and fexecve() it with the same arguments.  Returns 0 when already sealed;
 * otherwise returns only on failure (-errno).
 */
int cove_ensure_cloned_binary(int argc, char **argv);
