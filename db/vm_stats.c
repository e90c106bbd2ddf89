/* vm_stats.c: the statements of vm_stats.h. */
#include "db/vm_stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/conn_internal.h"
#include "db/guard.h"

static const struct db_stmt stmt_record = {
    "vm_stats_record",
    "INSERT INTO vm_stats AS s (vm_id, as_of, rx_packets, rx_bytes, rx_dropped,"
    "  tx_packets, tx_bytes, tx_dropped, duplicated, offsets)"
    " SELECT v.id, to_timestamp($2::float8), $3::bigint, $4::bigint, $5::bigint,"
    "  $6::bigint, $7::bigint, $8::bigint, $9::bigint, coalesce($10::jsonb, '{}')"
    " FROM vm v WHERE v.id = $1::uuid"
    " ON CONFLICT (vm_id) DO UPDATE SET as_of = excluded.as_of,"
    "  rx_packets = excluded.rx_packets, rx_bytes = excluded.rx_bytes,"
    "  rx_dropped = excluded.rx_dropped, tx_packets = excluded.tx_packets,"
    "  tx_bytes = excluded.tx_bytes, tx_dropped = excluded.tx_dropped,"
    "  duplicated = excluded.duplicated,"
    "  offsets = CASE WHEN $10::jsonb IS NULL THEN s.offsets ELSE excluded.offsets END"
    " WHERE s.as_of <= excluded.as_of", 10,
};

static const struct db_stmt stmt_record_many = {
    "vm_stats_record_many",
    "INSERT INTO vm_stats AS s (vm_id, as_of, rx_packets, rx_bytes, rx_dropped,"
    "  tx_packets, tx_bytes, tx_dropped, offsets)"
    " SELECT v.id, to_timestamp(x.as_of), x.rx_packets, x.rx_bytes, x.rx_dropped,"
    "  x.tx_packets, x.tx_bytes, x.tx_dropped, coalesce(x.offsets, '{}')"
    " FROM jsonb_to_recordset($1::jsonb) AS x(vm_id uuid, as_of float8,"
    "  rx_packets bigint, rx_bytes bigint, rx_dropped bigint, tx_packets bigint,"
    "  tx_bytes bigint, tx_dropped bigint, offsets jsonb)"
    " JOIN vm v ON v.id = x.vm_id"
    " ON CONFLICT (vm_id) DO UPDATE SET as_of = excluded.as_of,"
    "  rx_packets = excluded.rx_packets, rx_bytes = excluded.rx_bytes,"
    "  rx_dropped = excluded.rx_dropped, tx_packets = excluded.tx_packets,"
    "  tx_bytes = excluded.tx_bytes, tx_dropped = excluded.tx_dropped,"
    "  offsets = excluded.offsets"
    " WHERE s.as_of <= excluded.as_of", 1,
};

#define COUNTER(N) " '" N "', s." N ","
static const struct db_stmt stmt_document = {
    "vm_stats_document",
    "SELECT json_build_object('vm', v.name, 'vm_id', v.id,"
    " 'host', (SELECT name FROM host WHERE id = v.host_id), 'host_id', v.host_id,"
    " 'power', v.power, 'as_of', s.as_of,"
    COUNTER("rx_packets") COUNTER("rx_bytes") COUNTER("rx_dropped")
    COUNTER("tx_packets") COUNTER("tx_bytes") COUNTER("tx_dropped")
    /* The sample's own count, and the copies the VM's migrations
     * delivered to their second place (counted by the migrations). */
    " 'duplicated', s.duplicated + (SELECT coalesce(sum(m.duplicated), 0)"
    "   FROM vm_migration m WHERE m.vm_id = v.id),"
    " 'migration', (SELECT json_build_object('id', m.id, 'phase', m.phase,"
    "   'duplicated', m.duplicated) FROM vm_migration m"
    "   WHERE m.vm_id = v.id AND m.finished_at IS NULL))::text"
    " FROM vm v LEFT JOIN vm_stats s ON s.vm_id = v.id"
    " WHERE v.network_id = $1::uuid AND v.id = $2::uuid", 2,
};

static const struct db_stmt stmt_samples = {
    "vm_stats_samples",
    "SELECT coalesce(json_object_agg(s.vm_id, json_build_object('offsets', s.offsets,"
    COUNTER("rx_packets") COUNTER("rx_bytes") COUNTER("rx_dropped")
    COUNTER("tx_packets") COUNTER("tx_bytes")
    " 'tx_dropped', s.tx_dropped)), '{}')::text FROM vm_stats s", 0,
};

enum db_qs
vm_stats_samples(struct db_conn *c, char **json)
{
    PGresult *res;
    *json = NULL;
    enum db_qs qs = db_exec(c, &stmt_samples, NULL, &res);
    if (qs == DB_QS_ONE && !(*json = strdup(PQgetvalue(res, 0, 0)))) {
        qs = DB_QS_HARD;
    }
    PQclear(res);
    return qs;
}

enum db_qs
vm_stats_record(struct db_conn *c, const char *vm_id, const struct vm_stats_sample *s)
{
    char v[8][32];
    const long long n[] = {s->rx_packets, s->rx_bytes, s->rx_dropped, s->tx_packets,
                           s->tx_bytes, s->tx_dropped, s->duplicated};
    snprintf(v[0], sizeof v[0], "%.6f", s->as_of);
    for (size_t i = 0; i < 7; i++) {
        snprintf(v[i + 1], sizeof v[i + 1], "%lld", n[i]);
    }
    const char *params[] = {vm_id, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7],
                            s->offsets_json};
    return guard_run(c, &stmt_record, params, NULL);
}

enum db_qs
vm_stats_record_many(struct db_conn *c, const char *samples_json)
{
    const char *params[] = {samples_json};
    return guard_run(c, &stmt_record_many, params, NULL);
}

enum db_qs
vm_stats_document(struct db_conn *c, const char *network_id, const char *vm_id,
                  char **json)
{
    const char *params[] = {network_id, vm_id};
    PGresult *res;
    *json = NULL;
    enum db_qs qs = db_exec(c, &stmt_document, params, &res);
    if (qs == DB_QS_ONE && !(*json = strdup(PQgetvalue(res, 0, 0)))) {
        qs = DB_QS_HARD;
    }
    PQclear(res);
    return qs;
}
