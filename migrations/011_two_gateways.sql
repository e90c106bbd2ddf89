-- 011_two_gateways.sql: a cloud may have up to two gateways.
--
-- 001's partial unique index allowed one.  A second gateway of a cloud is
-- its twin: workers tunnel to both, every gateway tunnels to every gateway
-- of each adjacent cloud (core/tunnels.h: an overlay edge then carries up to
-- four tunnels), and fast-failover groups move traffic to the twin when
-- BFD declares the preferred one dead.  A cloud's gateways are ordered by
-- host name: the first is the preferred one.
--
-- The limit is held here, not only by the API: a trigger refuses a third
-- gateway under the constraint name host_two_gateways_per_cloud (the API
-- answers 409 cloud-gateways-full).  It takes the cloud's row FOR UPDATE
-- first, so two concurrent writers each adding a second gateway to the same
-- cloud are serialised and the later one sees the earlier.  Each gateway
-- has its own public_ip: two gateways of one cloud may not share one
-- (host_cloud_public_ip).
DROP INDEX host_one_gateway_per_cloud;

CREATE UNIQUE INDEX host_cloud_public_ip ON host (cloud_id, public_ip)
    WHERE public_ip IS NOT NULL;

CREATE FUNCTION sv_host_gateway_limit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    IF NEW.role <> 'gateway' THEN
        RETURN NEW;
    END IF;
    PERFORM 1 FROM cloud WHERE id = NEW.cloud_id FOR UPDATE;
    SELECT count(*) INTO n FROM host
     WHERE cloud_id = NEW.cloud_id AND role = 'gateway' AND id <> NEW.id;
    IF n >= 2 THEN
        RAISE EXCEPTION 'cloud % already has two gateways', NEW.cloud_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'host_two_gateways_per_cloud';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER host_gateway_limit BEFORE INSERT OR UPDATE OF role, cloud_id
    ON host FOR EACH ROW EXECUTE FUNCTION sv_host_gateway_limit();
