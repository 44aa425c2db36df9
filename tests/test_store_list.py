"""The store list at scale: /api/stores pages (limit, offset, total), searched by name or slug and
filtered by status and tier, bad filters refused naming the field; the same through the
service layer."""

from __future__ import annotations

from helpers import web_app

from storekit.spec import StoreSpec


def _seed(catalog, n: int) -> None:
    for i in range(n):
        spec = StoreSpec(name=f"{'Blue' if i % 3 == 0 else 'Red'} Shop {i:03d}", admin_email="s@example.com",
                         tier="medium" if i % 2 else "small")
        catalog.upsert_store(spec, status="ready" if i % 5 else "failed")


def test_the_store_list_is_paginated_searchable_and_filterable(settings, tmp_path):
    app = web_app(settings, tmp_path)
    _seed(app.extensions["storekit"].catalog, 30)
    client = app.test_client()
    h = {"Authorization": f"Bearer {app.viewer_token}"}

    page = client.get("/api/stores?limit=10&offset=5", headers=h).json
    assert (page["total"], page["limit"], page["offset"], len(page["stores"])) == (30, 10, 5, 10)
    assert page["stores"][0]["name"] == "Red Shop 005"
    assert "queue" in page
    assert len(client.get("/api/stores", headers=h).json["stores"]) == 30, "100 by default"

    blue = client.get("/api/stores?q=blue", headers=h).json
    assert blue["total"] == 10 and all(s["name"].startswith("Blue") for s in blue["stores"])
    assert client.get("/api/stores?q=shop-00", headers=h).json["total"] == 10, "the slug is searched too"
    failed_medium = client.get("/api/stores?status=failed&tier=medium", headers=h).json
    assert failed_medium["total"] == 3  # i in 5, 15, 25
    assert {(s["status"], s["tier"]) for s in failed_medium["stores"]} == {("failed", "medium")}

    bad = client.get("/api/stores?status=gone&tier=huge&limit=0", headers=h)
    assert bad.status_code == 400
    assert [f["field"] for f in bad.json["fields"]] == ["limit"]
    bad = client.get("/api/stores?status=gone&tier=huge", headers=h)
    assert bad.status_code == 400 and [f["field"] for f in bad.json["fields"]] == ["status", "tier"]
