-- 008_migration_wire.sql: what the reconciler needs to realize a live
-- migration (006) in the datapath.
--
-- The second identity.  While a migration clones a VM, traffic for it may
-- go to two places at once: its source and its target.  Frames between
-- bridges are forwarded by platform destination MAC (002), so the copy
-- meant for the second place carries a platform MAC of its own: the tag
-- bytes 00:00 (no tenant has tag 0) and `alt_low` in the last four bytes.
-- `alt_low` is unique among active migrations, so no two copies in flight
-- on the platform share an address, and no tenant's platform MAC is ever
-- one of them.  core/netmodel.h says which MAC leads where in each phase.
--
-- The change log.  A migration's phase decides how its VM's flows are
-- compiled, so every logged change of a migration also logs its VM (kind
-- 'vm', op 'update'): the reconciler then re-reads that one VM, with its
-- migration, as for any other change of the VM.

CREATE SEQUENCE vm_migration_alt_seq AS bigint MINVALUE 1 MAXVALUE 4294967295 CYCLE;

ALTER TABLE vm_migration ADD COLUMN alt_low bigint NOT NULL
    DEFAULT nextval('vm_migration_alt_seq')
    CHECK (alt_low BETWEEN 1 AND 4294967295);
CREATE UNIQUE INDEX vm_migration_alt_active ON vm_migration (alt_low)
    WHERE finished_at IS NULL;

CREATE OR REPLACE FUNCTION sv_change_log() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    rec record;
    net uuid;
    op_ text;
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
    op_ := CASE TG_OP WHEN 'INSERT' THEN 'create' WHEN 'UPDATE' THEN 'update'
                      ELSE 'delete' END;
    INSERT INTO change_log (kind, object_id, network_id, op)
    VALUES (TG_TABLE_NAME, rec.id, net, op_);
    IF TG_TABLE_NAME = 'vm_migration' THEN
        INSERT INTO change_log (kind, object_id, network_id, op)
        VALUES ('vm', rec.vm_id, net, 'update');
    END IF;
    RETURN NULL;
END $$;
