# tools/skyctl: skyvisor's declarative command-line client (libcurl,
# jansson, libyaml).  Its logic (file loading, planning) lives in objects
# that the unit test test_skyctl_plan links too; the test has its own link
# rule here, which takes precedence over the Makefile's pattern rule for
# tests linked with the sky libraries.
SKYCTL_SRCS := tools/skyctl/model.c tools/skyctl/spec.c tools/skyctl/plan.c \
               tools/skyctl/client.c tools/skyctl/fetch.c tools/skyctl/apply.c \
               tools/skyctl/output.c tools/skyctl/lifecycle.c
SKYCTL_LIBS := -lcurl -ljansson -lyaml -lm

$(BUILD)/skyctl: $(BUILD)/tools/skyctl/skyctl.o $(patsubst %.c,$(BUILD)/%.o,$(SKYCTL_SRCS))
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(SKYCTL_LIBS)

all: $(BUILD)/skyctl
INTEGRATION_DEPS += $(BUILD)/skyctl

# The planner's unit test needs only the pure parts: no libcurl.
SKYCTL_PURE := tools/skyctl/model.c tools/skyctl/spec.c tools/skyctl/plan.c
UNIT_TESTS += test_skyctl_plan
$(BUILD)/tests/test_skyctl_plan: $(BUILD)/tests/unit/test_skyctl_plan.o \
                                 $(patsubst %.c,$(BUILD)/%.o,$(SKYCTL_PURE))
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -ljansson -lyaml -lm -lcmocka
