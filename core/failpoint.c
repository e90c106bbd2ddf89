/* failpoint.c: see failpoint.h.  The variable is parsed once; an entry
 * that does not parse is logged and ignored. */
#include "core/failpoint.h"

#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/vlog.h"

#define MAX_POINTS 8

struct point {
    char name[48];
    bool exit;                      /* else stop */
    char arm[256];                  /* stop: "" always, else the arming file */
};

static struct point points[MAX_POINTS];
static size_t n_points;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void
parse(void)
{
    const char *env = getenv("SKYVISOR_FAILPOINT");
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", env ? env : "");
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && n_points < MAX_POINTS;
         t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');
        size_t len = eq ? (size_t) (eq - t) : strlen(t);
        bool stop = eq && !strncmp(eq + 1, "stop", 4) && (!eq[5] || eq[5] == ':');
        if (!len || len >= sizeof points[0].name || (eq && !stop && strcmp(eq + 1, "exit"))) {
            vlog(VLOG_WARN, "failpoint", "ignoring '%s' (want NAME[=exit] or "
                 "NAME=stop[:PATH])", t);
            continue;
        }
        struct point *p = &points[n_points++];
        snprintf(p->name, sizeof p->name, "%.*s", (int) len, t);
        p->exit = !stop;
        snprintf(p->arm, sizeof p->arm, "%s", stop && eq[5] ? eq + 6 : "");
        vlog(VLOG_INFO, "failpoint", "%s armed (%s)%s%s", p->name, stop ? "stop" : "exit",
             p->arm[0] ? " by " : "", p->arm);
    }
}

void
failpoint_hit(const char *name)
{
    pthread_once(&once, parse);
    for (size_t i = 0; i < n_points; i++) {
        const struct point *p = &points[i];
        if (strcmp(p->name, name) || (p->arm[0] && unlink(p->arm))) {
            continue;
        }
        if (p->exit) {
            vlog(VLOG_WARN, "failpoint", "%s: exiting", name);
            _exit(70);
        }
        vlog(VLOG_WARN, "failpoint", "%s: stopping", name);
        raise(SIGSTOP);
        vlog(VLOG_WARN, "failpoint", "%s: continued", name);
    }
}
