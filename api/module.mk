# api/: HTTP only.  api/skyvisord.c holds main() and is linked separately.
API_SRCS += api/http.c api/router.c api/problem.c api/auth.c api/metrics.c \
            api/crud.c api/health.c api/clouds.c api/cloudlinks.c api/hosts.c \
            api/tenants.c api/networks.c api/switches.c api/links.c api/vms.c \
            $(BUILD)/gen/openapi.c

$(BUILD)/gen/openapi.c: openapi/openapi.json tools/embed
	@mkdir -p $(dir $@)
	tools/embed api_openapi openapi/openapi.json > $@
