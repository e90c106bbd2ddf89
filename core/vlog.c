/* vlog.c: see vlog.h.  Formats into a stack buffer, truncates overlong
 * events with "...", replaces embedded newlines by spaces (one event, one
 * line) and writes the line with one write(2). */
#include "core/vlog.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int vlog_threshold = VLOG_INFO;

static const char *const vlog_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void
vlog_set_level(enum vlog_level level)
{
    atomic_store(&vlog_threshold, (int) level);
}

int
vlog_parse_level(const char *s, enum vlog_level *level)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!strcmp(s, names[i])) {
            *level = (enum vlog_level) i;
            return 0;
        }
    }
    return EINVAL;
}

int
vlog_enabled(enum vlog_level level)
{
    return (int) level >= atomic_load(&vlog_threshold);
}

void
vlog(enum vlog_level level, const char *module, const char *fmt, ...)
{
    if (!vlog_enabled(level)) {
        return;
    }
    int saved_errno = errno;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line,
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s: ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L,
                     vlog_names[level], module);
    size_t off = n > 0 ? (size_t) n : 0;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + off, sizeof line - off - 1, fmt, ap);
    va_end(ap);
    size_t body_end;
    if (m < 0) {
        body_end = off;
    } else if ((size_t) m >= sizeof line - off - 1) {
        body_end = sizeof line - 2;
        memcpy(line + body_end - 3, "...", 3);
    } else {
        body_end = off + (size_t) m;
    }
    for (size_t i = off; i < body_end; i++) {
        if (line[i] == '\n' || line[i] == '\r') {
            line[i] = ' ';
        }
    }
    line[body_end] = '\n';
    ssize_t w = write(STDERR_FILENO, line, body_end + 1);
    (void) w;
    errno = saved_errno;
}
