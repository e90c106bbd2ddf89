-- 014_controller_connected.sql: whether a virtual switch's tenant
-- controller is connected, for fail_mode standalone.
--
-- A standalone switch is forwarded by its tenant's flows while its
-- controller is connected and by the platform's own forwarding otherwise
-- (a secure one always by the tenant's flows).  The tenant-controller agent
-- (ctrl/vswitch_agent.c) records each change of its connection here; the
-- reconciler reads it with the desired state (db/state.c), and a change is
-- logged as a change of the switch (change_log kind 'vswitch', as
-- migrations/013 does for its flows and ports), so the network is
-- recompiled.  A table of its own, not a column of vswitch: it is no part
-- of what a tenant declares (no revision, no audit row, no ETag moves).

CREATE TABLE vswitch_controller (
    vswitch_id uuid PRIMARY KEY REFERENCES vswitch (id) ON DELETE CASCADE,
    connected  boolean NOT NULL,
    since      timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER vswitch_controller_change_log
    AFTER INSERT OR DELETE OR UPDATE OF connected ON vswitch_controller
    FOR EACH ROW EXECUTE FUNCTION sv_vswitch_part_changed();
