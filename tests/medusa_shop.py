"""A Medusa store used as a shopper and as its admin would, over HTTP (Medusa v2's store and
admin APIs). Shared by the host test of the app and the tests of a Medusa store on a cluster.

    shop = MedusaShop("http://127.0.0.1:9000", publishable_key)
    order = shop.place_order("Sample Product", email="buyer@example.com")
    orders = shop.admin_orders(admin_email, admin_password)
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass

ADDRESS = {"first_name": "Ada", "last_name": "Lovelace", "address_1": "1 Main Street", "city": "Springfield",
           "postal_code": "12345", "country_code": "us", "phone": "5550100"}


def healthy(base_url: str) -> bool:
    """Whether Medusa answers its health check at ``base_url``."""
    try:
        with urllib.request.urlopen(f"{base_url.rstrip('/')}/health", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


class ShopError(AssertionError):
    """A request the store answered with an error (status and body in the message)."""


@dataclass
class Order:
    id: str
    display_id: int
    total: float
    email: str
    steps: list[str]


class MedusaShop:
    def __init__(self, base_url: str, publishable_key: str, *, host: str | None = None, timeout: float = 60):
        self.base = base_url.rstrip("/")
        self.key = publishable_key
        self.host = host  # a Host header: the store's name when reaching it through an ingress by address
        self.timeout = timeout

    def request(self, method: str, path: str, body: dict | None = None, *, token: str | None = None,
                store: bool = True) -> dict:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if store:
            headers["x-publishable-api-key"] = self.key
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if self.host:
            headers["Host"] = self.host
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as e:
            raise ShopError(f"{method} {path}: HTTP {e.code}: {e.read()[:500].decode(errors='replace')}") from None

    # ---- as a shopper ----------------------------------------------------------------------

    def place_order(self, title: str, *, email: str, quantity: int = 1) -> Order:
        """List products, find ``title``, and buy it: cart, address, shipping, manual payment, order."""
        steps = []
        regions = self.request("GET", "/store/regions")["regions"]
        assert regions, "the store has no region"
        region = regions[0]
        steps.append(f"region {region['name']} ({region['currency_code']})")
        products = self.request("GET", f"/store/products?region_id={region['id']}"
                                       "&fields=*variants.calculated_price")["products"]
        product = next((p for p in products if p["title"] == title), None)
        assert product, f"{title!r} is not among the products: {[p['title'] for p in products]}"
        variant = product["variants"][0]
        steps.append(f"found {title} at {variant['calculated_price']['calculated_amount']}")
        cart = self.request("POST", "/store/carts", {"region_id": region["id"]})["cart"]
        cart = self.request("POST", f"/store/carts/{cart['id']}/line-items",
                            {"variant_id": variant["id"], "quantity": quantity})["cart"]
        steps.append(f"cart {cart['id']} with {quantity} x {title}")
        cart = self.request("POST", f"/store/carts/{cart['id']}",
                            {"email": email, "shipping_address": ADDRESS, "billing_address": ADDRESS})["cart"]
        options = self.request("GET", f"/store/shipping-options?cart_id={cart['id']}")["shipping_options"]
        assert options, "no shipping option for the cart"
        cart = self.request("POST", f"/store/carts/{cart['id']}/shipping-methods",
                            {"option_id": options[0]["id"]})["cart"]
        steps.append(f"shipping {options[0]['name']}")
        collection = self.request("POST", "/store/payment-collections",
                                  {"cart_id": cart["id"]})["payment_collection"]
        providers = self.request("GET", f"/store/payment-providers?region_id={region['id']}")["payment_providers"]
        provider = next(p["id"] for p in providers if p["id"] == "pp_system_default")
        self.request("POST", f"/store/payment-collections/{collection['id']}/payment-sessions",
                     {"provider_id": provider})
        steps.append(f"payment session with {provider}")
        done = self.request("POST", f"/store/carts/{cart['id']}/complete")
        assert done.get("type") == "order", f"the cart did not become an order: {json.dumps(done)[:500]}"
        order = done["order"]
        steps.append(f"order {order['id']}")
        return Order(id=order["id"], display_id=order.get("display_id", 0), total=float(order["total"]),
                     email=order["email"], steps=steps)

    # ---- as the admin ----------------------------------------------------------------------

    def admin_token(self, email: str, password: str) -> str:
        return self.request("POST", "/auth/user/emailpass", {"email": email, "password": password},
                            store=False)["token"]

    def admin_orders(self, email: str, password: str) -> list[dict]:
        token = self.admin_token(email, password)
        return self.request("GET", "/admin/orders?fields=id,display_id,email,total,currency_code&limit=100",
                            token=token, store=False)["orders"]


def buy_and_check(shop: MedusaShop, admin_email: str, admin_password: str) -> Order:
    """The purchase path: a shopper buys Sample Product ($19.99 + $5 shipping); the admin,
    with the store's generated credentials, finds the order with that total."""
    order = shop.place_order("Sample Product", email="shopper@example.com")
    assert order.total == 24.99, order
    orders = {o["id"]: o for o in shop.admin_orders(admin_email, admin_password)}
    assert order.id in orders, f"order {order.id} is not in the admin's list"
    assert orders[order.id]["total"] == 24.99 and orders[order.id]["currency_code"] == "usd"
    return order


def refused(shop: MedusaShop, email: str, password: str) -> bool:
    """Whether the admin login refuses this password."""
    try:
        shop.admin_token(email, password)
    except ShopError as e:
        return "HTTP 401" in str(e)
    return False


def admin_sees_order_in_browser(base_url: str, email: str, password: str, order: Order, screenshot,
                                *, resolve_to: str | None = None) -> None:
    """Medusa's admin dashboard in a real browser (Playwright driving Debian's Chromium): log
    in at ``base_url``/app with the store's credentials, open the order, save a screenshot.
    ``resolve_to``: the address the store's host name resolves to (the node's Traefik), so the
    browser sends the store's own Host, as a shopper's would."""
    import re
    import shutil
    from urllib.parse import urlsplit

    from playwright.sync_api import expect, sync_playwright

    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed for this test (make packages)"
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"]
    if resolve_to:
        args.append(f"--host-resolver-rules=MAP {urlsplit(base_url).hostname} {resolve_to}")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=args)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            page.goto(f"{base_url}/app/login")
            page.locator("input[name=email]").fill(email)
            page.locator("input[name=password]").fill(password)
            page.get_by_role("button", name=re.compile("continue", re.I)).click()
            expect(page).not_to_have_url(re.compile(r"/login"), timeout=30_000)
            page.goto(f"{base_url}/app/orders/{order.id}")
            expect(page.get_by_text(order.email).first).to_be_visible(timeout=30_000)
            expect(page.get_by_text("Sample Product").first).to_be_visible()
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
