/* changelog_driver.c: db/changelog.c against a real PostgreSQL, for
 * tests/integration/test_changelog.py.
 *
 *   changelog_driver URL read [WATERMARK]   one read, printed as one JSON
 *       line: {"watermark", "reload", "changes": [{seq, kind, id, network, op}]}
 *   changelog_driver URL read-vms [WATERMARK]  the same, the desired state
 *       loaded first (db/state.h) and the read made with the VMs it names
 *       (changelog_read_vms), which the line lists too: "vms": [{id, name,
 *       ip, host}], "unresolved"
 *   changelog_driver URL prune SECONDS      {"pruned": N}
 * Exit status 0, or 1 with the database's message on stderr. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/netmodel.h"
#include "db/changelog.h"
#include "db/state.h"

static const char *const op_names[] = {"create", "update", "delete"};

int
main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[2], "read") && strcmp(argv[2], "read-vms")
                     && strcmp(argv[2], "prune"))
        || (!strcmp(argv[2], "prune") && argc != 4)) {
        fprintf(stderr, "usage: %s URL read|read-vms [WATERMARK] | URL prune SECONDS\n",
                argv[0]);
        return 2;
    }
    struct db_conn *c = db_conn_create(argv[1]);
    if (!c) {
        return 1;
    }
    json_t *out;
    if (!strcmp(argv[2], "prune")) {
        long long n;
        if (changelog_prune(c, (unsigned int) atoi(argv[3]), &n) < 0) {
            fprintf(stderr, "%s\n", db_conn_error(c)->message);
            db_conn_destroy(c);
            return 1;
        }
        out = json_pack("{s:I}", "pruned", (json_int_t) n);
    } else {
        struct changelog_batch b;
        struct netmodel m;
        netmodel_init(&m);
        bool vms = !strcmp(argv[2], "read-vms");
        if ((vms && state_load(c, &m) < 0)
            || (vms ? changelog_read_vms(c, argc > 3 ? argv[3] : NULL, &m, &b)
                    : changelog_read(c, argc > 3 ? argv[3] : NULL, &b)) < 0) {
            fprintf(stderr, "%s\n", db_conn_error(c)->message);
            netmodel_free(&m);
            db_conn_destroy(c);
            return 1;
        }
        json_t *changes = json_array();
        for (size_t i = 0; i < b.n; i++) {
            const struct changelog_entry *e = &b.entries[i];
            json_array_append_new(changes, json_pack(
                "{s:I, s:s, s:s, s:s, s:s}", "seq", (json_int_t) e->seq,
                "kind", e->kind, "id", e->object_id, "network", e->network_id,
                "op", op_names[e->op]));
        }
        out = json_pack("{s:s, s:b, s:o}", "watermark", b.watermark, "reload",
                        b.reload, "changes", changes);
        if (vms) {
            json_t *list = json_array();
            for (size_t i = 0; i < b.n_vms; i++) {
                const struct nm_vm *v = &b.vms[i];
                char ip[16];
                snprintf(ip, sizeof ip, "%u.%u.%u.%u", v->ip >> 24, v->ip >> 16 & 255,
                         v->ip >> 8 & 255, v->ip & 255);
                json_array_append_new(list, json_pack(
                    "{s:s, s:s, s:s, s:s?}", "id", v->o.id, "name", v->o.name, "ip", ip,
                    "host", v->host >= 0 ? m.hosts[v->host].o.name : NULL));
            }
            json_object_set_new(out, "vms", list);
            json_object_set_new(out, "unresolved", json_boolean(b.vms_unresolved));
        }
        changelog_batch_uninit(&b);
        netmodel_free(&m);
    }
    char *text = json_dumps(out, JSON_COMPACT);
    puts(text);
    free(text);
    json_decref(out);
    db_conn_destroy(c);
    return 0;
}
