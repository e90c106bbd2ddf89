/* fuzz_http_db.c: PostgreSQL stood in for, for the HTTP fuzz target.
 *
 * The target is linked with -Wl,--wrap for every libpq function db/ calls
 * on a connection (PQconnectdb, PQexec, PQprepare, PQexecPrepared,
 * PQstatus, PQreset, ...) and for the accessors of what a failure carries
 * (PQresultErrorField, PQcmdStatus, PQcmdTuples), plus nanosleep, so that
 * db/conn.c's transaction runner retries without waiting.  db/ itself runs
 * unchanged: its error classification, retries and COMMIT handling are
 * under test too.  Results are real PGresults built with
 * PQmakeEmptyPGresult/PQsetResultAttrs/PQsetvalue, so the code reading
 * them runs unchanged as well.
 *
 * The answers: each prepared statement is answered by its name from a
 * fixed world (two clouds, three hosts, tenant "acme" with its network
 * "net", switches s1 and s2, link l1, VMs web and db, a cloud link and two
 * audit rows), whose JSON is what skyvisord answered for the same objects
 * created through its API against PostgreSQL 15.  Every execution of a
 * statement, BEGIN or COMMIT reads one byte of the script (the fuzz
 * input's bytes after its first NUL; when they run out, every answer is
 * the ordinary one); its low three bits pick
 *     0-3  the ordinary answer (the world's rows),
 *     4    a variant (another revision, a full page of a list, the other
 *          token scope, an idempotency key used before, ...),
 *     5    no row (where PostgreSQL could answer none),
 *     6    an SQL error, the next byte choosing its SQLSTATE among those
 *          the statement can raise (class 23 and 22 only for writes and
 *          COMMIT; 40001, 40P01, 57014, 57P01 for anything),
 *     7    a lost connection, the next byte saying whether the server is
 *          back for PQreset (even) or stays down for the request (odd).
 * Like PostgreSQL, an error inside a transaction aborts it: later
 * statements fail with 25P02 and COMMIT answers ROLLBACK, until a
 * ROLLBACK TO SAVEPOINT.  The stand-in
 * never produces what PostgreSQL could not (a row with a missing column,
 * an INSERT ... RETURNING without its row, a constraint violation from a
 * SELECT), so a 500 is always a finding; it records whether it simulated
 * an outage or a concurrent writer (then a 503 is right), whether a COMMIT
 * succeeded and whether an idempotent replay was handed out (fdb_report).
 *
 * A prepared statement the stand-in has no rows for is named on stderr
 * and answered as a lost connection (its handler's failure path still
 * runs); SQL text it does not know (other than BEGIN, COMMIT, ROLLBACK and
 * savepoints) aborts the run.  A query added to db/ wants its answer
 * here.
 *
 * Single-threaded, like libFuzzer's loop; one connection. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/fuzz/fuzz_http.h"

/* --- the world --------------------------------------------------------- */

/* JSON with ' for " (no value holds a quote), turned into JSON at first
 * use. */
#define ST "'status':{'state':'pending','detail':null,'generation':1," \
           "'observed_generation':0}"
#define TS(t) "'created_at':'2026-12-01T23:23:" t "+00:00','updated_at':" \
              "'2026-12-01T23:23:" t "+00:00'"

#define CLOUD1 "57712437-7ae6-4a3e-9883-befc69cff429"
#define CLOUD2 "db4902bd-4011-4615-91dd-e78843414405"
#define HOST1 "9ac30743-a540-4f16-9c11-2734ebfa1b53"
#define HOST2 "1ef64dab-77e0-43ab-86a6-39350ab98132"
#define HOST3 "1b732002-a0b7-488f-9768-37b3e41ea110"
#define TENANT "dc74a620-826b-4f73-b93f-7935995f8502"
#define TOKEN1 "ea9bb326-47fc-467b-ba89-69706aeee743"
#define TOKEN2 "cd72a953-4ec9-451d-8613-0ba4a0fe672a"
#define NET "37cb7f55-ced2-4955-8dd5-741ae519160c"
#define SW1 "0b283537-601f-4866-8e76-9a2403be6b47"
#define SW2 "66796873-ff7c-4ee4-864a-32d7a606a2db"
#define LINK "f4ebf284-da9f-4822-a280-d3aed0902936"
#define VM1 "ae6edccd-ce96-4fb4-8585-a82cf06b86e1"
#define VM2 "91f940cf-065d-4fdd-bbac-8f3259ced881"
#define CLINK "a53df678-b918-4df6-86cb-a34c60ec0d7d"

#define HOST_JSON(id, name, cloud, cloud_id, role, ip, pub, cap, t)           \
    "{'id':'" id "','name':'" name "','labels':{}," TS(t) "," ST ","          \
    "'cloud':'" cloud "','cloud_id':'" cloud_id "','role':'" role "',"        \
    "'tunnel_ip':'" ip "','public_ip':" pub ",'capacity':" cap ","            \
    "'ovsdb':'unix:/run/sky/" name "/db.sock','bridge':'br-sky',"            \
    "'datapath':'system','openflow':'unix:/run/sky/" name "/br-sky.mgmt',"   \
    "'controller':null,'vm_count':0}"
#define VM_JSON(id, name, mac, ip, sw, placement, t)                          \
    "{'id':'" id "','name':'" name "','labels':{}," TS(t) "," ST ","          \
    "'network':'net','mac':'" mac "','ip':'" ip "','switch':'" sw "',"        \
    "'iface':null,'placement':" placement ",'host_id':'" HOST2 "',"           \
    "'host':'fra-w1','cloud':'aws-fra','power':'running','power_snapshot':"   \
    "null,'power_changed_at':null,'migration':null}"
