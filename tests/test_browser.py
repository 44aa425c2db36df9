"""The dashboard in a real browser (Playwright driving Debian's Chromium, headless)
against a live server with workers, the real engine and the local cluster: log in,
create a store with the form, watch the timeline reach Ready, open Health and Logs,
restart, toggle the theme, delete the store. Screenshots go to docs/screenshots/.
And the attack a browser makes: a page on another origin of the same site posts forms
(and scripts) to the API and the dashboard with the login cookie, and nothing is written."""

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


ATTACK = """<!doctype html><html><body>
<form id="json" method="post" action="{base}/api/stores" enctype="text/plain">
  <input name='{{"name": "Forged Shop", "admin_email": "evil@example.com", "x": "' value='"}}'>
</form>
<form id="reset" method="post" action="{base}/api/stores/victim/actions/reset-password"></form>
<form id="ui" method="post" action="{base}/stores"><input name="name" value="Forged UI Shop">
  <input name="admin_email" value="evil@example.com"></form>
</body></html>"""


@pytest.fixture
def two_origins(settings, tmp_path):
    """The dashboard on one port and an attacker's page on another: two origins of one site
    (ports do not make sites), as a store's own pages are beside the dashboard."""
    local = settings.replace(db_url=f"sqlite:///{tmp_path}/catalog.db", home=str(tmp_path))
    kit = Storekit(local, actor=Actor(name="dashboard", source="web"))
    app = create_app({"SETTINGS": local, "KIT": kit, "SECRET_KEY": "browser-csrf-test"})
    token = ensure_admin_token(kit.catalog)
    dashboard = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{dashboard.server_port}"
    page = ATTACK.format(base=base).encode()

    def attacker_app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(page)))])
        return [page]
    evil = make_server("127.0.0.1", 0, attacker_app, threaded=True)
    for server in (dashboard, evil):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield base, f"http://127.0.0.1:{evil.server_port}/", token, kit
    dashboard.shutdown()
    evil.shutdown()


def test_a_cross_site_form_cannot_write_with_the_login_cookie(two_origins):
    assert CHROMIUM, "Debian's chromium is needed for this test: run `make packages`"
    from playwright.sync_api import sync_playwright

    base, evil, token, kit = two_origins
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        tabs = browser.new_context()  # one browser profile: the tabs share the login cookie
        page = tabs.new_page()
        try:
            page.goto(base + "/login")
            page.get_by_label("Access token").fill(token)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(base + "/")
            made = page.evaluate("""async () => (await fetch('/api/stores', {method: 'POST',
                headers: {'Content-Type': 'application/json',
                          'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content},
                body: JSON.stringify({name: 'victim', admin_email: 'owner@example.com'})})).status""")
            assert made == 202, "the dashboard's own page may write with its cookie and the CSRF header"
            before = (len(kit.catalog.stores()), len(kit.catalog.audit_entries()))

            statuses = {}
            for form in ("json", "reset", "ui"):
                attack = tabs.new_page()
                attack.goto(evil)
                with attack.expect_navigation():
                    attack.evaluate(f"document.getElementById('{form}').submit()")
                statuses[form] = attack.evaluate("document.body.innerText")[:200]
                attack.close()
            # And a script on the other origin: the simple request is refused, the JSON one
            # never leaves the browser (no CORS), and neither can read the page's token.
            other = tabs.new_page()
            other.goto(evil)
            scripted = other.evaluate(f"""async () => {{
                const simple = await fetch('{base}/api/stores', {{method: 'POST', credentials: 'include',
                    mode: 'no-cors', headers: {{'Content-Type': 'text/plain'}},
                    body: JSON.stringify({{name: 'Scripted Shop', admin_email: 'evil@example.com'}})}});
                let json = 'sent';
                try {{ await fetch('{base}/api/stores', {{method: 'POST', credentials: 'include',
                    headers: {{'Content-Type': 'application/json', 'X-CSRF-Token': 'guess'}},
                    body: JSON.stringify({{name: 'Json Shop', admin_email: 'evil@example.com'}})}}); }}
                catch (e) {{ json = 'blocked'; }}
                return json; }}""")
        finally:
            browser.close()
    assert "X-CSRF-Token" in statuses["json"] and "forbidden" in statuses["json"], statuses
    assert "X-CSRF-Token" in statuses["reset"], statuses
    assert "did not come from this site" in statuses["ui"], statuses
    assert scripted == "blocked"
    assert (len(kit.catalog.stores()), len(kit.catalog.audit_entries())) == before, "nothing was written"
    assert [s.slug for s in kit.catalog.stores()] == ["victim"]
