-- 006_snapshots_migrations.sql: VM snapshots, stop and start, VM counters,
-- and live migrations by cloning: the desired state of each, which the
-- API writes and the reconciler realizes.
--
-- Snapshots (vm_snapshot).  A snapshot is asked for (POST .../snapshots, or
-- by a stop) in state 'pending'; the reconciler captures the VM's network
-- state (its flows on every bridge, its port, the tunnels it rests on, the
-- counter offsets) and records it as JSONB `content` with its size and
-- capture times ('ready'), or records why it could not ('error').  Only a
-- pending snapshot moves, and only once:
--
--     pending --capture--> ready
--        \----failure----> error
--
-- The VM's MAC, IP and switch at the time of the request are kept beside
-- the content: a start from the snapshot is refused (409) when they changed.
--
-- Stop and start (vm.power).  'stopped' asks the reconciler to remove the
-- VM's port and flows everywhere, after capturing the snapshot the stop
-- took (vm.power_snapshot_id); the VM keeps its addresses (its row stays,
-- with its unique MAC and IP) but no longer counts against its host's
-- capacity.  'running' again, after a start, asks it to restore the VM from
-- vm.power_snapshot_id on vm.host_id (possibly another host, another
-- cloud), counters continued from the snapshot's offsets.  The snapshot a
-- VM was last stopped with or started from cannot be deleted (foreign key).
--
-- Counters (vm_stats).  The reconciler's last sample of the VM's counters
-- with its time, and the offsets it keeps so that they continue across a
-- stop and start or a migration (OpenFlow cannot set a counter).  A VM
-- without a sample has no row.  Measurements, not desired state: no
-- change log, no audit.
--
-- Migrations (vm_migration).  One row per migration of a VM; at most one
-- is active (finished_at IS NULL) per VM.  Phases only move forward:
--
--     prepare -> clone -> dual -> activate -> cleanup -> done
--        |         |        |         |          |
--        +---------+--------+--> rolled-back     |
--        +---------+--------+---------+----------+--> failed
--
--   prepare   the target is chosen and its capacity reserved (the API
--             creates the migration in this phase); the reconciler brings
--             up the tunnels the target needs;
--   clone     the VM's flows installed at the target and on every transit
--             bridge, barrier-confirmed; the source keeps forwarding;
--   dual      traffic for the VM delivered to both locations; ends with
--             activation, or after dual_timeout_s with a rollback;
--   activate  the VM is live at the target: entering it moves vm.host_id
--             (and vm.placement, to the migration's target) in the same
--             transaction, so from here on the VM is at the target;
--   cleanup   after the drain wait, the source's flows and port removed;
--   done, rolled-back, failed: terminal (finished_at set).
-- A rollback is asked for by DELETE (rollback_requested_at) before
-- activate and done by the reconciler, which then records 'rolled-back';
-- an activation may be asked for by POST .../activate
-- (activate_requested_at).  The reconciler's writes go through
-- db/vm_migrations.c, each a guarded transition from the phase the caller
-- read, so two writers cannot move a phase backwards or skip one.
--
-- Capacity: a host's load (db/store.c's placement candidates) counts its
-- running VMs and, for each active migration, the copy of the VM not yet
-- (or no longer) recorded in vm.host_id: the target before activate, the
-- source from activate on.
--
-- Triggers: both new tables bump their revision, NOTIFY and write the
-- change log (005) on insert, delete and every generation bump (every
-- write of db/snapshots.c and db/vm_migrations.c bumps it, the
-- reconciler's included), and the audit trail (003), which leaves out
-- snapshot content and migration counters.  A VM with an active
-- migration cannot be deleted, nor a host it moves from or to (23503, the
-- API's 409).

ALTER TABLE vm ADD COLUMN power text NOT NULL DEFAULT 'running'
    CHECK (power IN ('running', 'stopped'));
ALTER TABLE vm ADD COLUMN power_changed_at timestamptz;

CREATE TABLE vm_snapshot (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    vm_id       uuid NOT NULL REFERENCES vm (id) ON DELETE CASCADE,
    network_id  uuid NOT NULL REFERENCES network (id) ON DELETE CASCADE,
    name        text NOT NULL
                CHECK (name ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    reason      text NOT NULL DEFAULT 'request' CHECK (reason IN ('request', 'stop')),
    labels      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(labels) = 'object'),
    -- The VM as it was when the snapshot was asked for.
    host_id     uuid REFERENCES host (id) ON DELETE SET NULL,
    mac         macaddr NOT NULL,
    ip          inet NOT NULL,
    switch_id   uuid NOT NULL,
    -- Filled by the reconciler.
    state       text NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'ready', 'error')),
    detail      text,
    content     jsonb CHECK (jsonb_typeof(content) = 'object'),
    size_bytes  bigint CHECK (size_bytes >= 0),
    capture_started_at timestamptz,
    captured_at timestamptz,
    capture_times jsonb CHECK (jsonb_typeof(capture_times) = 'object'),
    generation          bigint NOT NULL DEFAULT 1 CHECK (generation >= 1),
    observed_generation bigint NOT NULL DEFAULT 0 CHECK (observed_generation >= 0),
    revision    bigint NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (vm_id, name),
    CHECK ((state = 'ready') = (content IS NOT NULL)),
    CHECK (state <> 'error' OR detail IS NOT NULL)
);
CREATE INDEX vm_snapshot_pending ON vm_snapshot (created_at) WHERE state = 'pending';

