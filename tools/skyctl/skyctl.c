/* skyctl.c: skyvisor's declarative command-line client.
 *
 *   skyctl plan    -f FILE [--prune]
 *   skyctl apply   -f FILE [--prune] [--no-wait] [--timeout S]
 *   skyctl destroy -f FILE
 *   skyctl get KIND [NAME] [-o table|json]
 *   skyctl status [-f FILE] [-o table|json]
 *   skyctl snapshot PATH | stop PATH | start PATH [--from SNAP]
 *   skyctl migrate PATH --to host=NAME|cloud=NAME [--no-wait] [--timeout S]
 *
 * How it fits: spec.c reads the file into declared objects, fetch.c reads
 * the server's through the API (client.c), plan.c computes the ordered
 * difference, output.c prints it, apply.c carries it out and waits for the
 * reconciler; lifecycle.c runs the imperative VM commands.  This file parses the command line and maps outcomes to exit
 * codes: 0 success (plan: no changes), 2 plan: changes pending (status: not
 * all realized), 1 any error, 64 bad usage.  Every command reads clouds and
 * hosts, so skyctl needs the admin token (the API's tenant tokens see only
 * their own networks). */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/skyctl/apply.h"
#include "tools/skyctl/client.h"
#include "tools/skyctl/fetch.h"
#include "tools/skyctl/lifecycle.h"
#include "tools/skyctl/model.h"
#include "tools/skyctl/output.h"
#include "tools/skyctl/plan.h"
#include "tools/skyctl/spec.h"

#define EXIT_USAGE 64
#define EXIT_CHANGES 2

