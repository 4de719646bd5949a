/*
 * cove events: what happened to containers, images, volumes and networks
 * (engine/events.h), podman's command and output.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cove/cli.h"
#include "engine/containers.h"
#include "engine/events.h"
#include "engine/logfile.h"
#include "util/cleanup.h"
#include "util/strutil.h"

static void events_error(const char *msg)
{
	cove_cli_debug("events: %s", msg);
}

void cove_cli_events_setup(const struct cove_ctx *ctx)
{
	cove_events_setup(ctx->runroot, events_error);
}

static const char events_help[] =
    "NAME:\n"
    "   cove events - show what happens to containers, images, volumes\n"
    "   and networks\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove events [options]\n"
    "\n"
    "DESCRIPTION:\n"
    "   Every cove command records its events (container create, init,\n"
    "   start, attach, died, cleanup, stop, kill, pause, unpause, restart,\n"
    "   rename, remove, health_status; image pull, push, tag, untag,\n"
    "   remove, loadfromarchive, save; volume create, remove, prune;\n"
    "   network create, remove) in <runroot>/events/events.log, one JSON\n"
    "   object per line, as podman's \"file\" events backend does; the\n"
    "   file keeps its newest half once it passes 1 MB\n"
    "   ($COVE_EVENTS_LOGFILE_MAX_SIZE bytes).  By default cove events\n"
    "   waits for new events and prints them as they happen, until it is\n"
    "   interrupted; with --since or --until it first prints the recorded\n"
    "   ones from then.  With --stream=false it prints what is recorded\n"
    "   and exits.  Lines of the file that are not events are skipped.\n"
    "\n"
    "OPTIONS:\n"
    "   -f, --filter KEY=VALUE   only matching events; a key given twice\n"
    "                            matches either value, every key must\n"
    "                            match: container=NAME|ID, image=NAME|ID,\n"
    "                            event=STATUS, type=container|image|\n"
    "                            volume|network, label=KEY[=VALUE],\n"
    "                            volume=NAME, network=NAME\n"
    "   --format FORMAT          json (one JSON object per line) or a Go\n"
    "                            template: {{.ID}}, {{.Name}}, {{.Image}},\n"
    "                            {{.Status}}, {{.Type}}, {{.Time}},\n"
    "                            {{.TimeNano}}, {{.ContainerExitCode}},\n"
    "                            {{.HealthStatus}}, {{.Attributes.KEY}}\n"
    "   --since TIME             events since TIME (RFC 3339, Unix time or\n"
    "                            a duration before now such as 10m)\n"
    "   --until TIME             events until TIME\n"
    "   --stream=false           print the recorded events and exit\n"
    "   --no-trunc=false         12-character ids (default: full ids)\n"
    "   -h, --help               show this help\n"
    "\n"
    "EXAMPLES:\n"
    "   cove events --stream=false --since 10m --filter type=container\n"
    "   cove events --filter event=died --format '{{.Name}} "
    "{{.ContainerExitCode}}'\n";

enum {
	OPT_SINCE = 256,
	OPT_UNTIL,
	OPT_FORMAT,
	OPT_STREAM,
	OPT_NO_TRUNC,
};

struct printer {
	const char *format; /* NULL: podman's text */
	bool json;
	bool trunc;
	int status; /* a template's failure */
};

static int print_event(void *data, const struct cove_event *ev)
{
	struct printer *p = data;

	if (p->json || p->format) {
		_cleanup_json_ json_t *o = cove_event_to_json(ev, !p->json);
		_cleanup_free_ char *s = NULL;
		if (!o)
			return -ENOMEM;
		if (p->format) {
			p->status = cove_cli_render_template(p->format, o);
			if (p->status)
				return 1;
		} else {
			s = json_dumps(o, JSON_COMPACT);
			if (!s)
				return -ENOMEM;
			puts(s);
		}
	} else {
		_cleanup_free_ char *s = cove_event_format_human(ev, p->trunc);
		if (!s)
			return -ENOMEM;
		puts(s);
	}
	/* a pipe reads each event as it happens */
	if (fflush(stdout) != 0)
		return 1;
	return 0;
}

static int parse_bool(const char *opt, const char *arg, bool *ret)
{
	if (!arg || !strcmp(arg, "true") || !strcmp(arg, "1"))
		*ret = true;
	else if (!strcmp(arg, "false") || !strcmp(arg, "0"))
		*ret = false;
	else
		return cove_cli_failf("events: invalid --%s '%s': must be true "
				      "or false",
				      opt, arg);
	return 0;
}

int cmd_events(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"filter", required_argument, NULL, 'f'},
	    {"format", required_argument, NULL, OPT_FORMAT},
	    {"since", required_argument, NULL, OPT_SINCE},
	    {"until", required_argument, NULL, OPT_UNTIL},
	    {"stream", optional_argument, NULL, OPT_STREAM},
	    {"no-trunc", optional_argument, NULL, OPT_NO_TRUNC},
	    {"help", no_argument, NULL, 'h'},
	    {0}};
	struct cove_events_filter filter = {0};
	struct cove_events_read_opts o = {.stream = true};
	struct printer p = {0};
	struct cove_error err = {0};
	_cleanup_free_ char *path = NULL;
	bool no_trunc = true;
	int c, r = 0;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			r = cove_cli_help(events_help);
			goto out;
		case 'f':
			if (cove_events_filter_add(&filter, optarg, &err) < 0) {
				r = cove_cli_fail(&err);
				goto out;
			}
			break;
		case OPT_FORMAT:
			if (!strcmp(optarg, "json")) {
				p.json = true;
			} else if (cove_cli_is_template(optarg)) {
				p.format = optarg;
			} else {
				r = cove_cli_failf(
				    "events: invalid --format '%s': must be "
				    "json or a template ({{.Status}})",
				    optarg);
				goto out;
			}
			break;
		case OPT_SINCE:
		case OPT_UNTIL: {
			int64_t ns;
			if (cove_log_parse_since(optarg, cove_now_ns(), &ns,
						 &err) < 0) {
				r = cove_cli_fail(&err);
				goto out;
			}
			if (c == OPT_SINCE)
				o.since = ns;
			else
				o.until = ns;
			break;
		}
		case OPT_STREAM:
			r = parse_bool("stream", optarg, &o.stream);
			if (r)
				goto out;
			break;
		case OPT_NO_TRUNC:
			r = parse_bool("no-trunc", optarg, &no_trunc);
			if (r)
				goto out;
			break;
		default:
			r = cove_cli_unknown_option("events", argv);
			goto out;
		}
	}
	if (optind < argc) {
		r = cove_cli_failf("events: unexpected argument '%s' (see "
				   "'cove events --help')",
				   argv[optind]);
		goto out;
	}
	if (o.since && o.until && o.since > o.until) {
		r = cove_cli_failf("events: --since must be before --until");
		goto out;
	}
	path = cove_strdup_printf("%s/events/events.log", ctx->runroot);
	if (!path) {
		r = cove_cli_failf("out of memory");
		goto out;
	}
	p.trunc = !no_trunc;
	o.filter = &filter;
	o.cb = print_event;
	o.data = &p;
	r = cove_events_read(path, &o, &err);
	if (p.status)
		r = p.status;
	else if (r < 0)
		r = err.msg[0] ? cove_cli_fail(&err)
			       : cove_cli_failf("events: %s", strerror(-r));
	else
		r = 0;
out:
	cove_events_filter_release(&filter);
	return r;
}
