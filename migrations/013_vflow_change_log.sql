-- 013_vflow_change_log.sql: a tenant controller's flows and its switch's
-- port numbers are realized in the datapath (ctrl/vtranslate.h), so a
-- change to either is a change of the virtual switch for the reconciler.
--
-- A row of vflow inserted or deleted, or updated in what the datapath
-- holds (table, priority, match, instructions: not the counters or the
-- hit times the agent keeps), and a row of vport inserted or deleted,
-- log their switch in change_log (kind 'vswitch', op 'update', with its
-- network, in the transaction of the change; the reconciler reloads the
-- network) and NOTIFY skyvisor_desired, as migrations 001 and 005 do for
-- the desired-state tables.  A flow-mod that deletes many flows logs one
-- row per flow; the reader reads them as one change.

CREATE FUNCTION sv_vswitch_part_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    sw uuid;
    net uuid;
BEGIN
    IF TG_OP = 'DELETE' THEN
        sw := OLD.vswitch_id;
    ELSE
        sw := NEW.vswitch_id;
    END IF;
    SELECT network_id INTO net FROM vswitch WHERE id = sw;
    IF net IS NULL THEN
        RETURN NULL;            -- the switch itself is going: it logs that
    END IF;
    INSERT INTO change_log (kind, object_id, network_id, op)
    VALUES ('vswitch', sw, net, 'update');
    PERFORM pg_notify('skyvisor_desired',
                      json_build_object('kind', 'vswitch', 'op', 'update',
                                        'id', sw)::text);
    RETURN NULL;
END $$;

CREATE TRIGGER vflow_change_log AFTER INSERT OR DELETE ON vflow
    FOR EACH ROW EXECUTE FUNCTION sv_vswitch_part_changed();
CREATE TRIGGER vflow_change_log_update
    AFTER UPDATE OF table_id, priority, match, instructions ON vflow
    FOR EACH ROW
    WHEN (OLD.table_id IS DISTINCT FROM NEW.table_id
          OR OLD.priority IS DISTINCT FROM NEW.priority
          OR OLD.match IS DISTINCT FROM NEW.match
          OR OLD.instructions IS DISTINCT FROM NEW.instructions)
    EXECUTE FUNCTION sv_vswitch_part_changed();
CREATE TRIGGER vport_change_log AFTER INSERT OR DELETE ON vport
    FOR EACH ROW EXECUTE FUNCTION sv_vswitch_part_changed();