static const char usage_text[] =
    "usage: skyctl [--url URL] [--token TOKEN] [--cacert FILE] COMMAND [OPTIONS]\n"
    "\n"
    "Declarative provisioning for skyvisor: keep clouds, hosts, tenants and their\n"
    "networks in a file, and make the server match it.\n"
    "\n"
    "Commands:\n"
    "  plan -f FILE [--prune]       show what apply would create (+), change (~, with\n"
    "                               old -> new), replace (-/+) and delete (-), each\n"
    "                               network's part checked by the server (a dry run);\n"
    "                               exit 0 when nothing would change, 2 when something\n"
    "                               would, 1 when the server refuses it\n"
    "  apply -f FILE [--prune] [--no-wait] [--timeout S]\n"
    "                               make the changes in dependency order, then wait\n"
    "                               until every object of the file is realized (state\n"
    "                               \"realized\" at its current generation); fails\n"
    "                               naming the objects still in \"error\" after 10 s,\n"
    "                               with their detail, or after S seconds (default 300)\n"
    "  destroy -f FILE              delete what the file declares and skyctl created\n"
    "                               for it, dependents first\n"
    "  get KIND [NAME]              list objects of a kind: clouds, cloud-links,\n"
    "                               hosts, tenants, networks, switches, links, vms;\n"
    "                               NAME is a name or a path (red/prod/web)\n"
    "  status [-f FILE]             every object's state, with the detail of those\n"
    "                               not realized (only the file's objects with -f);\n"
    "                               exit 0 when all are realized, 2 otherwise\n"
    "  snapshot PATH                take a snapshot of VM PATH (TENANT/NETWORK/VM);\n"
    "                               the reconciler captures it\n"
    "  stop PATH                    stop the VM: a snapshot is taken, then its port\n"
    "                               and flows go and its host slot is released; its\n"
    "                               addresses stay reserved\n"
    "  start PATH [--from SNAP]     start a stopped VM from its newest snapshot, or\n"
    "                               SNAP (a name or an id)\n"
    "  migrate PATH --to host=NAME|cloud=NAME [--no-wait] [--timeout S]\n"
    "                               ask for a live move; prints a line per phase\n"
    "                               until done (exit 0), rolled-back or failed\n"
    "                               (exit 1); the reconciler does not yet move a\n"
    "                               migration past prepare, so without --no-wait\n"
    "                               this waits until --timeout\n"
    "\n"
    "Options:\n"
    "  -f, --file FILE     the declaration file, YAML or JSON (\"-\" is not accepted)\n"
    "      --url URL       skyvisord's address (default $SKYVISOR_URL, else\n"
    "                      http://127.0.0.1:8080)\n"
    "      --token TOKEN   the admin token (default $SKYVISOR_TOKEN): skyctl reads\n"
    "                      and writes clouds, hosts and tenants\n"
    "      --cacert FILE   for an https URL: trust the CA certificates in FILE\n"
    "                      (PEM) instead of the system's (default $SKYVISOR_CACERT)\n"
    "      --prune         also delete objects skyctl created for this file that the\n"
    "                      file no longer declares (never objects it did not create)\n"
    "      --no-wait       apply, migrate: do not wait for the reconciler\n"
    "      --timeout S     apply, migrate: seconds to wait (default 300)\n"
    "      --to TARGET     migrate: host=NAME or cloud=NAME\n"
    "      --from SNAP     start: the snapshot to start from\n"
    "  -o, --output FMT    get, status: table (default) or json\n"
    "  -h, --help          this text\n"
    "\n"
    "The file (YAML shown; JSON, chosen by a .json name or a leading '{', has the\n"
    "same shape; the required keys are listed below; a field left out is never\n"
    "changed on the server):\n"
    "\n"
    "  name: demo                       # the file's id (default: file base name)\n"
    "  clouds:\n"
    "    - {name: aws-fra, provider: aws, region: eu-central-1, jurisdiction: DE,\n"
    "       kind: public, cost_per_hour: \"0.096\", labels: {}}\n"
    "  cloud_links:\n"
    "    - {a: aws-fra, b: gcp-iowa, cost: 10, rtt_ms: 98, bandwidth_mbps: 1000}\n"
    "  hosts:\n"
    "    - {name: aws-fra-gw, cloud: aws-fra, role: gateway, tunnel_ip: 198.18.1.1,\n"
    "       public_ip: 198.19.0.1, capacity: 16, datapath: netdev, bridge: br-sky,\n"
    "       ovsdb: \"unix:/run/x/db.sock\", openflow: \"unix:/run/x/br-sky.mgmt\"}\n"
    "       # or controller: \"tcp:IP:PORT\" instead of openflow\n"
    "  tenants:\n"
    "    - name: red                    # its token is printed once, on creation\n"
    "      wan_limit_mbps: 40           # its cap on each inter-cloud link\n"
    "      networks:\n"
    "        - name: prod\n"
    "          subnet: 10.0.0.0/24\n"
    "          tagging: mac-prefix      # or rewrite\n"
    "          switches: [front, back]  # or {name: front, labels: {...}}\n"
    "          links: [front--back]     # or {a: front, b: back, bandwidth_mbps: 100}\n"
    "          vms:\n"
    "            - {name: web, switch: front, mac: \"02:00:00:00:00:01\",\n"
    "               ip: 10.0.0.1, iface: r-web, placement: {host: aws-fra-h1},\n"
    "               rate_mbps: 100, burst_kb: 10000}   # both optional\n"
    "               # placement: {host: H} | {cloud: C} |\n"
    "               #   {jurisdiction: [PT], avoid_clouds: [aws-fra]}\n"
    "\n"
    "Required keys: clouds name provider region jurisdiction kind; cloud links\n"
    "a b cost; hosts name cloud tunnel_ip ovsdb; tenants name; networks name\n"
    "subnet; switches name; links a b (name defaults to the two switches sorted,\n"
    "joined by --); VMs name switch mac ip placement.\n"
    "\n"
    "Ownership: objects skyctl creates carry the label " MODEL_LABEL ": <file\n"
    "id>; only those are ever deleted (destroy, --prune, replacements), and not\n"
    "while something else still uses them (the plan says what it keeps and why).\n"
    "A declared object that exists without this file's label is updated in place but\n"
    "never deleted.  A cloud link counts as skyctl's when both its clouds are.\n"
    "Changes the API cannot make in place (a host's cloud; a network's subnet or\n"
    "tagging while it has VMs) are replacements: delete, then create again.\n"
    "Tenants have no PATCH: their labels are set at creation only.\n"
    "\n"
    "A network's switches, links and VMs go as one batch request per network\n"
    "(all or nothing).  Creates and batches send an Idempotency-Key derived from\n"
    "the file id, the URL and the body, so re-running after a crash or a lost\n"
    "answer creates nothing twice.\n"
    "\n"
    "Exit status: 0 done (plan: no changes); 2 plan: changes pending, status: not\n"
    "all realized; 1 error (the server's problem title, detail and field, or the\n"
    "failing objects and their status detail); 64 bad usage.\n";

