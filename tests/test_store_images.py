"""The stores' images built here (kind/images.py: mariadb, wordpress) and the setup script
(stacks/assets/woocommerce-setup.php), run for real on Debian's docker.io.

The images honour the official `mysql` and `wordpress:apache` environment contracts, so the
store's manifests run unchanged on them; the setup script does what the setup Job does, in
the WordPress image, on the WordPress volume, as www-data. One database and one WordPress
serve the whole module (first start costs the most). No test traffic leaves the machine:
the host talks to the containers only through ports published on 127.0.0.1, the containers'
DNS is the network's gateway (no server there: only the network's own names resolve), and
WordPress runs with WP_HTTP_BLOCK_EXTERNAL (only the test's mirror container is allowed), so
the default source (wordpress.org) fails at once, without a packet, as an unreachable
source does. Real WooCommerce is not on any registry these machines reach: the install
tests use a small plugin zip made here, which proves the install-from-URL/path mechanism
and the script's steps, not WooCommerce itself.
"""

from __future__ import annotations

import http.cookiejar
import io
import re
import subprocess
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zipfile
from pathlib import Path

import pytest
from docker_images import Docker, docker_for
from helpers import wait_for

pytestmark = pytest.mark.store_images
ROOT = Path(__file__).resolve().parent.parent
SETUP_SCRIPT = ROOT / "stacks" / "assets" / "woocommerce-setup.php"
DB = {"MYSQL_ROOT_PASSWORD": "root-'pw\\1", "MYSQL_DATABASE": "wordpress", "MYSQL_USER": "wordpress",
      "MYSQL_PASSWORD": "wp-pw-1"}
STORE = {"STORE_URL": "http://shop.storekit.test", "STORE_NAME": "Acme Test Shop", "ADMIN_USER": "shopadmin",
         "ADMIN_EMAIL": "admin@example.com", "ADMIN_PASSWORD": "first-password-1"}
SALTS = {f"WORDPRESS_{k}": f"salt-{k.lower()}-{uuid.uuid4().hex}" for k in (
    "AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY", "AUTH_SALT", "SECURE_AUTH_SALT",
    "LOGGED_IN_SALT", "NONCE_SALT")}
# No request from WordPress may leave the machine; the mirror container is the one exception.
NO_EGRESS = ("define('WP_HTTP_BLOCK_EXTERNAL', true); define('WP_ACCESSIBLE_HOSTS', 'mirror');"
             " define('DISABLE_WP_CRON', true); define('AUTOMATIC_UPDATER_DISABLED', true);")


@pytest.fixture(scope="module")
def docker():
    d = docker_for(("mariadb", "wordpress"))
    yield d
    d.cleanup()


class Database:
    """The module's MariaDB container, on a volume that outlives it."""

    def __init__(self, docker: Docker):
        self.docker, self.volume = docker, docker.volume("db")
        self.name = ""

    def start(self, env: dict[str, str] = DB) -> None:
        self.name = self.docker.start("mysql", "mariadb", "-v", f"{self.volume}:/var/lib/mysql", env=env)
        wait_for(lambda: self.docker("exec", self.name, "mysqladmin", "ping", "-h", "127.0.0.1", "--silent",
                                     check=False).returncode == 0, 90, every=0.5, what="MariaDB to answer ping")

    def sql(self, query: str, user: str = "wordpress", password: str = DB["MYSQL_PASSWORD"],
            database: str = "wordpress", host: str = "127.0.0.1") -> subprocess.CompletedProcess:
        """A query through the mariadb client in the container, over TCP as a pod would connect."""
        return self.docker("exec", self.name, "mariadb", "-h", host, "-u", user, f"-p{password}", "-N", "-B",
                           database, "-e", query, check=False)


@pytest.fixture(scope="module")
def database(docker):
    db = Database(docker)
    db.start()
    return db


