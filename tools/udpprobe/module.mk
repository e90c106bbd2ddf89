# tools/udpprobe: the shared data-plane probe (sequence-numbered UDP: sent,
# received, lost, duplicated, reordered, longest gap; see udpprobe.c).  One
# file, libc only; the fault-injection suite and its own test run it.
$(BUILD)/udpprobe: $(BUILD)/tools/udpprobe/udpprobe.o
	$(CC) $(ALL_LDFLAGS) -o $@ $^

all: $(BUILD)/udpprobe
INTEGRATION_DEPS += $(BUILD)/udpprobe
