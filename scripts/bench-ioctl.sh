#!/bin/sh
# bench-ioctl.sh: read throughput of examples/ioctl's device against
# /dev/zero, measured side by side in the same VM, for each kernel. In the
# guest, ioctlbench (examples/ioctl/cmd/ioctlbench) reads the same amount
# from each file in 1 MiB reads, in interleaved rounds, and prints both
# rates and their ratio; this script prints one summary line per kernel.
# Goal: ioctltest/zero >= 0.9.
#
# Usage: scripts/bench-ioctl.sh [MODLAB_BINARY] [KERNEL] [MIB]
#   KERNEL  the kernels to run (default all), as modlab run --kernel takes them
#   MIB     MiB to read from each file (default 512)
# Without a binary it builds ./cmd/modlab into a temporary directory.
set -eu
. "$(dirname "$0")/lib/bench.sh"
bench_setup ioctl "${1:-}"
kernel=${2:-all}
mib=${3:-512}

cmd="ioctlctl mknod /dev/ioctltest >/dev/null && ioctlbench --size 1048576 --total $mib --rounds 8 /dev/ioctltest"
bench_run ioctl examples/ioctl --kernel "$kernel" --timeout 10m --exec "$cmd"

# Each kernel's part of the report starts with "== RELEASE: ioctl"; its
# output ends with the "ioctlbench:" totals line.
awk -v mib="$mib" '
/^== / { rel = $2; sub(/:$/, "", rel); next }
/^ioctlbench: .* ratio / && rel != "" {
	# ioctlbench: DEV R MiB/s, /dev/zero Z MiB/s, ratio X (median of rounds M)
	line[rel] = $0; order[++n] = rel
}
END {
	if (n == 0) { print "bench-ioctl: no results in the run'"'"'s output" > "/dev/stderr"; exit 1 }
	printf "ioctl device vs /dev/zero: 1 MiB reads, %d MiB from each, same VM, interleaved rounds\n", mib
	for (i = 1; i <= n; i++) {
		r = order[i]; split(line[r], f, " ")
		dev = f[3]; zero = f[6]; ratio = f[9]; median = f[13]; sub(/\)$/, "", median)
		printf "  %-28s ioctltest %9.1f MiB/s   /dev/zero %9.1f MiB/s   ratio %.2f (median of rounds %.2f)   goal >= 0.90: %s\n",
			r, dev, zero, ratio, median, (ratio >= 0.9 ? "met" : "NOT met")
	}
}' "$tmp/out"
bench_tcg_note "(under QEMU's TCG, software emulation: string instructions are slow there, see examples/ioctl/README.md)"