def test_mariadb_initialises_users_database_and_root_as_the_mysql_image(docker, database):
    assert database.sql("SELECT CURRENT_USER(), DATABASE()").stdout.split() == ["wordpress@%", "wordpress"]
    root = database.sql("SELECT COUNT(*) FROM mysql.user WHERE User='root'", user="root",
                        password=DB["MYSQL_ROOT_PASSWORD"], database="mysql")
    assert root.returncode == 0, root.stderr
    wrong = database.sql("SELECT 1", password="not-the-password")
    assert wrong.returncode != 0 and "Access denied" in wrong.stderr
    no_root_password = database.sql("SELECT 1", user="root", password="", database="mysql")
    assert no_root_password.returncode != 0 and "Access denied" in no_root_password.stderr
    # The user has its database, not the others.
    assert "denied" in database.sql("CREATE DATABASE other").stderr
    # From another container, by the Service-like name: it listens on the network, not only locally.
    remote = docker("run", "--rm", "--network", docker.network, docker.refs["mariadb"], "mariadb", "-h", "mysql",
                    "-u", "wordpress", f"-p{DB['MYSQL_PASSWORD']}", "-N", "-e", "SELECT 42", "wordpress")
    assert remote.stdout.strip() == "42"
    processes = docker("exec", database.name, "ps", "-o", "uid=,comm=", "-p", "1").stdout.split()
    assert processes == ["999", "mariadbd"], "mariadbd is PID 1 and runs as mysql (uid 999)"
    logs = docker("logs", database.name).stderr
    assert "initialising /var/lib/mysql" in logs and "ready for connections" in logs


def test_mariadb_keeps_its_data_and_stops_cleanly_on_sigterm(docker, database):
    assert database.sql("CREATE TABLE kept (v VARCHAR(20)); INSERT INTO kept VALUES ('survives')").returncode == 0
    docker("stop", "-t", "30", database.name)
    assert docker("inspect", "-f", "{{.State.ExitCode}}", database.name).stdout.strip() == "0"
    assert "Shutdown complete" in docker("logs", "--tail", "5", database.name).stderr
    docker("rm", database.name)
    # The same volume, new passwords in the environment: the data and the old passwords stay.
    database.start({**DB, "MYSQL_ROOT_PASSWORD": "another", "MYSQL_PASSWORD": "another"})
    assert database.sql("SELECT v FROM kept").stdout.strip() == "survives"
    assert "holds a database: starting it as it is" in docker("logs", database.name).stderr
    assert database.sql("SELECT 1", password="another").returncode != 0
    assert database.sql("DROP TABLE kept").returncode == 0


def test_mariadb_killed_while_initialising_starts_over(docker):
    """A first start killed halfway (a liveness probe, a lost node) leaves no half-made
    database behind: the next start initialises again, with the users it was given."""
    volume = docker.volume("db-killed")
    first = docker.start("killed", "mariadb", "-v", f"{volume}:/var/lib/mysql", env=DB)
    wait_for(lambda: "initialising" in docker("logs", first).stderr, 30, every=0.2, what="the init to begin")
    docker("kill", first)
    listing = docker("run", "--rm", "-v", f"{volume}:/var/lib/mysql", "--entrypoint", "ls",
                     docker.refs["mariadb"], "-A", "/var/lib/mysql").stdout.split()
    assert "mysql" not in listing, "a killed init must not look initialised"
    second = docker.start("restarted", "mariadb", "-v", f"{volume}:/var/lib/mysql", env=DB)
    wait_for(lambda: docker("exec", second, "mariadb", "-h", "127.0.0.1", "-u", "wordpress",
                            f"-p{DB['MYSQL_PASSWORD']}", "wordpress", "-e", "SELECT 1", check=False).returncode == 0,
             90, every=0.5, what="the restarted database to take the user")
    assert "initialising /var/lib/mysql" in docker("logs", second).stderr
    after = docker("exec", second, "ls", "-A", "/var/lib/mysql").stdout.split()
    assert ".storekit-init" not in after and "mysql" in after
    docker("rm", "-f", "-v", first, second)


