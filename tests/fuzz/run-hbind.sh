#!/bin/sh
# run-hbind.sh SECONDS: build the libFuzzer target over the hbind atom
# decoder (clang, ASan + UBSan) and run it for SECONDS on a copy of the
# seed corpus tests/fuzz/corpus/hbind.  Exit 0 when no crash was found.
set -e
secs=${1:?usage: run-hbind.sh SECONDS}
src=$(cd "$(dirname "$0")/../.." && pwd)
out=${HMS_FUZZ_DIR:-$(mktemp -d /tmp/hms-fuzz-hbind-XXXXXX)}
cc=${CC_FUZZ:-clang}
$cc -g -O1 -std=gnu11 -D_GNU_SOURCE -DHMS_BUILDING=1 \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-I"$src/include" -I"$src/src" \
	"$src/tests/fuzz/fuzz_hbind.c" "$src/src/core/hbind.c" \
	-lpthread -o "$out/fuzz_hbind"
mkdir -p "$out/corpus"
cp "$src"/tests/fuzz/corpus/hbind/* "$out/corpus/"
cd "$out"
./fuzz_hbind -max_total_time="$secs" -max_len=1100 -timeout=10 corpus
echo "fuzzing done: $out"
