/* crud.h: one engine for the API's collection resources.
 *
 * A resource is described by a `struct crud_res`: its fields (a spec array:
 * JSON name, type, flags), its statements (db/store.h), its parent (for
 * scoped resources: networks under a tenant; switches, links and VMs under a
 * network) and a validate hook.  The engine does the rest the same way for
 * every resource:
 *   - path parameters resolve from the outermost parent inwards, each by id
 *     or name within its parent; an unknown one is 404 naming it;
 *   - request bodies are parsed with duplicate keys rejected, then checked
 *     against the spec: unknown field, read-only field, wrong type, missing
 *     required field, each a 400 naming the field;
 *   - create runs the validate hook on the body and inserts; PATCH merges the
 *     patch into the current object (null clears a nullable field), runs the
 *     same validate hook on the whole result and replaces the row if its
 *     revision is still the one read (If-Match checks the ETag first);
 *   - writes run in one transaction, retried on serialization failures, and
 *     Idempotency-Key on POST replays the first answer;
 *   - database refusals (unique, foreign key, check) become 409 or 400
 *     problems naming the field where one is known.
 * The validate hook normalises values in place (canonical MAC, defaults),
 * checks what the spec cannot (ranges, syntax, references) and adds internal
 * "_..." members (resolved ids) for the insert and update statements. */
#ifndef SKYVISOR_API_CRUD_H
#define SKYVISOR_API_CRUD_H

#include <jansson.h>
#include <stdbool.h>

#include "api/api.h"
#include "db/store.h"

enum crud_type {
    CT_STRING, CT_INTEGER, CT_NUMBER, CT_OBJECT, CT_STRING_ARRAY, CT_LABELS,
};

enum {
    CF_REQUIRED = 1 << 0,   /* must be present on create */
    CF_READONLY = 1 << 1,   /* shown by the server, never accepted */
    CF_IMMUTABLE = 1 << 2,  /* accepted on create; PATCH may only repeat it */
    CF_NULLABLE = 1 << 3,   /* may be null */
};

struct crud_field {
    const char *name;
    enum crud_type type;
    unsigned int flags;
};

struct crud_ctx;
struct vms_placing;
/* Returns true if 'obj' is acceptable (possibly after normalising it);
 * otherwise writes a problem with crud_fail() and returns false.  May run
 * queries on ctx->req->db (inside the write transaction). */
typedef bool crud_validate_fn(struct crud_ctx *, json_t *obj);

struct crud_res {
    const struct store_res *store;
    const struct crud_field *fields;    /* terminated by a NULL name */
    const struct crud_res *parent;      /* NULL for top-level resources */
    const char *kind;                   /* "cloud" */
    const char *in_use;                 /* why DELETE may be refused */
    crud_validate_fn *validate;
    /* Optional: runs before insert (after validate), e.g. to mint a token. */
    crud_validate_fn *before_insert;
    /* Optional: adds to the 201 body what is shown only once (not stored
     * with the idempotency record). */
    void (*decorate_created)(struct crud_ctx *, json_t *body);
};

struct crud_ctx {
    struct api_req *req;
    struct api_resp *resp;
    const struct crud_res *res;
    char scope[37];             /* id of the innermost parent, "" if none */
    json_t *parent;             /* its representation, or NULL */
    json_t *current;            /* PATCH: the object before the change */
    json_t *body;               /* the parsed request body */
    json_t *extra;              /* scratch for hooks, freed by the engine */
    struct vms_placing *placing; /* a batch's placement candidates (api/vms.h),
                                 * owned by the batch; NULL: read per VM */
};

