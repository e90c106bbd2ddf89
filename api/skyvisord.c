/* skyvisord.c: the skyvisor daemon's main program.
 *
 * Start-up: flags -> admin token -> database (the --db URL, or the embedded
 * cluster under --data-dir) -> migrations -> connection pool -> HTTP server
 * -> this instance's registration and lease keeper (db/lease_keeper.h)
 * -> (with --openflow-listen) the embedded OpenFlow controller's listener,
 * which completes the handshake with the bridges that connect to it; what
 * it programs into them is the reconciler's business.
 * Then the main thread waits for SIGINT or SIGTERM (blocked in every thread,
 * taken with sigwait) and shuts down in reverse order: the HTTP server
 * finishes in-flight requests, the pool closes, the embedded cluster stops.
 * SIGHUP, taken the same way, re-reads the HTTPS certificate and key. */
#include <errno.h>
#include <stdatomic.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "api/readsnap.h"
#include "core/embed.h"
#include "core/vlog.h"
#include "ctrl/stream.h"
#include "db/db.h"
#include "db/embedded.h"
#include "db/lease_keeper.h"
#include "db/lifecycle_store.h"
#include "db/migrate.h"
#include "db/recon_db.h"
#include "db/vswitch_store.h"

#define SKYVISOR_VERSION "0.1.0"

extern const struct embed_file api_openapi_files[];

static void
usage(FILE *out)
{
    fprintf(out,
"usage: skyvisord [OPTIONS]\n"
"\n"
"skyvisor's control plane: the REST API over the desired state of clouds,\n"
"hosts, tenants and their virtual networks, kept in PostgreSQL.\n"
"\n"
"  --db URL             PostgreSQL connection (a URI or key=value string).\n"
"                       Without it skyvisord runs its own cluster in --data-dir\n"
"                       with the installed PostgreSQL binaries (as the user\n"
"                       'postgres' when started as root), reuses it on the\n"
"                       next start and stops it on exit.\n"
"  --data-dir DIR       data directory of the embedded cluster\n"
"                       (default: ./skyvisor-data)\n"
"  --listen IP:PORT     HTTP address (default: 127.0.0.1:8080)\n"
"  --threads N          HTTP worker threads, each with its own database\n"
"                       connection (default: number of CPUs, at least 2)\n"
"  --tls-listen IP:PORT HTTPS address, beside the plain HTTP of --listen; needs\n"
"  --tls-cert FILE      the certificate chain (PEM, the server's first) and\n"
"  --tls-key FILE       its private key (PEM); SIGHUP re-reads both, new\n"
"                       connections get the new pair, the listener stays\n"
"  --max-conns-per-ip N connections one client address may hold at once\n"
"                       (default: 64; 0: no limit); an idle connection is\n"
"                       closed after 10 s, one whose request head takes more\n"
"                       than 15 s too\n"
"  --openflow-listen [pssl:]IP:PORT\n"
"                       accept OpenFlow 1.3 connections from bridges here (the\n"
"                       hosts whose 'controller' field points at it); pssl:\n"
"                       for TLS\n"
"  --ssl-key FILE --ssl-cert FILE --ssl-ca-cert FILE\n"
"                       TLS to the switches (ssl: targets of hosts, a pssl:\n"
"                       listener): skyvisord's private key and certificate\n"
"                       (signed by the CA the switches trust: ovs-pki's\n"
"                       controllerca) and the CA that signed the switches'\n"
"                       certificates (ovs-pki's switchca); a switch's\n"
"                       certificate must also name its host (CN or DNS\n"
"                       subjectAltName: NAME or 'NAME id:...')\n"
"  --tunnels LAYOUT     inter-cloud tunnels: mst (minimum spanning tree of the\n"
"                       cloud-link costs), mst+backup (the default: the tree\n"
"                       plus backup tunnels for the loss of any one tunnel;\n"
"                       traffic follows the tree) or full-mesh\n"
"  --bfd-ms MS          BFD interval (min_tx and min_rx) on the tunnels between\n"
"                       gateways (and between the workers and the gateways\n"
"                       of a cloud with two): a cut is seen after 3\n"
"                       intervals (default 100; 0: no BFD)\n"
"  --wan-holddown-ms MS a tunnel that failed carries traffic again only this\n"
"                       long after BFD saw it back up (default 1000; 0: at\n"
"                       once, the datapath's own reversion)\n"
"  --audit-interval SECONDS\n"
"                       read every bridge's flows back this often and repair\n"
"                       what drifted (default 300); between audits changes\n"
"                       are diffed against the flows the bridges confirmed\n"
"  --migration-drain-ms MS\n"
"                       a live migration waits this long after a step that\n"
"                       stops sending to one of a VM's places before it\n"
"                       removes what led there: at least the WAN's one-way\n"
"                       delay (default 200)\n"
"  --no-reconciler      serve the API only: nothing configures the switches\n"
"                       and statuses stay as they are\n"
"  --leases             several instances on one database: the reconciler\n"
"                       writes only the switches of the clouds whose lease\n"
"                       this instance holds, fenced by the lease's epoch\n"
"                       (OpenFlow role generation, an OVSDB epoch), takes\n"
"                       over an orphaned cloud's flows as they are, and\n"
"                       writes only its clouds' statuses; without it this\n"
"                       instance writes every switch (run one instance)\n"
"  --lease-ms MS        cloud lease length: the owner of a cloud's switches\n"
"                       renews its lease every heartbeat (default 3000)\n"
"  --heartbeat-ms MS    how often this instance heartbeats and renews\n"
"                       (default 1000; below the lease)\n"
"  --clouds A,B         prefer these clouds (names): this instance takes them\n"
"                       when orphaned, and back from an unpinned owner once\n"
"                       it has been healthy for two leases; without it the\n"
"                       instance takes any orphaned cloud\n"
"  --admin-token-file FILE\n"
"                       the admin tokens, one per line ('#' starts a comment),\n"
"                       instead of SKYVISOR_ADMIN_TOKEN; re-read whenever the\n"
"                       file changes, so a token is rotated without a restart\n"
"  --log-level LEVEL    debug, info, warn or error (default: info)\n"
"  --list-routes        print every API operation as 'METHOD /path' and exit\n"
"  --version            print the version and exit\n"
"  --help               print this help and exit\n"
"\n"
"Environment:\n"
"  SKYVISOR_ADMIN_TOKEN  the admin bearer token (at least %d characters;\n"
"                        required unless --admin-token-file is given)\n"
"  SKYVISOR_PG_BINDIR    PostgreSQL binaries for the embedded cluster\n"
"                        (default: newest /usr/lib/postgresql/N/bin)\n"
"\n"
"Logs go to stderr, one line per event.  SIGINT or SIGTERM stop it cleanly;\n"
"SIGHUP reloads the HTTPS certificate.\n",
            AUTH_MIN_ADMIN_TOKEN);
}

