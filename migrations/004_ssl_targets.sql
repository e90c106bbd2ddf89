-- 004_ssl_targets.sql: a host's endpoints may use TLS.
--
-- ovsdb, openflow and controller accept "ssl:IP:PORT" beside what they
-- took before: skyvisord then speaks OVSDB or OpenFlow over TLS with the
-- certificates given by --ssl-key, --ssl-cert and --ssl-ca-cert, and
-- requires the switch's certificate to name the host (ctrl/stream.h,
-- core/certname.h).  The API checks the full syntax (core/validate.c);
-- these constraints repeat its shape.

ALTER TABLE host DROP CONSTRAINT IF EXISTS host_ovsdb_check;
ALTER TABLE host ADD CONSTRAINT host_ovsdb_check
    CHECK (ovsdb ~ '^(unix:/.+|(tcp|ssl):.+:[0-9]+)$');
ALTER TABLE host DROP CONSTRAINT IF EXISTS host_openflow_check;
ALTER TABLE host ADD CONSTRAINT host_openflow_check
    CHECK (openflow ~ '^(unix:/.+|(tcp|ssl):.+:[0-9]+)$');
ALTER TABLE host DROP CONSTRAINT IF EXISTS host_controller_check;
ALTER TABLE host ADD CONSTRAINT host_controller_check
    CHECK (controller ~ '^(tcp|ssl):.+:[0-9]+$');
