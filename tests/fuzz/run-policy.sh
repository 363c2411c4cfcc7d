#!/bin/sh
# run-policy.sh SECONDS: build the libFuzzer target over the policy tree
# (clang, ASan + UBSan) and run it for SECONDS on a copy of the seed
# corpus tests/fuzz/corpus/policy.  Exit 0 when no crash was found.
set -e
secs=${1:?usage: run-policy.sh SECONDS}
src=$(cd "$(dirname "$0")/../.." && pwd)
out=${HMS_FUZZ_DIR:-$(mktemp -d /tmp/hms-fuzz-policy-XXXXXX)}
cc=${CC_FUZZ:-clang}
$cc -g -O1 -std=gnu11 -D_GNU_SOURCE -DHMS_BUILDING=1 -DHMS_DEBUG=1 \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-I"$src/include" -I"$src/src" \
	"$src/tests/fuzz/fuzz_policy.c" "$src/src/core/policy_tree.c" "$src/src/core/itree.c" \
	-lpthread -o "$out/fuzz_policy"
mkdir -p "$out/corpus"
cp "$src"/tests/fuzz/corpus/policy/* "$out/corpus/"
cd "$out"
./fuzz_policy -max_total_time="$secs" -max_len=1600 -timeout=10 corpus
echo "fuzzing done: $out"
