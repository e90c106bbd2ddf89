-- 012_status_notify.sql: a wake-up for the API's read snapshot when a
-- status changes.
--
-- The API answers GETs of clouds, hosts and tenants from a snapshot of
-- their representations (api/readsnap.h), read again whenever they may have
-- changed.  Desired-state changes already NOTIFY 'skyvisor_desired' (001);
-- a status write-back (an UPDATE that leaves `generation` as it was) bumps
-- the row's revision, its status and updated_at, all part of the
-- representation and its ETag, and notified nobody.  This NOTIFYs
-- 'skyvisor_status' with the table's name in the same transaction.
-- PostgreSQL folds equal notifications of one transaction into one, so a
-- pass that writes many statuses wakes each listener once.  Only a wake-up:
-- a listener that reconnects reads everything again.

CREATE FUNCTION sv_notify_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.generation = OLD.generation THEN
        PERFORM pg_notify('skyvisor_status', TG_TABLE_NAME);
    END IF;
    RETURN NULL;
END $$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['cloud', 'host', 'tenant'] LOOP
        EXECUTE format('CREATE TRIGGER %I_status_notify AFTER UPDATE ON %I
                        FOR EACH ROW EXECUTE FUNCTION sv_notify_status()', t, t);
    END LOOP;
END $$;
