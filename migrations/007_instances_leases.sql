-- 007_instances_leases.sql: several skyvisord processes on one database.
-- Each registers an instance row and heartbeats it; the switches of each
-- cloud are owned by one instance at a time through a lease with an expiry
-- and an epoch.  db/instances.c holds every statement, core/lease.c the
-- decision of what to acquire, renew or let go, api/lease_keeper.c the
-- thread that runs it.
--
-- Instances (instance).  One row per running process, written at start
-- (a fresh id each time) and heartbeated every --heartbeat-ms.  `pins` is
-- the --clouds preference (cloud names).  `healthy_since` is when the
-- current run of on-time heartbeats began: a heartbeat that comes more
-- than a lease after the previous one (the process was paused, or lost
-- its database) starts it again, so "healthy for a while" means exactly
-- that.  Rows silent for an hour are deleted by the others.  Measurements,
-- not desired state: no change log, no audit.
--
-- Leases (cloud_lease).  One row per cloud that was ever owned.  A lease
-- is held by `holder` until `expires_at`, both set by the statement that
-- acquires or renews it with the database's clock (clock_timestamp()), so
-- every instance judges expiry by one clock.  The holder keeps its own
-- deadline by its monotonic clock, started before it sent the statement:
-- its deadline is earlier than expires_at, so it has stopped writing
-- before anyone else may acquire.  A lease is acquired by one statement
-- (INSERT ... ON CONFLICT DO UPDATE ... WHERE expired), which the row lock
-- makes a compare-and-set: of two instances racing for an expired lease
-- exactly one updates the row, the other sees the winner's expiry.
-- Renewal succeeds only for the same holder and epoch while unexpired;
-- a lease that expired is acquired again, with a new epoch, even by the
-- instance that held it.  Release (clean shutdown, after the holder
-- stopped writing) sets expires_at to now.
--
-- The epoch.  Every acquisition takes a new epoch, used as the OpenFlow
-- role generation_id and as the OVSDB fence value: a switch refuses an
-- owner whose epoch is below one it has seen, so an epoch must only grow
-- and never repeat, also across a PostgreSQL failover.  We fold the
-- timeline into it: epoch = timeline * 2^32 + nextval(cloud_lease_epoch).
-- Synchronous commit alone would not do: it protects only where
-- synchronous replication is configured, and an asynchronous standby
-- promoted after losing the last acquisitions would hand out their
-- sequence values again; a switch that saw one would then refuse the new
-- owner (STALE), or worse, accept two owners with one epoch.  A promotion
-- (and a point-in-time recovery) always starts a new, higher timeline, so
-- every epoch issued after it is above every epoch issued before, whatever
-- replication lost.  The timeline is read from the WAL file name of the
-- current insert position (pg_walfile_name), which uses the timeline the
-- server writes on.  The sequence stays below 2^32 (its MAXVALUE): 136
-- years at one acquisition a second.  Epochs stay below 2^63, as Open
-- vSwitch compares generation ids by signed difference.  The lease writes
-- run with the session's synchronous_commit all the same: in the
-- documented setting (synchronous replication) an acknowledged
-- acquisition survives a failover too.

CREATE TABLE instance (
    id               uuid PRIMARY KEY,
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    api_address      text NOT NULL CHECK (length(api_address) BETWEEN 1 AND 255),
    openflow_address text CHECK (length(openflow_address) BETWEEN 1 AND 255),
    pins             text[] NOT NULL DEFAULT '{}',
    lease_ms         integer NOT NULL CHECK (lease_ms > 0),
    heartbeat_ms     integer NOT NULL CHECK (heartbeat_ms > 0),
    started_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    heartbeat_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    healthy_since    timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE SEQUENCE cloud_lease_epoch AS bigint MINVALUE 1 MAXVALUE 4294967295 NO CYCLE;

CREATE FUNCTION sv_lease_epoch() RETURNS bigint LANGUAGE sql VOLATILE AS $$
    SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::bigint
           * 4294967296 + nextval('cloud_lease_epoch')
$$;

CREATE TABLE cloud_lease (
    cloud_id     uuid PRIMARY KEY REFERENCES cloud (id) ON DELETE CASCADE,
    holder       uuid REFERENCES instance (id) ON DELETE SET NULL,
    epoch        bigint NOT NULL CHECK (epoch > 0),
    acquired_at  timestamptz NOT NULL,
    renewed_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    takeovers    bigint NOT NULL DEFAULT 0    -- acquisitions by another holder
);
CREATE INDEX cloud_lease_holder ON cloud_lease (holder);
