#!/bin/bash
# bench-modprobe.sh: time "modprobe -S REL -D NAME" for every module name of
# every installed kernel (modules.dep and modules.builtin), one process per
# name, with kmod's modprobe and with modlab's, and print the ratio
# (goal: modlab/kmod <= 1.0).
#
# Usage: scripts/bench-modprobe.sh [MODLAB_BINARY] [ROUNDS]
# Without a binary it uses bin/modlab (what "make build" writes) or builds
# one. The names are run in chunks of 50, alternating the two tools, so that
# load from elsewhere on the machine hits both alike; the best round counts.
set -eu
cd "$(dirname "$0")/.."
tmp=$(mktemp -d /tmp/bench-modprobe.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
bin=${1:-}
rounds=${2:-3}
if [ -z "$bin" ]; then
	if [ -x bin/modlab ]; then
		bin=bin/modlab
	else
		go build -o "$tmp/modlab" ./cmd/modlab
		bin=$tmp/modlab
	fi
fi
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
kmod=$(command -v modprobe || echo /usr/sbin/modprobe)
[ -x "$kmod" ] || { echo "bench-modprobe: kmod's modprobe not found" >&2; exit 1; }
ln -sf "$bin" "$tmp/modprobe"

for d in /lib/modules/*/; do
	rel=$(basename "$d")
	[ -f "$d/modules.dep" ] || continue
	{ sed 's/:.*//' "$d/modules.dep"; cat "$d/modules.builtin" 2>/dev/null || true; } |
		sed 's|.*/||; s|\.ko.*||' | sort -u | sed "s|^|$rel |"
done >"$tmp/names"
n=$(wc -l <"$tmp/names")
[ "$n" -gt 0 ] || { echo "bench-modprobe: no module directories under /lib/modules" >&2; exit 1; }
split -l 50 "$tmp/names" "$tmp/chunk."

run() { # run TOOL CHUNK: one process per name, output discarded
	while read -r rel name; do "$1" -S "$rel" -D "$name" >/dev/null 2>&1 || true; done <"$2"
}

# CPU time (user+sys) of the finished children, from bash's "times", which
# must run in this shell (not in a $(...) subshell); in microseconds. It is
# less sensitive than wall time to a busy machine.
cpu() { # cpu FILE: parse what "times >FILE" wrote
	awk 'NR == 2 {
		split($1, u, /[ms]/); split($2, s, /[ms]/)
		printf "%d", ((u[1] + s[1]) * 60 + u[2] + s[2]) * 1000000 }' "$1"
}

best_k=0 best_m=0 best_kc=0 best_mc=0
for ((i = 1; i <= rounds; i++)); do
	k=0 m=0 kc=0 mc=0
	for c in "$tmp"/chunk.*; do
		times >"$tmp/c0"; t0=$(date +%s%N); run "$kmod" "$c"
		times >"$tmp/c1"; t1=$(date +%s%N); run "$tmp/modprobe" "$c"
		times >"$tmp/c2"; t2=$(date +%s%N)
		c0=$(cpu "$tmp/c0") c1=$(cpu "$tmp/c1") c2=$(cpu "$tmp/c2")
		k=$((k + t1 - t0)) m=$((m + t2 - t1)) kc=$((kc + c1 - c0)) mc=$((mc + c2 - c1))
	done
	printf 'round %d: wall kmod %d ms, modlab %d ms; cpu kmod %d ms, modlab %d ms\n' "$i" \
		$((k / 1000000)) $((m / 1000000)) $((kc / 1000)) $((mc / 1000))
	if [ "$best_k" -eq 0 ] || [ "$k" -lt "$best_k" ]; then best_k=$k; fi
	if [ "$best_m" -eq 0 ] || [ "$m" -lt "$best_m" ]; then best_m=$m; fi
	if [ "$best_kc" -eq 0 ] || [ "$kc" -lt "$best_kc" ]; then best_kc=$kc; fi
	if [ "$best_mc" -eq 0 ] || [ "$mc" -lt "$best_mc" ]; then best_mc=$mc; fi
done
ratio=$(awk "BEGIN{printf \"%.2f\", $best_m / $best_k}")
cratio=$(awk "BEGIN{printf \"%.2f\", $best_mc / $best_kc}")
printf 'modprobe -D, %d names, one process each, best of %d rounds:\n' "$n" "$rounds"
printf '  wall: kmod %d ms (%d us/name), modlab %d ms (%d us/name), ratio %s (goal <= 1.0)\n' \
	$((best_k / 1000000)) $((best_k / 1000 / n)) $((best_m / 1000000)) $((best_m / 1000 / n)) "$ratio"
printf '  cpu:  kmod %d ms (%d us/name), modlab %d ms (%d us/name), ratio %s\n' \
	$((best_kc / 1000)) $((best_kc / n)) $((best_mc / 1000)) $((best_mc / n)) "$cratio"
if file "$bin" 2>/dev/null | grep -q 'dynamically linked'; then
	echo "note: $bin is dynamically linked (cgo); a CGO_ENABLED=0 build starts about 1 ms faster per process"
fi
