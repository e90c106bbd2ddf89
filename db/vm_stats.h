/* vm_stats.h: a VM's counters as the reconciler last sampled them
 * (migrations/006_snapshots_migrations.sql, table vm_stats).
 *
 * The reconciler records a sample per VM (vm_stats_record, an upsert);
 * counters are the VM's totals, continued across stops, starts and
 * migrations with the offsets it keeps beside them (OpenFlow cannot set a
 * counter).  The API reads the document GET .../vms/{vm}/stats answers
 * (vm_stats_document): until a first sample exists every counter and
 * `as_of` are null, and what is known of the VM (its host, power, active
 * migration) is there all the same.  Samples are measurements: they go to
 * neither the change log nor the audit trail. */
#ifndef SKYVISOR_DB_VM_STATS_H
#define SKYVISOR_DB_VM_STATS_H

#include "db/db.h"

struct vm_stats_sample {
    double as_of;           /* seconds since the epoch */
    long long rx_packets, rx_bytes, rx_dropped;
    long long tx_packets, tx_bytes, tx_dropped;
    long long duplicated;   /* copies delivered to a migration's second place */
    const char *offsets_json;   /* the reconciler's offsets (a JSON object), or
                                 * NULL to keep those recorded */
};

/* Records 'sample' for VM 'vm_id' unless a newer one is recorded already.
 * DB_QS_NONE when the VM is gone or the sample is older.  One statement,
 * not inside a transaction of the caller's. */
enum db_qs vm_stats_record(struct db_conn *, const char *vm_id,
                           const struct vm_stats_sample *);

/* Records many samples in one statement (its own transaction), as
 * vm_stats_record would one by one: 'samples_json' is a JSON array of
 * {"vm_id", "as_of" (seconds since the epoch), "rx_packets", "rx_bytes",
 * "rx_dropped", "tx_packets", "tx_bytes", "tx_dropped", "offsets"}; a
 * sample's `duplicated` is left as recorded.  DB_QS_NONE when none was
 * newer than what is recorded (or every VM is gone). */
enum db_qs vm_stats_record_many(struct db_conn *, const char *samples_json);

/* Every VM's recorded sample, for the reconciler's start: a JSON object
 * {vm_id: {"offsets": {...}, "rx_packets": N, ...}} (malloc'ed text in
 * *json, the caller frees).  One statement, outside any transaction. */
enum db_qs vm_stats_samples(struct db_conn *, char **json);

/* The stats document of VM 'vm_id' of network 'network_id' (malloc'ed
 * JSON text in *json, the caller frees), DB_QS_NONE when there is no such
 * VM. */
enum db_qs vm_stats_document(struct db_conn *, const char *network_id,
                             const char *vm_id, char **json);

#endif
