/* resource_sql.h: SQL fragments shared by the resource files of db/ (the
 * status object and the common tail of every representation). */
#ifndef SKYVISOR_DB_RESOURCE_SQL_H
#define SKYVISOR_DB_RESOURCE_SQL_H

#define SQL_STATUS(A)                                                          \
    "'status', json_build_object('state', " A ".state, 'detail', " A          \
    ".detail, 'generation', " A ".generation, 'observed_generation', " A       \
    ".observed_generation)"
#define SQL_COMMON(A)                                                          \
    "'id', " A ".id, 'name', " A ".name, 'labels', " A ".labels, "             \
    "'created_at', " A ".created_at, 'updated_at', " A ".updated_at, "         \
    SQL_STATUS(A)
/* The SET clause every update shares: a spec change bumps the generation and
 * makes the object pending again until the reconciler has realized it. */
#define SQL_SPEC_CHANGED                                                       \
    "generation = generation + 1, state = 'pending', detail = NULL"

#endif
