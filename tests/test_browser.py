"""The dashboard in a real browser (Playwright driving Debian's Chromium, headless)
against a live server with workers, the real engine and the local cluster: log in,
create a store with the form, watch the timeline reach Ready, open Health and Logs,
restart, toggle the theme, delete the store. Screenshots go to docs/screenshots/."""

from __future__ import annotations

import re
import shutil
import threading
import uuid
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from storekit.kit import Storekit
from storekit.recorder import Actor
from storekit.webapp import create_app
from storekit.tokens import ensure_admin_token

pytestmark = pytest.mark.cluster
SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
CHROMIUM = shutil.which("chromium")


@pytest.fixture
def live(settings, kube, tmp_path):
    local = settings.replace(db_url=f"sqlite:///{tmp_path}/catalog.db")
    kit = Storekit(local, actor=Actor(name="dashboard", source="web"))
    app = create_app({"SETTINGS": local, "KIT": kit, "SECRET_KEY": "browser-test", "START_WORKERS": True,
                      "WORKERS": 2})
    token = ensure_admin_token(kit.catalog)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", token, kit
    server.shutdown()
    app.extensions["storekit.workers"].stop(timeout=5)


def test_dashboard_in_a_real_browser(live):
    assert CHROMIUM, "Debian's chromium is needed for this test: run `make browser`"
    from playwright.sync_api import expect, sync_playwright

    base, token, kit = live
    SHOTS.mkdir(parents=True, exist_ok=True)
    name = f"Browser Shop {uuid.uuid4().hex[:4]}"
    slug = name.lower().replace(" ", "-")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        try:
            page.goto(base + "/")
            expect(page).to_have_url(re.compile(r"/login"))
            page.get_by_label("Access token").fill(token)
            page.get_by_role("button", name="Log in").click()
            expect(page.get_by_role("heading", name="Stores")).to_be_visible()

            page.get_by_label("Store name").fill(name)
            page.get_by_label("Admin email").fill("browser@example.com")
            page.screenshot(path=str(SHOTS / "01-create-form.png"))
            page.get_by_role("button", name="Create store").click()
            expect(page.get_by_role("heading", name=name)).to_be_visible()
            expect(page.locator("#status")).to_have_text("ready", timeout=240_000)
            expect(page.locator("#timeline")).to_contain_text("Ready")
            page.screenshot(path=str(SHOTS / "02-timeline-ready.png"), full_page=True)

            page.get_by_role("link", name="Health").click()
            expect(page.get_by_text("Healthy")).to_be_visible()
            expect(page.locator("meter").first).to_be_visible()
            page.screenshot(path=str(SHOTS / "03-health.png"), full_page=True)

            page.get_by_role("link", name="Logs").click()
            expect(page.locator("#logs")).to_contain_text("simulated log")
            page.get_by_label("Auto-refresh").check()
            page.screenshot(path=str(SHOTS / "04-logs.png"), full_page=True)

            page.get_by_role("link", name="Actions").click()
            page.get_by_label("Component").select_option("wordpress")
            page.get_by_role("button", name="Restart").click()
            expect(page.get_by_role("status")).to_contain_text("restart of wordpress is queued")
            page.get_by_role("link", name="Timeline").click()
            expect(page.locator("#timeline")).to_contain_text("Restarted", timeout=120_000)
            page.get_by_role("link", name="Actions").click()
            page.screenshot(path=str(SHOTS / "05-actions.png"), full_page=True)

            page.get_by_role("button", name="Theme").click()
            expect(page.locator("html")).to_have_attribute("data-theme", "dark")
            page.reload()
            expect(page.locator("html")).to_have_attribute("data-theme", "dark")  # remembered
            page.get_by_role("link", name="Stores", exact=True).click()
            page.screenshot(path=str(SHOTS / "06-stores-dark.png"), full_page=True)

            page.goto(f"{base}/stores/{slug}?tab=actions")
            page.get_by_role("button", name="Delete this store").click()
            expect(page.locator("#status")).to_have_text(re.compile("deleting|deleted"))
            page.get_by_role("link", name="Timeline").click()
            expect(page.locator("#timeline")).to_contain_text("Deleted", timeout=120_000)
            # The audit entry is written once the destroy has finished: reload until it shows.
            for _ in range(60):
                page.goto(base + "/audit")
                if "destroy" in page.locator("table").inner_text():
                    break
                page.wait_for_timeout(500)
            expect(page.locator("table")).to_contain_text("destroy")
            page.screenshot(path=str(SHOTS / "07-audit.png"), full_page=True)
            assert not errors, errors
        finally:
            browser.close()
    assert kit.catalog.store(slug).status == "deleted"
