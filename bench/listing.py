"""The store list with a big catalog: `/api/stores` (paginated, searched, filtered, behind
token auth and the security headers) against a bare Flask endpoint that returns the same
JSON from the same database, both on waitress with the same threads, in the same run.

    .venv/bin/python bench/listing.py                  # 1000 stores, 4 clients x 250 requests
    .venv/bin/python bench/listing.py --stores 5000 --db-url postgresql://...

The load is bounded: ``--clients`` threads, each sending its requests one after the other
on one keep-alive connection per server, alternating between the two servers so both see
the same machine. Prints p50, p90 and p99 in milliseconds, and the ratio of the p99s.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

from flask import Flask, jsonify
from table import print_columns
from waitress import create_server

from storekit import Settings, StoreSpec
from storekit.kit import Storekit
from storekit.service import StoreService
from storekit.tokens import create_token
from storekit.webapp import create_app

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers import free_port  # noqa: E402

QUERIES = ("/stores?limit=100", "/stores?limit=100&offset=500", "/stores?q=shop-12&status=ready&tier=medium")


def serve(app, port: int, threads: int) -> None:
    server = create_server(app, host="127.0.0.1", port=port, threads=threads, ident="bench")
    threading.Thread(target=server.run, daemon=True).start()


def bare_app(service: StoreService) -> Flask:
    """The floor: one route, the same query and JSON, nothing else."""
    app = Flask("bare")

    @app.get("/api/stores")
    def stores():
        from flask import request

        args = request.args
        page, total = service.store_page(q=args.get("q"), status=args.get("status"), tier=args.get("tier"),
                                         limit=int(args.get("limit", 100)), offset=int(args.get("offset", 0)))
        return jsonify(stores=[s.to_dict() for s in page], total=total, limit=int(args.get("limit", 100)),
                       offset=int(args.get("offset", 0)), queue=service.queue())
    return app


def client(ports: dict[str, int], token: str, requests: int, times: dict[str, list[float]], lock) -> None:
    conns = {name: http.client.HTTPConnection("127.0.0.1", port, timeout=30) for name, port in ports.items()}
    mine: dict[str, list[float]] = {name: [] for name in ports}
    for i in range(requests):
        path = "/api" + QUERIES[i % len(QUERIES)]
        for name in (ports if i % 2 else reversed(list(ports))):
            started = time.perf_counter()
            conns[name].request("GET", path, headers={"Authorization": f"Bearer {token}"})
            response = conns[name].getresponse()
            body = response.read()
            mine[name].append(time.perf_counter() - started)
            assert response.status == 200, (name, response.status, body[:200])
    with lock:
        for name, values in mine.items():
            times[name].extend(values)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=250, help="per client and server")
    parser.add_argument("--threads", type=int, default=8, help="waitress threads of each server")
    parser.add_argument("--db-url", help="the catalog (default: SQLite in a temporary folder)")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="storekit-listing-")
    settings = Settings.load().replace(db_url=args.db_url or f"sqlite:///{tmp}/catalog.db", home=tmp)
    kit = Storekit(settings)
    catalog = kit.catalog
    if catalog.count_stores() < args.stores:
        for i in range(catalog.count_stores(), args.stores):
            catalog.upsert_store(StoreSpec(name=f"Shop {i:05d}", admin_email="l@example.com",
                                           tier=("small", "medium", "large")[i % 3]),
                                 status="ready" if i % 7 else "failed")
    app = create_app({"SETTINGS": settings, "KIT": kit, "SECRET_KEY": "bench"})
    token = create_token(catalog, f"bench-{int(time.time())}", "viewer")
    ports = {"storekit /api/stores": free_port(), "bare Flask": free_port()}
    serve(app, ports["storekit /api/stores"], args.threads)
    serve(bare_app(StoreService(kit)), ports["bare Flask"], args.threads)
    time.sleep(0.5)
    probe = http.client.HTTPConnection("127.0.0.1", ports["storekit /api/stores"])
    probe.request("GET", "/api/stores?limit=100", headers={"Authorization": f"Bearer {token}"})
    same = json.loads(probe.getresponse().read())
    probe = http.client.HTTPConnection("127.0.0.1", ports["bare Flask"])
    probe.request("GET", "/api/stores?limit=100")
    assert json.loads(probe.getresponse().read())["stores"] == same["stores"], "both return the same stores"

    times: dict[str, list[float]] = {name: [] for name in ports}
    lock = threading.Lock()
    threads = [threading.Thread(target=client, args=(ports, token, args.requests, times, lock))
               for _ in range(args.clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - started
    rows = [[name, str(len(v)), *(f"{percentile(v, p) * 1000:.1f}" for p in (50, 90, 99))]
            for name, v in times.items()]
    ratio = percentile(times["storekit /api/stores"], 99) / percentile(times["bare Flask"], 99)
    print(f"{args.stores} stores in the catalog ({settings.db_url.split(':', 1)[0]}), {args.clients} clients, "
          f"{args.threads} server threads, {seconds:.0f} s")
    print_columns(["endpoint", "requests", "p50 ms", "p90 ms", "p99 ms"], rows)
    print(f"p99 ratio storekit / bare Flask: {ratio:.2f} (bound: 3)")


if __name__ == "__main__":
    main()
