#!/usr/bin/env bash
# The checks CI runs besides the two ctest runs (see .ci/run):
#  - the suite under ThreadSanitizer (the tests whose child process starts
#    threads after fork() are left out: TSan cannot follow that; and
#    stress_user_only_kernel_copy: a TSan build copies through the kernel
#    always, so stress_user_only is that same test there); it holds
#    the short stress runs: stress_short (1 thread), stress_threads (3
#    threads) and stress_inject (fault injection), which .ci/run also runs
#    in the plain and ASan+UBSan builds;
#  - the plain suite with every small anonymous mapping placed across a
#    2 MiB boundary (tests/ci/straddle.c), at its middle and after its
#    first page: a test must not pass only where its range sits in one
#    2 MiB migration batch;
#  - each libFuzzer target for a bounded time;
#  - valgrind memcheck over the programs that never fault on managed
#    memory (valgrind 3.19 does not know the userfaultfd system call, and
#    under its scheduler a thread blocked in a page fault keeps the lock the
#    fault handler thread needs; LeakSanitizer covers those in the ASan
#    run).  They open contexts all the same, and valgrind warns of the
#    /dev/userfaultfd ioctl it does not know ("unhandled ioctl 0xaa00"):
#    expected, and harmless here.
set -euo pipefail
cd "$(dirname "$0")/../.."
fuzz_secs=${HMS_FUZZ_SECONDS:-20}

echo "--- ThreadSanitizer"
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DHMS_SANITIZE=thread >/dev/null
cmake --build build-tsan -j"$(nproc)"
TSAN_OPTIONS="halt_on_error=1 die_after_fork=0" \
	ctest --test-dir build-tsan --output-on-failure -j2 --timeout 300 \
	-E 'vm_numa|topo_golden|topo_discovery|anon_write_child|fork_child_open_race|stress_user_only_kernel_copy'

echo "--- placement: mappings across a 2 MiB boundary"
cc -O2 -shared -fPIC -o build/straddle.so tests/ci/straddle.c
for at in "" 1; do
	log=build/straddle${at}.log
	if ! STRADDLE_PAGE=$at LD_PRELOAD="$PWD/build/straddle.so" \
		ctest --test-dir build --output-on-failure -j2 --timeout 300 \
		-E 'vm_numa|stress_|topo_golden|topo_discovery' >"$log" 2>&1; then
		cat "$log"
		exit 1
	fi
	echo "straddle at page ${at:-middle}: $(grep 'tests passed' "$log")"
done

echo "--- fuzzing, ${fuzz_secs}s per target"
for t in topology hbind policy; do
	if [ -x "tests/fuzz/run-$t.sh" ] || [ -f "tests/fuzz/run-$t.sh" ]; then
		HMS_FUZZ_DIR=$(mktemp -d) sh "tests/fuzz/run-$t.sh" "$fuzz_secs" 2>&1 | tail -3
	fi
done

echo "--- valgrind memcheck (programs without userfaultfd)"
for t in topo_path topo_best_target topo_uid_unique topo_snapshot topo_cli topo_live; do
	[ -x "build/tests/test_$t" ] || continue
	HMS_FIXTURES="$PWD/tests/fixtures" HMS_TOOL="$PWD/build/hms" \
		timeout 300 valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
		--error-exitcode=9 "build/tests/test_$t" >/dev/null
	echo "valgrind $t: clean"
done
timeout 300 valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=9 \
	./build/hms topo --json --root tests/fixtures/sysfs/qemu-3node-memonly-hmat >/dev/null
echo "valgrind hms topo: clean"
