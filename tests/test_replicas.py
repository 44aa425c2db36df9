"""Two dashboard replicas, as the production chart runs them: separate `storekit serve`
processes sharing the catalog, the session key (the chart's Secret) and rate-limit
counters in a real Redis (Debian's redis-server, started for the test). A login made on
one replica holds on the other, and failed logins count across both."""

from __future__ import annotations

import http.cookiejar
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from helpers import free_port

pytestmark = pytest.mark.redis


def _wait_port(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else "exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"nothing listens on {port} after {timeout} s")


@pytest.fixture
def redis_url(tmp_path):
    server = shutil.which("redis-server")
    if not server:
        pytest.fail("redis-server is missing (make packages)", pytrace=False)
    port = free_port()
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_port(port, proc)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def replicas(tmp_path, redis_url):
    token = "sk_replica-test-admin-token-0001"
    env = {**os.environ, "STOREKIT_HOME": str(tmp_path / "home"), "STOREKIT_DB_URL": f"sqlite:///{tmp_path}/c.db",
           "STOREKIT_WEB_SECRET_KEY": "shared-session-key-from-the-chart-secret",
           "STOREKIT_WEB_RATELIMIT_STORAGE_URI": redis_url, "STOREKIT_WEB_LOGIN_LIMIT": "4 per minute",
           "STOREKIT_ADMIN_TOKEN": token}
    procs, ports = [], []
    for _ in range(2):
        port = free_port()
        procs.append(subprocess.Popen([sys.executable, "-m", "storekit.cli", "serve", "--port", str(port),
                                       "--workers", "0"], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))
        ports.append(port)
        _wait_port(port, procs[-1])
    try:
        yield token, [f"http://127.0.0.1:{p}" for p in ports]
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(25)


def _post_login(opener, base: str, token: str) -> int:
    page = opener.open(f"{base}/login", timeout=5).read().decode()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"csrf_token": csrf, "token": token}).encode()
    try:
        return opener.open(urllib.request.Request(f"{base}/login", data=data), timeout=5).status
    except urllib.error.HTTPError as e:
        return e.code


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_replicas_share_sessions_and_rate_limits(replicas):
    token, (a, b) = replicas
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect)
    assert _post_login(browser, a, token) == 302, "logged in on replica A"
    # The session cookie A set is good on B: the store list, not a redirect to /login.
    assert browser.open(f"{b}/", timeout=5).status == 200

    # Failed logins count across replicas: the limit is 4 per minute in all (one used above).
    statuses = [_post_login(urllib.request.build_opener(urllib.request.HTTPCookieProcessor()), url, "sk_wrong")
                for url in (b, a, b)]
    assert statuses == [401, 401, 401]
    assert _post_login(urllib.request.build_opener(urllib.request.HTTPCookieProcessor()), a, "sk_wrong") == 429
