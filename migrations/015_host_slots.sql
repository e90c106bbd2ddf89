-- 015_host_slots.sql: each host's used slots, kept as a counter.
--
-- Placement (db/store.c's candidates, core/placement.c) compares a host's
-- used slots with its capacity.  They were counted on every placement
-- (every host's running VMs and active migrations), O(all VMs) per VM
-- POST inside the VM lock; host_slots.used holds the count instead,
-- maintained by the triggers below in the transaction of each change.
--
-- The rule (006, db/store.h): a slot is used by each running VM placed on
-- the host (a stopped one releases its slot) and by each active migration's
-- other copy of its VM: the target before activate (phases prepare, clone,
-- dual), the source from activate on (activate, cleanup).  A finished
-- migration (finished_at set) holds none.  Entering activate moves the VM
-- to the target and the migration's copy to the source in one statement
-- (db/vm_migrations.c): the two triggers cancel out.
--
-- A table of its own, not a column of host: a counter write is no change
-- of the host (no revision or ETag move, no change-log row, no audit row,
-- no NOTIFY to the reconciler or the read snapshot: 001, 003, 005, 012).
-- A host gets its row when it is inserted and loses it with itself (the
-- host cannot go while a VM or an active migration still uses it).
--
-- Concurrency: the increments are row updates, so writers that change the
-- same host's count queue on its row until they commit; the VM lock
-- (db/vms.c) still serialises placements, which read the counts and then
-- take a slot.  Writers that move counts without that lock (a VM's delete,
-- the reconciler's phase moves) can meet a batch holding it in a cycle of
-- row waits; PostgreSQL breaks it (40P01) and the transaction runner runs
-- the loser again (db/conn.c).

CREATE TABLE host_slots (
    host_id uuid PRIMARY KEY REFERENCES host (id) ON DELETE CASCADE,
    used    integer NOT NULL DEFAULT 0 CHECK (used >= 0)
);

-- The host whose slot a VM row, or a migration row, uses (NULL: none).
CREATE FUNCTION sv_vm_slot(power text, host uuid) RETURNS uuid
    LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN power = 'running' THEN host END
$$;
CREATE FUNCTION sv_migration_slot(phase text, finished timestamptz, from_host uuid,
                                  to_host uuid) RETURNS uuid
    LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN finished IS NOT NULL THEN NULL
                WHEN phase IN ('prepare', 'clone', 'dual') THEN to_host
                ELSE from_host END
$$;

-- Moves one slot from host 'old' to host 'new' (either may be NULL).
CREATE FUNCTION sv_host_slots_move(old uuid, new uuid) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    IF old IS NOT DISTINCT FROM new THEN
        RETURN;
    END IF;
    IF old IS NOT NULL THEN
        UPDATE host_slots SET used = used - 1 WHERE host_id = old;
    END IF;
    IF new IS NOT NULL THEN
        UPDATE host_slots SET used = used + 1 WHERE host_id = new;
    END IF;
END $$;

CREATE FUNCTION sv_vm_slots() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM sv_host_slots_move(
        CASE WHEN TG_OP <> 'INSERT' THEN sv_vm_slot(OLD.power, OLD.host_id) END,
        CASE WHEN TG_OP <> 'DELETE' THEN sv_vm_slot(NEW.power, NEW.host_id) END);
    RETURN NULL;
END $$;

CREATE FUNCTION sv_vm_migration_slots() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM sv_host_slots_move(
        CASE WHEN TG_OP <> 'INSERT' THEN
            sv_migration_slot(OLD.phase, OLD.finished_at, OLD.from_host_id,
                              OLD.to_host_id) END,
        CASE WHEN TG_OP <> 'DELETE' THEN
            sv_migration_slot(NEW.phase, NEW.finished_at, NEW.from_host_id,
                              NEW.to_host_id) END);
    RETURN NULL;
END $$;

CREATE FUNCTION sv_host_slots_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO host_slots (host_id) VALUES (NEW.id);
    RETURN NULL;
END $$;

CREATE TRIGGER host_slots_row AFTER INSERT ON host
    FOR EACH ROW EXECUTE FUNCTION sv_host_slots_row();

CREATE TRIGGER vm_slots AFTER INSERT OR DELETE ON vm
    FOR EACH ROW EXECUTE FUNCTION sv_vm_slots();
CREATE TRIGGER vm_slots_update AFTER UPDATE ON vm
    FOR EACH ROW
    WHEN (OLD.host_id IS DISTINCT FROM NEW.host_id OR OLD.power IS DISTINCT FROM NEW.power)
    EXECUTE FUNCTION sv_vm_slots();

CREATE TRIGGER vm_migration_slots AFTER INSERT OR DELETE ON vm_migration
    FOR EACH ROW EXECUTE FUNCTION sv_vm_migration_slots();
CREATE TRIGGER vm_migration_slots_update AFTER UPDATE ON vm_migration
    FOR EACH ROW
    WHEN (OLD.phase IS DISTINCT FROM NEW.phase
          OR OLD.finished_at IS DISTINCT FROM NEW.finished_at
          OR OLD.from_host_id IS DISTINCT FROM NEW.from_host_id
          OR OLD.to_host_id IS DISTINCT FROM NEW.to_host_id)
    EXECUTE FUNCTION sv_vm_migration_slots();

-- The hosts there are, counted once.
INSERT INTO host_slots (host_id, used)
SELECT h.id,
       (SELECT count(*) FROM vm v
         WHERE sv_vm_slot(v.power, v.host_id) = h.id)
       + (SELECT count(*) FROM vm_migration m
           WHERE sv_migration_slot(m.phase, m.finished_at, m.from_host_id,
                                   m.to_host_id) = h.id)
  FROM host h;
