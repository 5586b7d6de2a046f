#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Run every Go fuzz target of the repository for a bounded time each.
#   scripts/fuzz.sh [TIME]      TIME per target, default 3s (go test -fuzztime)
# To fuzz one target longer:  go test ./kmod/modfile -run '^$' -fuzz '^FuzzOpen$' -fuzztime 10m
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-3s}
n=0
fail=0
while IFS= read -r line; do
	file=${line%%:*}
	name=$(sed -E 's/^.*func (Fuzz[A-Za-z0-9_]*)\(.*/\1/' <<<"$line")
	pkg=./$(dirname "$file")
	n=$((n + 1))
	printf 'fuzz: %s %s (%s)\n' "$pkg" "$name" "$t"
	if ! go test "$pkg" -run '^$' -fuzz "^${name}\$" -fuzztime "$t" >/tmp/modlab-fuzz.log 2>&1; then
		cat /tmp/modlab-fuzz.log
		fail=$((fail + 1))
	fi
done < <(git ls-files -co --exclude-standard '*_test.go' | xargs grep -H -E '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' | sort)
echo "fuzz: $((n - fail)) passed, $fail failed"
[ "$fail" -eq 0 ]
