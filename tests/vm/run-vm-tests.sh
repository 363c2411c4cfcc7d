#!/bin/bash
# usage: tests/vm/run-vm-tests.sh [--kernel 6.1|6.12|all] --build BUILD_DIR
#            [--kernels DIR] [--timeout SECS] [--filter REGEX] [--keep DIR]
#            [--exec 'COMMAND'] [--repeat N] [--lanes N] [--parallel] [--no-strip]
#            [--verbose]
#
# Runs the test programs of a build (BUILD_DIR/tests/test_*) inside a
# 3-NUMA-node VM: Debian's kernel (fetched by tests/vm/fetch-kernels.sh)
# booted by qemu-system-x86_64 under TCG, with
#   node 0: CPU 0, 2 GiB      node 1: CPU 1, 1 GiB
#   node 2: memory-only, 1 GiB, slow (HMAT: 200 ns, 2 GB/s; 16 MiB memory-side cache)
# and an HMAT describing them. The initramfs holds a static busybox, the
# tests (dynamically linked ones with every library ldd reports and the
# dynamic loader; static ones as they are), the hms tool and the source tree
# (for HMS_FIXTURES / HMS_SOURCE_DIR). The guest runs every test as root
# with a timeout, HMS_IN_VM=1, and reports on the serial console; two
# tests at a time (--lanes, default 2: the guest has two vCPUs).
# --repeat N runs each test N times in a row (the first failure ends it):
# for a test that fails once in a while.
#
# Prints per kernel one line per test, "PASS name (N s)", "FAIL name (rc)" (with
# the test's output) or "SKIP name: reason", then "N passed, N failed,
# N skipped"; after all kernels every failure again (so the end of a long
# log names them) and the same line for the total.
# Exit: 0 all passed or skipped; 1 a test failed, a VM did not boot or did
# not finish, or a kernel is missing; 2 bad usage or missing tools.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)

KERNEL=all
BUILD=""
KDIR=${HMS_VM_KERNELS:-${XDG_CACHE_HOME:-$HOME/.cache}/hms/vm-kernels}
TEST_TIMEOUT=120
FILTER=""
EXEC=""
REPEAT=1
LANES=${HMS_VM_LANES:-2}
KEEP=""
STRIP=1
VERBOSE=0
PARALLEL=${HMS_VM_PARALLEL:-0}

usage() {
  sed -n '2,5p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
die() { echo "run-vm-tests: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --kernel)   [ $# -ge 2 ] || usage; KERNEL=$2; shift ;;
    --build)    [ $# -ge 2 ] || usage; BUILD=$2; shift ;;
    --kernels)  [ $# -ge 2 ] || usage; KDIR=$2; shift ;;
    --timeout)  [ $# -ge 2 ] || usage; TEST_TIMEOUT=$2; shift ;;
    --filter)   [ $# -ge 2 ] || usage; FILTER=$2; shift ;;
    --exec)     [ $# -ge 2 ] || usage; EXEC=$2; shift ;;
    --repeat)   [ $# -ge 2 ] || usage; REPEAT=$2; shift ;;
    --lanes)    [ $# -ge 2 ] || usage; LANES=$2; shift ;;
    --keep)     [ $# -ge 2 ] || usage; KEEP=$2; shift ;;
    --no-strip) STRIP=0 ;;
    --verbose|-v) VERBOSE=1 ;;
    --parallel) PARALLEL=1 ;;
    -h|--help)  usage ;;
    *) echo "run-vm-tests: unknown argument: $1" >&2; usage ;;
  esac
  shift
done

# The guest exports HMS_IN_VM=1: a harness started there (the vm_numa ctest
# run inside the VM) must not boot another VM.
if [ "${HMS_IN_VM:-}" = 1 ]; then
  echo "run-vm-tests: already inside the test VM (HMS_IN_VM=1), not nesting" >&2
  exit 2
fi
[ -n "$BUILD" ] || usage
[ -d "$BUILD/tests" ] || die "$BUILD/tests: no such directory (build the project first)"
BUILD=$(cd "$BUILD" && pwd)
case "$KERNEL" in
  6.1|6.12) KERNELS=("$KERNEL") ;;
  all) KERNELS=(6.1 6.12) ;;
  *) die "--kernel must be 6.1, 6.12 or all" ;;
