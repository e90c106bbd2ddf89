# bench/overlay.mk: `make bench-overlay`, the tunnels, total cost and
# computation time of the mst, mst+backup (exact and greedy) and full-mesh
# layouts for 4 to 64 clouds (bench/overlay.c; pure, no Open vSwitch).
BENCH_PROGS += $(BUILD)/bench/overlay
$(BUILD)/bench/overlay: $(BUILD)/bench/overlay.o $(BUILD)/libskycore.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lm

.PHONY: bench-overlay
bench-overlay: $(BUILD)/bench/overlay
	$(BUILD)/bench/overlay