#define ITEM(id, name) "{'id':'" id "','name':'" name "'," ST "}"
#define SNAP "5c1e0e0e-8d1a-4c55-9a51-1f3a7b1f0001"
#define MIG "5c1e0e0e-8d1a-4c55-9a51-1f3a7b1f0002"

struct fdb_obj {
    const char *kind;       /* the statement prefix: "cloud" */
    const char *id, *name;
    const char *json;
};

static struct fdb_obj world[] = {
    {"cloud", CLOUD1, "aws-fra",
     "{'id':'" CLOUD1 "','name':'aws-fra','labels':{'env':'prod'}," TS("19.418008")
     "," ST ",'provider':'aws','region':'eu-central-1','jurisdiction':'DE',"
     "'kind':'public','cost_per_hour':'0.096','gateway':{'id':'" HOST1 "',"
     "'name':'fra-gw','public_ip':'203.0.113.1'}}"},
    {"cloud", CLOUD2, "gcp-us",
     "{'id':'" CLOUD2 "','name':'gcp-us','labels':{}," TS("19.424273") "," ST
     ",'provider':'gcp','region':'us-east1','jurisdiction':'US','kind':'public',"
     "'cost_per_hour':'0','gateway':null}"},
    {"host", HOST1, "fra-gw", HOST_JSON(HOST1, "fra-gw", "aws-fra", CLOUD1,
     "gateway", "198.18.0.1", "'203.0.113.1'", "16", "19.42571")},
    {"host", HOST2, "fra-w1", HOST_JSON(HOST2, "fra-w1", "aws-fra", CLOUD1,
     "host", "198.18.0.2", "null", "8", "19.42945")},
    {"host", HOST3, "us-gw", HOST_JSON(HOST3, "us-gw", "gcp-us", CLOUD2,
     "gateway", "198.18.0.3", "'203.0.113.3'", "16", "19.431153")},
    {"tenant", TENANT, "acme",
     "{'id':'" TENANT "','name':'acme','labels':{}," TS("19.436234") "," ST
     ",'tag':1}"},
    {"token", TOKEN1, "ci",
     "{'id':'" TOKEN1 "','name':'ci','tenant_id':'" TENANT "','scope':"
     "'read-write','expires_at':null,'last_used_at':null,'created_by':'admin',"
     "'created_at':'2026-12-01T23:23:19.440644+00:00'}"},
    {"token", TOKEN2, "ro",
     "{'id':'" TOKEN2 "','name':'ro','tenant_id':'" TENANT "','scope':"
     "'read-only','expires_at':null,'last_used_at':null,'created_by':'admin',"
     "'created_at':'2026-12-01T23:23:19.442362+00:00'}"},
    {"network", NET, "net",
     "{'id':'" NET "','name':'net','labels':{}," TS("19.443613") "," ST
     ",'tenant':'acme','tenant_id':'" TENANT "','tagging':'mac-prefix',"
     "'subnet':'10.0.0.0/24'}"},
    {"switch", SW1, "s1",
     "{'id':'" SW1 "','name':'s1','labels':{}," TS("19.445957") "," ST
     ",'network':'net'}"},
    {"switch", SW2, "s2",
     "{'id':'" SW2 "','name':'s2','labels':{}," TS("19.448846") "," ST
     ",'network':'net'}"},
    {"link", LINK, "l1",
     "{'id':'" LINK "','name':'l1','labels':{}," TS("19.450331") "," ST
     ",'network':'net','a':'s1','b':'s2','bandwidth_mbps':null}"},
    {"vm", VM1, "web", VM_JSON(VM1, "web", "02:00:00:00:00:01", "10.0.0.5", "s1",
                               "{'cloud':'aws-fra'}", "19.453907")},
    {"vm", VM2, "db", VM_JSON(VM2, "db", "02:00:00:00:00:02", "10.0.0.6", "s2",
                              "{'host':'fra-w1'}", "19.458372")},
    {"cloudlink", CLINK, "aws-fra/gcp-us",
     "{'cloud_a':'aws-fra','cloud_b':'gcp-us','cost':2,'rtt_ms':80,"
     "'bandwidth_mbps':null," TS("19.433427") "}"},
    {"audit", "16", "16",
     "{'id':16,'at':'2026-12-01T23:23:19.458372+00:00','actor':'admin',"
     "'kind':'vm','object_id':'" VM2 "','op':'create','old':null,'new':{'id':'"
     VM2 "','ip':'10.0.0.6','mac':'02:00:00:00:00:02','name':'db','iface':null,"
     "'labels':{},'host_id':'" HOST2 "','wire_low':2,'placement':{'host':"
     "'fra-w1'},'switch_id':'" SW2 "','tenant_id':'" TENANT "','created_at':"
     "'2026-12-01T23:23:19.458372+00:00','network_id':'" NET "'}}"},
    {"audit", "15", "15",
     "{'id':15,'at':'2026-12-01T23:23:19.453907+00:00','actor':'admin',"
     "'kind':'network','object_id':'" NET "','op':'update','old':{'name':"
     "'net'},'new':{'name':'net'}}"},
    {"snapshot", SNAP, "snap-1",
     "{'id':'" SNAP "','name':'snap-1','vm':'web','vm_id':'" VM1 "','reason':"
     "'manual','labels':{},'state':'ready','detail':null,'mac':"
     "'02:00:00:00:00:01','ip':'10.0.0.5','switch':'s1','switch_id':'" SW1 "',"
     "'host':'fra-w1','host_id':'" HOST2 "','size_bytes':120,"
     "'capture_started_at':'2026-12-01T23:24:00+00:00','captured_at':"
     "'2026-12-01T23:24:01+00:00','capture_times':{},'generation':2,"
     TS("24.000000") ",'content':{'flows':[]}}"},
    {"migration", MIG, "m1",
     "{'id':'" MIG "','vm':'web','vm_id':'" VM1 "','from_host':'fra-w1',"
     "'from_host_id':'" HOST2 "','from_cloud':'aws-fra','to_host':'fra-gw',"
     "'to_host_id':'" HOST1 "','to_cloud':'aws-fra','target':{'host':'fra-gw'},"
     "'phase':'dual','phase_times':{'prepare':'2026-12-01T23:25:00+00:00',"
     "'dual':'2026-12-01T23:25:01+00:00'},'counters':{'duplicated':0,"
     "'to_controller':0,'flows_cloned':3},'detail':null,'dual_timeout_s':300,"
     "'rollback_requested_at':null,'activate_requested_at':null,"
     "'finished_at':null,'generation':2," TS("25.000000") "}"},
    {"stats", VM1, "web",
     "{'vm':'web','vm_id':'" VM1 "','host':'fra-w1','host_id':'" HOST2 "',"
     "'power':'running','as_of':'2026-12-01T23:26:00+00:00','rx_packets':10,"
     "'rx_bytes':1000,'rx_dropped':0,'tx_packets':9,'tx_bytes':900,"
     "'tx_dropped':0,'duplicated':0,'migration':null}"},
    {"status", NET, "net",
     "{'network':" ITEM(NET, "net") ",'switches':[" ITEM(SW1, "s1") ","
     ITEM(SW2, "s2") "],'links':[" ITEM(LINK, "l1") "],'vms':[" ITEM(VM2, "db")
     "," ITEM(VM1, "web") "],'summary':{'pending':6,'realized':0,'error':0}}"},
    {"topology", NET, "net",
     "{'network':{'id':'" NET "','name':'net','subnet':'10.0.0.0/24',"
     "'tagging':'mac-prefix'," ST "},'switches':[{'id':'" SW1 "','name':'s1',"
     ST ",'vms':[{'id':'" VM1 "','name':'web','mac':'02:00:00:00:00:01',"
     "'ip':'10.0.0.5','host':'fra-w1','cloud':'aws-fra'," ST "}]},{'id':'" SW2
     "','name':'s2'," ST ",'vms':[{'id':'" VM2 "','name':'db','mac':"
     "'02:00:00:00:00:02','ip':'10.0.0.6','host':'fra-w1','cloud':'aws-fra',"
     ST "}]}],'links':[{'id':'" LINK "','name':'l1','a':'s1','b':'s2'," ST "}]}"},
};
#define N_WORLD (sizeof world / sizeof world[0])

