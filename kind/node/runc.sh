#!/bin/sh
# runc for the real node (containerd's BinaryName; kind/node.sh sets STOREKIT_RUNC_BINARY).
#
# The processes of this machine lack CAP_SYS_RESOURCE, so none can set an oom_score_adj below
# its own (0). kubelet gives pod sandboxes -998 and Guaranteed containers -997, and runc then
# fails with "can't get final child's PID from pipe: EOF" (nsexec: "failed to update
# /proc/self/oom_score_adj: Permission denied"). Each new container's config is clamped to 0,
# the node's own value, before the real runc runs it; positive values (Burstable, BestEffort)
# are kept, so the kernel still prefers those when memory runs out.
bundle=""
prev=""
for arg in "$@"; do
  case $prev in --bundle|-b) bundle=$arg ;; esac
  case $arg in --bundle=*) bundle=${arg#--bundle=} ;; esac
  prev=$arg
done
if [ -n "$bundle" ] && [ -f "$bundle/config.json" ]; then
  sed -i -E 's/"oomScoreAdj":[[:space:]]*-[0-9]+/"oomScoreAdj":0/' "$bundle/config.json"
fi
exec "${STOREKIT_RUNC_BINARY:-/usr/sbin/runc}" "$@"
