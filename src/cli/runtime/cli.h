#pragma once
/*
 * cove-runtime's command line: global options, logging, one handler per
 * subcommand.  Handlers parse flags, make one library call, print.
 */
#include <stdbool.h>
#include <stdio.h>

#include "runtime/cloned-binary.h"
#include "runtime/container.h"
#include "util/error.h"

struct cove_cli {
	const char *root;
	const char *log_file;
	bool log_json;
	bool debug;
	enum cove_cgroup_manager cgroup_manager;
	FILE *log;
};

struct cove_cli_cmd {
	const char *name;
	int (*fn)(struct cove_cli *cli, int argc, char **argv);
	const char *summary;
};

/* Report @err (stderr and the --log file); returns the exit status 1. */
int cli_fail(struct cove_cli *cli, const struct cove_error *err);
/* A formatted error without a cove_error. */
int cli_failf(struct cove_cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void cli_warn(struct cove_cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void cli_debug(struct cove_cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Print a command's help (man-page style) and return 0. */
int cli_help(const char *text);
/* Usage error: prints the hint and returns exit status 2... as runc, 1. */
int cli_usage(struct cove_cli *cli, const char *cmd, const char *msg);

/* The option getopt_long() just refused, named in the error. */
int cli_unknown_option(struct cove_cli *cli, const char *cmd, char **argv);
/* Fail on any argument starting with '-' (commands without options). */
int cli_no_options(struct cove_cli *cli, const char *cmd, int argc,
		   char **argv);

/* "9", "KILL", "SIGKILL" -> 9; -1 when unknown. */
int cli_parse_signal(const char *s);

/* Absolute version of a path (bundle dirs); NULL on failure. */
char *cli_abspath(const char *path);

int cmd_create(struct cove_cli *cli, int argc, char **argv);
int cmd_run(struct cove_cli *cli, int argc, char **argv);
int cmd_start(struct cove_cli *cli, int argc, char **argv);
int cmd_state(struct cove_cli *cli, int argc, char **argv);
int cmd_kill(struct cove_cli *cli, int argc, char **argv);
int cmd_delete(struct cove_cli *cli, int argc, char **argv);
int cmd_list(struct cove_cli *cli, int argc, char **argv);
int cmd_ps(struct cove_cli *cli, int argc, char **argv);
int cmd_pause(struct cove_cli *cli, int argc, char **argv);
int cmd_resume(struct cove_cli *cli, int argc, char **argv);
int cmd_exec(struct cove_cli *cli, int argc, char **argv);
int cmd_update(struct cove_cli *cli, int argc, char **argv);
int cmd_spec(struct cove_cli *cli, int argc, char **argv);
int cmd_features(struct cove_cli *cli, int argc, char **argv);
int cmd_events(struct cove_cli *cli, int argc, char **argv);