/* The desired state as db/state.c reads it: the same world, by table, in
 * the statements' column order (rows ordered by id). */
#define COMMON(id, name) id, name, "1", "0", "pending", NULL
static const char *const st_clouds[][6] = {{COMMON(CLOUD1, "aws-fra")},
                                           {COMMON(CLOUD2, "gcp-us")}};
static const char *const st_hosts[][15] = {
    {COMMON(HOST3, "us-gw"), CLOUD2, "t", "198.18.0.3", "203.0.113.3",
     "unix:/run/sky/us-gw/db.sock", "br-sky", "system",
     "unix:/run/sky/us-gw/br-sky.mgmt", ""},
    {COMMON(HOST2, "fra-w1"), CLOUD1, "f", "198.18.0.2", NULL,
     "unix:/run/sky/fra-w1/db.sock", "br-sky", "system",
     "unix:/run/sky/fra-w1/br-sky.mgmt", ""},
    {COMMON(HOST1, "fra-gw"), CLOUD1, "t", "198.18.0.1", "203.0.113.1",
     "unix:/run/sky/fra-gw/db.sock", "br-sky", "system",
     "unix:/run/sky/fra-gw/br-sky.mgmt", ""},
};
static const char *const st_tenants[][8] = {{COMMON(TENANT, "acme"), "1", "0"}};
static const char *const st_networks[][8] = {{COMMON(NET, "net"), TENANT, "f"}};
static const char *const st_switches[][9] = {{COMMON(SW1, "s1"), NET, "1", "f"},
                                             {COMMON(SW2, "s2"), NET, "2", "f"}};
static const char *const st_links[][9] = {{COMMON(LINK, "l1"), NET, SW1, SW2}};
static const char *const st_vms[][16] = {
    {COMMON(VM2, "db"), NET, SW2, HOST2, "02:00:00:00:00:02", "10.0.0.6", "2", "", "", "0",
     "0"},
    {COMMON(VM1, "web"), NET, SW1, HOST2, "02:00:00:00:00:01", "10.0.0.5", "1", "", "", "0",
     "0"},
};
static const char *const st_cloudlinks[][3] = {{CLOUD1, CLOUD2, "2"}};
/* The controlled switches' set (db/tenant_ctl.c): s1 names a controller,
 * its VM has port 1 and one flow (an empty match, no instruction). */
static const char *const st_ctl_switches[][1] = {{SW1}};
static const char *const st_ctl_ports[][4] = {{SW1, VM1, "1", "f"}};
static const char *const st_ctl_flows[][6] = {{SW1, "1", "0", "0", "0001000400000000", ""}};
/* placement_candidates: hosts with their clouds, by host name. */
static const char *const st_candidates[][9] = {
    {HOST1, "fra-gw", CLOUD1, "aws-fra", "DE", "t", "16", "0", "0.096"},
    {HOST2, "fra-w1", CLOUD1, "aws-fra", "DE", "f", "8", "2", "0.096"},
    {HOST3, "us-gw", CLOUD2, "gcp-us", "US", "t", "16", "0", "0"},
};

