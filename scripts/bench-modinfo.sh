#!/bin/sh
# bench-modinfo.sh: time modinfo over every module file of every installed
# kernel in one process per kernel, with kmod's modinfo and with modlab's,
# and print the ratio (goal: modlab/kmod <= 1.0) and the peak memory of
# each. modlab decodes several .ko.xz files at once; the last line shows
# it held to one core (GOMAXPROCS=1) as well.
#
# Usage: scripts/bench-modinfo.sh [MODLAB_BINARY] [ROUNDS]
# Without a binary it builds ./cmd/modlab into a temporary directory.
set -eu
. "$(dirname "$0")/lib/bench.sh"
bench_setup modinfo "${1:-}"
rounds=${2:-3}
bin=$(realpath "$bin")
kmod=$(command -v modinfo || echo /usr/sbin/modinfo)
[ -x "$kmod" ] || { echo "bench-modinfo: kmod's modinfo not found" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench-modinfo: /usr/bin/time not found (scripts/setup.sh installs it)" >&2; exit 1; }
ln -sf "$bin" "$tmp/modinfo"
"$tmp/modinfo" -V >/dev/null || { echo "bench-modinfo: $bin does not run as modinfo" >&2; exit 1; }

# One file list per kernel.
kernels=""
for d in /lib/modules/*/; do
	rel=$(basename "$d")
	find "$d" \( -path "$d/build" -o -path "$d/source" \) -prune -o \
		-type f \( -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' \) -print >"$tmp/files.$rel"
	[ -s "$tmp/files.$rel" ] && kernels="$kernels $rel"
done
[ -n "$kernels" ] || { echo "bench-modinfo: no modules under /lib/modules" >&2; exit 1; }

# run TOOL...: every kernel's files, one process per kernel; prints
# "WALL CPU MAXRSS_KB": seconds of wall clock and of user+system time,
# summed over the kernels, and the largest RSS of the processes. CPU time
# says more than wall time on a busy machine.
run() {
	wall=0; cpu=0; rss=0
	for rel in $kernels; do
		# shellcheck disable=SC2046
		/usr/bin/time -f '%e %U %S %M' -o "$tmp/time" "$@" $(cat "$tmp/files.$rel") >/dev/null 2>&1 || true
		read -r e u s m <"$tmp/time"
		wall=$(awk "BEGIN{print $wall + $e}")
		cpu=$(awk "BEGIN{print $cpu + $u + $s}")
		rss=$(awk "BEGIN{print ($m > $rss) ? $m : $rss}")
	done
	echo "$wall $cpu $rss"
}
min() { awk "BEGIN{print ($1 < $2) ? $1 : $2}"; }
ratio() { awk "BEGIN{printf \"%.2f\", $1 / $2}"; }

n=$(cat "$tmp"/files.* | wc -l)
bk=999999; bm=999999; b1=999999; ck=999999; cm=999999; c1=999999; pk=0; pm=0
i=0
while [ "$i" -lt "$rounds" ]; do
	set -- $(run "$kmod"); k=$1; kc=$2; rss_k=$3
	set -- $(run "$tmp/modinfo"); m=$1; mc=$2; rss_m=$3
	set -- $(GOMAXPROCS=1 run "$tmp/modinfo"); one=$1; onec=$2
	echo "round $((i + 1)): kmod ${k}s (cpu ${kc}s, ${rss_k} KiB), modlab ${m}s (cpu ${mc}s, ${rss_m} KiB), modlab on one core ${one}s (cpu ${onec}s)"
	bk=$(min "$k" "$bk"); bm=$(min "$m" "$bm"); b1=$(min "$one" "$b1")
	ck=$(min "$kc" "$ck"); cm=$(min "$mc" "$cm"); c1=$(min "$onec" "$c1")
	pk=$(awk "BEGIN{print ($rss_k > $pk) ? $rss_k : $pk}"); pm=$(awk "BEGIN{print ($rss_m > $pm) ? $rss_m : $pm}")
	i=$((i + 1))
done
echo "modinfo over $n modules (kernels:$kernels), best of $rounds:"
echo "  wall: kmod ${bk}s, modlab ${bm}s, ratio $(ratio "$bm" "$bk"); modlab on one core ${b1}s, ratio $(ratio "$b1" "$bk")"
echo "  cpu:  kmod ${ck}s, modlab ${cm}s, ratio $(ratio "$cm" "$ck"); modlab on one core ${c1}s, ratio $(ratio "$c1" "$ck")"
echo "  peak RSS over the rounds: kmod ${pk} KiB, modlab ${pm} KiB"
