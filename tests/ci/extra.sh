#!/usr/bin/env bash
# The checks CI runs besides the two ctest runs (see .ci/run):
#  - the suite under ThreadSanitizer (a test that died allocating TSan's
#    own shadow memory runs once more, below; the tests whose child process starts
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

echo "--- ThreadSanitizer (${SECONDS}s)"
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DHMS_SANITIZE=thread >/dev/null
cmake --build build-tsan -j"$(nproc)"
# A test that dies at once with "ThreadSanitizer failed to allocate"
# (TSan's own shadow mapping refused, ENOMEM at a fixed address; seen in
# 1 of about 10 runs of the fakecuda tests here, exit 66, no report) is run
# again, once; any other failure fails the step, and so does a test that
# fails twice.
tsan_log=build-tsan/ctest.log
if ! TSAN_OPTIONS="halt_on_error=1 die_after_fork=0" \
	ctest --test-dir build-tsan --output-on-failure -j2 --timeout 300 \
	-E 'vm_numa|topo_golden|topo_discovery|anon_write_child|fork_child_open_race|fork_during_open|stress_user_only_kernel_copy' \
	>"$tsan_log" 2>&1; then
	cat "$tsan_log"
	failed=$(grep -c '\*\*\*Failed\|\*\*\*Exception\|\*\*\*Timeout' "$tsan_log" || true)
	oom=$(grep -c '^==[0-9]*==ERROR: ThreadSanitizer failed to allocate' "$tsan_log" || true)
	if [ "$failed" -gt 0 ] && [ "$failed" = "$oom" ]; then
		echo "--- ThreadSanitizer: $failed test(s) died allocating TSan's shadow: once more"
		TSAN_OPTIONS="halt_on_error=1 die_after_fork=0" \
			ctest --test-dir build-tsan --output-on-failure --timeout 300 --rerun-failed
	else
		exit 1
	fi
else
	grep -E 'tests passed|tests failed' "$tsan_log"
fi

echo "--- placement: mappings across a 2 MiB boundary (${SECONDS}s)"
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

echo "--- fuzzing, ${fuzz_secs}s per target (${SECONDS}s)"
for t in topology hbind policy; do
	if [ -x "tests/fuzz/run-$t.sh" ] || [ -f "tests/fuzz/run-$t.sh" ]; then
		HMS_FUZZ_DIR=$(mktemp -d) sh "tests/fuzz/run-$t.sh" "$fuzz_secs" 2>&1 | tail -3
	fi
done

echo "--- valgrind memcheck, programs without userfaultfd (${SECONDS}s)"
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