struct opts {
    const char *file, *url, *token, *output, *cacert, *to, *from;
    bool prune, no_wait, timeout_given;
    double timeout;
};

static int die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int
die(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "skyctl: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

static struct client *
connect_client(const struct opts *o)
{
    if (!o->token || !*o->token) {
        die(1, "%s", "no token: pass --token or set SKYVISOR_TOKEN");
        return NULL;
    }
    struct client *c = client_create(o->url, o->token, 60);
    if (c && o->cacert && *o->cacert && client_set_cacert(c, o->cacert)) {
        client_destroy(c);
        c = NULL;
    }
    if (!c) {
        die(1, "%s", "out of memory");
    }
    return c;
}

static int
load(const struct opts *o, struct spec *spec)
{
    char err[1200];
    if (!o->file) {
        return die(EXIT_USAGE, "%s", "this command needs -f FILE");
    }
    if (spec_load_file(o->file, spec, err, sizeof err)) {
        return die(1, "%s", err);
    }
    return 0;
}

/* plan, apply and destroy share their start: file, server state, plan. */
static int
prepare(const struct opts *o, bool destroy, struct spec *spec, struct client **c,
        struct model_set *srv, struct plan *plan)
{
    char err[1200];
    int rc = load(o, spec);
    if (rc) {
        return rc;
    }
    if (!(*c = connect_client(o))) {
        spec_uninit(spec);
        return 1;
    }
    if (fetch_state(*c, spec, true, srv, err, sizeof err)) {
        die(1, "%s", err);
        goto fail;
    }
    rc = destroy ? plan_destroy(spec, srv, plan, err, sizeof err)
                 : plan_build(spec, srv, o->prune, plan, err, sizeof err);
    if (rc) {
        die(1, "%s", err);
        goto fail;
    }
    return 0;
fail:
    model_set_uninit(srv);
    client_destroy(*c);
    spec_uninit(spec);
    return 1;
}

static int
cmd_plan(const struct opts *o, bool apply, bool destroy)
{
    struct spec spec;
    struct client *c;
    struct model_set srv = {0};
    struct plan plan;
    int rc = prepare(o, destroy, &spec, &c, &srv, &plan);
    if (rc) {
        return rc;
    }
    output_plan(stdout, &plan, spec.id, destroy);
    bool changes = plan.n_create || plan.n_update || plan.n_delete;
    rc = changes ? EXIT_CHANGES : 0;
    char err[4096];
    if (!apply && !destroy && changes) {
        fflush(stdout);
        if (apply_check(c, &spec, &plan, &srv, stdout, err, sizeof err)) {
            rc = die(1, "the server refuses this plan: %s", err);
        }
    }
    if (apply || destroy) {
        rc = 0;
        if (changes) {
            fputc('\n', stdout);
            fflush(stdout);
            if (apply_run(c, &spec, &plan, stdout, err, sizeof err)) {
                rc = die(1, "%s", err);
            }
        }
        if (!rc && apply && !o->no_wait) {
            fflush(stdout);
            if (apply_wait(c, &spec, o->timeout, stdout, err, sizeof err)) {
                rc = die(1, "%s", err);
            }
        }
        if (!rc) {
            printf("%s complete: %zu created, %zu changed, %zu deleted.\n",
                   destroy ? "Destroy" : "Apply", plan.n_create, plan.n_update,
                   plan.n_delete);
        }
    }
    plan_uninit(&plan);
    model_set_uninit(&srv);
    client_destroy(c);
    spec_uninit(&spec);
    return rc;
}

static bool
json_output(const struct opts *o, int *rc)
{
    if (!o->output || !strcmp(o->output, "table")) {
        return false;
    }
    if (strcmp(o->output, "json")) {
        *rc = die(EXIT_USAGE, "unknown output format '%s' (table or json)", o->output);
    }
    return true;
}

static int
cmd_get(const struct opts *o, const char *kind_s, const char *name)
{
    int rc = 0;
    bool json = json_output(o, &rc);
    if (rc) {
        return rc;
    }
    enum model_kind kind = model_kind_parse(kind_s);
    if (kind == MK__N) {
        return die(EXIT_USAGE, "unknown kind '%s' (clouds, cloud-links, hosts, tenants, "
                   "networks, switches, links, vms)", kind_s);
    }
    struct client *c = connect_client(o);
    if (!c) {
        return 1;
    }
    struct model_set srv = {0};
    char err[1200];
    bool deep = kind == MK_NETWORK || kind == MK_SWITCH || kind == MK_LINK || kind == MK_VM;
    if (fetch_state(c, NULL, deep, &srv, err, sizeof err)) {
        rc = die(1, "%s", err);
    } else {
        size_t n = json ? output_json(stdout, &srv, kind, name)
                        : output_table(stdout, &srv, kind, name);
        if (!n && name) {
            char what[300];
            snprintf(what, sizeof what, "%s %s", model_kind_name(kind), name);
            rc = die(1, "no %s", what);
        } else if (!n && !json) {
            printf("no %s\n", model_kind_plural(kind));
        }
    }
    model_set_uninit(&srv);
    client_destroy(c);
    return rc;
}

static int
cmd_status(const struct opts *o)
{
    int rc = 0;
    bool json = json_output(o, &rc);
    if (rc) {
        return rc;
    }
    struct spec spec = {0};
    if (o->file && (rc = load(o, &spec))) {
        return rc;
    }
    struct client *c = connect_client(o);
    if (!c) {
        spec_uninit(&spec);
        return 1;
    }
    struct model_set srv = {0}, shown = {0};
    char err[1200];
    if (fetch_state(c, o->file ? &spec : NULL, true, &srv, err, sizeof err)) {
        rc = die(1, "%s", err);
    } else {
        const struct model_set *set = &srv;
        if (o->file) {
            for (size_t i = 0; i < spec.objs.n; i++) {
                const struct model_obj *d = &spec.objs.v[i];
                const struct model_obj *s = model_set_find(&srv, d->kind, d->tenant,
                                                           d->network, d->name);
                if (s) {
                    model_set_add(&shown, s->kind, s->tenant, s->network, s->name,
                                  json_incref(s->body));
                }
            }
            set = &shown;
        }
        rc = output_status(stdout, set, json) ? EXIT_CHANGES : 0;
    }
    model_set_uninit(&shown);
    model_set_uninit(&srv);
    client_destroy(c);
    spec_uninit(&spec);
    return rc;
}

/* snapshot, stop, start, migrate: one VM named by its path. */
static int
cmd_lifecycle(const struct opts *o, const char *cmd, int nargs, char **args)
{
    if (nargs != 1) {
        return die(EXIT_USAGE, "usage: skyctl %s TENANT/NETWORK/VM%s", cmd,
                   !strcmp(cmd, "migrate") ? " --to host=NAME|cloud=NAME" : "");
    }
    if (!strcmp(cmd, "migrate") && !o->to) {
        return die(EXIT_USAGE, "%s", "migrate needs --to host=NAME or --to cloud=NAME");
    }
    struct client *c = connect_client(o);
    if (!c) {
        return 1;
    }
    char err[1200];
    int rc = !strcmp(cmd, "snapshot") ? lifecycle_snapshot(c, args[0], stdout, err, sizeof err)
             : !strcmp(cmd, "stop") ? lifecycle_stop(c, args[0], stdout, err, sizeof err)
             : !strcmp(cmd, "start") ? lifecycle_start(c, args[0], o->from, stdout, err,
                                                       sizeof err)
             : lifecycle_migrate(c, args[0], o->to, o->no_wait, o->timeout, stdout, err,
                                 sizeof err);
    client_destroy(c);
    return rc ? die(rc, "%s", err) : 0;
}

int
main(int argc, char **argv)
{
    struct opts o = {
        .url = getenv("SKYVISOR_URL"),
        .token = getenv("SKYVISOR_TOKEN"),
        .cacert = getenv("SKYVISOR_CACERT"),
        .timeout = 300,
    };
    if (!o.url || !*o.url) {
        o.url = "http://127.0.0.1:8080";
    }
    enum { O_URL = 256, O_TOKEN, O_PRUNE, O_NO_WAIT, O_TIMEOUT, O_CACERT, O_TO, O_FROM };
    static const struct option longopts[] = {
        {"file", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {"url", required_argument, NULL, O_URL},
        {"token", required_argument, NULL, O_TOKEN},
        {"cacert", required_argument, NULL, O_CACERT},
        {"prune", no_argument, NULL, O_PRUNE},
        {"no-wait", no_argument, NULL, O_NO_WAIT},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"to", required_argument, NULL, O_TO},
        {"from", required_argument, NULL, O_FROM},
        {NULL, 0, NULL, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "f:o:h", longopts, NULL)) != -1) {
        char *end;
        switch (ch) {
        case 'f': o.file = optarg; break;
        case 'o': o.output = optarg; break;
        case 'h': fputs(usage_text, stdout); return 0;
        case O_URL: o.url = optarg; break;
        case O_TOKEN: o.token = optarg; break;
        case O_CACERT: o.cacert = optarg; break;
        case O_PRUNE: o.prune = true; break;
        case O_NO_WAIT: o.no_wait = true; break;
        case O_TO: o.to = optarg; break;
        case O_FROM: o.from = optarg; break;
        case O_TIMEOUT:
            o.timeout_given = true;
            o.timeout = strtod(optarg, &end);
            if (*end || end == optarg || !(o.timeout > 0) || o.timeout > 86400) {
                return die(EXIT_USAGE, "--timeout takes seconds, more than 0 and at "
                           "most 86400, not '%s'", optarg);
            }
            break;
        default:
            fputs("Try 'skyctl --help'.\n", stderr);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[optind];
    int nargs = argc - optind - 1;
    char **args = argv + optind + 1;
    bool file_cmd = !strcmp(cmd, "plan") || !strcmp(cmd, "apply") || !strcmp(cmd, "destroy");
    if (file_cmd || !strcmp(cmd, "status")) {
        if (nargs) {
            return die(EXIT_USAGE, "unexpected argument '%s'", args[0]);
        }
    }
    if ((o.no_wait || o.timeout_given) && strcmp(cmd, "apply") && strcmp(cmd, "migrate")) {
        return die(EXIT_USAGE, "%s", "--no-wait and --timeout go with apply and migrate");
    }
    if ((o.to && strcmp(cmd, "migrate")) || (o.from && strcmp(cmd, "start"))) {
        return die(EXIT_USAGE, "%s", "--to goes with migrate, --from with start");
    }
    if (o.output && strcmp(cmd, "get") && strcmp(cmd, "status")) {
        return die(EXIT_USAGE, "%s", "-o goes with get and status");
    }
    if (o.prune && strcmp(cmd, "apply") && strcmp(cmd, "plan")) {
        return die(EXIT_USAGE, "%s", "--prune goes with plan and apply");
    }
    if (!strcmp(cmd, "plan")) {
        return cmd_plan(&o, false, false);
    } else if (!strcmp(cmd, "apply")) {
        return cmd_plan(&o, true, false);
    } else if (!strcmp(cmd, "destroy")) {
        return cmd_plan(&o, false, true);
    } else if (!strcmp(cmd, "get")) {
        if (nargs < 1 || nargs > 2) {
            return die(EXIT_USAGE, "%s", "usage: skyctl get KIND [NAME]");
        }
        return cmd_get(&o, args[0], nargs == 2 ? args[1] : NULL);
    } else if (!strcmp(cmd, "status")) {
        return cmd_status(&o);
    } else if (!strcmp(cmd, "snapshot") || !strcmp(cmd, "stop") || !strcmp(cmd, "start")
               || !strcmp(cmd, "migrate")) {
        return cmd_lifecycle(&o, cmd, nargs, args);
    } else if (!strcmp(cmd, "help")) {
        fputs(usage_text, stdout);
        return 0;
    }
    return die(EXIT_USAGE, "unknown command '%s' (plan, apply, destroy, get, status, "
               "snapshot, stop, start, migrate; see skyctl --help)", cmd);
}
