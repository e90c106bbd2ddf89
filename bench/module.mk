# bench/: benchmarks.  They print numbers and write BENCHMARKS.md; they are
# never part of `make test`.
bench-api: all
	BUILD=$(BUILD) bench/api.sh

BENCH_PROGS += $(BUILD)/bench/ofbench
$(BUILD)/bench/ofbench: $(BUILD)/bench/ofbench.o
	$(CC) $(ALL_LDFLAGS) -o $@ $^

BENCH_PROGS += $(BUILD)/bench/ofctl_learn
$(BUILD)/bench/ofctl_learn: $(BUILD)/bench/ofctl_learn.o $(BUILD)/bench/maclearn.o $(BUILD)/libskyctrl.a $(BUILD)/libskycore.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

bench-ctrl:
	bench/ctrl.sh

# Each further benchmark keeps its rules in a file of its own, bench/NAME.mk.
include $(filter-out bench/module.mk,$(wildcard bench/*.mk))
