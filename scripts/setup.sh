#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what the modlab lab needs on a Debian bookworm machine, and nothing
# that is already there. A second run does no network work.
#
#   scripts/setup.sh            install what is missing
#   scripts/setup.sh --check    only report what is missing (exit 1 if any)
#
# What it installs:
#   - build tools: build-essential, sparse, kmod (kmod's tools are the
#     reference the Go tools are tested against), busybox-static (the guest's
#     shell), xz-utils, zstd
#   - qemu-system-x86 from bookworm-backports (QEMU 10.x: bookworm's 7.2 crashes
#     one 6.12 boot in three under TCG)
#   - linux-image-cloud-amd64 + linux-headers-cloud-amd64 from bookworm (6.1)
#     and from bookworm-backports (6.12)
#   - libxml2-utils (xmllint: the JUnit report is checked against a schema)
#   - linux-source-6.12, the kernel's source tarball (apt's newest: bookworm's
#     security updates carry 6.12 too, bookworm-backports does otherwise);
#     the kernel's own KTAP parser, tools/testing/kunit/, is unpacked from
#     it once into /usr/local/share/modlab/kunit (the KTAP report is checked
#     with it)
set -euo pipefail

check_only=0
[ "${1:-}" = "--check" ] && check_only=1

step() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

base_pkgs=(build-essential sparse kmod busybox-static xz-utils zstd git ca-certificates time
	python3 libxml2-utils linux-source-6.12)
bpo_src=/etc/apt/sources.list.d/modlab-bookworm-backports.sources
kunit_tar=/usr/src/linux-source-6.12.tar.xz
kunit_dir=/usr/local/share/modlab/kunit

missing_pkgs() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
			grep -q '^install ok installed$' || printf '%s\n' "$p"
	done
}

# has_kernel PREFIX: a vmlinuz and a headers build directory for a release
# that starts with PREFIX (e.g. "6.1." or "6.12.").
has_kernel() {
	local v rel
	for v in /boot/vmlinuz-"$1"*-cloud-amd64; do
		[ -e "$v" ] || continue
		rel=${v#/boot/vmlinuz-}
		[ -f "/lib/modules/$rel/build/Makefile" ] && return 0
	done
	return 1
}

qemu_ok() {
	command -v qemu-system-x86_64 >/dev/null 2>&1 || return 1
	local major
	major=$(qemu-system-x86_64 --version | sed -n 's/^QEMU emulator version \([0-9]*\).*/\1/p')
	[ -n "$major" ] && [ "$major" -ge 9 ]
}

kunit_ok() { [ -f "$kunit_dir/kunit_parser.py" ]; }

# unpack_kunit: only tools/testing/kunit/ of the source tarball, into
# $kunit_dir (through a temporary folder, so an interrupted run leaves
# nothing half done).
unpack_kunit() {
	local tmp src
	[ -f "$kunit_tar" ] || die "$kunit_tar is missing (is linux-source-6.12 installed?)"
	tmp=$(mktemp -d)
	tar -xJf "$kunit_tar" -C "$tmp" --wildcards '*/tools/testing/kunit/*' ||
		{ rm -rf "$tmp"; die "could not unpack tools/testing/kunit/ from $kunit_tar"; }
	src=$(dirname "$(find "$tmp" -path '*/tools/testing/kunit/kunit_parser.py' -print -quit)")
	[ -f "$src/kunit_parser.py" ] || { rm -rf "$tmp"; die "$kunit_tar has no tools/testing/kunit/kunit_parser.py"; }
	mkdir -p "$(dirname "$kunit_dir")"
	rm -rf "$kunit_dir"
	mv "$src" "$kunit_dir"
	rm -rf "$tmp"
}

todo=()
mapfile -t miss < <(missing_pkgs "${base_pkgs[@]}")
[ "${#miss[@]}" -gt 0 ] && todo+=("packages: ${miss[*]}")
has_kernel 6.1. || todo+=("kernel 6.1 (bookworm)")
has_kernel 6.12. || todo+=("kernel 6.12 (bookworm-backports)")
qemu_ok || todo+=("qemu-system-x86 >= 9 (bookworm-backports)")
kunit_ok || todo+=("the kernel's KTAP parser in $kunit_dir (from linux-source-6.12)")

if [ "${#todo[@]}" -eq 0 ]; then
	step "everything is installed (kernels: $(cd /boot && ls vmlinuz-*-cloud-amd64 | sed 's/vmlinuz-//' | tr '\n' ' '))"
	exit 0
fi
for t in "${todo[@]}"; do step "missing: $t"; done
[ "$check_only" = 1 ] && exit 1

[ "$(id -u)" = 0 ] || die "must run as root to install packages (try: sudo $0)"
[ -r /etc/os-release ] && . /etc/os-release
[ "${VERSION_CODENAME:-}" = bookworm ] ||
	die "this script knows Debian bookworm; this machine is '${PRETTY_NAME:-unknown}'"

export DEBIAN_FRONTEND=noninteractive
apt_install() {
	apt-get install -y -q --no-install-recommends "$@" ||
		die "could not install: $* (see apt's message above)"
}

# The backports source reuses the mirror the machine already uses for
# bookworm, so no mirror address is hard-wired here.
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
	mirror=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources |
		awk '{print $2}' | grep -v security | head -n1)
	[ -n "$mirror" ] || mirror=$(awk '$1=="deb" && $3=="bookworm" {print $2; exit}' \
		/etc/apt/sources.list 2>/dev/null)
	[ -n "$mirror" ] || die "cannot find the Debian mirror in /etc/apt/sources.list*"
	step "adding bookworm-backports source ($bpo_src)"
	cat >"$bpo_src" <<SRC
