"""Backup and restore of a WooCommerce store on the real node, empty and with N posts: time,
size and the restore's downtime (docs/backups.md), to versitygw on the node. Prints a table.

    .venv/bin/python bench/backups.py --posts 1000
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import s3server  # noqa: E402
from storekit import Storekit, StoreSpec  # noqa: E402
from storekit.backups import podexec  # noqa: E402
from storekit.settings import PROFILES, Settings  # noqa: E402

POSTS = r"""
php_file=$(mktemp --suffix=.php); trap 'rm -f "$php_file"' EXIT
cat > "$php_file" <<'PHP'
<?php
define('WP_INSTALLING', true);
$_SERVER['HTTP_HOST'] = 'bench'; $_SERVER['REQUEST_URI'] = '/';
require '/var/www/html/wp-load.php';
wp_defer_term_counting(true);
for ($i = 0; $i < (int) $argv[1]; $i++) {
    wp_insert_post(['post_title' => "Bench post $i", 'post_status' => 'publish',
                    'post_content' => "Post $i: " . bin2hex(random_bytes(600))]);
}
echo wp_count_posts()->publish, "\n";
PHP
php "$php_file" "$1"
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1000)
    args = parser.parse_args()
    server = s3server.start_on_node(__import__("json").loads(
        (s3server.HOME / "images" / "index.json").read_text())["versitygw"])
    base = Settings.load().replace(profile="node", **PROFILES["node"], timeout=600,
                                   state_url=f"file://{Path('/tmp') / ('bench-backups-' + uuid.uuid4().hex[:6])}",
                                   passphrase="bench")
    kit = Storekit(base.replace(**server.settings(), backup_location=f"{server.bucket('bench')}/stores"))
    spec = StoreSpec(name=f"Bench Backup {uuid.uuid4().hex[:6]}", admin_email="bench@example.com")
    rows = []
    try:
        kit.apply(spec)
        ns = kit.resolve(spec)[0].namespace
        for label, posts in (("empty store", 0), (f"{args.posts} posts", args.posts)):
            if posts:
                pod, container = podexec.ready_pod(kit._kube(), ns, "wordpress")
                podexec.run(kit.settings, ns, pod, container, POSTS, str(posts), what="writing posts")
            started = time.monotonic()
            info = kit.backup(spec.name)
            backup_s = time.monotonic() - started
            started = time.monotonic()
            result = kit.restore(spec.name, info.id)
            rows.append((label, backup_s, info.size, dict((p.file, p.size) for p in info.parts),
                         time.monotonic() - started, result.downtime_seconds))
    finally:
        kit.destroy(spec.name)
        s3server.stop(server)
    print(f"| store | backup s | size bytes (database / uploads) | restore s | downtime s |")
    print("|---|---|---|---|---|")
    for label, b, size, parts, r, down in rows:
        print(f"| {label} | {b:.1f} | {size:,} ({parts['database.sql.gz']:,} / {parts['uploads.tar.gz']:,}) "
              f"| {r:.1f} | {down:.1f} |")


if __name__ == "__main__":
    main()
