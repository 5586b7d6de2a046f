#!/bin/sh
# bench-hook.sh: openat(2) latency with examples/hook_syscall loaded against
# without it, measured side by side in the same VM, for each kernel. In the
# guest, hookbench (examples/hook_syscall/cmd/hookbench) times openat calls
# in interleaved rounds with the module unloaded ("off"), loaded with no uid
# ("none"), loaded watching a uid that is not the caller's ("other") and
# watching the caller's own ("self", rate-limited reports; for information),
# and prints each mode's latency and its ratio to "off"; this script prints
# one summary line per kernel. Goal: the worse of none/off and other/off
# <= 1.2.
#
# The guests boot without the lab's usual slub_debug and KFENCE: with them
# every openat poisons and checks a 4 KiB name buffer, about 5 times the
# call's own cost under TCG, which would hide what the hook costs.
#
# Usage: scripts/bench-hook.sh [MODLAB_BINARY] [KERNEL] [SECONDS]
#   KERNEL   the kernels to run (default all), as modlab run --kernel takes them
#   SECONDS  time spent in each mode (default 4), in 8 rounds
# Without a binary it builds ./cmd/modlab into a temporary directory.
set -eu
. "$(dirname "$0")/lib/bench.sh"
bench_setup hook "${1:-}"
kernel=${2:-all}
secs=${3:-4}

cmd="hookbench -t ${secs}s -n 8"
bench_run hook examples/hook_syscall --kernel "$kernel" --timeout 10m \
	--append 'slub_debug=- kfence.sample_interval=0' --exec "$cmd"

# Each kernel's part of the report starts with "== RELEASE: hook_syscall";
# its output has one "hookbench: MODE" line per mode.
awk -v secs="$secs" '
/^== / { rel = $2; sub(/:$/, "", rel); next }
/^hookbench: (off|none|other|self) / && rel != "" {
	# hookbench: MODE N openat in Ts: L µs each[, ratio R (median of rounds M)]
	if (!(rel in seen)) { seen[rel] = 1; order[++n] = rel }
	us[rel, $2] = $7
	if ($2 != "off") { ratio[rel, $2] = $11; median[rel, $2] = $15; sub(/\)$/, "", median[rel, $2]) }
}
END {
	if (n == 0) { print "bench-hook: no results in the run'"'"'s output" > "/dev/stderr"; exit 1 }
	printf "openat latency, hook_syscall loaded vs not: same VM, interleaved rounds, %s s per mode\n", secs
	for (i = 1; i <= n; i++) {
		r = order[i]
		worst = ratio[r, "none"] > ratio[r, "other"] ? ratio[r, "none"] : ratio[r, "other"]
		printf "  %-28s off %6.2f µs   none %6.2f µs (%.2f)   other %6.2f µs (%.2f)   self %6.2f µs (%.2f)   hook/no hook %.2f (medians of rounds %.2f, %.2f)   goal <= 1.20: %s\n",
			r, us[r, "off"], us[r, "none"], ratio[r, "none"], us[r, "other"], ratio[r, "other"],
			us[r, "self"], ratio[r, "self"], worst, median[r, "none"], median[r, "other"],
			(worst <= 1.2 ? "met" : "NOT met")
	}
}' "$tmp/out"
bench_tcg_note "(under QEMU's TCG, software emulation; see examples/hook_syscall/README.md)"
