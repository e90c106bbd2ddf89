/* model.h: the objects skyctl reasons about, declared or on the server.
 *
 * Every object skyvisor's API knows is one `struct model_obj`: its kind, its
 * scope (tenant and network names for the objects that live under a
 * network), its name within that scope and a JSON body.  A declared object's
 * body holds the fields the file states, in the API's own spelling (what a
 * POST would send, without the skyctl label); a server object's body is the
 * API's representation as read.  Objects are identified by name only: the
 * (kind, tenant, network, name) quadruple is unique within a set.
 *
 * Cloud links have no name in the API; skyctl names one "A--B" with the two
 * cloud names sorted, the same way the API names virtual links.
 *
 * The kinds are listed in dependency order: a kind depends only on kinds
 * before it, so creates run forward through the list and deletes backward. */
#ifndef SKYCTL_MODEL_H
#define SKYCTL_MODEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* The label skyctl puts on what it creates; its value is the file's id. */
#define MODEL_LABEL "skyctl.managed-by"

enum model_kind {
    MK_CLOUD, MK_CLOUDLINK, MK_HOST, MK_TENANT, MK_NETWORK, MK_SWITCH,
    MK_LINK, MK_VM,
    MK__N
};

struct model_obj {
    enum model_kind kind;
    char *tenant;               /* networks and below, else NULL; owned */
    char *network;              /* switches, links, VMs, else NULL; owned */
    char *name;                 /* owned */
    json_t *body;               /* owned reference */
};

/* A growable array of objects; owns them. */
struct model_set {
    struct model_obj *v;
    size_t n, cap;
};

/* "cloud", "cloud-link", ... for messages and tables. */
const char *model_kind_name(enum model_kind);
/* "clouds", "cloud-links", ... as `skyctl get` takes them. */
const char *model_kind_plural(enum model_kind);
/* Parses a kind as `skyctl get` takes it (singular or plural, "link" for
 * virtual links); returns MK__N if unknown. */
enum model_kind model_kind_parse(const char *);
/* Whether objects of the kind carry labels and a status (not cloud links). */
bool model_kind_has_status(enum model_kind);

/* Adds an object; copies the strings, takes the reference to 'body' (always
 * consumed, even on failure).  Returns the new object or NULL (ENOMEM). */
struct model_obj *model_set_add(struct model_set *, enum model_kind, const char *tenant,
                                const char *network, const char *name, json_t *body);
/* Finds an object by identity; NULL if absent. */
struct model_obj *model_set_find(const struct model_set *, enum model_kind,
                                 const char *tenant, const char *network,
                                 const char *name);
void model_set_uninit(struct model_set *);

/* "red/prod/web" (scope and name) into buf; returns buf. */
const char *model_path(const struct model_obj *, char *buf, size_t len);
/* The object's API URL path ("/v1/tenants/red/networks/prod/vms/web") or,
 * when 'collection' is true, its collection's ("/v1/.../vms").  For cloud
 * links both are "/v1/cloud-links/A/B".  Writes into buf; returns buf. */
const char *model_url(const struct model_obj *, bool collection, char *buf, size_t len);

/* The value of MODEL_LABEL on a server object, or NULL. */
const char *model_managed_by(const struct model_obj *);
/* Splits "A--B" (a link written as a string in the file) at its one "--".
 * Returns false if the name is not of that shape. */
bool model_cloudlink_split(const char *name, char *a, char *b, size_t len);
/* The two clouds of a cloud link object, from its body ("a"/"b" as
 * declared, "cloud_a"/"cloud_b" as the server answers); NULL if absent. */
void model_cloudlink_ends(const struct model_obj *, const char **a, const char **b);

#endif