/* --- state of the simulated server -------------------------------------- */

enum txn { TXN_IDLE, TXN_OPEN, TXN_ABORTED };

static struct {
    const uint8_t *script;
    size_t len, pos;
    bool lost;              /* the connection is broken */
    bool down;              /* ... and PQreset cannot bring it back */
    enum txn txn;
    struct fdb_report report;
} fdb;

static char fdb_conn_token;
#define FDB_CONN ((PGconn *) &fdb_conn_token)

/* What a result carries that libpq has no setter for. */
struct fdb_extra {
    PGresult *res;
    char cmd[24];
    char sqlstate[6];
    char constraint[64];
    char column[16];
    char message[128];
};
static struct fdb_extra extras[64];

void
fdb_begin(const uint8_t *script, size_t len)
{
    fdb.script = script;
    fdb.len = len;
    fdb.pos = 0;
    fdb.lost = fdb.down = false;
    fdb.txn = TXN_IDLE;
    memset(&fdb.report, 0, sizeof fdb.report);
}

void
fdb_report(struct fdb_report *out)
{
    *out = fdb.report;
}

/* The next script byte; 0 (the ordinary answer) once it has run out. */
static unsigned int
next_byte(void)
{
    return fdb.pos < fdb.len ? fdb.script[fdb.pos++] : 0;
}

static void
fail(const char *what, const char *name)
{
    fprintf(stderr, "fuzz_http_db: no stand-in for %s '%s'\n", what, name);
    abort();
}

/* A statement the stand-in has no rows for: said once, on stderr, and
 * answered as a lost connection (the caller turns NULL into that), so that
 * a statement added to db/ costs its handler's happy path, not the run. */
static void
unknown(const char *name)
{
    static char seen[32][48];
    for (size_t i = 0; i < sizeof seen / sizeof seen[0]; i++) {
        if (!strcmp(seen[i], name)) {
            return;
        }
        if (!seen[i][0]) {
            snprintf(seen[i], sizeof seen[i], "%s", name);
            break;
        }
    }
    fprintf(stderr, "fuzz_http_db: no rows for statement '%s': answered as a lost "
            "connection; add it to tests/fuzz/fuzz_http_db.c\n", name);
}

static void
world_init(void)
{
    static bool done;
    if (done) {
        return;
    }
    done = true;
    for (size_t i = 0; i < N_WORLD; i++) {
        char *s = strdup(world[i].json);
        if (!s) {
            abort();
        }
        for (char *p = s; *p; p++) {
            *p = *p == '\'' ? '"' : *p;
        }
        world[i].json = s;
    }
}

/* --- results ------------------------------------------------------------ */

void __real_PQclear(PGresult *);
char *__real_PQresultErrorField(const PGresult *, int);
char *__real_PQresultErrorMessage(const PGresult *);
char *__real_PQcmdStatus(PGresult *);
char *__real_PQcmdTuples(PGresult *);

static struct fdb_extra *
extra_of(const PGresult *res)
{
    for (size_t i = 0; res && i < sizeof extras / sizeof extras[0]; i++) {
        if (extras[i].res == res) {
            return &extras[i];
        }
    }
    return NULL;
}

static struct fdb_extra *
result_new(ExecStatusType st)
{
    PGresult *res = PQmakeEmptyPGresult(NULL, st);
    struct fdb_extra *x = NULL;
    for (size_t i = 0; !x && i < sizeof extras / sizeof extras[0]; i++) {
        x = extras[i].res ? NULL : &extras[i];
    }
    if (!res || !x) {
        abort();                /* more live results than any handler keeps */
    }
    memset(x, 0, sizeof *x);
    x->res = res;
    return x;
}

static PGresult *
command(const char *tag)
{
    struct fdb_extra *x = result_new(PGRES_COMMAND_OK);
    snprintf(x->cmd, sizeof x->cmd, "%s", tag);
    return x->res;
}

static PGresult *
rows(int ncols)
{
    PGresAttDesc att[16];
    memset(att, 0, sizeof att);
    for (int i = 0; i < ncols; i++) {
        att[i].name = (char *) "c";
        att[i].typid = 25;          /* text */
        att[i].typlen = -1;
        att[i].atttypmod = -1;
    }
    PGresult *res = result_new(PGRES_TUPLES_OK)->res;
    if (!PQsetResultAttrs(res, ncols, att)) {
        abort();
    }
    return res;
}

static void
row_add(PGresult *res, const char *const *vals)
{
    int r = PQntuples(res);
    for (int c = 0; c < PQnfields(res); c++) {
        if (!PQsetvalue(res, r, c, (char *) vals[c], vals[c] ? (int) strlen(vals[c]) : -1)) {
            abort();
        }
    }
}

static PGresult *
err_result(const char *sqlstate, const char *message, const char *constraint,
      const char *column)
{
    struct fdb_extra *x = result_new(PGRES_FATAL_ERROR);
    if (sqlstate) {
        snprintf(x->sqlstate, sizeof x->sqlstate, "%s", sqlstate);
    }
    snprintf(x->message, sizeof x->message, "%s", message);
    snprintf(x->constraint, sizeof x->constraint, "%s", constraint ? constraint : "");
    snprintf(x->column, sizeof x->column, "%s", column ? column : "");
    return x->res;
}