class WordPress:
    """The module's WordPress container (published on 127.0.0.1) and the setup Job's run."""

    def __init__(self, docker: Docker, database: Database):
        self.docker, self.database = docker, database
        self.volume = docker.volume("site")
        self.env = {"WORDPRESS_DB_HOST": "mysql:3306", "WORDPRESS_DB_NAME": "wordpress",
                    "WORDPRESS_DB_USER": "wordpress", "WORDPRESS_DB_PASSWORD": DB["MYSQL_PASSWORD"],
                    **SALTS, "WORDPRESS_CONFIG_EXTRA": NO_EGRESS}
        self.name = docker.start("wordpress", "wordpress", "-v", f"{self.volume}:/var/www/html",
                                 "-p", "127.0.0.1::80", env=self.env)
        self.port = docker.port(self.name, 80)
        wait_for(lambda: self.status("/wp-login.php") in (200, 302), 60, every=0.5, what="Apache to answer")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def request(self, path: str, data: dict | None = None, opener=None):
        """GET or POST as a browser at the store's host name would (the ingress sets Host)."""
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.url(path), data=body,
                                     headers={"Host": urllib.parse.urlparse(STORE["STORE_URL"]).netloc})
        try:
            return (opener or urllib.request.build_opener(NoRedirect)).open(req, timeout=30)
        except urllib.error.HTTPError as e:
            return e

    def status(self, path: str) -> int | None:
        try:
            return self.request(path).status
        except OSError:
            return None

    def setup(self, *extra: str, **env: str) -> subprocess.CompletedProcess:
        """The setup Job: the WordPress image, the site's volume, the script mounted (as from a
        ConfigMap), php as www-data."""
        envs = {**self.env, **STORE, "SETUP_DB_ATTEMPTS": "5", "SETUP_DB_DELAY": "1", **env}
        return self.docker("run", "--rm", "--network", self.docker.network, *self.docker.dns_args(), "--user", "33:33",
                           "-v", f"{self.volume}:/var/www/html",
                           "-v", f"{SETUP_SCRIPT.parent}:/opt/storekit:ro", *extra,
                           *[a for k, v in envs.items() for a in ("-e", f"{k}={v}")],
                           self.docker.refs["wordpress"], "php", "/opt/storekit/woocommerce-setup.php",
                           check=False, timeout=300)

    def option(self, name: str) -> str:
        return self.database.sql(f"SELECT option_value FROM wp_options WHERE option_name='{name}'").stdout.strip()

    def login(self, password: str) -> tuple[int, str]:
        """A real wp-admin login: the form POST with cookies, then /wp-admin/."""
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
        self.request("/wp-login.php", opener=opener)  # sets the test cookie, as a browser gets it
        posted = self.request("/wp-login.php", {"log": STORE["ADMIN_USER"], "pwd": password, "wp-submit": "Log In",
                                                "redirect_to": STORE["STORE_URL"] + "/wp-admin/", "testcookie": "1"},
                              opener=opener)
        if posted.status != 302:
            return posted.status, posted.read().decode(errors="replace")
        admin = self.request("/wp-admin/", opener=opener)
        return admin.status, admin.read().decode(errors="replace")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture(scope="module")
def wordpress(docker, database):
    return WordPress(docker, database)


def test_wordpress_image_fills_the_volume_and_serves_as_www_data(docker, wordpress):
    owner = docker("exec", wordpress.name, "stat", "-c", "%u %a", "/var/www/html/wp-config.php",
                   "/var/www/html/wp-includes/version.php").stdout.split()
    assert owner == ["33", "640", "33", "644"]
    assert docker("exec", wordpress.name, "grep", "-c", "RewriteRule . /index.php",
                  "/var/www/html/.htaccess").stdout.strip() == "1"
    workers = docker("exec", wordpress.name, "ps", "-o", "user=,comm=", "-C", "apache2").stdout.split("\n")
    assert workers[0].split() == ["root", "apache2"] and {w.split()[0] for w in workers[1:] if w} == {"www-data"}
    # Not installed yet: WordPress sends the browser to its installer (the probe takes a 302).
    response = wordpress.request("/wp-login.php")
    assert response.status == 302 and "/wp-admin/install.php" in response.headers["Location"]
    assert wordpress.request("/wp-config.php").status == 403
    logs = docker("logs", wordpress.name)
    assert '"GET /wp-login.php HTTP/1.1" 302' in logs.stdout, "Apache's access log goes to stdout"
    assert "no WordPress in /var/www/html: copying 6.1" in logs.stderr


