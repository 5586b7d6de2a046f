#!/bin/sh
# bench-vfs.sh: examples/vfs's modlabfs against tmpfs, measured side by
# side in the same VM, for each kernel. In the guest, fsbench
# (examples/vfs/cmd/fsbench) mounts both and measures, in interleaved
# rounds, writing a file in 1 MiB writes, reading it back, and creating
# empty files; it prints each rate and the ratio. This script prints one
# summary line per kernel and measurement. Goal: modlabfs/tmpfs >= 0.8.
#
# Usage: scripts/bench-vfs.sh [MODLAB_BINARY] [KERNEL] [MIB] [FILES]
#   KERNEL  the kernels to run (default all), as modlab run --kernel takes them
#   MIB     MiB written and read per round (default 64)
#   FILES   files created per round (default 2000)
# Without a binary it builds ./cmd/modlab into a temporary directory.
set -eu
. "$(dirname "$0")/lib/bench.sh"
bench_setup vfs "${1:-}"
kernel=${2:-all}
mib=${3:-64}
files=${4:-2000}

cmd="fsbench --mib $mib --io 1048576 --files $files --rounds 6"
bench_run vfs examples/vfs --kernel "$kernel" --timeout 15m --exec "$cmd"

# Each kernel's part of the report starts with "== RELEASE: vfs"; its
# output ends with fsbench's three summary lines.
awk -v mib="$mib" -v files="$files" '
/^== / { rel = $2; sub(/:$/, "", rel); next }
/^fsbench: .* ratio / && rel != "" {
	# fsbench: MEASURE modlabfs R UNIT, tmpfs T UNIT, ratio X (median of rounds M)
	if (!(rel in seen)) { seen[rel] = 1; order[++n] = rel }
	line[rel, $2] = $0
}
END {
	if (n == 0) { print "bench-vfs: no results in the run'"'"'s output" > "/dev/stderr"; exit 1 }
	printf "modlabfs vs tmpfs, same VM, interleaved rounds: write and read %d MiB in 1 MiB I/O, create %d files\n", mib, files
	for (i = 1; i <= n; i++) {
		r = order[i]
		split("write read create", ms, " ")
		for (j = 1; j <= 3; j++) {
			if (!((r, ms[j]) in line)) continue
			split(line[r, ms[j]], f, " ")
			unit = f[5]; sub(/,$/, "", unit)
			ratio = f[10]; median = f[14]; sub(/\)$/, "", median)
			printf "  %-28s %-6s modlabfs %9.1f %-7s tmpfs %9.1f %-7s ratio %.2f (median of rounds %.2f)   goal >= 0.80: %s\n",
				r, ms[j], f[4], unit, f[7], unit, ratio, median, (ratio >= 0.8 ? "met" : "NOT met")
		}
	}
}' "$tmp/out"
bench_tcg_note "(under QEMU's TCG, software emulation: absolute rates are far below real hardware; the ratios are what to read)"