/* Writes the problem for a failed validation; returns false. */
bool crud_fail(struct crud_ctx *, enum sv_error, const char *field,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Resolves a reference (an id or a name) to an object of 'target' within
 * 'scope'; writes its id.  On failure writes a 400 problem naming 'field'
 * (or a 503 when the database fails) and returns false. */
bool crud_resolve(struct crud_ctx *, const struct store_res *target,
                  const char *scope, const char *key, const char *field,
                  char id_out[37]);

/* Member accessor for hooks; NULL when absent or not a string. */
const char *crud_str(const json_t *obj, const char *name);
/* Checks obj's "name" against the naming rule; writes the problem. */
bool crud_valid_name(struct crud_ctx *, const json_t *obj);
/* True if 'v' (may be NULL: false) is one of the NULL-terminated 'options'. */
bool crud_one_of(const char *v, const char *const *options);

/* The resources, for parent links. */
extern const struct crud_res crud_clouds, crud_hosts, crud_tenants,
    crud_networks, crud_switches, crud_links, crud_vms;
/* Under a VM (api/snapshots.c, api/vm_migrations.c). */
extern const struct crud_res crud_snapshots, crud_vm_migrations;

/* Handlers. */
void crud_list(struct api_req *, struct api_resp *, const struct crud_res *);
void crud_get(struct api_req *, struct api_resp *, const struct crud_res *);
void crud_create(struct api_req *, struct api_resp *, const struct crud_res *);
void crud_patch(struct api_req *, struct api_resp *, const struct crud_res *);
void crud_delete(struct api_req *, struct api_resp *, const struct crud_res *);

/* The write steps of one object, shared by the single-object routes and
 * the batch (api/batch.c), so both apply exactly the same rules.  Each runs
 * inside the caller's write transaction, on ctx->req->db, with ctx->res the
 * resource and ctx->scope/ctx->parent resolved (crud_resolve_scope); a
 * refusal is a problem written into ctx->resp.  Each returns DB_QS_ONE
 * (done: *row holds the object as stored, or for crud_remove as it was
 * before the delete; the caller uninits it), DB_QS_NONE (refused: problem
 * written), DB_QS_HARD (a database refusal, problem written from
 * db_conn_error(req->db): a constraint, or a failure of the database) or
 * DB_QS_SOFT (retry the transaction).
 *   crud_insert:  validates a copy of ctx->body and inserts it;
 *   crud_replace: merges the patch ctx->body into object 'key' (an id or a
 *                 name), validates the result and replaces the row;
 *   crud_remove:  deletes object 'key'.
 * 'if_match' (may be NULL: unconditional) is an If-Match value. */
enum db_qs crud_insert(struct crud_ctx *, struct store_row *row);
enum db_qs crud_replace(struct crud_ctx *, const char *key, const char *if_match,
                        struct store_row *row);
enum db_qs crud_remove(struct crud_ctx *, const char *key, const char *if_match,
                       struct store_row *row);
/* Resolves the parents named by the path parameters into ctx->scope and
 * ctx->parent.  Returns false after writing a 404 (or 503). */
bool crud_resolve_scope(struct crud_ctx *);
/* Releases what the engine and the hooks hung on ctx (parent, current,
 * body, extra). */
void crud_ctx_uninit(struct crud_ctx *);

/* Idempotency-Key, for a POST: crud_idem_key_ok reads the header into *key
 * (NULL when absent) and writes a 400 when it is malformed (false).  In
 * the write transaction, crud_idem_claim returns DB_QS_ONE when this
 * request now owns the key (record the answer with crud_idem_finish before
 * committing), DB_QS_NONE when the key was used before (resp then holds
 * the first answer, or 422 when that request was another one: roll back
 * and send it), or an error. */
bool crud_idem_key_ok(struct api_req *, struct api_resp *, const char **key);
enum db_qs crud_idem_claim(struct api_req *, struct api_resp *, const char *key);
enum db_qs crud_idem_finish(struct api_req *, const char *key, unsigned int status,
                            const char *answer, const char *location);

/* Shared by handlers outside the engine (cloud links, network status). */
/* Parses the body as a JSON object and checks it against 'fields';
 * 'creating' enforces CF_REQUIRED.  Returns a new reference or NULL after
 * writing the problem. */
json_t *crud_parse_body(struct api_req *, struct api_resp *,
                        const struct crud_field *fields, bool creating);
/* The two halves of crud_parse_body: the body as a JSON object (a new
 * reference, or NULL after writing the problem), and the check of an
 * object against 'fields' (false after writing the problem naming the
 * field; on create, an absent "labels" becomes {}). */
json_t *crud_load_body(struct api_req *, struct api_resp *);
bool crud_check_body(struct api_req *, struct api_resp *, json_t *obj,
                     const struct crud_field *fields, bool creating);
/* A list page's length when ?limit= is absent. */
#define CRUD_LIMIT_DEFAULT 100
/* Reads ?limit= and ?cursor=; on error writes the problem, returns false.
 * *after is malloc'ed (or NULL). */
bool crud_page_params(struct api_req *, struct api_resp *, unsigned int *limit,
                      char **after);
/* Builds {"items": [...], "next_cursor": ...} from a list's rows (JSON
 * text and sort key, db/store.h), of which at most 'limit' are shown (the
 * query asked for limit + 1 to learn whether there is more).  The page
 * gets an ETag of its content; If-None-Match with it answers 304.  'rows'
 * stays the caller's. */
void crud_reply_page(struct api_req *, struct api_resp *,
                     const struct store_items *rows, unsigned int limit);
/* The same page from items[0..shown), 'more' telling whether rows follow
 * and 'last' the sort key of the last one shown (the cursor). */
void crud_reply_items(struct api_req *, struct api_resp *,
                      const struct store_item *items, size_t shown, bool more,
                      const char *last);
/* The page's body alone: malloc'ed (NULL when memory runs out), its length
 * in *len. */
char *crud_page_text(const struct store_item *items, size_t shown, bool more,
                     const char *last, size_t *len);
/* Replies 200 with the malloc'ed JSON 'body' (always consumed) and an ETag
 * of its content, or 304 when If-None-Match carries that ETag: how pollers
 * (the dashboard) learn cheaply that nothing changed. */
void crud_reply_computed(struct api_req *, struct api_resp *, char *body,
                         size_t len);
/* Formats the ETag of a row: its id's first 8 characters and a 64-bit
 * FNV-1a of its representation, so the tag moves whenever the body does,
 * also for what the row's revision does not count (a host's vm_count, a
 * cloud's gateway), and a body read from the read snapshot
 * (api/readsnap.h) has the tag a database read of it has. */
void crud_etag(char out[40], const struct store_row *row);
/* Formats an ETag of arbitrary content (64-bit FNV-1a). */
void crud_etag_body(char out[40], const char *body, size_t len);
/* Checks If-Match against 'etag'; false (412 written) on mismatch. */
bool crud_if_match(struct api_req *, struct api_resp *, const char *etag);
/* The same for the If-Match value 'h' (NULL: no condition). */
bool crud_if_match_value(struct api_req *, struct api_resp *, const char *h,
                         const char *etag);
/* A document computed for one network (its status, its topology): the
 * fetch writes a malloc'ed JSON text; 'finish', if not NULL, turns it into
 * the reply body (consumes it; NULL when memory runs out). */
typedef enum db_qs crud_network_doc_fn(struct db_conn *, const char *tenant_id,
                                       const char *network_id, char **json);
typedef char *crud_finish_fn(char *json);
/* GET .../networks/{network}/...: resolves {tenant} and {network} (params 0
 * and 1, ids or names), fetches, finishes, and replies through
 * crud_reply_computed(), or with the problem (404 naming what is missing). */
void crud_network_doc(struct api_req *, struct api_resp *, crud_network_doc_fn *,
                      crud_finish_fn *);
/* Runs the write transaction 'fn' (db_txn_run on req->db) for a handler and
 * settles its answer: what fn put in 'resp' stands only when the
 * transaction committed, or when fn refused on purpose (DB_QS_NONE: a
 * problem, or an idempotent replay of an answer committed earlier).  On any
 * other outcome (fn failed, COMMIT refused, COMMIT lost) a response fn
 * built is discarded and replaced by the problem for the failure, unless fn
 * itself already wrote a problem for an error of its own.  Every API write
 * goes through here, so no 2xx ever describes a change that did not
 * commit.  A committed write answers its change-log position in
 * resp->seq (the Skyvisor-Seq header, db/changelog.h), and every write,
 * committed or not, is told to the read snapshot (api/readsnap.h) before
 * its answer leaves. */
void crud_write(struct api_req *, struct api_resp *, db_txn_fn *fn, void *arg,
                const char *kind, const char *in_use);
/* Writes the problem for a failed database call on 'req->db'. */
void crud_db_problem(struct api_req *, struct api_resp *, enum db_qs,
                     const char *kind, const char *in_use);

#endif
