"""Measure storekit against the local cluster with the real engine; print a table.

    .venv/bin/python bench/stores.py            # one store's life, then 5 stores at parallel 1 and 3
    .venv/bin/python bench/stores.py --fleet 0  # only one store's life

Uses its own state backend and catalog in a temporary folder, so it never touches your
stores. Wall-clock seconds; run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import tempfile
import uuid

from table import print_table, timed

from storekit import Settings, Storekit, StoreSpec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fleet", type=int, default=5, help="stores in the fleet runs (0: skip them)")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="storekit-bench-")
    kit = Storekit(Settings.load().replace(state_url=f"file://{tmp}/state", db_url=f"sqlite:///{tmp}/catalog.db",
                                           passphrase="bench"))
    rows: list[tuple[str, float]] = []
    tag = uuid.uuid4().hex[:4]
    spec = StoreSpec(name=f"Bench {tag}", admin_email="bench@example.com")

    timed("plan (new store)", rows, lambda: kit.plan(spec))
    timed("create (plan + apply)", rows, lambda: kit.apply(spec))
    timed("no-op plan (refreshed)", rows, lambda: kit.plan(spec))
    timed("no-op plan (--no-refresh)", rows, lambda: kit.plan(spec, refresh=False))
    timed("tier change (plan + apply)", rows, lambda: kit.apply(spec.with_changes(tier="medium")))
    timed("destroy", rows, lambda: kit.destroy(spec.name))

    for parallel in (1, 3) if args.fleet else ():
        specs = [StoreSpec(name=f"Bench {tag} p{parallel} {i}", admin_email="bench@example.com")
                 for i in range(args.fleet)]
        result = timed(f"{args.fleet} stores, parallel {parallel}", rows,
                       lambda: kit.apply_many(specs, parallel=parallel))
        assert result.ok, [i.error for i in result.failed]
        timed(f"destroy {args.fleet} stores, parallel {parallel}", rows,
              lambda: kit.apply_many([kit.plan_destroy(s.name) for s in specs], parallel=parallel))

    print_table("operation", "seconds", rows)


if __name__ == "__main__":
    main()
