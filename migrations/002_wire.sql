-- 002_wire.sql: the identities the reconciler puts on the wire.
--
-- A frame between two bridges carries platform MACs: the tenant's 16-bit
-- tag in the first two bytes and a 32-bit value in the last four that names
-- the VM within its tenant (vm.wire_low):
--   * mac-prefix networks (the scheme of the multi-cloud network
--     virtualization paper skyvisor follows): the VM's own lower 32 MAC
--     bits, so a tenant's MACs must be unique in their lower 32 bits across
--     all its networks (409 otherwise);
--   * rewrite networks: a value the platform allocates, so tenants may reuse
--     any MAC and IP, even the very same ones as other tenants.
-- Both kinds share one space per tenant (UNIQUE (tenant_id, wire_low)); the
-- allocator skips values a mac-prefix VM already holds.  Concurrent inserts
-- for one tenant serialise on an advisory lock in the trigger.
--
-- vswitch.seq is a stable number per virtual switch: a connected component
-- of a network's virtual topology is named by the smallest seq in it, and
-- that name is the component's value in the OpenFlow metadata field.

CREATE SEQUENCE vm_wire_seq AS bigint MINVALUE 1 MAXVALUE 4294967295 CYCLE;

ALTER TABLE vswitch ADD COLUMN seq bigint NOT NULL GENERATED ALWAYS AS IDENTITY
    (MINVALUE 1 MAXVALUE 4294967295 CYCLE);
ALTER TABLE vm ADD COLUMN tenant_id uuid REFERENCES tenant (id);
ALTER TABLE vm ADD COLUMN wire_low bigint
    CHECK (wire_low BETWEEN 0 AND 4294967295);

CREATE FUNCTION sv_vm_wire() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    mode text;
    cand bigint;
BEGIN
    SELECT n.tagging, n.tenant_id INTO mode, NEW.tenant_id
      FROM network n WHERE n.id = NEW.network_id;
    IF TG_OP = 'UPDATE' AND NEW.mac = OLD.mac AND NEW.wire_low IS NOT NULL
       AND NEW.network_id = OLD.network_id THEN
        RETURN NEW;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('sv_vm_wire:' || NEW.tenant_id::text));
    IF mode = 'mac-prefix' THEN
        NEW.wire_low := ('x' || lpad(replace(right(NEW.mac::text, 11), ':', ''), 8, '0'))::bit(32)::bigint;
        IF NEW.wire_low < 0 THEN
            NEW.wire_low := NEW.wire_low + 4294967296;
        END IF;
    ELSIF TG_OP = 'INSERT' OR NEW.wire_low IS NULL THEN
        LOOP
            cand := nextval('vm_wire_seq');
            EXIT WHEN NOT EXISTS (SELECT 1 FROM vm
                                   WHERE tenant_id = NEW.tenant_id AND wire_low = cand);
        END LOOP;
        NEW.wire_low := cand;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER vm_wire BEFORE INSERT OR UPDATE ON vm
    FOR EACH ROW EXECUTE FUNCTION sv_vm_wire();

-- Existing rows: the trigger fills them in.
UPDATE vm SET wire_low = NULL;

ALTER TABLE vm ALTER COLUMN tenant_id SET NOT NULL;
ALTER TABLE vm ALTER COLUMN wire_low SET NOT NULL;
ALTER TABLE vm ADD CONSTRAINT vm_tenant_wire UNIQUE (tenant_id, wire_low);

-- The tag is the first two bytes of every platform MAC: the multicast bit
-- (bit 0 of the first byte, bit 8 of the tag) must stay clear.
ALTER TABLE tenant ADD CONSTRAINT tenant_tag_unicast CHECK ((tag & 256) = 0) NOT VALID;
