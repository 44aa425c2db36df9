"""The seed's end-to-end purchase, in a real browser (`make e2e-checkout`; marker e2e_checkout).

It needs what these build machines do not have: a cluster whose pods reach wordpress.org
(the setup Job downloads WooCommerce from there) and that runs the official images, such as
the kind cluster of `make setup` on a Docker host with internet access. It is therefore never
part of `make test`; the README says how to run it.

The path is the seed's: the shop, "Sample Product" ($19.99), add to cart, checkout with cash on
delivery, "Order received", then the same order in the WooCommerce admin after a real login
with the store's generated password. Cart and checkout are found by their visible texts and
labels, so both WooCommerce's block checkout (the default since 8.3) and the classic
shortcode pages work.
"""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path

import pytest

from storekit.kit import Storekit
from storekit.spec import StoreSpec

pytestmark = pytest.mark.e2e_checkout
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


@pytest.fixture
def store(settings, kube):
    kit = Storekit(settings)
    spec = StoreSpec(name=f"Checkout {uuid.uuid4().hex[:5]}", admin_email="e2e@example.com")
    kit.apply(spec)
    try:
        outputs = kit.outputs(spec.name)
        assert not outputs.notices, f"the store must have WooCommerce: {outputs.notices}"
        yield outputs, kit.reveal_admin_password(spec.name)
    finally:
        kit.destroy(spec.name)


def _fill(page, label: str, value: str) -> None:
    field = page.get_by_label(re.compile(label, re.I)).first
    if field.count() and field.is_visible():
        field.fill(value)


def test_a_shopper_buys_the_sample_product_with_cash_on_delivery(store):
    assert CHROMIUM, "Debian's chromium is needed: run `make packages`"
    from playwright.sync_api import expect, sync_playwright

    outputs, password = store
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.set_default_timeout(30_000)

        page.goto(f"{outputs.url}/?post_type=product")  # the shop, whatever the permalinks
        page.get_by_role("link", name="Sample Product").first.click()
        expect(page.locator("body")).to_contain_text("19.99")
        page.get_by_role("button", name=re.compile("add to cart", re.I)).first.click()
        page.get_by_role("link", name=re.compile("view cart", re.I)).first.click()
        expect(page.locator("body")).to_contain_text("Sample Product")
        page.get_by_role("link", name=re.compile("proceed to checkout", re.I)).first.click()

        for label, value in (("email", "shopper@example.com"), ("first name", "Sam"), ("last name", "Shopper"),
                             ("^address", "1 Test Street"), ("city", "Springfield"),
                             ("(postcode|zip)", "12345"), ("phone", "5550100")):
            _fill(page, label, value)
        cod = page.get_by_label(re.compile("cash on delivery", re.I)).first
        if cod.count() and cod.is_visible():
            cod.check()
        page.get_by_role("button", name=re.compile("place order", re.I)).first.click()
        expect(page.locator("body")).to_contain_text(re.compile("order (has been )?received", re.I), timeout=60_000)
        number = re.search(r"Order number:?\s*#?(\d+)", page.locator("body").inner_text(), re.I)
        assert number, "the confirmation page names the order"
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "e2e-order-received.png"), full_page=True)

        page.goto(outputs.admin_url)
        page.locator("#user_login").fill(outputs.admin_user)
        page.locator("#user_pass").fill(password)
        page.locator("#wp-submit").click()
        page.goto(f"{outputs.url}/wp-admin/admin.php?page=wc-orders")
        if "wc-orders" not in page.url or page.locator("body").inner_text().strip() == "":
            page.goto(f"{outputs.url}/wp-admin/edit.php?post_type=shop_order")  # legacy order storage
        expect(page.locator("body")).to_contain_text(f"#{number.group(1)}")
        expect(page.locator("body")).to_contain_text("Sam Shopper")
        page.screenshot(path=str(SHOTS / "e2e-order-in-admin.png"), full_page=True)
        browser.close()
