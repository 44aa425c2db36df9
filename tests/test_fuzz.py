"""A property-based fuzz of the whole API, generated from its OpenAPI document.

schemathesis draws requests for every operation of /api/openapi.json, valid ones and
invalid ones (wrong types, out-of-range numbers, odd strings and bytes, unknown fields,
odd headers), and each is sent as one of several callers: nobody, a forged token, a
viewer and an admin by bearer token, a viewer's login cookie, and an admin's login
cookie with and without the CSRF header. Properties, on SQLite and on PostgreSQL:

- no response is a 5xx;
- every error is the one JSON shape (``error``, ``message``);
- nothing but an admin (bearer, or cookie with the CSRF header) changes the catalog: the
  stores, jobs, audit trail and tokens are compared before and after every other call.

The run is bounded (``STOREKIT_FUZZ_SECONDS`` per database, default 45) and prints its
figures: requests, routes, and responses by status. The engine and cluster are real: a
plan of the seeded store runs pulumi against the local control plane.
"""

from __future__ import annotations

import itertools
import json
import os
import time
import urllib.parse
from collections import Counter

import pytest
import schemathesis
from helpers import web_app
from hypothesis import HealthCheck, Phase, given, settings as hsettings, strategies as st
from schemathesis import GenerationMode
# Loaded at collection, not lazily on the first schema in the middle of a test: pytest rewrites
# schemathesis' modules as it imports them (a plugin), and CPython 3.11.7's AST constructor
# once failed that parse inside a test's deep stack ("AST constructor recursion depth
# mismatch", CPython gh-106905).
import schemathesis.specs.openapi.schemas  # noqa: F401,E402
from werkzeug.test import EnvironBuilder

from storekit.tokens import create_token
from storekit.webapp.openapi import SPEC

pytestmark = pytest.mark.cluster

CALLERS = ("anonymous", "forged", "viewer", "admin", "viewer-cookie", "admin-cookie-no-csrf", "admin-cookie")
WRITERS = {"admin", "admin-cookie"}
SECONDS = float(os.environ.get("STOREKIT_FUZZ_SECONDS", "45"))
SEED_STORE = "shop"
SEED_TOKEN = "fuzz-target"
MIN_EXAMPLES, MAX_EXAMPLES = 10, 1000


def _login(app, token):
    client = app.test_client()
    with client.session_transaction() as s:
        s["csrf"] = "t"
    r = client.post("/login", data={"token": token, "csrf_token": "t"})
    assert r.status_code == 302
    with client.session_transaction() as s:
        return client, s["csrf"]


def _snapshot(app) -> tuple:
    """What a write would change: stores, jobs, audit entries and tokens."""
    db = app.extensions["storekit"].catalog.db
    with db.connection_context():
        return tuple(tuple(db.execute_sql(sql).fetchall()) for sql in (
            "SELECT slug, status, tier, name FROM store ORDER BY slug",
            "SELECT count(*), max(id) FROM job",
            "SELECT count(*), max(id) FROM auditentry",
            "SELECT name, role, token_hash, expires_at, revoked_at FROM apitoken ORDER BY name"))


