#!/usr/bin/env bash
# The mount namespace containerd and kubelet share (run by kind/node.sh inside `unshare --mount`):
# private from the host, / rshared inside (kubelet's mount propagation). Then exec the command.
#   mountns.sh NODE_DIR CMD...
# Nothing mounted here shows on the host, and all of it goes when the last process leaves.
set -euo pipefail
dir=$1; shift
mount --make-rprivate /
mount --make-rshared /
# Fixed paths (kind/node.sh made the directories): containerd's shims put their sockets in
# /run/containerd/s, CNI caches its results in /var/lib/cni; the node's logs and the kubelet's
# /var/log/containers stay in memory too.
mount -t tmpfs -o mode=0755,size=64m storekit-node /run/containerd
mount -t tmpfs -o mode=0755,size=16m storekit-node /var/lib/cni
mount -t tmpfs -o mode=0755,size=512m storekit-node /var/log
# kubelet sets kernel.panic=10, kernel.panic_on_oops=1 and vm.overcommit_memory=1 when it reads
# other values: here it reads those, so the host's settings are never changed.
mount --bind "$dir/sysctl/panic" /proc/sys/kernel/panic
mount --bind "$dir/sysctl/panic_on_oops" /proc/sys/kernel/panic_on_oops
mount --bind "$dir/sysctl/overcommit_memory" /proc/sys/vm/overcommit_memory
exec "$@"