/* A lost connection: the server is gone (for PQreset too when 'down'). */
static PGresult *
lose(bool down)
{
    fdb.lost = true;
    fdb.down = fdb.down || down;
    fdb.txn = TXN_IDLE;
    fdb.report.outage = true;
    return err_result(NULL, "server closed the connection unexpectedly", NULL, NULL);
}

/* An SQL error picked by 'b' among what a statement of this class can
 * raise; aborts the transaction. */
static PGresult *
sql_error(unsigned int b, bool write, bool commit)
{
    static const struct {
        const char *state, *message, *constraint, *column;
        bool outage;
    } any[] = {
        {"40001", "could not serialize access due to concurrent update", 0, 0, true},
        {"40P01", "deadlock detected", 0, 0, true},
        {"57014", "canceling statement due to statement timeout", 0, 0, true},
    }, writes[] = {
        {"23505", "duplicate key value violates unique constraint", "cloud_name_key", 0, 0},
        {"23505", "duplicate key value violates unique constraint", "vlink_pair", 0, 0},
        {"23505", "duplicate key value violates unique constraint",
         "vm_network_id_mac_key", 0, 0},
        {"23505", "duplicate key value violates unique constraint",
         "host_cloud_public_ip", 0, 0},
        {"23514", "cloud already has two gateways", "host_two_gateways_per_cloud", 0, 0},
        {"23503", "update or delete violates foreign key constraint", "vm_host_id_fkey", 0, 0},
        {"23514", "new row violates check constraint", "host_capacity_check", 0, 0},
        {"23502", "null value in column \"tag\" violates not-null constraint", 0, "tag", 0},
        {"22P02", "invalid input syntax for type numeric: \"x\"", 0, 0, 0},
        {"22003", "value out of range for type integer", 0, 0, 0},
        {"22001", "value too long for type character varying(63)", 0, 0, 0},
    }, commits[] = {
        {"23505", "duplicate key value violates unique constraint", "vlink_pair", 0, 0},
        {"23503", "insert or update violates foreign key constraint", "vm_switch_fkey", 0, 0},
        {"40001", "could not serialize access due to read/write dependencies", 0, 0, true},
    };
    size_t n_any = sizeof any / sizeof any[0];
    size_t n_extra = commit ? sizeof commits / sizeof commits[0]
                     : write ? sizeof writes / sizeof writes[0] : 0;
    size_t i = b % (n_any + n_extra + 1);
    if (i == n_any + n_extra) {
        /* The server shutting down: the error, then no connection. */
        PGresult *res = err_result("57P01", "terminating connection due to "
                              "administrator command", NULL, NULL);
        fdb.lost = true;
        fdb.txn = TXN_IDLE;
        fdb.report.outage = true;
        return res;
    }
    if (fdb.txn == TXN_OPEN) {
        fdb.txn = TXN_ABORTED;
    }
    if (i < n_any) {
        fdb.report.outage = true;
        return err_result(any[i].state, any[i].message, any[i].constraint, any[i].column);
    }
    i -= n_any;
    if (commit) {
        fdb.report.outage = fdb.report.outage || commits[i].outage;
        return err_result(commits[i].state, commits[i].message, commits[i].constraint,
                     commits[i].column);
    }
    return err_result(writes[i].state, writes[i].message, writes[i].constraint,
                 writes[i].column);
}

/* --- prepared statements ------------------------------------------------- */

enum op { OP_ROWS, OP_VARIANT, OP_NONE };

/* The world's objects of 'kind': first index and count. */
static size_t
world_kind(const char *kind, size_t *n)
{
    size_t first = N_WORLD;
    *n = 0;
    for (size_t i = 0; i < N_WORLD; i++) {
        if (!strcmp(world[i].kind, kind)) {
            first = *n ? first : i;
            (*n)++;
        }
    }
    return first;
}

/* The object a get names by id ($2) or name ($3); the first of its kind
 * for a key the world does not hold (there is always some object). */
static const struct fdb_obj *
world_find(const char *kind, const char *id, const char *name)
{
    size_t n, first = world_kind(kind, &n);
    for (size_t i = first; i < first + n; i++) {
        if ((id && !strcmp(world[i].id, id)) || (name && !strcmp(world[i].name, name))) {
            return &world[i];
        }
    }
    return &world[first];
}

/* (json, revision, id) */
static PGresult *
object_row(const struct fdb_obj *o, enum op op)
{
    PGresult *res = rows(3);
    if (op != OP_NONE) {
        const char *v[] = {o->json, op == OP_VARIANT ? "7" : "1", o->id};
        row_add(res, v);
    }
    return res;
}

/* (json, key) rows: the world's objects of 'kind', or with the variant a
 * full page of 'limit' rows (so that a next cursor is handed out). */
static PGresult *
list_rows(const char *kind, enum op op, const char *limit)
{
    size_t n, first = world_kind(kind, &n);
    PGresult *res = rows(2);
    long want = op == OP_NONE ? 0 : op == OP_VARIANT ? strtol(limit ? limit : "0", NULL, 10)
                                                     : (long) n;
    want = want < 0 ? 0 : want > 300 ? 300 : want;
    for (long i = 0; i < want; i++) {
        const struct fdb_obj *o = &world[first + (size_t) i % n];
        const char *v[] = {o->json, o->name};
        row_add(res, v);
    }
    return res;
}

#define TABLE_ROWS(t, op)                                                     \
    table_rows(&(t)[0][0], sizeof (t) / sizeof (t)[0],                        \
               (int) (sizeof (t)[0] / sizeof (t)[0][0]), op)
static PGresult *
table_rows(const char *const *cells, size_t n, int ncols, enum op op)
{
    PGresult *res = rows(ncols);
    for (size_t i = 0; op != OP_NONE && i < n; i++) {
        row_add(res, cells + i * (size_t) ncols);
    }
    return res;
}

