# bench/cpo.mk: the control-plane overhead benchmark (`make bench-cpo`).
BENCH_PROGS += $(BUILD)/bench/cpo
$(BUILD)/bench/cpo: $(BUILD)/bench/cpo.o $(BUILD)/bench/maclearn.o $(BUILD)/libskyctrl.a $(BUILD)/libskycore.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

bench-cpo:
	bench/cpo.sh
.PHONY: bench-cpo