def test_wordpress_killed_while_copying_copies_again(docker, database):
    """A first start killed while it fills the volume does not serve half a WordPress."""
    volume = docker.volume("site-killed")
    first = docker.start("killed-wp", "wordpress", "-v", f"{volume}:/var/www/html")
    wait_for(lambda: "copying" in docker("logs", first).stderr, 30, every=0.1, what="the copy to begin")
    docker("kill", first)
    listing = docker("run", "--rm", "-v", f"{volume}:/var/www/html", "--entrypoint", "ls",
                     docker.refs["wordpress"], "-A", "/var/www/html").stdout.split()
    assert "index.php" not in listing, "a killed copy must not look complete"
    second = docker.start("restarted-wp", "wordpress", "-v", f"{volume}:/var/www/html")
    wait_for(lambda: "resuming normal operations" in docker("logs", second).stderr, 60, every=0.5,
             what="Apache to start after the copy")
    count = docker("exec", second, "sh", "-c", "find /var/www/html /usr/src/wordpress -type f | "
                   "sed 's#^/var/www/html##; s#^/usr/src/wordpress##' | sort | uniq -u").stdout.split()
    assert sorted(count) == ["/.htaccess", "/wp-config-storekit.php", "/wp-config.php"], "every file copied"
    docker("rm", "-f", "-v", first, second)


def test_setup_fails_with_one_line_when_woocommerce_cannot_be_fetched(wordpress, tmp_path):
    result = wordpress.setup()  # the default source, wordpress.org, which nothing here reaches
    assert result.returncode == 3, result.stdout + result.stderr
    assert result.stderr.strip() == ("setup: error: WooCommerce could not be installed from "
                                     "https://downloads.wordpress.org/plugin/woocommerce.latest-stable.zip: "
                                     "download failed: the host downloads.wordpress.org does not resolve")
    assert "WordPress 6.1" in result.stdout and "installed" in result.stdout
    mirror = wordpress.setup(WOOCOMMERCE_SOURCE="http://mirror:8080/woocommerce.zip")
    assert mirror.returncode == 3
    [line] = mirror.stderr.strip().splitlines()
    assert line.startswith("setup: error: WooCommerce could not be installed from http://mirror:8080/woocommerce.zip:")
    missing = wordpress.setup(WOOCOMMERCE_SOURCE="/opt/no-such/woocommerce.zip")
    assert missing.returncode == 3
    assert missing.stderr.strip() == ("setup: error: WooCommerce could not be installed from "
                                      "/opt/no-such/woocommerce.zip: no such file or folder")
    assert wordpress.option("storekit_woocommerce").startswith("not-installed: WooCommerce could not be installed")
    status = tmp_path / "termination-log"
    status.touch()
    status.chmod(0o666)
    wordpress.setup("-v", f"{status}:/dev/termination-log", WOOCOMMERCE_SOURCE="/opt/no-such/woocommerce.zip")
    assert status.read_text() == ("error: WooCommerce could not be installed from /opt/no-such/woocommerce.zip: "
                                  "no such file or folder\n")
    bad = wordpress.setup(WOOCOMMERCE_SOURCE="ftp://example")
    assert bad.returncode == 3 and "WOOCOMMERCE_SOURCE must be" in bad.stderr
    # The database refusing the WordPress user fails at once (exit 1), naming it.
    refused = wordpress.setup(WORDPRESS_DB_PASSWORD="wrong")
    assert refused.returncode == 1
    assert refused.stderr.startswith("setup: error: the database at mysql:3306 refuses the WordPress user:")
    unreachable = wordpress.setup(WORDPRESS_DB_HOST="nodb:3306", SETUP_DB_ATTEMPTS="2", SETUP_DB_DELAY="0")
    assert unreachable.returncode == 1
    assert unreachable.stderr.startswith("setup: error: the database at nodb:3306 did not answer after 2 attempts:")


