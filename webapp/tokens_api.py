"""Tokens over the API, for admins: /api/tokens (list, create), rotate, revoke.

The same library calls as ``storekit token`` (``storekit.tokens``). A new or rotated
token's value is in the response once, which, like every API response, is never cached.
"""

from __future__ import annotations

from flask import Blueprint, g, jsonify

from storekit.errors import SpecError
from storekit.tokens import create_token, list_tokens, parse_duration, revoke_token, rotate_token

from .auth import actor, require
from .extensions import action_limit, limiter
from .guards import json_body, string_fields

bp = Blueprint("tokens", __name__, url_prefix="/api/tokens")
_FIELDS = {"name": 80, "role": 20, "expires_in": 20}


@bp.get("")
@require("admin")
def tokens():
    return jsonify(tokens=list_tokens(g.kit.catalog))


@bp.post("")
@require("admin")
@limiter.limit(action_limit)
def create():
    data = json_body()
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise SpecError([(k[:40], "is not a field of a token") for k in unknown], subject="token")
    string_fields(data, _FIELDS, subject="token")
    token = create_token(g.kit.catalog, data.get("name", ""), data.get("role", "viewer"),
                         expires_in=parse_duration(data.get("expires_in")), actor=actor("api"))
    return jsonify(name=data["name"], token=token, shown="once"), 201


@bp.post("/<token:name>/rotate")
@require("admin")
@limiter.limit(action_limit)
def rotate(name):
    data = json_body(required=False)
    if set(data) - {"expires_in"}:
        raise SpecError([("body", "may hold only: expires_in")], subject="token")
    string_fields(data, _FIELDS, subject="token")
    token = rotate_token(g.kit.catalog, name, expires_in=parse_duration(data.get("expires_in")),
                         actor=actor("api"))
    return jsonify(name=name, token=token, shown="once")


@bp.delete("/<token:name>")
@require("admin")
@limiter.limit(action_limit)
def revoke(name):
    return jsonify(revoke_token(g.kit.catalog, name, actor=actor("api")))
