"""Programs of several stores run in threads of one process (fleets at --parallel N). Their
first use of pulumi_kubernetes must not race its lazily loaded API groups: a fleet of 50 stores
applied at parallel 4 lost a store to "module 'pulumi_kubernetes.meta.v1' has no attribute
'ObjectMetaArgs'" before ``load_kubernetes`` existed."""

from __future__ import annotations

import subprocess
import sys

THREADS = """
import threading
errors = []
def program():
    try:
        {prelude}
        from pulumi_kubernetes.core.v1 import Namespace, Secret
        from pulumi_kubernetes.apps.v1 import Deployment
        import pulumi_kubernetes as k8s
        k8s.meta.v1.ObjectMetaArgs
    except Exception as e:
        errors.append(repr(e))
threads = [threading.Thread(target=program) for _ in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
print(len(errors))
"""


def _failures(prelude: str) -> int:
    # A fresh interpreter each time: the modules must not have been run yet.
    out = subprocess.run([sys.executable, "-c", THREADS.format(prelude=prelude)], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    return int(out.strip().splitlines()[-1])


def test_eight_programs_starting_at_once_all_see_whole_modules():
    prelude = "from storekit.stacks.kube import load_kubernetes; load_kubernetes()"
    assert [_failures(prelude) for _ in range(3)] == [0, 0, 0]