esac
if ! [[ "$TEST_TIMEOUT" =~ ^[1-9][0-9]*$ ]]; then die "--timeout needs seconds"; fi
if ! [[ "$REPEAT" =~ ^[1-9][0-9]{0,3}$ ]]; then die "--repeat needs a count (1-9999)"; fi
if ! [[ "$LANES" =~ ^[1-8]$ ]]; then die "--lanes needs a count (1-8)"; fi
for tool in qemu-system-x86_64 cpio gzip ldd; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install qemu-system-x86 cpio busybox-static)"
done
BUSYBOX=${BUSYBOX:-$(command -v busybox || true)}
[ -n "$BUSYBOX" ] || die "busybox not found (apt-get install busybox-static)"
if ldd "$BUSYBOX" >/dev/null 2>&1; then
  die "$BUSYBOX is dynamically linked: install busybox-static (or set BUSYBOX=)"
fi

# ---- the tests: every executable ELF named test_* in BUILD/tests, except
# those whose outcome does not depend on the machine (MACHINE_FREE: topo_golden
# and topo_discovery read only captured sysfs trees, 17 and 13 s a kernel;
# cli_joined_options and cli_help_args check how the CLI parses its
# options, 11-12 and 3 s a kernel; topo_bad_input reads a damaged copy of
# a captured tree, 2-3 s), unless --filter names them
MACHINE_FREE='^(topo_golden|topo_discovery|topo_bad_input|cli_joined_options|cli_help_args)$'
TESTS=()
while IFS= read -r f; do
  name=${f#test_}
  if [ -n "$FILTER" ] && ! [[ "$name" =~ $FILTER ]]; then continue; fi
  if [ -z "$FILTER" ] && [[ "$name" =~ $MACHINE_FREE ]]; then continue; fi
  [ "$(head -c 4 "$BUILD/tests/$f" | od -An -c | tr -d ' ')" = '177ELF' ] || continue
  TESTS+=("$name")
done < <(find "$BUILD/tests" -maxdepth 1 -type f -name 'test_*' -perm -u+x -printf '%f\n' | sort)
# --exec: a shell command (e.g. "hms bench numa") run in the guest instead of
# the tests, reported as the test "exec" with its output always shown.
if [ -n "$EXEC" ]; then TESTS=(exec); fi
[ "${#TESTS[@]}" -gt 0 ] || die "no test programs (test_*) in $BUILD/tests${FILTER:+ matching $FILTER}"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hms-vm.XXXXXX")
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  if [ -n "$KEEP" ]; then
    mkdir -p "$KEEP"
    cp -a "$WORK/." "$KEEP/" || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
NONCE="HMS$$x$RANDOM$RANDOM"

# ---- initramfs
# Copies FILE to the root ROOT at DEST, without debug info unless --no-strip.
put() { # FILE DEST
  mkdir -p "$ROOT$(dirname "$2")"
  cp -L "$1" "$ROOT$2"
  if [ "$STRIP" = 1 ]; then strip --strip-debug "$ROOT$2" 2>/dev/null || true; fi
}

# Copies the shared libraries PROGRAM needs (ldd's view, so the whole closure)
# into /hms/lib, and the dynamic loader to its own absolute path.
put_libs() { # PROGRAM
  local line lib path
  ldd "$1" >/dev/null 2>&1 || return 0   # static: nothing to add
  while read -r line; do   # read trims ldd's leading tab
    case "$line" in
      *'=> not found'*) die "$1: library missing: ${line%% =>*}" ;;
      *' => /'*) lib=$(echo "$line" | awk '{print $1}'); path=$(echo "$line" | awk '{print $3}')
                 [ -e "$ROOT/hms/lib/$lib" ] || put "$path" "/hms/lib/$lib" ;;
      /*)        path=$(echo "$line" | awk '{print $1}')
                 [ -e "$ROOT$path" ] || put "$path" "$path" ;;
    esac
  done < <(ldd "$1")
}

build_initramfs() {
  ROOT=$WORK/root
  mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,root,etc,hms/tests,hms/bin,hms/lib,hms/run}
  cp "$BUSYBOX" "$ROOT/bin/busybox"
  local t
  if [ -n "$EXEC" ]; then
    printf '#!/bin/sh\n%s\n' "$EXEC" > "$ROOT/hms/tests/test_exec"
    chmod +x "$ROOT/hms/tests/test_exec"
    touch "$ROOT/hms/show-output"
  else
    for t in "${TESTS[@]}"; do
      put "$BUILD/tests/test_$t" "/hms/tests/test_$t"
      put_libs "$BUILD/tests/test_$t"
    done
  fi
  if [ -x "$BUILD/hms" ]; then
    put "$BUILD/hms" /hms/bin/hms
    put_libs "$BUILD/hms"
  fi
  # glibc loads libgcc_s at run time (pthread_cancel, backtraces).
  local gcc_s
  gcc_s=$(ldconfig -p | awk '/libgcc_s.so.1 .*x86-64/ && !g {g = $NF} END {print g}')
  if [ -n "$gcc_s" ] && [ ! -e "$ROOT/hms/lib/libgcc_s.so.1" ]; then put "$gcc_s" /hms/lib/libgcc_s.so.1; fi
  # The source tree without build directories nor git: tests find their
  # fixtures (HMS_FIXTURES) and sources (HMS_SOURCE_DIR) there.
  mkdir -p "$ROOT/hms/src"
  tar -C "$SRC" --exclude=.git --exclude-tag-all=CMakeCache.txt --exclude='./build*' -cf - . |
    tar -C "$ROOT/hms/src" -xf -
  printf '%s\n' "${TESTS[@]}" > "$ROOT/hms/tests.list"
  cat > "$ROOT/hms/config" <<EOF
NONCE=$NONCE
TEST_TIMEOUT=$TEST_TIMEOUT
REPEAT=$REPEAT
LANES=$LANES
EOF
  write_init > "$ROOT/init"
  chmod +x "$ROOT/init"
  (cd "$ROOT" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -1 > "$WORK/initramfs.cpio.gz"
}

# /init of the guest. Lines the host reads start with @@NONCE; everything
# else on the console (test output, kernel messages) is only shown.
write_init() {
  cat <<'EOS'
#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/hms/bin:/bin:/sbin:/usr/bin:/usr/sbin HOME=/root TMPDIR=/tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -p /dev/shm && mount -t tmpfs -o mode=1777 tmpfs /dev/shm
. /hms/config
M="@@$NONCE"
# Root may use userfaultfd anyway; allow it for every user so that tests
# dropping privileges behave as on a developer machine.
[ -w /proc/sys/vm/unprivileged_userfaultfd ] && echo 1 > /proc/sys/vm/unprivileged_userfaultfd
# Automatic NUMA balancing would move pages behind the placement tests' back.
[ -w /proc/sys/kernel/numa_balancing ] && echo 0 > /proc/sys/kernel/numa_balancing
ulimit -c 0
ulimit -l unlimited 2>/dev/null
tiers=""
for t in /sys/devices/virtual/memory_tiering/memory_tier*; do
  [ -e "$t/nodelist" ] && tiers="$tiers ${t##*/}:$(cat "$t/nodelist")"