ALTER TABLE vm ADD COLUMN power_snapshot_id uuid REFERENCES vm_snapshot (id);

CREATE TABLE vm_stats (
    vm_id       uuid PRIMARY KEY REFERENCES vm (id) ON DELETE CASCADE,
    as_of       timestamptz NOT NULL,
    rx_packets  bigint NOT NULL CHECK (rx_packets >= 0),
    rx_bytes    bigint NOT NULL CHECK (rx_bytes >= 0),
    rx_dropped  bigint NOT NULL CHECK (rx_dropped >= 0),
    tx_packets  bigint NOT NULL CHECK (tx_packets >= 0),
    tx_bytes    bigint NOT NULL CHECK (tx_bytes >= 0),
    tx_dropped  bigint NOT NULL CHECK (tx_dropped >= 0),
    duplicated  bigint NOT NULL DEFAULT 0 CHECK (duplicated >= 0),
    offsets     jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(offsets) = 'object')
);

CREATE TABLE vm_migration (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    vm_id          uuid NOT NULL REFERENCES vm (id) ON DELETE CASCADE,
    network_id     uuid NOT NULL REFERENCES network (id) ON DELETE CASCADE,
    target         jsonb NOT NULL CHECK (jsonb_typeof(target) = 'object'),
    from_host_id   uuid REFERENCES host (id) ON DELETE SET NULL,
    to_host_id     uuid REFERENCES host (id) ON DELETE SET NULL,
    phase          text NOT NULL DEFAULT 'prepare'
                   CHECK (phase IN ('prepare', 'clone', 'dual', 'activate', 'cleanup',
                                    'done', 'rolled-back', 'failed')),
    phase_times    jsonb NOT NULL DEFAULT jsonb_build_object('prepare', now())
                   CHECK (jsonb_typeof(phase_times) = 'object'),
    duplicated     bigint NOT NULL DEFAULT 0 CHECK (duplicated >= 0),
    to_controller  bigint NOT NULL DEFAULT 0 CHECK (to_controller >= 0),
    flows_cloned   bigint NOT NULL DEFAULT 0 CHECK (flows_cloned >= 0),
    detail         text,
    dual_timeout_s integer NOT NULL DEFAULT 300 CHECK (dual_timeout_s BETWEEN 1 AND 86400),
    rollback_requested_at timestamptz,
    activate_requested_at timestamptz,
    finished_at    timestamptz,
    generation          bigint NOT NULL DEFAULT 1 CHECK (generation >= 1),
    observed_generation bigint NOT NULL DEFAULT 0 CHECK (observed_generation >= 0),
    revision       bigint NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT vm_migration_terminal_finished
        CHECK ((phase IN ('done', 'rolled-back', 'failed')) = (finished_at IS NOT NULL)),
    CONSTRAINT vm_migration_hosts_while_active
        CHECK (finished_at IS NOT NULL
               OR (from_host_id IS NOT NULL AND to_host_id IS NOT NULL
                   AND from_host_id <> to_host_id))
);
CREATE UNIQUE INDEX vm_migration_one_active ON vm_migration (vm_id)
    WHERE finished_at IS NULL;
CREATE INDEX vm_migration_vm ON vm_migration (vm_id, created_at);

-- The phase rule (core/vm_phase.c says the same), for every writer.
CREATE FUNCTION sv_vm_migration_phase() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    seq constant text[] := ARRAY['prepare', 'clone', 'dual', 'activate', 'cleanup',
                                 'done'];
BEGIN
    IF NEW.phase = OLD.phase THEN
        RETURN NEW;
    END IF;
    IF OLD.phase IN ('done', 'rolled-back', 'failed')
       OR (NEW.phase = 'rolled-back' AND OLD.phase NOT IN ('prepare', 'clone', 'dual'))
       OR (NEW.phase NOT IN ('rolled-back', 'failed')
           AND array_position(seq, NEW.phase) <> array_position(seq, OLD.phase) + 1) THEN
        RAISE EXCEPTION 'migration % cannot move from % to %', OLD.id, OLD.phase,
                        NEW.phase
            USING ERRCODE = 'check_violation', CONSTRAINT = 'vm_migration_phase_order';
    END IF;
    NEW.phase_times := OLD.phase_times || jsonb_build_object(NEW.phase, now());
    RETURN NEW;
END $$;
CREATE TRIGGER vm_migration_phase BEFORE UPDATE ON vm_migration
    FOR EACH ROW EXECUTE FUNCTION sv_vm_migration_phase();

