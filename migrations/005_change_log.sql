-- 005_change_log.sql: the log of desired-state changes the reconciler
-- follows instead of reloading everything.
--
-- One row per changed object (insert, delete, or an update that bumps
-- `generation`: the same rule as the NOTIFY of 001, so the reconciler's
-- status write-back logs nothing), written by a trigger in the transaction
-- of the change.  NOTIFY stays a wake-up only: it is lost whenever LISTEN
-- reconnects and on a failover, the log is not.
--
-- Reading in commit order.  `seq` is assigned when a row is inserted, not
-- when its transaction commits, so a reader that remembered "the last seq
-- seen" would skip a transaction that took seq 10, committed after another
-- that took seq 11 had been read.  Readers therefore remember a snapshot
-- (pg_snapshot) instead: the changes new since watermark W are the rows
-- whose transaction W did not see (xid >= xmin(W) and not visible in W),
-- read in one statement together with the statement's own snapshot, which
-- becomes the next watermark.  A transaction in flight when W was taken is
-- invisible to W whatever its xid, so it is read once it commits, however
-- late; db/changelog.c holds the statement.
--
-- Pruning.  Rows older than the retention are deleted together with
-- raising `change_log_horizon.bound` to the pruned transactions' bound: a
-- reader whose watermark's xmin is below the horizon may have missed rows
-- and must reload everything (the reader checks this in the same
-- statement).

CREATE TABLE change_log (
    seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    xid        xid8 NOT NULL DEFAULT pg_current_xact_id(),
    kind       text NOT NULL,
    object_id  uuid NOT NULL,
    network_id uuid,
    op         text NOT NULL CHECK (op IN ('create', 'update', 'delete')),
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX change_log_xid ON change_log (xid);

CREATE TABLE change_log_horizon (
    one  boolean PRIMARY KEY DEFAULT true CHECK (one),
    bound xid8 NOT NULL
);
INSERT INTO change_log_horizon (bound) VALUES (pg_current_xact_id());

CREATE FUNCTION sv_change_log() RETURNS trigger LANGUAGE plpgsql AS $$
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
    IF TG_TABLE_NAME IN ('vswitch', 'vlink', 'vm') THEN
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

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['cloud', 'cloud_link', 'host', 'tenant', 'network',
                             'vswitch', 'vlink', 'vm'] LOOP
        EXECUTE format('CREATE TRIGGER %I_change_log AFTER INSERT OR UPDATE OR DELETE
                        ON %I FOR EACH ROW EXECUTE FUNCTION sv_change_log()', t, t);
    END LOOP;
END $$;