def _stringify(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _request(case, caller: str, tokens: dict, csrf: dict) -> EnvironBuilder:
    headers = {k: _stringify(v) for k, v in (case.headers or {}).items()
               if k.lower() not in ("authorization", "cookie", "content-type", "content-length", "host")}
    if caller == "forged":
        headers["Authorization"] = (case.headers or {}).get("Authorization", "Bearer sk_forged")
    elif caller in ("viewer", "admin"):
        headers["Authorization"] = f"Bearer {tokens[caller]}"
    elif caller in ("viewer-cookie", "admin-cookie"):
        headers["X-CSRF-Token"] = csrf[caller]
    query = urllib.parse.urlencode(
        [(k, _stringify(x)) for k, v in (case.query or {}).items() for x in (v if isinstance(v, list) else [v])])
    kwargs = {}
    if not isinstance(case.body, schemathesis.core.NotSet):
        media = case.media_type or "application/json"
        body = case.body
        if isinstance(body, (bytes, bytearray)):
            data = bytes(body)
        elif "json" in media:
            data = json.dumps(body).encode()
        else:
            data = str(body).encode()
        kwargs = {"data": data, "content_type": media}
    return EnvironBuilder(path=case.formatted_path, method=case.method.upper(), query_string=query,
                          headers=headers, **kwargs)


def fuzz(app) -> dict:
    tokens = {"viewer": app.viewer_token, "admin": app.admin_token}
    clients, csrf = {c: app.test_client() for c in ("anonymous", "forged", "viewer", "admin")}, {}
    clients["viewer-cookie"], csrf["viewer-cookie"] = _login(app, app.viewer_token)
    clients["admin-cookie"], csrf["admin-cookie"] = _login(app, app.admin_token)
    clients["admin-cookie-no-csrf"] = clients["admin-cookie"]
    seed = clients["admin"].post("/api/stores", json={"name": SEED_STORE, "admin_email": "fuzz@example.com"},
                                 headers={"Authorization": f"Bearer {app.admin_token}"})
    assert seed.status_code == 202, seed.json
    create_token(app.extensions["storekit"].catalog, SEED_TOKEN, "viewer")

    schema = schemathesis.openapi.from_dict(SPEC)
    operations = [o.ok() for o in schema.get_all_operations()]
    runs = [(op, mode) for op in operations for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]
    deadline = time.monotonic() + SECONDS
    stats = {"requests": 0, "unsendable": 0, "status": Counter(), "routes": Counter(), "callers": Counter(),
             "problems": []}

    turns = itertools.count()
    known: list[tuple] = []  # the catalog as the last caller who may not write left it
    per_example = 0.02  # seconds, measured as the run goes: each run gets its share of the time
    for index, (op, mode) in enumerate(runs):
        share = max(0.0, deadline - time.monotonic()) / (len(runs) - index)
        examples = int(min(MAX_EXAMPLES, max(MIN_EXAMPLES, share / per_example)))
        started, sent = time.monotonic(), stats["requests"]

        @hsettings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
                   suppress_health_check=list(HealthCheck))
        @given(st.data())
        def one(data):
            try:
                case = data.draw(op.as_strategy(generation_mode=mode))
            except Exception:  # the generator has nothing more of this kind (e.g. no negative path)
                return
            # Callers in turn, and every other path at the seeded store (hypothesis would
            # favour the first caller and the random slug: its draws shrink toward simple).
            turn = next(turns)
            if "slug" in (case.path_parameters or {}) and turn % 2:
                case.path_parameters["slug"] = SEED_STORE
            if "name" in (case.path_parameters or {}):  # never the callers' own tokens
                if turn % 2 or case.path_parameters["name"] in ("admin", "viewer"):
                    case.path_parameters["name"] = SEED_TOKEN
            caller = CALLERS[turn % len(CALLERS)]
            try:
                builder = _request(case, caller, tokens, csrf)
                environ = builder.get_environ()
            except (ValueError, TypeError, UnicodeError):
                stats["unsendable"] += 1  # not a request a client could send
                return
            before = known[0] if known else _snapshot(app)
            response = clients[caller].open(builder)
            stats["requests"] += 1
            stats["status"][response.status_code] += 1
            stats["callers"][(caller, response.status_code)] += 1
            stats["routes"][f"{op.method.upper()} {op.path}"] += 1
            where = f"{caller} {environ['REQUEST_METHOD']} {environ['PATH_INFO']}?{environ['QUERY_STRING']}"
            if response.status_code >= 500:
                stats["problems"].append(f"{response.status_code} for {where}: {response.get_data()[:300]!r}")
            elif response.status_code >= 400 and op.path != "/api/openapi.json":
                body = response.get_json(silent=True)
                if not isinstance(body, dict) or not {"error", "message"} <= set(body):
                    stats["problems"].append(f"not the JSON error shape for {where}: {response.get_data()[:200]!r}")
            known.clear()
            if caller not in WRITERS:
                known.append(_snapshot(app))
                if known[0] != before:
                    stats["problems"].append(f"{caller} changed the catalog with {where} -> {response.status_code}")
        one()
        per_example = (time.monotonic() - started) / max(1, stats["requests"] - sent, examples // 2)
    stats["seconds"] = round(SECONDS - (deadline - time.monotonic()), 1)
    return stats


def _report(label: str, stats: dict) -> str:
    statuses = ", ".join(f"{code}: {n}" for code, n in sorted(stats["status"].items()))
    return (f"\nfuzz on {label}: {stats['requests']} requests over {len(stats['routes'])} operations "
            f"in {stats['seconds']} s "
            f"({stats['unsendable']} drawn requests were not sendable); by status: {statuses}")


def _check(label, stats):
    print(_report(label, stats))
    assert len(stats["routes"]) == sum(len(ops) - (1 if "parameters" in ops else 0)
                                       for ops in SPEC["paths"].values()), "every operation was tried"
    assert not stats["problems"], "\n".join(stats["problems"][:20])


def fuzz_app(settings, tmp_path, **config):
    tools = settings.replace(pulumi=str(settings.home_path / "tools" / "bin" / "pulumi"))  # home becomes tmp_path
    return web_app(tools, tmp_path, MAX_STORES=3, CREATE_LIMIT="1000 per minute", ACTION_LIMIT="1000 per minute",
                   PLAN_LIMIT="3 per minute", LOGIN_LIMIT="1000 per minute", **config)


def test_fuzz_the_api_on_sqlite(settings, kube, tmp_path):
    _check("SQLite", fuzz(fuzz_app(settings, tmp_path)))


def test_fuzz_the_api_on_postgresql(settings, kube, tmp_path, postgres):
    app = fuzz_app(settings, tmp_path, db_url=f"postgresql://{postgres('fuzz')}")
    _check("PostgreSQL", fuzz(app))
