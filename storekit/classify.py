"""The one error classifier: a failed pulumi command becomes a storekit error.

Every engine call goes through ``StackGateway`` (``storekit.gateway``), which hands each
``CommandError`` to ``translate`` here and nowhere else. The message is scrubbed of every
known secret and cut down to the first line that says what broke; a held stack lock
becomes ``StoreBusy`` with its holder, a full disk ``StorageFull`` naming the file it was
writing, an unreachable cluster ``ClusterUnreachable``, a readiness timeout
``OperationTimeout``, a step outside the update plan ``PlanMismatch``, anything else
``OperationFailed``.
"""

from __future__ import annotations

import json
import re
from typing import Iterable

from .errors import (ClusterUnreachable, EngineInterrupted, OperationFailed, OperationTimeout, PlanMismatch,
                     StorageFull, StoreBusy, StorekitError, no_space)
from .events import scrub
from .toolchain import LazyModule

auto = LazyModule("pulumi.automation")

_LOCK_HOLDER = re.compile(r"created by (?P<who>\S+) \(pid (?P<pid>\d+)\) at (?P<at>[0-9T:.+\-Z ]+)")
_UNREACHABLE = ("connection refused", "unable to load kubernetes client", "cluster is unreachable",
                "no such host", "i/o timeout", "failed to read kubeconfig", "unable to read kubectl config")


# "write /path/file.json.18ed4b0aed440bbe.tmp: no space left on device" (the file named without
# the engine's temporary suffix)
_WRITING = re.compile(r"(?:write|open|create|rename) (?P<path>/[^\s:]+?)(?:\.[0-9a-f]{8,}\.tmp)?: no space left",
                      re.IGNORECASE)

_EXIT_CODE = re.compile(r"^\s*code: (-?\d+)\s*$", re.MULTILINE)


def exit_code(error: auto.CommandError) -> int | None:
    """The engine's exit code (negative: the signal that killed it), from the error's text."""
    m = _EXIT_CODE.search(str(error))
    return int(m.group(1)) if m else None


_NOISE = re.compile(r"^(error: )?(preview failed: |update failed: )?(\d+ errors? occurred:)?\s*(\* )?"
                    r"(the kubernetes api server reported that )?", re.IGNORECASE)


_RESOURCE = re.compile(r'resource "urn:[^"]*::([^":]+)" was successfully created, but the Kubernetes API '
                       r'server reported that it ', re.IGNORECASE)


def summarize(diagnostics: Iterable[str]) -> str:
    """The first meaningful error line of the engine's diagnostics, without its boilerplate."""
    for d in diagnostics:
        for line in d.splitlines():
            line = _NOISE.sub("", line.strip().lstrip("\t* ")).strip()
            line = _RESOURCE.sub(r"\1 ", line)
            if line and line.lower() not in ("preview failed", "update failed", "destroy failed"):
                return line
    return ""


def translate(error: auto.CommandError, slug: str, secrets: Iterable[str] = (),
              diagnostics: Iterable[str] = (), warnings: Iterable[str] = (), *,
              cluster: str | None = None) -> StorekitError:
    """A storekit error for a failed pulumi command, with every known secret scrubbed.

    ``warnings`` (the last warning of each failed resource) say what the cluster reported
    while it waited; they are added to the message because they usually name the cause.
    """
    secrets = list(secrets)
    text = scrub(f"{error}", secrets)
    diagnostics = [scrub(d, secrets) for d in diagnostics]
    detail = "\n".join(diagnostics) or text
    low = text.lower()
    if isinstance(error, auto.ConcurrentUpdateError) or "currently locked" in low:
        m = _LOCK_HOLDER.search(text)
        return StoreBusy(slug, holder=f"{m['who']} (pid {m['pid']})" if m else None,
                         since=m["at"].strip() if m else None)
    code = exit_code(error)
    if code is not None and code < 0:
        return EngineInterrupted(
            f"the engine changing store '{slug}' was killed (signal {-code}) before it finished",
            details=text, hint="Run it again: storekit repairs what the interrupted run left and converges.")
    if no_space(error) or any(no_space(d) for d in diagnostics):
        m = _WRITING.search(f"{text}\n{detail}")
        where = m["path"] if m else None
        return StorageFull("the state backend" if where is None or "/.pulumi/" in where else
                           "the engine's working folder", where)
    if any(s in low for s in _UNREACHABLE) or any(s in d.lower() for d in diagnostics for s in _UNREACHABLE):
        where = f" {cluster}" if cluster else ""
        return ClusterUnreachable(
            f"the Kubernetes cluster{where} is unreachable while changing store '{slug}'",
            hint="Check that it runs (`make cluster-status`) and STOREKIT_KUBECONFIG, then run the operation "
                 "again: it picks up where this one stopped.")
    violations = plan_violations(detail + "\n" + text)
    if violations:
        return PlanMismatch(slug, violations)
    first = summarize(diagnostics) or summarize(text.splitlines()[3:]) or "the engine failed"
    warnings = [scrub(w, secrets) for w in warnings]
    if warnings:
        first += f" (cluster said: {'; '.join(warnings)})"
    if "timed out" in detail.lower() or "timeout occurred" in detail.lower():
        return OperationTimeout(
            f"store '{slug}' did not become ready in time: {first}", details=detail,
            hint="Check `storekit health` and the pod logs; raise STOREKIT_TIMEOUT if it is only slow.")
    return OperationFailed(f"changing store '{slug}' failed: {first}", details=detail)


_VIOLATION = re.compile(r"resource urn:pulumi:[^\s]*?::(?P<type>[^:\s]+:[^:\s]*:[^:\s]+)::(?P<name>[^\s]+) "
                        r"violates plan: (?P<what>[^\n]*)")


_NOT_ALLOWED = re.compile(r"(?:(?P<type>[^\s:]+:[^\s:]*:[^\s:]+) \((?P<name>[^)\s]+)\):\s*\n\s*error: )?"
                          r"(?P<what>\w+ is not allowed by the plan: [^\n]*)")


def plan_violations(text: str) -> list[str]:
    """Each resource the engine refused because it departs from the update plan
    (``up --plan``): "Kind name: what", once each."""
    found: dict[str, str] = {}
    for m in [*_VIOLATION.finditer(text), *_NOT_ALLOWED.finditer(text)]:
        what = m["what"].strip()
        if what.startswith("properties changed: "):  # name the properties, not their (long) values
            names = dict.fromkeys(re.findall(r"(?:^|[\s,])[=~+\-]{1,2}([A-Za-z0-9_.\-]+)\[", what[20:]))
            what = "properties changed: " + (", ".join(names) or "(see a new plan)")
        what = what if len(what) <= 160 else what[:157] + "..."
        found.setdefault(f"{m['type'].rsplit(':', 1)[-1]} {m['name']}" if m["type"] else "a resource", what)
    return [f"{k}: {v}" for k, v in found.items()]


def json_diagnostics(stdout: str) -> list[str]:
    """Error diagnostics from a failed ``preview --json`` (its stdout is the digest)."""
    try:
        digest = json.loads(stdout or "{}")
    except ValueError:
        return []
    diagnostics = [d for d in digest.get("diagnostics") or () if d.get("severity") == "error"]
    diagnostics.sort(key=lambda d: not d.get("urn"))  # resource errors first: they say what broke
    return [d.get("message", "").strip() for d in diagnostics]