static PGresult *
one_value(const char *v)
{
    PGresult *res = rows(1);
    row_add(res, &v);
    return res;
}

static const char *
param(int n, const char *const *params, int i)
{
    return i < n ? params[i] : NULL;
}

/* Statements of the resource convention (store.h): KIND_get, _list,
 * _insert, _update, _delete.  NULL when 'name' is not one of them. */
static PGresult *
resource(const char *name, enum op op, int n, const char *const *params,
         bool *known)
{
    static const char *const kinds[] = {"cloud", "host", "tenant", "network",
                                        "switch", "link", "vm", "token",
                                        "snapshot"};
    const char *us = strchr(name, '_');
    *known = false;
    if (!us) {
        return NULL;
    }
    char kind[16];
    snprintf(kind, sizeof kind, "%.*s", (int) (us - name), name);
    const char *verb = us + 1;
    bool ok = false;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        ok = ok || !strcmp(kind, kinds[i]);
    }
    if (!ok) {
        return NULL;
    }
    *known = true;
    if (!strcmp(verb, "get")) {
        return object_row(world_find(kind, param(n, params, 1), param(n, params, 2)),
                          op);
    }
    if (!strcmp(verb, "list")) {
        return list_rows(kind, op, param(n, params, 2));
    }
    if (!strcmp(verb, "insert")) {
        /* INSERT ... RETURNING always has its row. */
        return object_row(world_find(kind, NULL, NULL), op == OP_NONE ? OP_ROWS : op);
    }
    if (!strcmp(verb, "update")) {
        fdb.report.contended = fdb.report.contended || op == OP_NONE;
        return object_row(world_find(kind, param(n, params, 1), NULL), op);
    }
    if (!strcmp(verb, "delete")) {
        fdb.report.contended = fdb.report.contended || op != OP_ROWS;
        return command(op == OP_ROWS ? "DELETE 1" : "DELETE 0");
    }
    *known = false;
    return NULL;
}

static bool
is_write(const char *name)
{
    size_t n = strlen(name);
    static const char *const ends[] = {"_insert", "_update", "_delete", "_put"};
    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
        size_t k = strlen(ends[i]);
        if (n > k && !strcmp(name + n - k, ends[i])) {
            return true;
        }
    }
    return false;
}

/* $FDB_TRACE: every statement and what it was answered, for triage. */
static void
trace(const char *what, const char *name, unsigned int b)
{
    static int on = -1;
    if (on < 0) {
        on = getenv("FDB_TRACE") != NULL;
    }
    if (on) {
        fprintf(stderr, "fdb: %-22s %-40.40s byte %u (txn %d)\n", what, name, b,
                (int) fdb.txn);
    }
}

