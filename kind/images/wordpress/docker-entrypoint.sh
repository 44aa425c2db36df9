#!/bin/bash
# storekit's WordPress entrypoint: the contract of the official `wordpress:*-apache` image.
#
# Before Apache starts: when /var/www/html (the site's volume) holds no WordPress, copy it in
# from /usr/src/wordpress, owned by www-data (uid 33); give it the standard WordPress
# .htaccess (pretty permalinks through mod_rewrite) and a wp-config.php that reads the
# database settings and the eight salts from the environment on every request, so a changed
# Secret needs no edit of the volume. Existing files are never overwritten.
set -euo pipefail

SOURCE=/usr/src/wordpress
SITE=/var/www/html

log() { printf '[entrypoint] %s\n' "$*" >&2; }

# Run a command as the site's owner: www-data when started as root, else whoever we are.
as_owner() {
  if [ "$(id -u)" = 0 ]; then setpriv --reuid=www-data --regid=www-data --init-groups "$@"; else "$@"; fi
}

populate() {
  if [ "$(id -u)" = 0 ] && [ "$(stat -c %u "$SITE")" != 33 ]; then
    chown www-data:www-data "$SITE"
  fi
  if [ ! -e "$SITE/index.php" ]; then
    log "no WordPress in $SITE: copying $(sed -n "s/^\$wp_version = '\(.*\)';/\1/p" "$SOURCE/wp-includes/version.php") from $SOURCE"
    # Into a folder beside, then moved into place with index.php last: a start killed halfway
    # copies again next time instead of serving half a WordPress.
    local work=$SITE/.storekit-copy entry
    rm -rf "$work"
    as_owner cp -r --preserve=mode,timestamps "$SOURCE/." "$work/"
    rm -f "$work/wp-config-storekit.php"
    for entry in "$work"/* "$work"/.[!.]*; do
      if [ ! -e "$entry" ] || [ "$entry" = "$work/index.php" ]; then continue; fi
      if [ -e "$SITE/${entry##*/}" ]; then  # already there (an earlier start, a mounted wp-content): keep it
        as_owner cp -r -n --preserve=mode,timestamps "$entry" "$SITE/"
      else
        as_owner mv "$entry" "$SITE/"
      fi
    done
    as_owner mv "$work/index.php" "$SITE/index.php"
    rm -rf "$work"
  fi
  if [ ! -e "$SITE/.htaccess" ]; then
    as_owner tee "$SITE/.htaccess" >/dev/null <<'HTACCESS'
# BEGIN WordPress
<IfModule mod_rewrite.c>
RewriteEngine On
RewriteRule .* - [E=HTTP_AUTHORIZATION:%{HTTP:Authorization}]
RewriteBase /
RewriteRule ^index\.php$ - [L]
RewriteCond %{REQUEST_FILENAME} !-f
RewriteCond %{REQUEST_FILENAME} !-d
RewriteRule . /index.php [L]
</IfModule>
# END WordPress
HTACCESS
  fi
  if [ ! -e "$SITE/wp-config.php" ]; then
    log "writing $SITE/wp-config.php (settings from the environment: WORDPRESS_DB_*, salts)"
    # Salts missing from the environment get random values, kept in the file.
    local fallback key config
    config=$(<"$SOURCE/wp-config-storekit.php")
    for key in AUTH_KEY SECURE_AUTH_KEY LOGGED_IN_KEY NONCE_KEY AUTH_SALT SECURE_AUTH_SALT LOGGED_IN_SALT NONCE_SALT; do
      fallback=$(head -c 48 /dev/urandom | base64 -w0 | tr '+/' '-_')
      config=${config/"'random:$key'"/"'$fallback'"}
    done
    printf '%s\n' "$config" | as_owner tee "$SITE/wp-config.php" >/dev/null
    as_owner chmod 0640 "$SITE/wp-config.php"
  fi
}

case ${1:-} in
  apache2*|php-fpm*) populate ;;
esac
exec "$@"
