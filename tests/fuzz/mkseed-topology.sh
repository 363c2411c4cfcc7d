#!/bin/sh
# mkseed-topology.sh ROOT > SEED: one sysfs tree in the fuzzer's record
# format ("PATH\0CONTENT\0"; symlinks as "PATH\0@>TARGET\0"), keeping only
# what the discovery reads.
set -e
cd "$1"
find sys/devices/system/node sys/devices/virtual/memory_tiering sys/bus/dax \
     proc/meminfo proc/driver sys/devices/system/cpu/online \
     \( -type f -o -type l \) 2>/dev/null | sort | while read -r p; do
	case "$p" in */vmstat|*/numastat|*/memory[0-9]*|*/power/*|*/subsystem|*/uevent|*/hugepages/*|*/memory_failure/*|*/.gitkeep) continue ;; esac
	if [ -L "$p" ]; then
		printf '%s\0@>%s\0' "$p" "$(readlink "$p")"
	else
		printf '%s\0' "$p"; cat "$p"; printf '\0'
	fi
done