static PGresult *
answer(const char *name, enum op op, int n, const char *const *params)
{
    bool known;
    PGresult *res = resource(name, op, n, params, &known);
    if (known) {
        return res;
    }
    if (!strcmp(name, "token_auth")) {
        bool ro = !strcmp(params[0], FDB_TOKEN_RO);
        if (op == OP_NONE || (!ro && strcmp(params[0], FDB_TOKEN_RW))) {
            return rows(5);
        }
        /* (tenant, token, read-only, the path's tenant, stamp due); the
         * variant flips the scope and the stamp. */
        const char *t = param(n, params, 1);
        bool own = t && (!strcmp(t, TENANT) || !strcmp(t, "acme"));
        bool variant = op == OP_VARIANT;
        const char *v[] = {TENANT, ro ? TOKEN2 : TOKEN1, ro != variant ? "t" : "f",
                           own ? "t" : "f", variant ? "f" : "t"};
        res = rows(5);
        row_add(res, v);
        return res;
    }
    if (!strcmp(name, "token_touch")) {
        return command(op == OP_ROWS ? "UPDATE 1" : "UPDATE 0");
    }
    if (!strcmp(name, "tenant_lock") || !strcmp(name, "vm_lock")) {
        return one_value("");
    }
    if (!strcmp(name, "ping")) {
        return one_value("1");
    }
    if (!strcmp(name, "changelog_position")) {
        return one_value("7431");      /* a write's Skyvisor-Seq */
    }
    if (!strcmp(name, "idem_claim")) {
        return command(op == OP_ROWS ? "INSERT 0 1" : "INSERT 0 0");
    }
    if (!strcmp(name, "idem_lookup")) {
        /* After a claim that found the key, the record is there. */
        const char *v[] = {"201", world_find("tenant", NULL, NULL)->json,
                           "/v1/tenants/" TENANT, op == OP_VARIANT ? "f" : "t"};
        res = rows(4);
        row_add(res, v);
        fdb.report.replayed = fdb.report.replayed || op != OP_VARIANT;
        return res;
    }
    if (!strcmp(name, "idem_finish")) {
        return command("UPDATE 1");
    }
    if (!strcmp(name, "audit_list")) {
        return list_rows("audit", op, param(n, params, 4));
    }
    if (!strcmp(name, "placement_candidates")) {
        return TABLE_ROWS(st_candidates, op);
    }
    if (!strcmp(name, "network_vm_count")) {
        return one_value(op == OP_VARIANT ? "0" : "2");
    }
    if (!strcmp(name, "network_status") || !strcmp(name, "network_topology")) {
        res = rows(1);
        if (op != OP_NONE) {
            row_add(res, &world_find(name + 8, NULL, NULL)->json);
        }
        return res;
    }
    if (!strcmp(name, "vm_stop") || !strcmp(name, "vm_start")) {
        /* UPDATE ... WHERE power = ...: no row when it was not. */
        return object_row(world_find("vm", param(n, params, 1), NULL), op);
    }
    if (!strcmp(name, "vm_stats_document")) {
        res = rows(1);
        if (op != OP_NONE) {
            row_add(res, &world_find("stats", NULL, NULL)->json);
        }
        return res;
    }
    if (!strcmp(name, "snapshot_latest")) {
        return object_row(world_find("snapshot", NULL, NULL), op);
    }
    if (!strcmp(name, "snapshot_diff")) {
        return op == OP_NONE ? rows(1) : one_value(op == OP_VARIANT ? "3" : "0");
    }
    if (!strcmp(name, "vm_migration_get") || !strcmp(name, "vm_migration_insert")
        || !strcmp(name, "vm_migration_request")) {
        return object_row(world_find("migration", NULL, NULL), op);
    }
    if (!strcmp(name, "vm_migration_list")) {
        return list_rows("migration", op, param(n, params, 2));
    }
    if (!strcmp(name, "cloudlink_get") || !strcmp(name, "cloudlink_lock")) {
        return object_row(world_find("cloudlink", NULL, NULL), op);
    }
    if (!strcmp(name, "cloudlink_list")) {
        return list_rows("cloudlink", op, param(n, params, 1));
    }
    if (!strcmp(name, "cloudlink_put")) {
        /* An upsert always returns its row: (json, revision, id, created). */
        const struct fdb_obj *o = world_find("cloudlink", NULL, NULL);
        const char *v[] = {o->json, op == OP_VARIANT ? "7" : "1", o->id,
                           op == OP_VARIANT ? "f" : "t"};
        res = rows(4);
        row_add(res, v);
        return res;
    }
    if (!strcmp(name, "cloudlink_delete")) {
        fdb.report.contended = fdb.report.contended || op != OP_ROWS;
        return command(op == OP_ROWS ? "DELETE 1" : "DELETE 0");
    }
    /* The desired state: consistent by foreign keys, so all of it. */
    static const struct {
        const char *name;
        const char *const *cells;
        size_t n;
        int ncols;
    } state[] = {
#define S(name, t) {name, &(t)[0][0], sizeof (t) / sizeof (t)[0],            \
                    (int) (sizeof (t)[0] / sizeof (t)[0][0])}
        S("state_clouds", st_clouds), S("state_hosts", st_hosts),
        S("state_tenants", st_tenants), S("state_networks", st_networks),
        S("state_switches", st_switches), S("state_links", st_links),
        S("state_vms", st_vms), S("state_cloudlinks", st_cloudlinks),
        S("tenant_ctl_set_switches", st_ctl_switches),
        S("tenant_ctl_set_ports", st_ctl_ports), S("tenant_ctl_set_flows", st_ctl_flows),
#undef S
    };
    for (size_t i = 0; i < sizeof state / sizeof state[0]; i++) {
        if (!strcmp(name, state[i].name)) {
            return table_rows(state[i].cells, state[i].n, state[i].ncols, OP_ROWS);
        }
    }
    unknown(name);
    return NULL;
}

/* --- the wrapped libpq --------------------------------------------------- */

PGconn *__wrap_PQconnectdb(const char *);
void __wrap_PQfinish(PGconn *);
ConnStatusType __wrap_PQstatus(const PGconn *);
PGTransactionStatusType __wrap_PQtransactionStatus(const PGconn *);
void __wrap_PQreset(PGconn *);
char *__wrap_PQerrorMessage(const PGconn *);
PGresult *__wrap_PQexec(PGconn *, const char *);
PGresult *__wrap_PQprepare(PGconn *, const char *, const char *, int, const Oid *);
PGresult *__wrap_PQexecPrepared(PGconn *, const char *, int, const char *const *,
                                const int *, const int *, int);
void __wrap_PQclear(PGresult *);
char *__wrap_PQresultErrorField(const PGresult *, int);
char *__wrap_PQresultErrorMessage(const PGresult *);
char *__wrap_PQcmdStatus(PGresult *);
char *__wrap_PQcmdTuples(PGresult *);
int __wrap_nanosleep(const struct timespec *, struct timespec *);

PGconn *
__wrap_PQconnectdb(const char *conninfo)
{
    (void) conninfo;
    world_init();
    return FDB_CONN;
}

void
__wrap_PQfinish(PGconn *c)
{
    (void) c;
}

ConnStatusType
__wrap_PQstatus(const PGconn *c)
{
    (void) c;
    return fdb.lost ? CONNECTION_BAD : CONNECTION_OK;
}

PGTransactionStatusType
__wrap_PQtransactionStatus(const PGconn *c)
{
    (void) c;
    return fdb.lost ? PQTRANS_UNKNOWN
           : fdb.txn == TXN_OPEN ? PQTRANS_INTRANS
           : fdb.txn == TXN_ABORTED ? PQTRANS_INERROR : PQTRANS_IDLE;
}

void
__wrap_PQreset(PGconn *c)
{
    (void) c;
    if (!fdb.down) {
        fdb.lost = false;
        fdb.txn = TXN_IDLE;
    }
}

char *
__wrap_PQerrorMessage(const PGconn *c)
{
    (void) c;
    return (char *) (fdb.lost ? "server closed the connection unexpectedly\n" : "");
}

static PGresult *
no_connection(void)
{
    return err_result(NULL, "no connection to the server", NULL, NULL);
}