struct options {
    const char *db;
    const char *data_dir;
    const char *listen;
    const char *openflow_listen;
    const char *ssl_key, *ssl_cert, *ssl_ca_cert;
    const char *admin_token_file;
    unsigned int threads;
    unsigned int max_conns_per_ip;
    unsigned int audit_s;
    unsigned int drain_ms;              /* --migration-drain-ms */
    int bfd_ms;                         /* --bfd-ms, -1: none */
    int holddown_ms;                    /* --wan-holddown-ms, -1: none */
    const char *tls_listen, *tls_cert, *tls_key;
    enum tunnels_layout tunnels;        /* --tunnels */
    bool no_reconciler;
    bool leases;                        /* --leases */
    unsigned int lease_ms, heartbeat_ms;
    const char *clouds;                 /* --clouds */
};

/* Returns 0 to run, 1 to exit successfully, 2 on a usage error. */
static int
parse_options(int argc, char **argv, struct options *o)
{
    enum { OPT_DB = 256, OPT_DATA_DIR, OPT_LISTEN, OPT_THREADS, OPT_LOG_LEVEL,
           OPT_LIST_ROUTES, OPT_VERSION, OPT_HELP, OPT_OPENFLOW_LISTEN,
           OPT_TUNNELS, OPT_NO_RECONCILER, OPT_ADMIN_TOKEN_FILE,
           OPT_MAX_CONNS_PER_IP, OPT_TLS_LISTEN, OPT_TLS_CERT, OPT_TLS_KEY,
           OPT_SSL_KEY, OPT_SSL_CERT, OPT_SSL_CA_CERT, OPT_AUDIT_INTERVAL,
           OPT_LEASE_MS, OPT_HEARTBEAT_MS, OPT_CLOUDS, OPT_LEASES,
           OPT_MIGRATION_DRAIN_MS, OPT_BFD_MS, OPT_WAN_HOLDDOWN_MS };
    static const struct option longopts[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"data-dir", required_argument, NULL, OPT_DATA_DIR},
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"max-conns-per-ip", required_argument, NULL, OPT_MAX_CONNS_PER_IP},
        {"tls-listen", required_argument, NULL, OPT_TLS_LISTEN},
        {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
        {"tls-key", required_argument, NULL, OPT_TLS_KEY},
        {"openflow-listen", required_argument, NULL, OPT_OPENFLOW_LISTEN},
        {"ssl-key", required_argument, NULL, OPT_SSL_KEY},
        {"ssl-cert", required_argument, NULL, OPT_SSL_CERT},
        {"ssl-ca-cert", required_argument, NULL, OPT_SSL_CA_CERT},
        {"tunnels", required_argument, NULL, OPT_TUNNELS},
        {"no-reconciler", no_argument, NULL, OPT_NO_RECONCILER},
        {"audit-interval", required_argument, NULL, OPT_AUDIT_INTERVAL},
        {"migration-drain-ms", required_argument, NULL, OPT_MIGRATION_DRAIN_MS},
        {"bfd-ms", required_argument, NULL, OPT_BFD_MS},
        {"wan-holddown-ms", required_argument, NULL, OPT_WAN_HOLDDOWN_MS},
        {"leases", no_argument, NULL, OPT_LEASES},
        {"lease-ms", required_argument, NULL, OPT_LEASE_MS},
        {"heartbeat-ms", required_argument, NULL, OPT_HEARTBEAT_MS},
        {"clouds", required_argument, NULL, OPT_CLOUDS},
        {"admin-token-file", required_argument, NULL, OPT_ADMIN_TOKEN_FILE},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"list-routes", no_argument, NULL, OPT_LIST_ROUTES},
        {"version", no_argument, NULL, OPT_VERSION},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    *o = (struct options){
        .data_dir = "skyvisor-data",
        .listen = "127.0.0.1:8080",
        .threads = ncpu > 2 ? (unsigned int) ncpu : 2,
        .max_conns_per_ip = 64,
        .lease_ms = 3000,
        .heartbeat_ms = 1000,
        .drain_ms = 200,
        .tunnels = TUNNELS_MST_BACKUP,
    };
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        char *end;
        enum vlog_level level;
        switch (c) {
        case OPT_DB: o->db = optarg; break;
        case OPT_DATA_DIR: o->data_dir = optarg; break;
        case OPT_LISTEN: o->listen = optarg; break;
        case OPT_OPENFLOW_LISTEN: o->openflow_listen = optarg; break;
        case OPT_SSL_KEY: o->ssl_key = optarg; break;
        case OPT_SSL_CERT: o->ssl_cert = optarg; break;
        case OPT_SSL_CA_CERT: o->ssl_ca_cert = optarg; break;
        case OPT_NO_RECONCILER: o->no_reconciler = true; break;
        case OPT_ADMIN_TOKEN_FILE: o->admin_token_file = optarg; break;
        case OPT_TUNNELS:
            if (tunnels_layout_parse(optarg, &o->tunnels)) {
                fprintf(stderr, "skyvisord: --tunnels wants mst, mst+backup or full-mesh\n");
                return 2;
            }
            break;
        case OPT_THREADS: {
            long n = strtol(optarg, &end, 10);
            if (*end || n < 1 || n > 256) {
                fprintf(stderr, "skyvisord: --threads wants 1 to 256\n");
                return 2;
            }
            o->threads = (unsigned int) n;
            break;
        }
        case OPT_AUDIT_INTERVAL: {
            long n = strtol(optarg, &end, 10);
            if (*end || n < 1 || n > 86400) {
                fprintf(stderr, "skyvisord: --audit-interval wants 1 to 86400 seconds\n");
                return 2;
            }
            o->audit_s = (unsigned int) n;
            break;
        }
        case OPT_BFD_MS: {
            long n = strtol(optarg, &end, 10);
            if (*end || n < 0 || n > 60000) {
                fprintf(stderr, "skyvisord: --bfd-ms wants 0 to 60000\n");
                return 2;
            }
            o->bfd_ms = n ? (int) n : -1;
            break;
        }
        case OPT_WAN_HOLDDOWN_MS: {
            long n = strtol(optarg, &end, 10);
            if (*end || n < 0 || n > 600000) {
                fprintf(stderr, "skyvisord: --wan-holddown-ms wants 0 to 600000\n");
                return 2;
            }
            o->holddown_ms = n ? (int) n : -1;
            break;
        }
        case OPT_MIGRATION_DRAIN_MS: {
            long n = strtol(optarg, &end, 10);
            if (*end || n < 0 || n > 60000) {
                fprintf(stderr, "skyvisord: --migration-drain-ms wants 0 to 60000\n");
                return 2;
            }
            o->drain_ms = (unsigned int) n;
            break;
        }
        case OPT_LEASE_MS:
        case OPT_HEARTBEAT_MS: {
            long n = strtol(optarg, &end, 10);
            if (*end || n < 50 || n > 600000) {
                fprintf(stderr, "skyvisord: --%s wants 50 to 600000 milliseconds\n",
                        c == OPT_LEASE_MS ? "lease-ms" : "heartbeat-ms");
                return 2;
            }
            *(c == OPT_LEASE_MS ? &o->lease_ms : &o->heartbeat_ms) = (unsigned int) n;
            break;
        }
        case OPT_CLOUDS: o->clouds = optarg; break;
        case OPT_LEASES: o->leases = true; break;
        case OPT_TLS_LISTEN: o->tls_listen = optarg; break;
        case OPT_TLS_CERT: o->tls_cert = optarg; break;
        case OPT_TLS_KEY: o->tls_key = optarg; break;
        case OPT_MAX_CONNS_PER_IP: {
            long n = strtol(optarg, &end, 10);
            if (*end || n < 0 || n > 4096) {
                fprintf(stderr, "skyvisord: --max-conns-per-ip wants 0 to 4096\n");
                return 2;
            }
            o->max_conns_per_ip = (unsigned int) n;
            break;
        }
        case OPT_LOG_LEVEL:
            if (vlog_parse_level(optarg, &level)) {
                fprintf(stderr, "skyvisord: --log-level wants debug, info, warn "
                        "or error\n");
                return 2;
            }
            vlog_set_level(level);
            break;
        case OPT_LIST_ROUTES: router_list(stdout); return 1;
        case OPT_VERSION: printf("skyvisord %s\n", SKYVISOR_VERSION); return 1;
        case OPT_HELP: usage(stdout); return 1;
        default: usage(stderr); return 2;
        }
    }
    if ((o->tls_listen || o->tls_cert || o->tls_key)
        && !(o->tls_listen && o->tls_cert && o->tls_key)) {
        fprintf(stderr, "skyvisord: HTTPS needs all of --tls-listen, --tls-cert "
                "and --tls-key\n");
        return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "skyvisord: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (o->no_reconciler && o->openflow_listen) {
        /* The listener belongs to the reconciler's controller: without it
         * bridges would connect to nothing. */
        fprintf(stderr, "skyvisord: --openflow-listen needs the reconciler "
                "(drop --no-reconciler)\n");
        return 2;
    }
    if (o->no_reconciler && o->leases) {
        fprintf(stderr, "skyvisord: --leases is for the reconciler (drop "
                "--no-reconciler)\n");
        return 2;
    }
    if ((o->ssl_key || o->ssl_cert || o->ssl_ca_cert)
        && !(o->ssl_key && o->ssl_cert && o->ssl_ca_cert)) {
        fprintf(stderr, "skyvisord: TLS needs all of --ssl-key, --ssl-cert and "
                "--ssl-ca-cert\n");
        return 2;
    }
    if (o->heartbeat_ms >= o->lease_ms) {
        fprintf(stderr, "skyvisord: --heartbeat-ms must be below --lease-ms\n");
        return 2;
    }
    if (o->openflow_listen && !strncmp(o->openflow_listen, "pssl:", 5) && !o->ssl_key) {
        fprintf(stderr, "skyvisord: --openflow-listen pssl: needs --ssl-key, "
                "--ssl-cert and --ssl-ca-cert\n");
        return 2;
    }
    return 0;
}

