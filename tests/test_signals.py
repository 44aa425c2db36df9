"""Operational signals: the Prometheus /metrics endpoint (jobs by state, queue depth, stores
by status from the shared catalog; this process's operation durations, failures, repairs and
drift from its events) and JSON log lines that carry the job and store they are about."""

from __future__ import annotations

import io
import json
import logging

from helpers import web_app

from storekit.events import DriftChecked, OperationFinished, Recovered
from storekit.runtime import JsonFormatter, log_context
from storekit.spec import StoreSpec


def _sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.split(" ")[0] == name:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in the metrics")


def test_metrics_count_jobs_stores_and_this_processs_operations(settings, tmp_path):
    app = web_app(settings, tmp_path)
    kit = app.extensions["storekit"]
    catalog = kit.catalog
    catalog.upsert_store(StoreSpec(name="Metric Shop", admin_email="m@example.com"), status="ready")
    for kind in ("create", "update", "update"):
        catalog.jobs.enqueue(kind, "metric-shop", actor="t", source="api", payload={"n": kind})
    catalog.jobs.claim("host:1/0")
    emit = kit._emitter(None)
    emit(OperationFinished(store="metric-shop", operation="apply", ok=True, seconds=12.5))
    emit(OperationFinished(store="metric-shop", operation="destroy", ok=False, seconds=3.0, message="no"))
    emit(Recovered(store="metric-shop", message="adopted interrupted creates: mysql"))
    emit(DriftChecked(store="metric-shop", changes=2))

    r = app.test_client().get("/metrics")
    assert r.status_code == 200 and r.content_type.startswith("text/plain")
    text = r.data.decode()
    assert 'storekit_jobs{kind="create",state="running"} 1.0' in text
    assert 'storekit_jobs{kind="update",state="queued"} 2.0' in text
    assert "storekit_queue_depth 2.0" in text
    assert _sample(text, "storekit_queue_oldest_seconds") >= 0
    assert 'storekit_stores{status="failed"} 1.0' in text  # the failed destroy, as the catalog recorded it
    assert 'storekit_operation_seconds_count{operation="apply",outcome="ok"} 1.0' in text
    assert 'storekit_operation_seconds_bucket{le="20.0",operation="apply",outcome="ok"} 1.0' in text
    assert 'storekit_engine_failures_total{operation="destroy"} 1.0' in text
    assert "storekit_recoveries_total 1.0" in text
    assert "storekit_drift_changes_total 2.0" in text and "storekit_drift_checks_total 1.0" in text
    assert "metric-shop" not in text, "no store names in labels"
    assert "_created" not in text


def test_json_log_lines_carry_the_job_and_store():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("storekit.test-signals")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info("outside")
        with log_context(job=7, store="shop"):
            logger.warning("job %s: %s", 7, "queued again")
    finally:
        logger.removeHandler(handler)
    outside, inside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (outside["job"], outside["store"]) == (None, None)
    assert inside == {**inside, "level": "warning", "logger": "storekit.test-signals", "job": 7, "store": "shop",
                      "message": "job 7: queued again"}
    assert inside["time"].endswith("+00:00")
