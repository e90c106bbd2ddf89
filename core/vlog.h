/* vlog.h: one-line-per-event logging with a level.
 *
 * Each event is one line on stderr:
 *   2026-11-25T00:00:00.123Z INFO  api: listening on 127.0.0.1:8080
 * Lines are written with a single write(2) so concurrent threads never
 * interleave within a line.  The threshold is process-wide and may be
 * changed at any time (an atomic int). */
#ifndef SKYVISOR_CORE_VLOG_H
#define SKYVISOR_CORE_VLOG_H

enum vlog_level { VLOG_DEBUG, VLOG_INFO, VLOG_WARN, VLOG_ERR };

/* Sets the threshold; events below it are dropped. */
void vlog_set_level(enum vlog_level level);
/* Parses "debug", "info", "warn" or "error"; returns 0 or EINVAL. */
int vlog_parse_level(const char *s, enum vlog_level *level);
/* True if an event at 'level' would be written. */
int vlog_enabled(enum vlog_level level);

void vlog(enum vlog_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define VLOG_DBG(MOD, ...)  vlog(VLOG_DEBUG, MOD, __VA_ARGS__)
#define VLOG_INF(MOD, ...)  vlog(VLOG_INFO, MOD, __VA_ARGS__)
#define VLOG_WRN(MOD, ...)  vlog(VLOG_WARN, MOD, __VA_ARGS__)
#define VLOG_ERR_(MOD, ...) vlog(VLOG_ERR, MOD, __VA_ARGS__)

#endif