PGresult *
__wrap_PQexec(PGconn *c, const char *sql)
{
    (void) c;
    trace("sql", sql, fdb.pos < fdb.len ? fdb.script[fdb.pos] & 7 : 0);
    if (fdb.lost) {
        return no_connection();
    }
    if (!strncmp(sql, "SET TimeZone", 12)) {
        return command("SET");
    }
    if (!strcmp(sql, "ROLLBACK")) {
        fdb.txn = TXN_IDLE;
        return command("ROLLBACK");
    }
    bool begin = !strncmp(sql, "BEGIN", 5), commit = !strcmp(sql, "COMMIT");
    if (!strncmp(sql, "SAVEPOINT ", 10) || !strncmp(sql, "RELEASE SAVEPOINT ", 18)
        || !strncmp(sql, "ROLLBACK TO SAVEPOINT ", 22)) {
        /* Only ROLLBACK TO a savepoint works in an aborted transaction, and
         * it makes the transaction usable again. */
        if (fdb.txn == TXN_IDLE) {
            return err_result("25P01", "SAVEPOINT can only be used in transaction "
                              "blocks", NULL, NULL);
        }
        if (sql[0] == 'R' && sql[9] == 'T') {
            fdb.txn = TXN_OPEN;
        } else if (fdb.txn == TXN_ABORTED) {
            return err_result("25P02", "current transaction is aborted, commands "
                              "ignored until end of transaction block", NULL, NULL);
        }
        return (next_byte() & 7) == 7 ? lose(next_byte() & 1)
                                       : command(sql[0] == 'S' ? "SAVEPOINT" : "RELEASE");
    }
    if (!begin && !commit) {
        fail("SQL", sql);
    }
    if (commit && fdb.txn == TXN_ABORTED) {
        fdb.txn = TXN_IDLE;
        return command("ROLLBACK");
    }
    unsigned int b = next_byte() & 7;
    if (b == 7) {
        return lose(next_byte() & 1);
    }
    if (b == 6 && commit) {     /* BEGIN fails only with its connection */
        PGresult *res = sql_error(next_byte(), false, true);
        fdb.txn = TXN_IDLE;
        return res;
    }
    if (begin) {
        fdb.txn = TXN_OPEN;
        return command("SET");      /* the last command of "BEGIN; SET ..." */
    }
    fdb.txn = TXN_IDLE;
    fdb.report.committed = true;
    return command("COMMIT");
}

PGresult *
__wrap_PQprepare(PGconn *c, const char *name, const char *sql, int n,
                 const Oid *types)
{
    (void) c;
    (void) name;
    (void) sql;
    (void) n;
    (void) types;
    return fdb.lost ? no_connection() : command("PREPARE");
}

PGresult *
__wrap_PQexecPrepared(PGconn *c, const char *name, int n, const char *const *params,
                      const int *lengths, const int *formats, int result_format)
{
    (void) c;
    (void) lengths;
    (void) formats;
    (void) result_format;
    if (fdb.lost) {
        return no_connection();
    }
    if (fdb.txn == TXN_ABORTED) {
        trace("statement (aborted)", name, 0);
        return err_result("25P02", "current transaction is aborted, commands ignored "
                     "until end of transaction block", NULL, NULL);
    }
    if (fdb.txn == TXN_IDLE && is_write(name)) {
        /* Autocommitted: a write outside the transaction its handler
         * began, after the connection under it was lost and reset. */
        fdb.report.write_outside_txn = true;
    }
    unsigned int b = next_byte();
    trace("statement", name, b & 7);
    PGresult *res;
    switch (b & 7) {
    case 4:
        res = answer(name, OP_VARIANT, n, params);
        break;
    case 5:
        res = answer(name, OP_NONE, n, params);
        break;
    case 6:
        return sql_error(next_byte(), is_write(name), false);
    case 7:
        return lose(next_byte() & 1);
    default:
        res = answer(name, OP_ROWS, n, params);
        break;
    }
    return res ? res : lose(false);
}

void
__wrap_PQclear(PGresult *res)
{
    struct fdb_extra *x = extra_of(res);
    if (x) {
        x->res = NULL;
    }
    __real_PQclear(res);
}

char *
__wrap_PQresultErrorField(const PGresult *res, int field)
{
    struct fdb_extra *x = extra_of(res);
    if (!x) {
        return __real_PQresultErrorField(res, field);
    }
    const char *v = field == PG_DIAG_SQLSTATE ? x->sqlstate
                    : field == PG_DIAG_CONSTRAINT_NAME ? x->constraint
                    : field == PG_DIAG_COLUMN_NAME ? x->column
                    : field == PG_DIAG_MESSAGE_PRIMARY ? x->message : "";
    return v[0] ? (char *) v : NULL;
}

char *
__wrap_PQresultErrorMessage(const PGresult *res)
{
    struct fdb_extra *x = extra_of(res);
    return x ? x->message : __real_PQresultErrorMessage(res);
}

char *
__wrap_PQcmdStatus(PGresult *res)
{
    struct fdb_extra *x = extra_of(res);
    return x ? x->cmd : __real_PQcmdStatus(res);
}

/* The row count of a command tag ("DELETE 1", "INSERT 0 1"), "" for
 * others, as libpq computes it. */
char *
__wrap_PQcmdTuples(PGresult *res)
{
    struct fdb_extra *x = extra_of(res);
    if (!x) {
        return __real_PQcmdTuples(res);
    }
    if (strncmp(x->cmd, "INSERT ", 7) && strncmp(x->cmd, "UPDATE ", 7)
        && strncmp(x->cmd, "DELETE ", 7)) {
        return (char *) "";
    }
    char *sp = strrchr(x->cmd, ' ');
    return sp + 1;
}

int
__wrap_nanosleep(const struct timespec *req, struct timespec *rem)
{
    (void) req;
    (void) rem;
    return 0;
}
