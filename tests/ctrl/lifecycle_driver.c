/* lifecycle_driver.c: the reconciler's side of db/snapshots.h,
 * db/vm_migrations.h and db/vm_stats.h against a real PostgreSQL, for
 * tests/integration/test_vm_lifecycle_api.py.  One call per run, its
 * outcome printed as one JSON line:
 *   {"result": "one"|"none"|"hard"|"soft", "message": ..., "items": [...]}
 *
 *   lifecycle_driver URL snap-pending
 *   lifecycle_driver URL snap-capture ID CONTENT_JSON [TIMES_JSON]
 *   lifecycle_driver URL snap-error ID DETAIL
 *   lifecycle_driver URL mig-active [PHASE]
 *   lifecycle_driver URL mig-advance ID FROM TO [DUP TOCTL FLOWS [DETAIL]]
 *   lifecycle_driver URL mig-finish ID
 *   lifecycle_driver URL mig-rollback ID FROM [DETAIL]
 *   lifecycle_driver URL mig-fail ID FROM [DETAIL]
 *   lifecycle_driver URL mig-counters ID PHASE DUP TOCTL FLOWS
 *   lifecycle_driver URL stats-record VM_ID AS_OF RXP RXB RXD TXP TXB TXD DUP
 * Exit status 0 when the call was made (whatever its result), 2 on bad
 * usage, 1 when the database cannot be reached. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/snapshots.h"
#include "db/vm_migrations.h"
#include "db/vm_stats.h"

static const char *
result_name(enum db_qs qs)
{
    return qs == DB_QS_ONE ? "one" : qs == DB_QS_NONE ? "none"
           : qs == DB_QS_SOFT ? "soft" : "hard";
}

static json_t *
pending_items(struct db_conn *c, enum db_qs *qs)
{
    struct snapshots_pending *p;
    size_t n;
    json_t *items = json_array();
    if ((*qs = snapshots_list_pending(c, &p, &n)) >= 0) {
        for (size_t i = 0; i < n; i++) {
            json_array_append_new(items, json_pack(
                "{s:s, s:s, s:s, s:s, s:s, s:I}", "id", p[i].id, "vm_id", p[i].vm_id,
                "network_id", p[i].network_id, "host_id", p[i].host_id,
                "reason", p[i].reason, "generation", (json_int_t) p[i].generation));
        }
        free(p);
    }
    return items;
}

static json_t *
active_items(struct db_conn *c, const char *phase, enum db_qs *qs)
{
    struct vm_migrations_work *w;
    size_t n;
    json_t *items = json_array();
    enum vm_phase only = phase ? vm_phase_parse(phase) : VM_PHASE__N;
    if ((*qs = vm_migrations_list_active(c, only, &w, &n)) >= 0) {
        for (size_t i = 0; i < n; i++) {
            json_array_append_new(items, json_pack(
                "{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:i, s:I, s:I, s:f}",
                "id", w[i].id, "vm_id", w[i].vm_id, "network_id", w[i].network_id,
                "from_host_id", w[i].from_host_id, "to_host_id", w[i].to_host_id,
                "phase", vm_phase_name(w[i].phase),
                "rollback_requested", w[i].rollback_requested,
                "activate_requested", w[i].activate_requested,
                "dual_expired", w[i].dual_expired, "dual_timeout_s",
                (int) w[i].dual_timeout_s, "generation", (json_int_t) w[i].generation,
                "duplicated", (json_int_t) w[i].duplicated, "phase_since",
                w[i].phase_since));
        }
        free(w);
    }
    return items;
}

static enum vm_phase
phase_arg(const char *s)
{
    enum vm_phase p = vm_phase_parse(s);
    if (p == VM_PHASE__N) {
        fprintf(stderr, "unknown phase '%s'\n", s);
        exit(2);
    }
    return p;
}

int
main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s URL COMMAND ARGS... (see the source)\n", argv[0]);
        return 2;
    }
    const char *cmd = argv[2];
    char **a = argv + 3;
    int na = argc - 3;
    struct db_conn *c = db_conn_create(argv[1]);
    if (!c) {
        return 1;
    }
    enum db_qs qs = DB_QS_HARD;
    json_t *items = NULL;
    if (!strcmp(cmd, "snap-pending")) {
        items = pending_items(c, &qs);
    } else if (!strcmp(cmd, "snap-capture") && na >= 2) {
        struct snapshots_capture cap = {a[1], 1700000000.25, 1700000000.5,
                                        na > 2 ? a[2] : NULL};
        qs = snapshots_record_capture(c, a[0], &cap);
    } else if (!strcmp(cmd, "snap-error") && na == 2) {
        qs = snapshots_record_error(c, a[0], a[1]);
    } else if (!strcmp(cmd, "mig-active")) {
        items = active_items(c, na ? a[0] : NULL, &qs);
    } else if (!strcmp(cmd, "mig-advance") && na >= 3) {
        struct vm_migrations_counters k = VM_MIGRATIONS_COUNTERS_KEEP;
        if (na >= 6) {
            k = (struct vm_migrations_counters){atoll(a[3]), atoll(a[4]), atoll(a[5])};
        }
        qs = vm_migrations_advance(c, a[0], phase_arg(a[1]), phase_arg(a[2]),
                                   na >= 6 ? &k : NULL, na >= 7 ? a[6] : NULL);
    } else if (!strcmp(cmd, "mig-finish") && na == 1) {
        qs = vm_migrations_finish(c, a[0], NULL);
    } else if (!strcmp(cmd, "mig-rollback") && na >= 2) {
        qs = vm_migrations_roll_back(c, a[0], phase_arg(a[1]), na > 2 ? a[2] : NULL);
    } else if (!strcmp(cmd, "mig-fail") && na >= 2) {
        qs = vm_migrations_fail(c, a[0], phase_arg(a[1]), na > 2 ? a[2] : NULL);
    } else if (!strcmp(cmd, "mig-counters") && na == 5) {
        struct vm_migrations_counters k = {atoll(a[2]), atoll(a[3]), atoll(a[4])};
        qs = vm_migrations_record_counters(c, a[0], phase_arg(a[1]), &k);
    } else if (!strcmp(cmd, "stats-record") && na == 9) {
        struct vm_stats_sample s = {atof(a[1]), atoll(a[2]), atoll(a[3]), atoll(a[4]),
                                    atoll(a[5]), atoll(a[6]), atoll(a[7]), atoll(a[8]),
                                    NULL};
        qs = vm_stats_record(c, a[0], &s);
    } else {
        fprintf(stderr, "bad command or arguments: %s\n", cmd);
        db_conn_destroy(c);
        return 2;
    }
    json_t *out = json_pack("{s:s, s:s}", "result", result_name(qs), "message",
                            qs < 0 ? db_conn_error(c)->message : "");
    if (items) {
        json_object_set_new(out, "items", items);
    }
    char *text = json_dumps(out, JSON_COMPACT);
    puts(text);
    free(text);
    json_decref(out);
    db_conn_destroy(c);
    return 0;
}
