"""Fleet operations at scale against the local cluster with the real engine; print a table.

    .venv/bin/python bench/fleet.py                      # 50 stores: a 4-wave rollout, then drift sweeps
    .venv/bin/python bench/fleet.py --stores 20 --sweep 20
    .venv/bin/python bench/fleet.py --stores 100 --rollout 50 --sweep 100   # issue 16's figures

Creates ``--stores`` small stores (parallel ``--parallel``), rolls a tier change of the first
``--rollout`` of them (default all) out in waves 1,10%,50%,100% (``--max-unavailable`` at once, gate ``ready``), sweeps the drift of
``--sweep`` stores (the stores made here, in parallel ``--parallel``), then destroys them.
Uses its own state backend and catalog in a temporary folder, never your stores.
Wall-clock seconds; run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import tempfile
import uuid

from table import print_table, timed

from storekit import Settings, Storekit, StoreSpec
from storekit import driftwatch
from storekit.rollout import RolloutOptions, Rollouts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", type=int, default=50, help="stores in the fleet")
    parser.add_argument("--sweep", type=int, default=50, help="stores whose drift is swept (at most --stores)")
    parser.add_argument("--rollout", type=int, default=None, help="stores in the rollout (default: all of them)")
    parser.add_argument("--parallel", type=int, default=3, help="stores created, destroyed and swept at once")
    parser.add_argument("--max-unavailable", type=int, default=5, help="stores changed at once within a wave")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="storekit-bench-fleet-")
    kit = Storekit(Settings.load().replace(state_url=f"file://{tmp}/state", db_url=f"sqlite:///{tmp}/catalog.db",
                                           passphrase="bench", parallel=args.parallel))
    tag = uuid.uuid4().hex[:4]
    specs = [StoreSpec(name=f"Fleet {tag} {i:03}", admin_email="bench@example.com") for i in range(args.stores)]
    rows: list[tuple[str, float | str]] = []
    try:
        created = timed(f"create {args.stores} stores, parallel {args.parallel}", rows,
                        lambda: kit.apply_many(specs, parallel=args.parallel))
        assert created.ok, [i.error for i in created.failed]
        rolled = specs[:args.rollout or args.stores]
        fleet = timed(f"plan the tier change of {len(rolled)} stores (--no-refresh)", rows,
                      lambda: kit.plan_fleet([s.with_changes(tier="medium") for s in rolled], refresh=False))
        rows.append(("  grouped as", fleet.groups_text))
        options = RolloutOptions(waves="1,10%,50%,100%", max_unavailable=args.max_unavailable, bake=120, gate="ready")
        record = timed(f"rollout in 4 waves, {args.max_unavailable} at once (gate: ready)", rows,
                       lambda: Rollouts(kit).start(fleet, options))
        rows.append(("  waves", " ".join(str(len(w["stores"])) for w in record.waves) + f" ({record.status})"))
        swept = [s.slug for s in specs[:args.sweep]]
        results = timed(f"drift sweep of {len(swept)} stores, parallel {args.parallel}", rows,
                        lambda: driftwatch.sweep(kit, swept, parallel=args.parallel))
        rows.append(("  drifted", str(sum(r.severity != "none" for r in results))))
    finally:
        existing = {x.slug for x in kit.list()}  # once: it runs the engine (stack ls)
        timed(f"destroy {args.stores} stores, parallel {args.parallel}", rows,
              lambda: kit.apply_many([kit.plan_destroy(s.slug) for s in specs if s.slug in existing],
                                     parallel=args.parallel))
    print_table("operation", "seconds", rows)


if __name__ == "__main__":
    main()
