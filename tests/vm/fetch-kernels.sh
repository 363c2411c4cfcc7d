#!/bin/bash
# usage: tests/vm/fetch-kernels.sh [--update] DIR
#
# Fetches Debian's 6.1 and 6.12 kernel images for the NUMA VM test harness
# (tests/vm/run-vm-tests.sh) without installing them: `apt-get download`
# the .deb, `dpkg -x` it, and leave
#   DIR/6.1/vmlinuz   DIR/6.1/PACKAGE    (the Debian package it came from)
#   DIR/6.12/vmlinuz  DIR/6.12/PACKAGE
#
# 6.1  = what bookworm's `linux-image-amd64` depends on (else the newest
#        linux-image-6.1.0-N-amd64 apt knows).
# 6.12 = what `linux-image-6.12-amd64` depends on (bookworm-security ships
#        it; bookworm-backports too, where configured), else the newest
#        linux-image-6.12.*-amd64 apt knows.
#
# Idempotent: a kernel already unpacked is kept (pass --update to replace it
# when apt has a newer package). Exit status: 0 when both kernels are there,
# 1 when one or both could not be fetched (each is reported), 2 on bad usage.
set -euo pipefail

usage() { echo "usage: $0 [--update] DIR" >&2; exit 2; }

UPDATE=0
DIR=""
while [ $# -gt 0 ]; do
  case "$1" in
    --update) UPDATE=1 ;;
    -h|--help) usage ;;
    -*) usage ;;
    *) [ -z "$DIR" ] || usage; DIR="$1" ;;
  esac
  shift
done
[ -n "$DIR" ] || usage
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

log() { echo "fetch-kernels: $*" >&2; }

APT_UPDATED=0
apt_update_once() {
  [ "$APT_UPDATED" = 1 ] && return 0
  APT_UPDATED=1
  if [ "$(id -u)" = 0 ]; then
    log "running apt-get update"
    apt-get update -qq >/dev/null 2>&1 || log "apt-get update failed; using the lists already there"
  else
    log "not root: cannot run apt-get update; using the lists already there"
  fi
}

# A package name is usable when apt has a candidate version for it.
has_candidate() {
  local c
  c=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ && !c {c = $2} END {print c}')
  [ -n "$c" ] && [ "$c" != "(none)" ]
}

# The linux-image-* package a meta-package depends on (first match of REGEX).
dep_of() { # META REGEX
  apt-cache depends "$1" 2>/dev/null |
    awk '$1 == "Depends:" {print $2}' | grep -E "$2" | head -n1 || true
}

# The newest package whose name matches REGEX (names are ABI-numbered, so a
# version sort of the names orders them).
newest_matching() { # REGEX
  apt-cache pkgnames linux-image-6 2>/dev/null | grep -E "$1" | sort -V | tail -n1 || true
}

# Resolve the package for SERIES (6.1 or 6.12); prints nothing if none.
resolve() { # SERIES
  local meta re p
  case "$1" in
    6.1)  meta=linux-image-amd64;      re='^linux-image-6\.1\.0-[0-9]+-amd64$' ;;
    6.12) meta=linux-image-6.12-amd64; re='^linux-image-6\.12\.[0-9]+\+deb[0-9]+-amd64$' ;;
    *) return 0 ;;
  esac
  p=$(dep_of "$meta" "$re")
  if [ -n "$p" ] && has_candidate "$p"; then echo "$p"; return 0; fi
  p=$(newest_matching "$re")
  if [ -n "$p" ] && has_candidate "$p"; then echo "$p"; return 0; fi
  # Not signed: the -unsigned build of the same kernel boots the same.
  p=$(newest_matching "${re%\$}-unsigned\$")
  if [ -n "$p" ] && has_candidate "$p"; then echo "$p"; fi
}

fetch_one() { # SERIES
  local series="$1" out="$DIR/$1" pkg work deb k
  if [ -s "$out/vmlinuz" ] && [ "$UPDATE" = 0 ]; then
    log "$series: already there ($(cat "$out/PACKAGE" 2>/dev/null || echo '?')), skipped"
    return 0
  fi
  pkg=$(resolve "$series")
  if [ -z "$pkg" ]; then
    apt_update_once
    pkg=$(resolve "$series")
  fi
  if [ -z "$pkg" ]; then
    log "$series: UNAVAILABLE: no linux-image-$series*-amd64 package is reachable through apt here"
    return 1
  fi
  if [ -s "$out/vmlinuz" ] && [ "$(cat "$out/PACKAGE" 2>/dev/null)" = "$pkg" ]; then
    log "$series: $pkg is already the newest, kept"
    return 0
  fi
  work=$(mktemp -d "$DIR/.fetch-$series.XXXXXX")
  local rc=0
  unpack "$series" "$pkg" "$work" || rc=$?
  rm -rf "$work"
  return "$rc"
}

unpack() { # SERIES PACKAGE WORKDIR
  local series="$1" pkg="$2" work="$3" out="$DIR/$1" deb k
  log "$series: downloading $pkg"
  if ! (cd "$work" && apt-get download -qq "$pkg" >/dev/null 2>"$work/err"); then
    apt_update_once
    if ! (cd "$work" && apt-get download -qq "$pkg" >/dev/null 2>"$work/err"); then
      log "$series: UNAVAILABLE: apt-get download $pkg failed: $(tr '\n' ' ' < "$work/err")"
      return 1
    fi
  fi
  deb=$(find "$work" -maxdepth 1 -name '*.deb' -print -quit)
  mkdir -p "$work/x"
  dpkg -x "$deb" "$work/x"
  k=$(find "$work/x/boot" -maxdepth 1 -name 'vmlinuz-*' -print -quit)
  if [ -z "$k" ]; then
    log "$series: $pkg holds no /boot/vmlinuz-*"
    return 1
  fi
  mkdir -p "$out"
  # Only the kernel image is kept: every feature the tests need (NUMA,
  # ACPI_HMAT, USERFAULTFD, MIGRATION) is built in, so modules are not.
  cp "$k" "$out/vmlinuz.new" && mv "$out/vmlinuz.new" "$out/vmlinuz"
  cp "$work/x/boot/config-"* "$out/config" 2>/dev/null || true
  echo "$pkg" > "$out/PACKAGE"
  log "$series: $pkg -> $out/vmlinuz ($(basename "$k"))"
}

rc=0
for s in 6.1 6.12; do
  fetch_one "$s" || rc=1
done
for s in 6.1 6.12; do
  if [ -s "$DIR/$s/vmlinuz" ]; then
    echo "$s: $DIR/$s/vmlinuz ($(cat "$DIR/$s/PACKAGE"))"
  else
    echo "$s: unavailable"
  fi
done
exit "$rc"