/* Splits --clouds "a,b" into names[] (at most max, pointing into 'buf', a
 * copy the caller keeps).  Returns the count, or -1 for a name that is not
 * one a cloud may have. */
static int
split_clouds(char *buf, const char **names, int max)
{
    int n = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        size_t len = strlen(t);
        if (n == max || len < 1 || len > 63 || t[0] == '-' || t[len - 1] == '-'
            || strspn(t, "abcdefghijklmnopqrstuvwxyz0123456789-") != len) {
            return -1;
        }
        names[n++] = t;
    }
    return n;
}

/* The reconciler the lease keeper wakes when its grants change (set once
 * the reconciler runs). */
static _Atomic(struct reconciler *) grants_reader;

static void
grants_changed(void *aux)
{
    (void) aux;
    struct reconciler *r = atomic_load(&grants_reader);
    if (r) {
        reconciler_kick(r);
    }
}

/* --leases: the reconciler asks the lease keeper (ctrl/reconciler.h). */
static bool
owner_owns(void *aux, const char *cloud_id, uint64_t *epoch, uint64_t *deadline_ms)
{
    struct lease_grant g;
    if (!lease_keeper_owns(aux, cloud_id, &g)) {
        return false;
    }
    *epoch = g.epoch;
    *deadline_ms = g.deadline_ms;
    return true;
}