def test_setup_without_woocommerce_when_allowed_serves_the_store(wordpress, tmp_path):
    status = tmp_path / "termination-log"  # as the kubelet mounts it
    status.touch()
    status.chmod(0o666)
    result = wordpress.setup("-v", f"{status}:/dev/termination-log", WOOCOMMERCE_OPTIONAL="true")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "store ready, WooCommerce not installed" in result.stdout
    assert status.read_text().startswith("woocommerce not-installed: WooCommerce could not be installed from https://")
    assert wordpress.option("storekit_woocommerce").startswith(
        "not-installed: WooCommerce could not be installed from https://downloads.wordpress.org/")
    page = wordpress.request("/")
    assert page.status == 200
    title = re.search(r"<title>(.*?)</title>", page.read().decode())
    assert title and STORE["STORE_NAME"] in title.group(1)
    assert wordpress.status("/wp-login.php") == 200, "the readiness probe's page answers"
    assert wordpress.status("/hello-world/") == 200, "pretty permalinks through .htaccess"
    status, body = wordpress.login(STORE["ADMIN_PASSWORD"])
    assert status == 200 and "Dashboard" in body


def test_setup_converges_the_admin_password(wordpress):
    result = wordpress.setup(WOOCOMMERCE_OPTIONAL="true", ADMIN_PASSWORD="second-password-2")
    assert result.returncode == 0, result.stderr
    assert "admin password of shopadmin set" in result.stdout
    assert wordpress.login("second-password-2")[0] == 200
    status, body = wordpress.login(STORE["ADMIN_PASSWORD"])
    assert status == 200 and "Dashboard" not in body and "incorrect" in body
    again = wordpress.setup(WOOCOMMERCE_OPTIONAL="true", ADMIN_PASSWORD="second-password-2")
    assert "admin password of shopadmin is current" in again.stdout
    wordpress.setup(WOOCOMMERCE_OPTIONAL="true")  # back to the first, for the tests after


def _plugin_zip() -> bytes:
    """A small plugin named woocommerce, made here. NOT WooCommerce: it only gives the setup
    script a plugin to fetch, unzip and activate, and the few WooCommerce classes its last
    step calls (stored as real WordPress posts and options)."""
    plugin = """<?php
/**
 * Plugin Name: WooCommerce
 * Description: storekit's test stand-in, not WooCommerce.
 * Version: 0.0.0-storekit-test
 */
class WooCommerce {}
class WC_Product_Simple {
	private $data = [];
	public function set_name($v) { $this->data['post_title'] = $v; }
	public function set_regular_price($v) { $this->data['price'] = $v; }
	public function set_status($v) { $this->data['post_status'] = $v; }
	public function set_stock_status($v) { $this->data['stock'] = $v; }
	public function save() {
		$id = wp_insert_post(['post_type' => 'product', 'post_title' => $this->data['post_title'],
			'post_status' => $this->data['post_status']]);
		update_post_meta($id, '_regular_price', $this->data['price']);
		update_post_meta($id, '_stock_status', $this->data['stock']);
		return $id;
	}
}
"""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("woocommerce/", "")
        z.writestr("woocommerce/woocommerce.php", plugin)
    return buffer.getvalue()


