/* audit.c: GET /v1/audit, the audit trail (admin only).
 *
 * Triggers write one row per changed object in the transaction of the
 * change (migrations/003_tokens_audit.sql); this handler only reads them,
 * newest first, paginated with limit and cursor like every list, and
 * filtered by ?kind= (cloud, cloud-link, host, tenant, token, network,
 * switch, link, vm, snapshot, migration), ?object= (an object id) and ?actor= ("admin",
 * "tenant:<id>" for all of a tenant's tokens, or
 * "tenant:<id>/token:<id>" for one token). */
#include <stdlib.h>
#include <string.h>

#include "api/crud.h"
#include "core/validate.h"

static bool
actor_ok(const char *s)
{
    size_t n = strlen(s);
    return n && n < 128
           && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                        "0123456789:_./-") == n;
}

void
audit_list(struct api_req *req, struct api_resp *resp)
{
    static const char *const kinds[] = {"cloud", "cloud-link", "host", "tenant",
                                        "token", "network", "switch", "link",
                                        "vm", "snapshot", "migration", NULL};
    unsigned int limit;
    char *after;
    if (!crud_page_params(req, resp, &limit, &after)) {
        return;
    }
    struct store_audit_filter f = {
        .before = after,
        .kind = api_query(req, "kind"),
        .object_id = api_query(req, "object"),
        .actor = api_query(req, "actor"),
    };
    if (after && (strlen(after) > 18 || strspn(after, "0123456789") != strlen(after))) {
        api_problem(resp, req, SVE_BAD_QUERY, "cursor", "cursor is not one this "
                    "server handed out");
    } else if (f.kind && !crud_one_of(f.kind, kinds)) {
        api_problem(resp, req, SVE_BAD_QUERY, "kind", "kind is one of cloud, "
                    "cloud-link, host, tenant, token, network, switch, link, vm, "
                    "snapshot, migration");
    } else if (f.object_id && !validate_uuid(f.object_id)) {
        api_problem(resp, req, SVE_BAD_QUERY, "object", "object is an object's id "
                    "(a UUID)");
    } else if (f.actor && !actor_ok(f.actor)) {
        api_problem(resp, req, SVE_BAD_QUERY, "actor", "actor is 'admin', "
                    "'tenant:<id>' or 'tenant:<id>/token:<id>'");
    } else {
        struct store_items rows = {0};
        enum db_qs qs = store_audit_list(req->db, &f, limit + 1, &rows);
        if (qs < 0) {
            crud_db_problem(req, resp, qs, "audit record", NULL);
        } else {
            crud_reply_page(req, resp, &rows, limit);
            store_items_uninit(&rows);
        }
    }
    free(after);
}