static void
owner_fenced(void *aux, const char *cloud_id, uint64_t epoch)
{
    lease_keeper_fenced(aux, cloud_id, epoch);
}

/* Registers this instance and starts its lease keeper.  NULL on failure. */
static struct lease_keeper *
start_keeper(const struct options *o, const char *conninfo)
{
    char host[256] = "localhost", name[320], pins_buf[1024];
    const char *pins[64];
    gethostname(host, sizeof host - 1);
    snprintf(name, sizeof name, "%s:%s", host, o->listen);
    snprintf(pins_buf, sizeof pins_buf, "%s", o->clouds ? o->clouds : "");
    int n = split_clouds(pins_buf, pins, 64);
    if (n < 0) {
        vlog(VLOG_ERR, "main", "--clouds wants cloud names separated by commas");
        return NULL;
    }
    struct lease_keeper_options ko = {
        .conninfo = conninfo, .name = name, .api_address = o->listen,
        .openflow_address = o->openflow_listen, .pins = pins, .n_pins = (size_t) n,
        .lease_ms = o->lease_ms, .heartbeat_ms = o->heartbeat_ms,
        .changed = grants_changed,
    };
    return lease_keeper_start(&ko);
}

/* Connects once to apply the migrations.  Returns 0 or 1. */
static int
prepare_schema(const char *conninfo)
{
    struct db_conn *c = db_conn_create(conninfo);
    if (!c) {
        return 1;
    }
    char err[512];
    int error = migrate_apply(c, db_mig_files, db_mig_count, err, sizeof err);
    db_conn_destroy(c);
    if (error) {
        vlog(VLOG_ERR, "db", "%s", err);
        return 1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    struct options opt;
    int rc = parse_options(argc, argv, &opt);
    if (rc) {
        return rc == 1 ? 0 : 2;
    }
    const char *token = getenv("SKYVISOR_ADMIN_TOKEN");
    if (opt.admin_token_file) {
        char err[512];
        if (token && *token) {
            fprintf(stderr, "skyvisord: give the admin token either in "
                    "SKYVISOR_ADMIN_TOKEN or with --admin-token-file, not both\n");
            return 2;
        }
        if (auth_admin_file_load(opt.admin_token_file, err, sizeof err)) {
            fprintf(stderr, "skyvisord: %s\n", err);
            return 2;
        }
        token = NULL;
    } else if (!token || strlen(token) < AUTH_MIN_ADMIN_TOKEN) {
        fprintf(stderr, "skyvisord: set SKYVISOR_ADMIN_TOKEN to the admin token "
                "(at least %d characters), or use --admin-token-file\n",
                AUTH_MIN_ADMIN_TOKEN);
        return 2;
    }
    if (opt.ssl_key) {
        char err[512];
        if (stream_tls_configure(opt.ssl_key, opt.ssl_cert, opt.ssl_ca_cert, err,
                                 sizeof err)) {
            fprintf(stderr, "skyvisord: TLS: %s\n", err);
            return 2;
        }
    }

    /* Block the stop signals before any thread starts, so that every thread
     * inherits the mask and only sigwait() below takes them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    vlog(VLOG_INFO, "main", "skyvisord %s starting", SKYVISOR_VERSION);
    struct embedded_pg *pg = NULL;
    const char *conninfo = opt.db;
    if (!conninfo) {
        char err[512];
        pg = embedded_pg_start(opt.data_dir, &conninfo, err, sizeof err);
        if (!pg) {
            vlog(VLOG_ERR, "db", "%s", err);
            return 1;
        }
    }
    struct db_pool *pool = NULL;
    struct api_server *http = NULL;
    struct recon_db *recon = NULL;
    struct lifecycle_store *life = NULL;
    struct lease_keeper *keeper = NULL;
    struct vswitch_store *agent = NULL;
    struct readsnap *readsnap = NULL;
    rc = 1;
    if (prepare_schema(conninfo)) {
        goto out;
    }
    pool = db_pool_create(conninfo, opt.threads);
    if (!pool) {
        goto out;
    }
    keeper = start_keeper(&opt, conninfo);
    if (!keeper) {
        goto out;
    }
    struct api_config config = {
        .admin_token = token,
        .admin_token_file = opt.admin_token_file,
        .pool = pool,
        .openapi_json = api_openapi_files[0].data,
        .layout = opt.tunnels,
        .keeper = keeper,
    };
    /* GETs of clouds, hosts and tenants from memory (its own thread); without
     * it they read PostgreSQL, as every other GET does. */
    readsnap = readsnap_start(conninfo);
    config.readsnap = readsnap;
    if (!opt.no_reconciler) {
        char target[128];
        const char *of = opt.openflow_listen ? opt.openflow_listen : "";
        bool pssl = !strncmp(of, "pssl:", 5);
        snprintf(target, sizeof target, "%s:%s", pssl ? "ssl" : "tcp", of + (pssl ? 5 : 0));
        struct recon_options ro = {
            .layout = opt.tunnels,
            .openflow_listen = opt.openflow_listen ? target : NULL,
            .audit_ms = opt.audit_s * 1000,
            .bfd_ms = opt.bfd_ms,
            .holddown_ms = opt.holddown_ms,
        };
        static struct recon_owner_ops owner = {
            .owns = owner_owns, .fenced = owner_fenced,
        };
        if (opt.leases) {
            owner.aux = keeper;
            ro.owner = &owner;
        }
        recon = recon_db_start(conninfo, &ro);
        if (!recon) {
            goto out;
        }
        config.recon = recon_db_reconciler(recon);
        atomic_store(&grants_reader, config.recon);
        life = lifecycle_store_start(conninfo, config.recon, opt.drain_ms);
        if (!life) {
            goto out;
        }
        /* The tenants' controllers: a virtual switch each (its own thread). */
        agent = vswitch_store_start(conninfo, config.recon, opt.leases ? keeper : NULL);
        if (!agent) {
            goto out;
        }
        config.tenant_ctl = vswitch_store_agent(agent);
    }
    struct http_options ho = {
        .listen = opt.listen,
        .threads = opt.threads,
        .max_conns_per_ip = opt.max_conns_per_ip,
        .tls_listen = opt.tls_listen,
        .tls_cert = opt.tls_cert,
        .tls_key = opt.tls_key,
    };
    http = http_start(&ho, &config);
    if (!http) {
        goto out;
    }
    vlog(VLOG_INFO, "main", "ready");
    int sig = 0;
    while (sigwait(&stop, &sig) || sig == SIGHUP) {
        if (sig == SIGHUP) {
            vlog(VLOG_INFO, "main", "received SIGHUP: reloading the HTTPS certificate");
            http_reload(http);
            sig = 0;
        }
    }
    vlog(VLOG_INFO, "main", "received %s, shutting down", strsignal(sig));
    rc = 0;

out:
    http_stop(http);
    readsnap_stop(readsnap);
    vswitch_store_stop(agent);
    atomic_store(&grants_reader, NULL);
    recon_db_stop(recon);
    lifecycle_store_stop(life);
    lease_keeper_stop(keeper);      /* after the writers stopped */
    db_pool_destroy(pool);
    embedded_pg_stop(pg);
    vlog(VLOG_INFO, "main", "stopped");
    return rc;
}
