"""Two races the real engine met under load.

Programs of several stores run in threads of one process (fleets at --parallel N): their
first use of pulumi_kubernetes must not race its lazily loaded API groups (a fleet of 50 stores
applied at parallel 4 lost a store to "module 'pulumi_kubernetes.meta.v1' has no attribute
'ObjectMetaArgs'" before ``load_kubernetes`` existed). And with the chart's least-privilege
RBAC, a write landing before the API server's authorizer has seen the store's new RoleBinding
is recognised, so the update runs once more instead of failing the store."""

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


def test_a_write_refused_before_the_new_binding_is_in_effect_is_recognised():
    from storekit.applying import access_still_propagating
    from storekit.errors import OperationFailed
    from storekit.settings import Settings

    # The words of a real refusal (tests/test_image.py under load, 2026-12-02).
    text = ('kubernetes:networking.k8s.io/v1:NetworkPolicy::network-policy" was not successfully created by '
            'the Kubernetes API server: networkpolicies.networking.k8s.io "default-deny-ingress" is forbidden: '
            'User "system:serviceaccount:sk-image-57674a:imagetest-store-platform" cannot patch resource '
            '"networkpolicies" in API group "networking.k8s.io" in the namespace "store-image-2cd8"')
    chart = Settings.load().replace(store_role="imagetest-store-platform-store-manager",
                                    service_account="sk-image-57674a/imagetest-store-platform")
    assert access_still_propagating(OperationFailed(text), chart, "store-image-2cd8")
    assert not access_still_propagating(OperationFailed(text), chart, "store-other")  # another namespace
    assert not access_still_propagating(OperationFailed(text), Settings.load(), "store-image-2cd8")  # no chart RBAC
    assert not access_still_propagating(OperationFailed("image pull failed"), chart, "store-image-2cd8")