def _state(wordpress: WordPress) -> str:
    """A digest of what the setup may write: options (not transients), posts, meta, users."""
    query = ("SELECT MD5(GROUP_CONCAT(option_name, '=', option_value ORDER BY option_name)) FROM wp_options "
             "WHERE option_name NOT LIKE '%transient%' UNION ALL "
             "SELECT MD5(GROUP_CONCAT(ID, post_title, post_status, post_modified ORDER BY ID)) FROM wp_posts UNION ALL "
             "SELECT MD5(GROUP_CONCAT(meta_id, meta_key, meta_value ORDER BY meta_id)) FROM wp_postmeta UNION ALL "
             "SELECT MD5(GROUP_CONCAT(ID, user_pass, user_email ORDER BY ID)) FROM wp_users")
    result = wordpress.database.sql(query)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_setup_installs_the_plugin_from_a_mirror_then_changes_nothing(docker, wordpress, tmp_path):
    """Install from an http mirror (a container on the store's network), activate, make the
    sample product and enable cash on delivery; a second run changes nothing.
    The plugin is a stand-in made here, not WooCommerce (see _plugin_zip)."""
    (tmp_path / "woocommerce.zip").write_bytes(_plugin_zip())
    tmp_path.chmod(0o755)
    (tmp_path / "woocommerce.zip").chmod(0o644)
    docker.start("mirror", "wordpress", "-v", f"{tmp_path}:/srv:ro",
                 command=("php", "-S", "0.0.0.0:8080", "-t", "/srv"))
    source = "http://mirror:8080/woocommerce.zip"
    first = wait_for(lambda: (r := wordpress.setup(WOOCOMMERCE_SOURCE=source)).returncode == 0 and r, 30,
                     what="the setup to install from the mirror")
    assert f"installing WooCommerce from {source}" in first.stdout
    assert "WooCommerce activated" in first.stdout and "Sample Product created" in first.stdout
    assert "cash on delivery enabled" in first.stdout
    assert "store ready, WooCommerce 0.0.0-storekit-test" in first.stdout
    assert "setup: error" not in first.stderr
    assert wordpress.option("storekit_woocommerce") == "installed: 0.0.0-storekit-test"
    assert "woocommerce/woocommerce.php" in wordpress.option("active_plugins")
    products = wordpress.database.sql(
        "SELECT p.post_status, m.meta_value FROM wp_posts p JOIN wp_postmeta m ON m.post_id = p.ID "
        "AND m.meta_key = '_regular_price' WHERE p.post_type = 'product' AND p.post_title = 'Sample Product'")
    assert products.stdout.split() == ["publish", "19.99"]
    assert '"enabled";s:3:"yes"' in wordpress.option("woocommerce_cod_settings")

    before = _state(wordpress)
    second = wordpress.setup(WOOCOMMERCE_SOURCE="http://mirror:8080/gone.zip")  # not fetched again
    assert second.returncode == 0, second.stdout + second.stderr
    assert "installing" not in second.stdout and "created" not in second.stdout
    assert "enabled" not in second.stdout and "password of shopadmin is current" in second.stdout
    assert _state(wordpress) == before, "a second run changed the database"
    assert wordpress.status("/") == 200


def test_setup_installs_the_plugin_from_a_folder_in_the_container(docker, wordpress, tmp_path):
    """Air-gapped: the plugin folder already in the container (mounted here). A stand-in, not
    WooCommerce (see _plugin_zip)."""
    with zipfile.ZipFile(io.BytesIO(_plugin_zip())) as z:
        z.extractall(tmp_path)
    tmp_path.chmod(0o755)
    docker("run", "--rm", "--user", "33:33", "-v", f"{wordpress.volume}:/var/www/html", "--entrypoint", "rm",
           docker.refs["wordpress"], "-rf", "/var/www/html/wp-content/plugins/woocommerce")
    result = wordpress.setup("-v", f"{tmp_path / 'woocommerce'}:/opt/woocommerce:ro",
                             WOOCOMMERCE_SOURCE="/opt/woocommerce")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "installing WooCommerce from /opt/woocommerce" in result.stdout
    listed = docker("run", "--rm", "-v", f"{wordpress.volume}:/var/www/html", "--entrypoint", "stat",
                    docker.refs["wordpress"], "-c", "%u", "/var/www/html/wp-content/plugins/woocommerce/woocommerce.php")
    assert listed.stdout.strip() == "33"
    assert "Sample Product" not in result.stdout, "the product is made once, not again"
