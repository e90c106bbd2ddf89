# db/: every SQL statement, the connection pool, the transaction runner,
# migrations and the embedded PostgreSQL cluster.
DB_SRCS += db/conn.c db/pool.c db/migrate.c db/embedded.c db/store.c \
           db/clouds.c db/cloudlinks.c db/hosts.c db/tenants.c db/networks.c \
           db/switches.c db/links.c db/vms.c db/idempotency.c db/state.c \
           db/tokens.c db/audit.c db/changelog.c db/readsnap.c \
           $(BUILD)/gen/migrations.c
# Snapshots, stop and start, VM counters and live migrations: what the API
# writes and the reconciler reads and settles.
DB_SRCS += db/guard.c db/snapshots.c db/vm_migrations.c db/vm_stats.c

MIGRATIONS := $(sort $(wildcard migrations/*.sql))
$(BUILD)/gen/migrations.c: $(MIGRATIONS) tools/embed
	@mkdir -p $(dir $@)
	tools/embed db_mig $(MIGRATIONS) > $@
# Instances and cloud leases (migrations/007).
DB_SRCS += db/instances.c
# Admission control of the tenants' WAN caps (migrations/010).
DB_SRCS += db/bandwidth.c
# Tenant controllers: virtual ports and flows (migrations/009).
DB_SRCS += db/tenant_ctl.c
# The reconciler's store on PostgreSQL (ctrl/reconciler.h's recon_store).
DB_SRCS += db/recon_db.c
# ...and the reconciler's lifecycle store: snapshots, counters and live
# migrations (ctrl/recon_lifecycle.h, ctrl/recon_migration.h).
DB_SRCS += db/lifecycle_store.c
# This instance's registration and cloud leases, kept by a thread of their
# own (core/lease.h decides).
DB_SRCS += db/lease_keeper.c
# The tenant-controller agent's store (ctrl/vswitch_agent.h).
DB_SRCS += db/vswitch_store.c
