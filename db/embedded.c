/* embedded.c: see embedded.h.  Every step runs the stock PostgreSQL tools
 * (initdb, pg_ctl) as child processes; their output goes to postgres.log or
 * initdb.log in the data directory so a failure can be diagnosed there. */
#include "db/embedded.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/vlog.h"
#include "db/conn_internal.h"
#include "db/db.h"

struct embedded_pg {
    char bindir[PATH_MAX];
    char dir[PATH_MAX];      /* absolute data directory */
    char pgdata[PATH_MAX + 16];
    char rundir[PATH_MAX + 16];
    char conninfo[PATH_MAX + 80];
    bool as_postgres;
    uid_t uid;
    gid_t gid;
    bool started_here;
};

static const struct db_stmt stmt_db_exists = {
    "embedded_db_exists",
    "SELECT 1 FROM pg_database WHERE datname = 'skyvisor'", 0,
};
static const struct db_stmt stmt_db_create = {
    "embedded_db_create", "CREATE DATABASE skyvisor", 0,
};

/* Finds the newest /usr/lib/postgresql/N/bin holding initdb. */
static bool
find_bindir(char *out, size_t len)
{
    const char *env = getenv("SKYVISOR_PG_BINDIR");
    if (env && *env) {
        snprintf(out, len, "%s", env);
        return true;
    }
    DIR *d = opendir("/usr/lib/postgresql");
    if (!d) {
        return false;
    }
    long best = -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        char *end;
        long v = strtol(e->d_name, &end, 10);
        char probe[PATH_MAX];
        snprintf(probe, sizeof probe, "/usr/lib/postgresql/%s/bin/initdb", e->d_name);
        if (*end == '\0' && v > best && access(probe, X_OK) == 0) {
            best = v;
        }
    }
    closedir(d);
    if (best < 0) {
        return false;
    }
    snprintf(out, len, "/usr/lib/postgresql/%ld/bin", best);
    return true;
}

/* Runs bindir/argv[0] with argv, as the cluster's owner, stdout and stderr
 * appended to 'logfile'.  Returns the exit status, or -1. */
