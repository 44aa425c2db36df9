"""How a WooCommerce store is backed up and restored (docs/backups.md): the database with
mariadb-dump/mysqldump in the MySQL container, wp-content/uploads with tar in the WordPress
container, WordPress's own maintenance switch (``.maintenance``) to stop the writers.

Each script runs with bash and ``set -euo pipefail`` (``storekit.backups.podexec``); the
database password is read from the container's own environment.
"""

from __future__ import annotations

from storekit.engine import BackupPart, BackupShape

from ..schedule import SITE as SCHEDULED_SITE

SITE = "/var/www/html"

DUMP_DATABASE = """\
export MYSQL_PWD="$MYSQL_ROOT_PASSWORD"
dump=$(command -v mariadb-dump || command -v mysqldump)
"$dump" -uroot --single-transaction --quick --routines --triggers --events "$MYSQL_DATABASE" | gzip -c
"""

# Unpacked to a file first: a broken stream fails before the database is dropped.
LOAD_DATABASE = """\
export MYSQL_PWD="$MYSQL_ROOT_PASSWORD"
client=$(command -v mariadb || command -v mysql)
sql=$(mktemp); trap 'rm -f "$sql"' EXIT
gzip -dc > "$sql"
"$client" -uroot -e "DROP DATABASE IF EXISTS \\`$MYSQL_DATABASE\\`; CREATE DATABASE \\`$MYSQL_DATABASE\\`"
"$client" -uroot "$MYSQL_DATABASE" < "$sql"
"""

DUMP_UPLOADS = f"""\
cd {SITE}/wp-content
if [ -d uploads ]; then tar -czf - uploads; else
  empty=$(mktemp -d); trap 'rm -rf "$empty"' EXIT; mkdir "$empty/uploads"; tar -C "$empty" -czf - uploads
fi
"""

LOAD_UPLOADS = f"""\
cd {SITE}/wp-content
rm -rf .uploads-restoring .uploads-old
mkdir .uploads-restoring
tar -xzf - -C .uploads-restoring
if [ -d uploads ]; then mv uploads .uploads-old; fi
mv .uploads-restoring/uploads uploads
if [ "$(id -u)" = 0 ]; then chown www-data:www-data uploads; fi
rm -rf .uploads-restoring .uploads-old
"""

# WordPress answers every request with 503 "Briefly unavailable for scheduled maintenance"
# while .maintenance sets $upgrading to now (re-read on each request, so it never expires).
STOP = f"""printf '%s\\n' '<?php $upgrading = time(); ?>' > {SITE}/.maintenance"""
START = f"rm -f {SITE}/.maintenance"

# PHP that loads WordPress as a request to the store's URL ($1) would, past the maintenance
# switch (WP_INSTALLING, as the setup Job does).
_BOOT = f"""<?php
define('WP_INSTALLING', true);
$url = rtrim($argv[1], '/');
$u = parse_url($url);
$_SERVER['HTTP_HOST'] = $_SERVER['SERVER_NAME'] = $u['host'] . (isset($u['port']) ? ':' . $u['port'] : '');
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['REQUEST_METHOD'] = 'GET';
$_SERVER['SERVER_PROTOCOL'] = 'HTTP/1.1';
if (($u['scheme'] ?? '') === 'https') {{
    $_SERVER['HTTPS'] = 'on';
}}
require '{SITE}/wp-load.php';
"""


def _php(body: str) -> str:
    """A bash script that runs PHP ``body`` (after _BOOT) with the script's arguments."""
    return ("php_file=$(mktemp --suffix=.php); trap 'rm -f \"$php_file\"' EXIT\n"
            "cat > \"$php_file\" <<'PHP'\n" + _BOOT + body + "\nPHP\nphp \"$php_file\" \"$@\"\n")


# $1 the store's URL, $2 its admin user, $3 the admin's email, stdin the admin password.
CONVERGE = _php("""
update_option('siteurl', $url);
update_option('home', $url);
$password = rtrim(stream_get_contents(STDIN), "\\r\\n");
$user = get_user_by('login', $argv[2]);
if (!$user) {
    $id = wp_insert_user(['user_login' => $argv[2], 'user_pass' => $password, 'user_email' => $argv[3],
                          'role' => 'administrator']);
    if (is_wp_error($id)) {
        fwrite(STDERR, 'creating the admin user failed: ' . $id->get_error_message() . "\\n");
        exit(1);
    }
} elseif (!wp_check_password($password, $user->user_pass, $user->ID)) {
    wp_set_password($password, $user->ID);
}
wp_cache_flush();
""")