Types: deb
URIs: $mirror
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi

# Unpacking the KTAP parser from an installed tarball needs no apt.
need_apt=0
[ "${#miss[@]}" -gt 0 ] && need_apt=1
has_kernel 6.1. && has_kernel 6.12. && qemu_ok || need_apt=1
if [ "$need_apt" = 1 ]; then
	step "apt-get update"
	apt-get update -q || die "apt-get update failed"
fi

if [ "${#miss[@]}" -gt 0 ]; then
	step "installing ${miss[*]}"
	apt_install "${miss[@]}"
fi
if ! has_kernel 6.1.; then
	step "installing kernel 6.1 image and headers (bookworm)"
	apt_install -t bookworm linux-image-cloud-amd64 linux-headers-cloud-amd64
	# Keep the versioned packages when the meta-packages move to 6.12.
	apt-mark manual $(dpkg-query -W -f='${Package}\n' 'linux-image-6.1.*-cloud-amd64' \
		'linux-headers-6.1.*-cloud-amd64' 2>/dev/null) >/dev/null
fi
if ! has_kernel 6.12.; then
	step "installing kernel 6.12 image and headers (bookworm-backports)"
	apt_install -t bookworm-backports linux-image-cloud-amd64 linux-headers-cloud-amd64
fi
if ! qemu_ok; then
	step "installing qemu-system-x86 (bookworm-backports)"
	apt_install -t bookworm-backports qemu-system-x86
fi
if ! kunit_ok; then
	step "unpacking tools/testing/kunit/ from $kunit_tar into $kunit_dir"
	unpack_kunit
fi

has_kernel 6.1. || die "kernel 6.1 still missing after install"
has_kernel 6.12. || die "kernel 6.12 still missing after install"
qemu_ok || die "qemu-system-x86_64 >= 9 still missing after install"
kunit_ok || die "$kunit_dir/kunit_parser.py still missing after install"
step "done: $(qemu-system-x86_64 --version | head -n1); kernels: $(cd /boot && ls vmlinuz-*-cloud-amd64 | sed 's/vmlinuz-//' | tr '\n' ' ')"