-- A VM with an active migration is not deleted: the migration would lose
-- the object it moves.  23503, as a foreign key would say it.
CREATE FUNCTION sv_vm_migrating() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM vm_migration
                WHERE vm_id = OLD.id AND finished_at IS NULL) THEN
        RAISE EXCEPTION 'vm % has a migration in progress', OLD.name
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'vm_migrating';
    END IF;
    RETURN OLD;
END $$;
CREATE TRIGGER vm_migrating BEFORE DELETE ON vm
    FOR EACH ROW EXECUTE FUNCTION sv_vm_migrating();

-- Nor is a host an active migration moves a VM from or to (history keeps
-- a deleted host as null).
CREATE FUNCTION sv_host_migrating() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM vm_migration WHERE finished_at IS NULL
                AND OLD.id IN (from_host_id, to_host_id)) THEN
        RAISE EXCEPTION 'host % is the source or target of a migration in progress',
                        OLD.name
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'host_migrating';
    END IF;
    RETURN OLD;
END $$;
CREATE TRIGGER host_migrating BEFORE DELETE ON host
    FOR EACH ROW EXECUTE FUNCTION sv_host_migrating();

-- The change log (005): snapshots and migrations belong to their VM's
-- network.
CREATE OR REPLACE FUNCTION sv_change_log() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    rec record;
    net uuid;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.generation = OLD.generation THEN
            RETURN NULL;
        END IF;
        rec := NEW;
    ELSIF TG_OP = 'DELETE' THEN
        rec := OLD;
    ELSE
        rec := NEW;
    END IF;
    IF TG_TABLE_NAME IN ('vswitch', 'vlink', 'vm', 'vm_snapshot', 'vm_migration') THEN
        net := rec.network_id;
    ELSIF TG_TABLE_NAME = 'network' THEN
        net := rec.id;
    END IF;
    INSERT INTO change_log (kind, object_id, network_id, op)
    VALUES (TG_TABLE_NAME, rec.id, net,
            CASE TG_OP WHEN 'INSERT' THEN 'create' WHEN 'UPDATE' THEN 'update'
                       ELSE 'delete' END);
    RETURN NULL;
END $$;

-- The audit trail (003): kinds 'snapshot' and 'migration'; a snapshot's
-- captured content and a migration's counters are measurements and stay
-- out of it (a phase change is recorded).
CREATE OR REPLACE FUNCTION sv_audit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    hidden constant text[] := ARRAY['state', 'detail', 'generation',
                                    'observed_generation', 'revision',
                                    'updated_at', 'last_used_at', 'hash',
                                    'content', 'size_bytes', 'capture_started_at',
                                    'captured_at', 'capture_times', 'duplicated',
                                    'to_controller', 'flows_cloned'];
    o jsonb;
    n jsonb;
    oid_ uuid;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        o := to_jsonb(OLD) - hidden;
        oid_ := OLD.id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        n := to_jsonb(NEW) - hidden;
        oid_ := NEW.id;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        SELECT jsonb_object_agg(e.key, e.value) INTO o
          FROM jsonb_each(to_jsonb(OLD) - hidden) e
         WHERE n -> e.key IS DISTINCT FROM e.value;
        IF o IS NULL THEN
            RETURN NULL;
        END IF;
        SELECT jsonb_object_agg(e.key, n -> e.key) INTO n
          FROM jsonb_object_keys(o) AS e(key);
    END IF;
    INSERT INTO audit (actor, kind, object_id, op, old, new)
    VALUES (coalesce(nullif(current_setting('skyvisor.actor', true), ''),
                     'db:' || session_user),
            CASE TG_TABLE_NAME WHEN 'vswitch' THEN 'switch'
                               WHEN 'vlink' THEN 'link'
                               WHEN 'cloud_link' THEN 'cloud-link'
                               WHEN 'vm_snapshot' THEN 'snapshot'
                               WHEN 'vm_migration' THEN 'migration'
                               ELSE TG_TABLE_NAME END,
            oid_,
            CASE TG_OP WHEN 'INSERT' THEN 'create'
                       WHEN 'UPDATE' THEN 'update'
                       ELSE 'delete' END,
            o, n);
    RETURN NULL;
END $$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['vm_snapshot', 'vm_migration'] LOOP
        EXECUTE format('CREATE TRIGGER %I_revision BEFORE UPDATE ON %I
                        FOR EACH ROW EXECUTE FUNCTION sv_bump_revision()', t, t);
        EXECUTE format('CREATE TRIGGER %I_notify AFTER INSERT OR UPDATE OR DELETE ON %I
                        FOR EACH ROW EXECUTE FUNCTION sv_notify_desired()', t, t);
        EXECUTE format('CREATE TRIGGER %I_change_log AFTER INSERT OR UPDATE OR DELETE
                        ON %I FOR EACH ROW EXECUTE FUNCTION sv_change_log()', t, t);
        EXECUTE format('CREATE TRIGGER %I_audit AFTER INSERT OR UPDATE OR DELETE ON %I
                        FOR EACH ROW EXECUTE FUNCTION sv_audit()', t, t);
    END LOOP;
END $$;
