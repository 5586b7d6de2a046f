#!/bin/sh
# bench-chardev.sh: open/read/close rounds per second on examples/chardev's
# /dev/chardev in one process, for each kernel, next to the same rounds on
# /dev/zero in the same VM. In the guest, chardevbench
# (examples/chardev/cmd/chardevbench) alternates turns on the two devices
# and prints both rates and their ratio; this script prints one summary
# line per kernel. A ratio near 1 means chardev costs no more than the
# kernel's own simplest character device.
#
# Usage: scripts/bench-chardev.sh [MODLAB_BINARY] [KERNEL] [SECONDS]
#   KERNEL   the kernels to run (default all), as modlab run --kernel takes them;
#            with all, the kernels' VMs run at the same time and share the CPUs
#   SECONDS  time spent on each device (default 3)
# Without a binary it builds ./cmd/modlab into a temporary directory.
set -eu
. "$(dirname "$0")/lib/bench.sh"
bench_setup chardev "${1:-}"
kernel=${2:-all}
secs=${3:-3}

bench_run chardev examples/chardev --kernel "$kernel" --exec "chardevbench -t ${secs}s -n 6"

# Each kernel's part of the report starts with "== RELEASE: chardev"; its
# output holds chardevbench's three lines.
awk -v secs="$secs" '
/^== / { rel = $2; sub(/:$/, "", rel); next }
rel != "" && /^chardevbench: \/dev\/chardev / { dev[rel] = $0; order[++n] = rel; next }
rel != "" && /^chardevbench: \/dev\/zero / { zero[rel] = $0; next }
rel != "" && /^chardevbench: ratio / { ratio[rel] = $0; next }
# "chardevbench: PATH N rounds in Ts: R rounds/s (U µs/round)"
function rate(line,   f) { split(line, f, " "); return f[7] }
function usec(line,   f) { split(line, f, " "); sub(/^\(/, "", f[9]); return f[9] }
END {
	if (n == 0) { print "bench-chardev: no results in the run'"'"'s output" > "/dev/stderr"; exit 1 }
	printf "chardev open/read/close rounds in one process, %ss per device, same VM, alternating turns with /dev/zero\n", secs
	for (i = 1; i <= n; i++) {
		r = order[i]; split(ratio[r], f, " ")
		median = f[9]; sub(/\)$/, "", median)
		printf "  %-28s chardev %8.0f rounds/s (%6.1f us)   /dev/zero %8.0f rounds/s (%6.1f us)   ratio %s (median of turns %s)\n",
			r, rate(dev[r]), usec(dev[r]), rate(zero[r]), usec(zero[r]), f[4], median
	}
}' "$tmp/out"
bench_tcg_note "(under QEMU's TCG, software emulation: every system call costs tens of microseconds more than on hardware)"