static int
run_tool(const struct embedded_pg *pg, char *const argv[], const char *logfile)
{
    char path[2 * PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", pg->bindir, argv[0]);
    pid_t pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        int fd = open(logfile, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        int nullfd = open("/dev/null", O_RDONLY);
        if (nullfd >= 0) {
            dup2(nullfd, STDIN_FILENO);
            close(nullfd);
        }
        if (pg->as_postgres
            && (setgroups(0, NULL) || setgid(pg->gid) || setuid(pg->uid))) {
            _exit(126);
        }
        if (chdir(pg->dir)) {
            _exit(126);
        }
        execv(path, argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return -1;
        }
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static bool
make_dir(const struct embedded_pg *pg, const char *path, mode_t mode)
{
    if (mkdir(path, mode) && errno != EEXIST) {
        return false;
    }
    return !pg->as_postgres || chown(path, pg->uid, pg->gid) == 0;
}

static bool
file_exists(const char *dir, const char *name)
{
    char path[2 * PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static bool
ensure_database(struct embedded_pg *pg, char *err, size_t errlen)
{
    char admin[PATH_MAX + 80];
    snprintf(admin, sizeof admin, "host=%s port=5432 dbname=postgres user=skyvisor",
             pg->rundir);
    struct db_conn *c = db_conn_create(admin);
    if (!c) {
        snprintf(err, errlen, "cannot connect to the embedded cluster at %s",
                 pg->rundir);
        return false;
    }
    enum db_qs qs = db_exec(c, &stmt_db_exists, NULL, NULL);
    if (qs == DB_QS_NONE) {
        qs = db_exec(c, &stmt_db_create, NULL, NULL);
        if (qs >= 0) {
            vlog(VLOG_INFO, "db", "created database skyvisor");
        }
    }
    if (qs < 0) {
        snprintf(err, errlen, "cannot create database skyvisor: %s", c->err.message);
    }
    db_conn_destroy(c);
    return qs >= 0;
}

struct embedded_pg *
embedded_pg_start(const char *data_dir, const char **conninfo, char *err,
                  size_t errlen)
{
    struct embedded_pg *pg = calloc(1, sizeof *pg);
    if (!pg) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (!find_bindir(pg->bindir, sizeof pg->bindir)) {
        snprintf(err, errlen, "no PostgreSQL server binaries under "
                 "/usr/lib/postgresql (install postgresql, or set "
                 "SKYVISOR_PG_BINDIR)");
        goto fail;
    }
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam("postgres");
        if (!pw) {
            snprintf(err, errlen, "running as root, but there is no 'postgres' "
                     "user to run the embedded PostgreSQL as");
            goto fail;
        }
        pg->as_postgres = true;
        pg->uid = pw->pw_uid;
        pg->gid = pw->pw_gid;
    }
    if (mkdir(data_dir, 0700) && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", data_dir, strerror(errno));
        goto fail;
    }
    if (!realpath(data_dir, pg->dir)) {
        snprintf(err, errlen, "cannot resolve %s: %s", data_dir, strerror(errno));
        goto fail;
    }
    snprintf(pg->pgdata, sizeof pg->pgdata, "%s/pgdata", pg->dir);
    snprintf(pg->rundir, sizeof pg->rundir, "%s/run", pg->dir);
    if (strlen(pg->rundir) + sizeof "/.s.PGSQL.5432.lock" > 107) {
        snprintf(err, errlen, "data directory path %s is too long for a unix "
                 "socket; choose a shorter --data-dir", pg->dir);
        goto fail;
    }
    if (!make_dir(pg, pg->dir, 0700) || !make_dir(pg, pg->rundir, 0700)) {
        snprintf(err, errlen, "cannot prepare %s: %s", pg->dir, strerror(errno));
        goto fail;
    }
    if (pg->as_postgres) {
        /* The postgres user must be able to reach the directory. */
        struct stat st;
        char parent[PATH_MAX];
        snprintf(parent, sizeof parent, "%s", pg->dir);
        for (char *slash; (slash = strrchr(parent, '/')) && slash != parent;) {
            *slash = '\0';
            if (stat(parent, &st) == 0 && !(st.st_mode & S_IXOTH)) {
                snprintf(err, errlen, "%s is not searchable by the postgres user "
                         "(chmod o+x it, or choose another --data-dir)", parent);
                goto fail;
            }
        }
    }

    char logfile[PATH_MAX + 32];
    if (!file_exists(pg->pgdata, "PG_VERSION")) {
        snprintf(logfile, sizeof logfile, "%s/initdb.log", pg->dir);
        char *initdb[] = {"initdb", "-D", pg->pgdata, "-U", "skyvisor",
                          "-A", "trust", "-E", "UTF8", "--locale=C", NULL};
        vlog(VLOG_INFO, "db", "creating PostgreSQL cluster in %s", pg->pgdata);
        if (run_tool(pg, initdb, logfile) != 0) {
            snprintf(err, errlen, "initdb failed; see %s", logfile);
            goto fail;
        }
    }
    snprintf(logfile, sizeof logfile, "%s/postgres.log", pg->dir);
    char *status[] = {"pg_ctl", "-D", pg->pgdata, "status", NULL};
    if (run_tool(pg, status, "/dev/null") == 0) {
        vlog(VLOG_INFO, "db", "embedded PostgreSQL in %s is already running; "
             "using it", pg->pgdata);
    } else {
        char opts[PATH_MAX + 128];
        snprintf(opts, sizeof opts, "-c listen_addresses='' -c port=5432 -k %s",
                 pg->rundir);
        char *start[] = {"pg_ctl", "-D", pg->pgdata, "-l", logfile, "-w",
                         "-t", "60", "-o", opts, "start", NULL};
        if (run_tool(pg, start, "/dev/null") != 0) {
            snprintf(err, errlen, "PostgreSQL did not start; see %s", logfile);
            goto fail;
        }
        pg->started_here = true;
        vlog(VLOG_INFO, "db", "started embedded PostgreSQL in %s", pg->pgdata);
    }
    if (!ensure_database(pg, err, errlen)) {
        embedded_pg_stop(pg);
        return NULL;
    }
    snprintf(pg->conninfo, sizeof pg->conninfo,
             "host=%s port=5432 dbname=skyvisor user=skyvisor", pg->rundir);
    *conninfo = pg->conninfo;
    return pg;

fail:
    free(pg);
    return NULL;
}

void
embedded_pg_stop(struct embedded_pg *pg)
{
    if (!pg) {
        return;
    }
    if (pg->started_here) {
        char *stop[] = {"pg_ctl", "-D", pg->pgdata, "-m", "fast", "-w", "stop", NULL};
        if (run_tool(pg, stop, "/dev/null") == 0) {
            vlog(VLOG_INFO, "db", "stopped embedded PostgreSQL");
        } else {
            vlog(VLOG_WARN, "db", "pg_ctl stop failed for %s", pg->pgdata);
        }
    }
    free(pg);
}
