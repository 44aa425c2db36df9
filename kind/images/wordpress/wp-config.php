<?php
/**
 * storekit's wp-config.php for the WordPress image: every setting comes from the environment
 * (NAME, or NAME_FILE naming a file that holds it), read on every request, with the names the
 * official wordpress image uses. The entrypoint replaces each 'random:KEY' with a random value
 * when it writes this file, used only if the environment gives no salt.
 */

function storekit_env(string $name, string $default = ''): string
{
	$file = getenv($name . '_FILE');
	if ($file !== false && $file !== '') {
		return rtrim((string) file_get_contents($file), "\r\n");
	}
	$value = getenv($name);
	return $value === false ? $default : $value;
}

define('DB_NAME', storekit_env('WORDPRESS_DB_NAME', 'wordpress'));
define('DB_USER', storekit_env('WORDPRESS_DB_USER', 'wordpress'));
define('DB_PASSWORD', storekit_env('WORDPRESS_DB_PASSWORD'));
define('DB_HOST', storekit_env('WORDPRESS_DB_HOST', 'mysql'));
define('DB_CHARSET', storekit_env('WORDPRESS_DB_CHARSET', 'utf8mb4'));
define('DB_COLLATE', storekit_env('WORDPRESS_DB_COLLATE'));

define('AUTH_KEY', storekit_env('WORDPRESS_AUTH_KEY', 'random:AUTH_KEY'));
define('SECURE_AUTH_KEY', storekit_env('WORDPRESS_SECURE_AUTH_KEY', 'random:SECURE_AUTH_KEY'));
define('LOGGED_IN_KEY', storekit_env('WORDPRESS_LOGGED_IN_KEY', 'random:LOGGED_IN_KEY'));
define('NONCE_KEY', storekit_env('WORDPRESS_NONCE_KEY', 'random:NONCE_KEY'));
define('AUTH_SALT', storekit_env('WORDPRESS_AUTH_SALT', 'random:AUTH_SALT'));
define('SECURE_AUTH_SALT', storekit_env('WORDPRESS_SECURE_AUTH_SALT', 'random:SECURE_AUTH_SALT'));
define('LOGGED_IN_SALT', storekit_env('WORDPRESS_LOGGED_IN_SALT', 'random:LOGGED_IN_SALT'));
define('NONCE_SALT', storekit_env('WORDPRESS_NONCE_SALT', 'random:NONCE_SALT'));

$table_prefix = storekit_env('WORDPRESS_TABLE_PREFIX', 'wp_');

define('WP_DEBUG', storekit_env('WORDPRESS_DEBUG') !== '');

// Behind the ingress controller, TLS ends there: trust the scheme it forwards.
if (str_contains($_SERVER['HTTP_X_FORWARDED_PROTO'] ?? '', 'https')) {
	$_SERVER['HTTPS'] = 'on';
}

$storekit_extra = storekit_env('WORDPRESS_CONFIG_EXTRA');
if ($storekit_extra !== '') {
	eval($storekit_extra);
}

if (!defined('ABSPATH')) {
	define('ABSPATH', __DIR__ . '/');
}

require_once ABSPATH . 'wp-settings.php';