# $2 the source's URL, replaced by $1 (the clone's) in stored content, serialized values
# unserialized first so their lengths stay right; JSON-escaped forms too (block content).
REWRITE = _php("""
global $wpdb;
$old = rtrim($argv[2], '/');
$pairs = [[$old, $url], [str_replace('/', '\\\\/', $old), str_replace('/', '\\\\/', $url)]];
$swap = function ($value) use (&$swap, $pairs) {
    if (is_string($value)) {
        foreach ($pairs as [$from, $to]) {
            $value = str_replace($from, $to, $value);
        }
        return $value;
    }
    if (is_array($value)) {
        foreach ($value as $k => $v) {
            $value[$k] = $swap($v);
        }
    }
    return $value;
};
$columns = [[$wpdb->options, 'option_id', 'option_value'], [$wpdb->postmeta, 'meta_id', 'meta_value'],
            [$wpdb->posts, 'ID', 'post_content'], [$wpdb->posts, 'ID', 'post_excerpt'], [$wpdb->posts, 'ID', 'guid'],
            [$wpdb->comments, 'comment_ID', 'comment_content'], [$wpdb->usermeta, 'umeta_id', 'meta_value'],
            [$wpdb->termmeta, 'meta_id', 'meta_value']];
$changed = 0;
foreach ($columns as [$table, $id, $column]) {
    $rows = $wpdb->get_results($wpdb->prepare("SELECT $id AS id, $column AS v FROM $table WHERE $column LIKE %s",
                                              '%' . $wpdb->esc_like($old) . '%'));
    foreach ($rows as $row) {
        if (is_serialized($row->v)) {
            $data = @unserialize($row->v, ['allowed_classes' => false]);
            if ($data === false && $row->v !== 'b:0;') {
                continue;
            }
            $value = serialize($swap($data));
        } else {
            $value = $swap($row->v);
        }
        if ($value !== $row->v) {
            $wpdb->update($table, [$column => $value], [$id => $row->id]);
            $changed++;
        }
    }
}
wp_cache_flush();
echo "$changed values rewritten\\n";
""")

# $1 the store's URL: its home page, asked inside the pod with the store's Host header, is 200.
CHECK = """\
host=$(printf '%s' "$1" | sed -E 's#^[a-zA-Z]+://##; s#/.*$##')
H="$host" php -r '
$c = stream_context_create(["http" => ["header" => "Host: " . getenv("H"), "ignore_errors" => true,
                                       "timeout" => 20, "follow_location" => 0]]);
@file_get_contents("http://127.0.0.1/", false, $c);
$status = $http_response_header[0] ?? "no answer";
if (!preg_match("# 200 #", $status)) { fwrite(STDERR, "home page: $status\\n"); exit(1); }'
"""

# The scheduled backup's part (stacks/schedule.py): the same two files, made in the backup pod,
# the database over the store's network (a new pod may wait for the NetworkPolicy to admit it:
# kube-router syncs its sets, so it retries), the uploads from the WordPress volume.
SCHEDULED_DUMP = f"""\
export MYSQL_PWD="$MYSQL_ROOT_PASSWORD"
for i in $(seq 60); do mariadb -h mysql -uroot -e 'SELECT 1' >/dev/null 2>&1 && break; sleep 2; done
mariadb-dump -h mysql -uroot --single-transaction --quick --routines \\
  --triggers --events "$MYSQL_DATABASE" | gzip -c > database.sql.gz
if [ -d {SCHEDULED_SITE}/wp-content/uploads ]; then tar -C {SCHEDULED_SITE}/wp-content -czf uploads.tar.gz uploads
else mkdir -p empty/uploads; tar -C empty -czf uploads.tar.gz uploads; fi
"""


def scheduled_env(credentials: str) -> list[dict]:
    """What SCHEDULED_DUMP reads: the database and its root password (the store's Secret)."""
    return [{"name": "MYSQL_DATABASE", "value": "wordpress"},
            {"name": "MYSQL_ROOT_PASSWORD", "value_from": {"secret_key_ref": {
                "name": credentials, "key": "mysql-root-password"}}}]


BACKUP = BackupShape(
    parts=(BackupPart("database.sql.gz", "mysql", DUMP_DATABASE, LOAD_DATABASE),
           BackupPart("uploads.tar.gz", "wordpress", DUMP_UPLOADS, LOAD_UPLOADS)),
    switch="wordpress", stop=STOP, start=START, converge=CONVERGE, check=CHECK, rewrite=REWRITE)
