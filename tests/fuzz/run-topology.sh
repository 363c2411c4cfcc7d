#!/bin/sh
# run-topology.sh SECONDS: build the libFuzzer target over the sysfs
# discovery (clang, ASan + UBSan) and run it for SECONDS on a copy of the
# seed corpus tests/fuzz/corpus/topology.  Exit 0 when no crash was found.
set -e
secs=${1:?usage: run-topology.sh SECONDS}
src=$(cd "$(dirname "$0")/../.." && pwd)
out=${HMS_FUZZ_DIR:-$(mktemp -d /tmp/hms-fuzz-topo-XXXXXX)}
cc=${CC_FUZZ:-clang}
$cc -g -O1 -std=gnu11 -D_GNU_SOURCE -DHMS_BUILDING=1 \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-I"$src/include" -I"$src/src" \
	"$src/tests/fuzz/fuzz_topology_sysfs.c" "$src/src/core/topology.c" \
	"$src/src/core/topology_sysfs.c" "$src/src/core/topology_export.c" \
	$(pkg-config --libs hwloc) -lpthread -o "$out/fuzz_topology_sysfs"
mkdir -p "$out/corpus"
cp "$src"/tests/fuzz/corpus/topology/* "$out/corpus/"
cd "$out"
./fuzz_topology_sysfs -max_total_time="$secs" -max_len=65536 -timeout=10 corpus
echo "fuzzing done: $out"