done
echo "$M BOOT $(uname -r)"
echo "$M INFO nodes $(cat /sys/devices/system/node/online) cpu $(cat /sys/devices/system/node/has_cpu) memory $(cat /sys/devices/system/node/has_memory) tiers$tiers"
export HMS_IN_VM=1 HMS_VM_KERNEL="$(uname -r)"
export HMS_FIXTURES=/hms/src/tests/fixtures HMS_SOURCE_DIR=/hms/src HMS_TOOL=/hms/bin/hms
export LD_LIBRARY_PATH=/hms/lib
dmesg -c > /dev/null 2>&1
# Per test these run for every process of the guest (a hundred, kernel
# threads included): shell builtins only, since a fork and exec costs
# milliseconds under TCG.
# Whether process directory $1 runs test $t: its command line ends with
# the test's path (read drops the NULs between the arguments), so that
# migrate_discard_huge does not take migrate_discard_huge_scattered,
# which may run in the other lane, for its own.
runs_test() {
  c=""
  read -r c < "$1/cmdline" 2>/dev/null
  case "$c" in *"/hms/tests/test_$t") return 0 ;; esac
  # --repeat: the sh -c loop's arguments end with the count
  if [ "$REPEAT" != 1 ]; then
    case "$c" in *"/hms/tests/test_$t$REPEAT") return 0 ;; esac
  fi
  return 1
}
# Centiseconds since boot, into $now_cs.
uptime_cs() {
  read -r up _ < /proc/uptime
  now_cs=$(( ${up%.*} * 100 + 1${up#*.} - 100 ))
}
# File $1 to the console in one piece: a block the host reads (output,
# kernel messages, a hung test's stacks) is not cut by the other lane's.
say() {
  until mkdir /tmp/console.lock 2>/dev/null; do usleep 20000; done
  cat "$1"
  rmdir /tmp/console.lock
}
# Runs test $1 in lane $2 (its own output files) and reports it.
run_test() {
  t=$1 out=/tmp/out.$2 rep=/tmp/rep.$2
  mkdir -p "/hms/run/$t"
  cd "/hms/run/$t"
  uptime_cs; s=$now_cs
  echo "$M START $t"
  if [ "$REPEAT" = 1 ]; then
    timeout -s KILL "$TEST_TIMEOUT" "/hms/tests/test_$t" > "$out" 2>&1 < /dev/null &
  else
    # --repeat: the test REPEAT times in a row, the limit for each run;
    # the first failure ends it.
    timeout -s KILL "$((TEST_TIMEOUT * REPEAT))" sh -c 'i=0
      while [ $i -lt "$1" ]; do i=$((i + 1)); echo "[run $i of $1]"; "$0" || exit $?; done' \
      "/hms/tests/test_$t" "$REPEAT" > "$out" 2>&1 < /dev/null &
  fi
  tpid=$!
  # A test that SIGKILL does not end (stuck in the kernel) must not stop
  # the run: past its limit, show where its tasks wait, then give up on it.
  ( trap 'kill "$spid"; exit 0' TERM
    sleep $((TEST_TIMEOUT * REPEAT + 15)) & spid=$!
    wait "$spid"
    # From here on a TERM (the test ended meanwhile) must not stop the
    # report half-written, nor inside say with the lock taken.
    trap '' TERM
    {
      echo "$M HUNG-BEGIN $t"
      for d in /proc/[0-9]*; do
        runs_test "$d" || continue
        for k in "$d"/task/*; do
          echo "task ${k##*/} ($(cat "$k/comm")): $(grep '^State' "$k/status")"
          cat "$k/stack" 2>/dev/null
        done
      done
      echo "blocked tasks (sysrq w):"
      echo w > /proc/sysrq-trigger
      dmesg | tail -n 150
      echo "$M HUNG-END $t"
    } > "$rep.hung" 2>&1
    say "$rep.hung"
    kill -KILL "$tpid" ) < /dev/null &
  wpid=$!
  wait "$tpid"
  rc=$?
  kill "$wpid" 2>/dev/null
  wait "$wpid" 2>/dev/null
  uptime_cs
  el=$((now_cs - s))
  echo "$M RESULT $t $rc $((el / 100)).$((el / 10 % 10))"
  # Processes of the test that outlived it (fork children) would take CPU
  # from every later test: stop them, and say so. (busybox timeout's own
  # watcher, which names the test too, leaves within a second: not counted.)
  left=0
  for d in /proc/[0-9]*; do
    runs_test "$d" || continue
    first=$(tr '\0' '\n' < "$d/cmdline" 2>/dev/null | head -n 1)
    kill -KILL "${d#/proc/}" 2>/dev/null || continue
    [ "${first##*/}" = timeout ] || left=$((left + 1))
  done
  [ "$left" = 0 ] || echo "$M LEFTOVER $t $left"
  : > "$rep"
  if [ "$rc" != 0 ] || [ -e /hms/show-output ]; then
    {
      echo "$M OUT-BEGIN $t"
      n=$(wc -l < "$out")
      if [ "$n" -gt 200 ]; then
        head -n 50 "$out"
        echo "[... $((n - 200)) lines left out ...]"
        tail -n 150 "$out"
      else
        cat "$out"
      fi
      echo
      echo "$M OUT-END $t"
    } >> "$rep"
  fi
  # Kernel messages go to the test that finds them: with two lanes, that
  # may be the one beside the test that caused them (the host says so).
  if dmesg | grep -qE 'BUG:|WARNING:|Oops|general protection|segfault'; then
    {
      echo "$M KERNEL-BEGIN $t"
      dmesg -c | grep -E -A3 'BUG:|WARNING:|Oops|general protection|segfault' | head -n 40
      echo "$M KERNEL-END $t"
    } >> "$rep"
  fi
  [ -s "$rep" ] && say "$rep"
}
# Lane $1 of LANES runs every LANES-th test of the list, from the $1-th.
lane() {
  i=0
  for t in $(cat /hms/tests.list); do
    [ $((i % LANES)) = "$1" ] && run_test "$t" "$1"
    i=$((i + 1))
  done
}
l=0
while [ "$l" -lt "$LANES" ]; do
  lane "$l" &
  l=$((l + 1))
done
wait
cd /
echo "$M DONE"
poweroff -f
EOS
}

# ---- qemu: the machine and its NUMA/HMAT layout
QEMU_NUMA=(
  -machine "q35,hmat=on" -smp "2,sockets=2,cores=1,threads=1" -m 4G
  -object "memory-backend-ram,id=m0,size=2G"
  -object "memory-backend-ram,id=m1,size=1G"
  -object "memory-backend-ram,id=m2,size=1G"
  -numa "node,nodeid=0,cpus=0,memdev=m0,initiator=0"
  -numa "node,nodeid=1,cpus=1,memdev=m1,initiator=1"
  -numa "node,nodeid=2,memdev=m2,initiator=0"
  -numa "dist,src=0,dst=1,val=21"
  -numa "dist,src=0,dst=2,val=30"
  -numa "dist,src=1,dst=2,val=30"
)
hmat() { # INITIATOR TARGET LATENCY_NS BANDWIDTH
  QEMU_NUMA+=(-numa "hmat-lb,initiator=$1,target=$2,hierarchy=memory,data-type=access-latency,latency=$3")
  QEMU_NUMA+=(-numa "hmat-lb,initiator=$1,target=$2,hierarchy=memory,data-type=access-bandwidth,bandwidth=$4")
}
for ini in 0 1; do
  for tgt in 0 1 2; do
    if [ "$ini" = "$tgt" ]; then hmat "$ini" "$tgt" 10 20G
    elif [ "$tgt" = 2 ]; then hmat "$ini" "$tgt" 200 2G
    else hmat "$ini" "$tgt" 25 10G
    fi
  done
done
QEMU_NUMA+=(-numa "hmat-cache,node-id=2,size=16M,level=1,associativity=direct,policy=write-back,line=64")
# loglevel=4: errors and worse reach the console (a stalled guest's RCU
# stall or hung-task reports end up in "last console lines").
APPEND="console=ttyS0 quiet loglevel=4 panic=-1 mitigations=off"

# Boots SERIES's VM and prints its results; leaves "passed failed skipped
# status" in $WORK/counts-SERIES (status 0: all ran and none failed).
run_kernel() { # SERIES
  local k="$1" vmlinuz="$KDIR/$1/vmlinuz" log="$WORK/console-$1.log"
  local pkg start end vm_limit stall_limit qrc=0 RC=0
  echo "=== kernel $k"
  if [ ! -s "$vmlinuz" ]; then
    echo "FAIL kernel $k: $vmlinuz missing (run tests/vm/fetch-kernels.sh $KDIR)"
    echo "0 passed, ${#TESTS[@]} failed, 0 skipped"
    echo "0 ${#TESTS[@]} 0 1" > "$WORK/counts-$k"
    return
  fi
  pkg=$(cat "$KDIR/$1/PACKAGE" 2>/dev/null || echo unknown)
  # A hung guest must not hang the run. The guest gives up on a test
  # SIGKILL does not end (HUNG) 15 s past its limit; a guest that shows no
  # progress (boot, a result) for longer than that, plus slack, is stopped,
  # and so is one past the boot plus every test at its limit. A guest that
  # does not boot (3-5 s here; stopped after 90 s) is booted once more,
  # saying so: no test ran in it.
  vm_limit=$((120 + ${#TESTS[@]} * (TEST_TIMEOUT * REPEAT + 5)))
  stall_limit=$((TEST_TIMEOUT * REPEAT + 90))
  local boot_limit=90 attempt qpid seen n now progress stopped="" shown
  for attempt in 1 2; do
    start=$(date +%s)
    qrc=0
    qemu-system-x86_64 -accel tcg -display none -monitor none \
      -no-reboot -nodefaults -serial "file:$log" "${QEMU_NUMA[@]}" \
      -kernel "$vmlinuz" -initrd "$WORK/initramfs.cpio.gz" -append "$APPEND" \
      < /dev/null > "$WORK/qemu-$k.err" 2>&1 &
    qpid=$! seen=-1 progress=$start stopped="" shown=$start
    while kill -0 "$qpid" 2>/dev/null; do
      sleep 2
      n=$(grep -c "@@$NONCE \(BOOT\|RESULT\|HUNG-END\)" "$log" 2>/dev/null || true)
      now=$(date +%s)
      if [ "$n" != "$seen" ]; then seen=$n; progress=$now; fi
      # Where it is, once a minute: what a run cut short (ctest's limit)
      # still shows.
      if [ $((now - shown)) -ge 60 ]; then
        shown=$now
        echo "  ($k, $((now - start)) s: $(grep -c "@@$NONCE RESULT" "$log" 2>/dev/null || true) of ${#TESTS[@]} tests done, last started: $(grep -a "@@$NONCE START" "$log" 2>/dev/null | tail -n 1 | tr -d '\r' | awk '{print $3}'))"
      fi
      if [ "${n:-0}" = 0 ] && [ $((now - start)) -gt "$boot_limit" ]; then
        stopped="no boot in ${boot_limit}s"
      elif [ $((now - progress)) -gt "$stall_limit" ]; then
        stopped="no progress for ${stall_limit}s"
      elif [ $((now - start)) -gt "$vm_limit" ]; then
        stopped="past its limit of ${vm_limit}s"
      fi
      if [ -n "$stopped" ]; then kill -KILL "$qpid" 2>/dev/null || true; break; fi
    done
    { wait "$qpid"; } 2>/dev/null || qrc=$?
    end=$(date +%s)
    if [ "$attempt" = 2 ] || grep -q "@@$NONCE BOOT" "$log" 2>/dev/null; then break; fi
    echo "the VM did not boot (qemu rc $qrc${stopped:+; $stopped}); booting it again. Its last console lines:"
    { tr -d '\r' < "$log" 2>/dev/null || true; } | tail -n 20 | sed 's/^/    /'
    sed 's/^/    qemu: /' "$WORK/qemu-$k.err"
    rm -f "$log"
  done
  [ -f "$log" ] || : > "$log"
  tr -d '\r' < "$log" > "$log.txt"
  [ "$VERBOSE" = 1 ] && sed 's/^/    | /' "$log.txt"

  local out
  out=$(awk -v M="@@$NONCE" -v tests="${TESTS[*]}" '
    function indent(text,   r, a, c, q) {
      sub(/\n+$/, "", text)
      if (text == "") return ""
      c = split(text, a, "\n"); r = ""
      for (q = 1; q <= c; q++) r = r "    " a[q] "\n"
      return r
    }
    BEGIN { n = split(tests, order, " "); p = f = s = 0 }
    # Markers may follow kernel text on the same line: look anywhere.
    { i = index($0, M); line = (i ? substr($0, i) : "") }
    capture != "" && line == M " OUT-END " capture { capture = ""; next }
    capture != "" { output[capture] = output[capture] $0 "\n"; next }
    hcapture != "" && line == M " HUNG-END " hcapture { hcapture = ""; next }
    hcapture != "" { hung[hcapture] = hung[hcapture] $0 "\n"; next }
    kcapture != "" && line == M " KERNEL-END " kcapture { kcapture = ""; next }
    kcapture != "" { kernel[kcapture] = kernel[kcapture] $0 "\n"; next }
    i == 0 { next }
    { split(line, w, " ") }
    w[2] == "BOOT" { booted = 1; uname = w[3] }
    w[2] == "INFO" { sub("^" M " INFO ", "", line); info = line }
    w[2] == "RESULT" { rc[w[3]] = w[4]; secs[w[3]] = w[5] }
    w[2] == "OUT-BEGIN" { capture = w[3] }
    w[2] == "KERNEL-BEGIN" { kcapture = w[3] }
    w[2] == "HUNG-BEGIN" { hcapture = w[3]; hung[w[3]] = "" }
    w[2] == "START" { last = w[3] }
    w[2] == "LEFTOVER" { leftover[w[3]] = w[4] }
    w[2] == "DONE" { done = 1 }
    END {
      if (booted) print "guest " uname ": " info
      for (j = 1; j <= n; j++) {
        t = order[j]
        if (!(t in rc)) {
          print "FAIL " t " (" (!booted ? "the VM did not boot" : t == last ? "no result: the VM stopped while it ran" : "no result: the VM stopped before it") ")"
          if (t in hung) printf "%s", indent(hung[t])
          f++; continue
        }
        if (rc[t] == 0) { print "PASS " t " (" secs[t] " s)"; p++; printf "%s", indent(output[t]) }
        else if (rc[t] == 77) {
          reason = ""; m = split(output[t], o, "\n")
          for (q = m; q >= 1 && reason == ""; q--) if (o[q] ~ /[^ \t]/) reason = o[q]
          sub(/^[ \t]*SKIP:?[ \t]*/, "", reason)
          print "SKIP " t ": " (reason == "" ? "(no reason printed)" : reason); s++
        } else {
          why = (rc[t] == 137 && secs[t] >= TO) ? "timeout after " secs[t] "s" : rc[t]
          if (t in hung) why = "hung: SIGKILL did not end it in " TO + 15 "s"
          print "FAIL " t " (" why ")"; f++
          printf "%s", indent(output[t])
        }
        if (t in leftover) print "  note: " leftover[t] " of its processes outlived it (killed)"
        if (t in hung) {
          print "  where its tasks waited, and the blocked tasks:"
          printf "%s", indent(hung[t])
        }
        if (t in kernel) {
          print "  kernel messages during " t (LANES > 1 ? " (or the test running beside it)" : "") ":"
          printf "%s", indent(kernel[t])
        }
      }
      print "@@COUNTS " p " " f " " s " " (booted ? 1 : 0) " " (done ? 1 : 0)
    }' TO="$TEST_TIMEOUT" LANES="$LANES" "$log.txt")
  local counts p f s booted finished
  counts=$(echo "$out" | grep '^@@COUNTS ')
  { echo "$out" | grep -v '^@@COUNTS '; } || true
  # Each failure again, at most 60 lines, for the summary at the end.
  echo "$out" | awk -v K="$k" '
    /^FAIL / { on = 1; c = 0; print "[" K "] " $0; next }
    on && /^  / { if (++c <= 60) print; else if (c == 61) print "    [...]"; next }
    { on = 0 }' > "$WORK/fails-$k"
  read -r _ p f s booted finished <<< "$counts"
  if [ "$booted" != 1 ] || [ "$finished" != 1 ]; then
    RC=1
    if [ "$booted" != 1 ]; then echo "FAIL kernel $k: the VM did not boot (qemu rc $qrc)"
    else echo "FAIL kernel $k: the VM did not finish (qemu rc $qrc${stopped:+; stopped: $stopped})"; fi
    echo "  last console lines:"
    { grep -v "@@$NONCE" "$log.txt" || true; } | tail -n 30 | sed 's/^/    /'
    if [ -s "$WORK/qemu-$k.err" ]; then sed 's/^/    qemu: /' "$WORK/qemu-$k.err"; fi
  fi
  if [ "$f" -gt 0 ]; then RC=1; fi
  echo "kernel $k ($pkg): $((end - start)) s for boot and ${#TESTS[@]} tests"
  echo "$p passed, $f failed, $s skipped"
  echo "$p $f $s $RC" > "$WORK/counts-$k"
}

T0=$(date +%s)
build_initramfs
echo "initramfs: ${#TESTS[@]} tests, $(du -k "$WORK/initramfs.cpio.gz" | cut -f1) KiB, built in $(( $(date +%s) - T0 )) s"
if [ "$PARALLEL" = 1 ]; then
  # Both VMs at once: each guest runs its tests on one vCPU most of the
  # time, so two VMs share the host's cores well. Reports stay in order.
  for k in "${KERNELS[@]}"; do run_kernel "$k" > "$WORK/report-$k" 2>&1 & done
  wait
  for k in "${KERNELS[@]}"; do cat "$WORK/report-$k"; done
else
  for k in "${KERNELS[@]}"; do run_kernel "$k"; done
fi
TOTAL_P=0; TOTAL_F=0; TOTAL_S=0; RC=0
for k in "${KERNELS[@]}"; do
  read -r p f s r < "$WORK/counts-$k" || { p=0; f=${#TESTS[@]}; s=0; r=1; }
  TOTAL_P=$((TOTAL_P + p)); TOTAL_F=$((TOTAL_F + f)); TOTAL_S=$((TOTAL_S + s))
  if [ "$r" != 0 ]; then RC=1; fi
done
echo "=== total (${KERNELS[*]}): $(( $(date +%s) - T0 )) s"
# The failures once more, last: a log cut in the middle (CI shows its
# start and end) still names them and shows their output.
if cat "$WORK"/fails-* 2>/dev/null | grep -q .; then
  echo "=== failures"
  for k in "${KERNELS[@]}"; do cat "$WORK/fails-$k" 2>/dev/null || true; done
fi
echo "$TOTAL_P passed, $TOTAL_F failed, $TOTAL_S skipped"
exit "$RC"
