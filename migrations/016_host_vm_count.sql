-- 016_host_vm_count.sql: each host's VMs, kept as a counter beside its
-- used slots.
--
-- A host's representation (db/hosts.c) carries vm_count, every VM whose
-- host it is (running or stopped).  It was counted over the VMs each time
-- a host was read, and the API's read snapshot reads every host after each
-- change it is told of (api/readsnap.c): with thousands of VMs, each VM
-- POST made the next refresh count them all again.  host_slots.vms holds
-- the count instead, moved in the same statement as the host's used slots
-- (015), so a VM's insert, delete or move is still one row update per host
-- it touches; the count has 015's properties (no revision or ETag move of
-- the host, no change-log or audit row, no NOTIFY of its own: the VM's
-- change is what the snapshot hears of).

ALTER TABLE host_slots ADD COLUMN vms integer NOT NULL DEFAULT 0 CHECK (vms >= 0);

-- The VM's own host (vms) and the slot it uses (used, 015's rule) move
-- together: one UPDATE for each host the change touches.
CREATE OR REPLACE FUNCTION sv_vm_slots() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_host uuid := CASE WHEN TG_OP <> 'INSERT' THEN OLD.host_id END;
    new_host uuid := CASE WHEN TG_OP <> 'DELETE' THEN NEW.host_id END;
    old_slot uuid := CASE WHEN TG_OP <> 'INSERT' THEN sv_vm_slot(OLD.power, OLD.host_id) END;
    new_slot uuid := CASE WHEN TG_OP <> 'DELETE' THEN sv_vm_slot(NEW.power, NEW.host_id) END;
BEGIN
    IF old_host IS NOT DISTINCT FROM new_host THEN
        PERFORM sv_host_slots_move(old_slot, new_slot);     -- power alone
        RETURN NULL;
    END IF;
    IF old_host IS NOT NULL THEN
        UPDATE host_slots SET vms = vms - 1,
                              used = used - CASE WHEN old_slot IS NULL THEN 0 ELSE 1 END
         WHERE host_id = old_host;
    END IF;
    IF new_host IS NOT NULL THEN
        UPDATE host_slots SET vms = vms + 1,
                              used = used + CASE WHEN new_slot IS NULL THEN 0 ELSE 1 END
         WHERE host_id = new_host;
    END IF;
    RETURN NULL;
END $$;

-- The VMs there are, counted once.
UPDATE host_slots s SET vms = (SELECT count(*) FROM vm v WHERE v.host_id = s.host_id);
