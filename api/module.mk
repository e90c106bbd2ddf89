# api/: HTTP only.  api/skyvisord.c holds main() and is linked separately.
API_SRCS += api/http.c api/http_conn.c api/tls.c api/router.c api/problem.c api/auth.c api/metrics.c \
            api/crud.c api/health.c api/clouds.c api/cloudlinks.c api/hosts.c \
            api/tenants.c api/networks.c api/switches.c api/links.c api/vms.c \
            api/web.c api/topology.c api/tokens.c api/audit.c api/batch.c \
            $(BUILD)/gen/openapi.c $(BUILD)/gen/web.c
# A VM's lifecycle: snapshots, stop and start, counters, live migrations.
API_SRCS += api/vm_lifecycle.c api/snapshots.c api/vm_migrations.c

$(BUILD)/gen/openapi.c: openapi/openapi.json tools/embed
	@mkdir -p $(dir $@)
	tools/embed api_openapi openapi/openapi.json > $@

# The dashboard: every file under web/ except its tests and npm modules.
WEB_FILES := $(sort $(shell find web -type f -not -path 'web/tests/*' \
                 -not -path '*/node_modules/*' -not -name '*.md' 2>/dev/null))
$(BUILD)/gen/web.c: $(WEB_FILES) tools/embed api/module.mk
	@mkdir -p $(dir $@)
	tools/embed api_web $(WEB_FILES) > $@
# Several instances: GET /v1/instances (db/lease_keeper.h keeps the leases).
API_SRCS += api/instances.c
# GETs of clouds, hosts and tenants from memory (api/readsnap.h).
API_SRCS += api/readsnap.c
