"""A store's Kubernetes objects as plain manifests, read from its recorded state.

The engine records, for every object it manages, the inputs it sent to the API server
(``apiVersion``, ``kind``, ``metadata``, ``spec``...). Those are the store's objects as a
person would write them: ``storekit render NAME`` prints them as YAML to review a store
or hand it to other tools (kubectl, policy checkers), and ``bench/compare.py`` applies
them with kubectl as the floor storekit is measured against.

Secret values (what Pulumi marks secret, and every value of a Kubernetes Secret's
``data``/``stringData``) are redacted unless the caller asks to reveal them.
"""

from __future__ import annotations

import json
from typing import Any

from .plan import _SECRET_SIG, SENSITIVE, _redacted_inputs

_KUBERNETES = "kubernetes:"
_FIRST_KEYS = ("apiVersion", "kind", "metadata")


def objects_from_state(deployment: dict | None, *, reveal: bool = False) -> list[dict]:
    """The Kubernetes objects of an exported stack deployment, in dependency order.

    ``deployment`` is ``pulumi stack export --show-secrets``'s ``deployment``; secrets are
    replaced by ``(sensitive)`` unless ``reveal``. Resources pending deletion and the
    provider itself are left out.
    """
    objects = []
    for resource in (deployment or {}).get("resources") or ():
        rtype = resource.get("type", "")
        if not (resource.get("custom") and rtype.startswith(_KUBERNETES)) or resource.get("delete"):
            continue
        inputs = {k: v for k, v in (resource.get("inputs") or {}).items() if not k.startswith("__")}
        if not inputs.get("kind"):
            continue
        obj = revealed(inputs) if reveal else _redacted_inputs(rtype, inputs)
        objects.append({**{k: obj[k] for k in _FIRST_KEYS if k in obj},
                        **{k: v for k, v in obj.items() if k not in _FIRST_KEYS}})
    return objects


def to_yaml(objects: list[dict]) -> str:
    """Objects as one multi-document YAML stream (``kubectl apply -f`` reads it)."""
    import yaml

    return yaml.safe_dump_all(objects, sort_keys=False, default_flow_style=False)


def revealed(value: Any) -> Any:
    """The value with every secret marker replaced by its plaintext (from an export with
    ``--show-secrets``); a marker without plaintext stays ``(sensitive)``."""
    if isinstance(value, dict):
        if value.get(_SECRET_SIG) is not None:
            if "plaintext" not in value:  # exported without --show-secrets: nothing to reveal
                return SENSITIVE
            return revealed(json.loads(value["plaintext"]))
        return {k: revealed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [revealed(v) for v in value]
    return value
