#!/bin/sh
# Run once by the postgres image when it initialises the primary's data
# directory (/docker-entrypoint-initdb.d): lets the standby of
# docker/compose.yaml stream from it with the skyvisor role's password.
echo "host replication all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
