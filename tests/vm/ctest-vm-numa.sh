#!/bin/bash
# usage: ctest-vm-numa.sh BUILD_DIR  (the vm_numa ctest; see CMakeLists.txt)
# Runs tests/vm/run-vm-tests.sh on BUILD_DIR's tests when HMS_VM_TESTS=1,
# else exits 77 (SKIP) saying how to enable it.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=${1:?usage: ctest-vm-numa.sh BUILD_DIR}
KDIR=${HMS_VM_KERNELS:-${XDG_CACHE_HOME:-$HOME/.cache}/hms/vm-kernels}

if [ "${HMS_IN_VM:-}" = 1 ]; then
  echo "SKIP: already inside the test VM (HMS_IN_VM=1)"
  exit 77
fi
if [ "${HMS_VM_TESTS:-}" != 1 ]; then
  echo "SKIP: set HMS_VM_TESTS=1 and run tests/vm/fetch-kernels.sh $KDIR to run the suite on a 3-node VM"
  exit 77
fi
exec "$HERE/run-vm-tests.sh" --kernel "${HMS_VM_KERNEL:-all}" --kernels "$KDIR" --build "$BUILD"
