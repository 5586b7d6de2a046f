# scripts/lib/bench.sh: what the benchmarks in scripts/bench-*.sh share.
# Sourced, not run (make bench runs scripts/bench-*.sh only).
#
#   bench_setup NAME [MODLAB_BINARY]
#       cd to the repository, make $tmp (removed on exit) and set $bin to
#       the binary given, or to a modlab built from the tree into $tmp.
#   bench_run NAME ARGS...
#       "$bin" run ARGS..., its whole report in $tmp/out; when the run
#       fails, print the report and exit 1.
#   bench_tcg_note TEXT
#       print TEXT when the run's kernels ran under TCG (its report's
#       table header says "(tcg)").

bench_setup() {
	cd "$(dirname "$0")/.."
	tmp=$(mktemp -d "/tmp/bench-$1.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	bin=${2:-}
	if [ -z "$bin" ]; then
		CGO_ENABLED=0 go build -o "$tmp/modlab" ./cmd/modlab
		bin=$tmp/modlab
	fi
}

bench_run() {
	name=$1
	shift
	if ! "$bin" run "$@" >"$tmp/out" 2>&1; then
		cat "$tmp/out"
		echo "bench-$name: modlab run failed" >&2
		exit 1
	fi
}

bench_tcg_note() {
	if grep -q '^MODULE .*(tcg)' "$tmp/out"; then
		echo "  $1"
	fi
}
