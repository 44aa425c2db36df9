<?php
/**
 * storekit's WooCommerce setup: makes a store's WordPress ready to sell, with WordPress's own
 * PHP API (no wp-cli, which no registry these machines reach serves).
 *
 * Run by the store's setup Job inside the WordPress image (the official one in production,
 * storekit's own on the test bed), on the WordPress volume, as www-data:
 *
 *     php woocommerce-setup.php
 *
 * Environment: the WordPress image's WORDPRESS_DB_* (and salts; wp-config.php reads them),
 * STORE_URL, STORE_NAME, ADMIN_USER, ADMIN_EMAIL, ADMIN_PASSWORD, and optionally
 * WORDPRESS_PATH (default /var/www/html), WOOCOMMERCE_SOURCE (`wordpress.org`, the default;
 * an http(s) URL of the plugin's zip on a mirror; or a zip file or plugin folder already in
 * the container, for air-gapped sites), WOOCOMMERCE_OPTIONAL (`true`: a store may come up
 * without WooCommerce when its source cannot be reached), SETUP_DB_ATTEMPTS and
 * SETUP_DB_DELAY (how long to wait for the database), WOOCOMMERCE_DOWNLOAD_TIMEOUT.
 *
 * Steps, each idempotent (a second run changes nothing):
 *   1. wait for the database (bounded; fails naming it and the last error);
 *   2. install WordPress if it is not (title = store name, URL, admin user), converge the
 *      site URL and the admin password (a password reset re-runs the Job);
 *   3. install WooCommerce from its source if it is not there, activate it. If the source
 *      cannot be reached: exit 3 with one line naming the source and the reason, unless
 *      WOOCOMMERCE_OPTIONAL=true: then record it (option storekit_woocommerce =
 *      "not-installed: <reason>", read by the platform) and finish with exit 0;
 *   4. with WooCommerce: the "Sample Product" (19.99, published, in stock) once, and cash on
 *      delivery enabled.
 * The outcome ("woocommerce installed: 9.4.1", "woocommerce not-installed: <reason>" or
 * "error: <reason>") also goes to /dev/termination-log (SETUP_STATUS_FILE), where Kubernetes
 * makes it part of the pod's status.
 * Steps 2, 3 and 4 run in separate PHP processes: WordPress installs with WP_INSTALLING set
 * (no plugin loads), and WooCommerce's classes exist only in a process that loaded it active.
 */

const WOOCOMMERCE_PLUGIN = 'woocommerce/woocommerce.php';
const WORDPRESS_ORG_ZIP = 'https://downloads.wordpress.org/plugin/woocommerce.latest-stable.zip';
const SAMPLE_PRODUCT = 'Sample Product';
const SAMPLE_PRICE = '19.99';

function say(string $message): void
{
	fwrite(STDOUT, "setup: $message\n");
}

// Exit codes: 1 anything that may pass on a retry (the database not up yet, ...), 3 the
// WooCommerce source cannot be reached or used (a retry will not help: a Job's
// podFailurePolicy can fail at once on it).
const EXIT_SOURCE = 3;

function fail(string $message, int $code = 1): void
{
	fwrite(STDERR, "setup: error: $message\n");
	report("error: $message");
	exit($code);
}

/**
 * The outcome, for the platform to read without the logs: Kubernetes puts what a container
 * writes to /dev/termination-log in its pod's status (containerStatuses[].state.terminated.message).
 */
function report(string $outcome): void
{
	$file = getenv('SETUP_STATUS_FILE') ?: '/dev/termination-log';
	if (is_file($file) && is_writable($file)) {
		file_put_contents($file, "$outcome\n");
	}
}

function env(string $name, ?string $default = null): string
{
	$value = getenv($name);
	if ($value === false || $value === '') {
		if ($default === null) {
			fail("$name is not set");
		}
		return $default;
	}
	return $value;
}

function is_true(string $value): bool
{
	return in_array(strtolower(trim($value)), ['1', 'true', 'yes', 'on'], true);
}

/** The Job may start as root (no securityContext): do the work as www-data, who owns the files. */
function become_www_data(): void
{
	if (!function_exists('posix_geteuid') || posix_geteuid() !== 0) {
		return;
	}
	$user = posix_getpwnam('www-data');
	if (!$user || !posix_initgroups('www-data', $user['gid']) || !posix_setgid($user['gid'])
		|| !posix_setuid($user['uid'])) {
		fail('started as root and could not become www-data; run the Job as uid 33');
	}
}

/** Step 1: the database answers (bounded retries), with the settings wp-config.php reads. */
function wait_for_database(): void
{
	$where = env('WORDPRESS_DB_HOST', 'mysql');
	[$host, $port, $socket] = [$where, 3306, null];
	if (preg_match('/^(.*):(\d+)$/', $where, $m)) {
		[$host, $port] = [$m[1], (int) $m[2]];
	} elseif (preg_match('/^(.*):(\/.*)$/', $where, $m)) {
		[$host, $socket] = [$m[1], $m[2]];
	}
	$attempts = max(1, (int) env('SETUP_DB_ATTEMPTS', '60'));
	$delay = max(0, (int) env('SETUP_DB_DELAY', '5'));
	mysqli_report(MYSQLI_REPORT_OFF);
	$error = '';
	for ($i = 1; $i <= $attempts; $i++) {
		$db = @mysqli_connect($host, env('WORDPRESS_DB_USER', 'wordpress'), env('WORDPRESS_DB_PASSWORD', ''),
			env('WORDPRESS_DB_NAME', 'wordpress'), $port, $socket);
		if ($db) {
			mysqli_close($db);
			say("the database at $where answers");
			return;
		}
		$error = mysqli_connect_error();
		// The server answered and said no: waiting will not change that.
		if (in_array(mysqli_connect_errno(), [1044, 1045, 1049], true)) {
			fail("the database at $where refuses the WordPress user: $error");
		}
		if ($i === 1) {
			say("waiting for the database at $where ($attempts attempts, $delay s apart)");
		}
		if ($i < $attempts) {
			sleep($delay);
		}
	}
	fail("the database at $where did not answer after $attempts attempts: $error");
}

/** Load WordPress from the volume as a request to the store's URL would. */
function load_wordpress(bool $installing): void
{
	$path = rtrim(env('WORDPRESS_PATH', '/var/www/html'), '/');
	foreach (['wp-load.php', 'wp-config.php'] as $file) {
		if (!is_file("$path/$file")) {
			fail("no $file in $path: the WordPress pod fills the volume on its first start");
		}
	}
	$url = parse_url(env('STORE_URL'));
	if (empty($url['host'])) {
		fail('STORE_URL must be a URL like https://shop.example.com, got ' . env('STORE_URL'));
	}
	$_SERVER['HTTP_HOST'] = $_SERVER['SERVER_NAME'] = $url['host'] . (isset($url['port']) ? ':' . $url['port'] : '');
	$_SERVER['REQUEST_URI'] = '/';
	$_SERVER['REQUEST_METHOD'] = 'GET';
	$_SERVER['SERVER_PROTOCOL'] = 'HTTP/1.1';
	if (($url['scheme'] ?? '') === 'https') {
		$_SERVER['HTTPS'] = 'on';
	}
	if ($installing) {
		define('WP_INSTALLING', true);  // as wp-admin/install.php: no redirect, no plugins
	}
	define('FS_METHOD', 'direct');      // we own the files: no FTP credentials
	require_once "$path/wp-load.php";
	require_once ABSPATH . 'wp-admin/includes/plugin.php';
	require_once ABSPATH . 'wp-admin/includes/file.php';
}

function store_url(): string
{
	return rtrim(env('STORE_URL'), '/');
}

/** Step 2: WordPress installed, its URL and the admin's password as the platform says. */
function step_wordpress(): void
{
	load_wordpress(true);
	// No mail from here: the platform hands the admin their password.
	if (!function_exists('wp_new_blog_notification')) {
		function wp_new_blog_notification($blog_title, $blog_url, $user_id, $password)
		{
		}
	}
	require_once ABSPATH . 'wp-admin/includes/upgrade.php';
	$user = env('ADMIN_USER');
	$password = env('ADMIN_PASSWORD');
	if (!is_blog_installed()) {
		// Pretty permalinks from the start (the image's .htaccess routes them), and no HTTP
		// request to the site to find out whether they work.
		$permalinks = fn() => '/%postname%/';
		add_filter('pre_option_permalink_structure', $permalinks);
		$result = wp_install(env('STORE_NAME'), $user, env('ADMIN_EMAIL'), true, '', $password);
		remove_filter('pre_option_permalink_structure', $permalinks);
		if (is_wp_error($result) || empty($result['user_id'])) {
			fail('installing WordPress failed: ' . (is_wp_error($result) ? $result->get_error_message() : 'no admin user'));
		}
		update_option('permalink_structure', '/%postname%/');
		say('WordPress ' . get_bloginfo('version') . ' installed: "' . env('STORE_NAME') . '"');
	} else {
		say('WordPress ' . get_bloginfo('version') . ' is installed');
	}
	foreach (['siteurl', 'home'] as $option) {
		if (untrailingslashit((string) get_option($option)) !== store_url()) {
			update_option($option, store_url());
			say("$option set to " . store_url());
		}
	}
	$account = get_user_by('login', $user);
	if (!$account) {
		$id = wp_insert_user(['user_login' => $user, 'user_pass' => $password,
			'user_email' => env('ADMIN_EMAIL'), 'role' => 'administrator']);
		if (is_wp_error($id)) {
			fail("creating the admin user $user failed: " . $id->get_error_message());
		}
		say("admin user $user created");
	} elseif (!wp_check_password($password, $account->user_pass, $account->ID)) {
		wp_set_password($password, $account->ID);
		say("admin password of $user set");
	} else {
		say("admin password of $user is current");
	}
}

/** Where WOOCOMMERCE_SOURCE points, as [kind, location]. */
function woocommerce_source(): array
{
	$source = env('WOOCOMMERCE_SOURCE', 'wordpress.org');
	if ($source === 'wordpress.org') {
		return ['url', WORDPRESS_ORG_ZIP];
	}
	if (preg_match('#^https?://#i', $source)) {
		return ['url', $source];
	}
	if (str_starts_with($source, '/')) {
		return ['path', $source];
	}
	fail("WOOCOMMERCE_SOURCE must be 'wordpress.org', an http(s):// URL of a zip or an absolute path, got '$source'",
		EXIT_SOURCE);
}

/** Put the plugin's files in place; return null, or why it could not. */
function install_woocommerce(string $kind, string $location): ?string
{
	global $wp_filesystem;
	if (!WP_Filesystem()) {
		return 'WordPress cannot write its plugin folder ' . WP_PLUGIN_DIR;
	}
	if ($kind === 'path' && is_dir($location)) {
		if (!is_file("$location/woocommerce.php")) {
			return "$location is a folder without woocommerce.php";
		}
		$target = WP_PLUGIN_DIR . '/woocommerce';
		$wp_filesystem->mkdir($target);
		$copied = copy_dir($location, $target);
		return is_wp_error($copied) ? $copied->get_error_message() : null;
	}
	$zip = $location;
	if ($kind === 'url') {
		// A mirror may well sit on a private address, which WordPress refuses by default.
		$host = (string) parse_url($location, PHP_URL_HOST);
		if (!filter_var($host, FILTER_VALIDATE_IP) && gethostbyname($host) === $host) {
			return "download failed: the host $host does not resolve";
		}
		add_filter('http_request_host_is_external', fn($external, $h) => $external || $h === $host, 10, 2);
		$zip = download_url($location, (int) env('WOOCOMMERCE_DOWNLOAD_TIMEOUT', '120'));
		if (is_wp_error($zip)) {
			return 'download failed: ' . $zip->get_error_message();
		}
	} elseif (!is_file($zip)) {
		return 'no such file or folder';
	}
	$unzipped = unzip_file($zip, WP_PLUGIN_DIR);
	if ($kind === 'url') {
		@unlink($zip);
	}
	if (is_wp_error($unzipped)) {
		return 'unzip failed: ' . $unzipped->get_error_message();
	}
	return is_file(WP_PLUGIN_DIR . '/' . WOOCOMMERCE_PLUGIN) ? null : 'the zip holds no woocommerce/woocommerce.php';
}

/** Step 3: WooCommerce installed and active, or (when allowed) recorded as not installed. */
function step_plugin(): void
{
	load_wordpress(false);
	$optional = is_true(env('WOOCOMMERCE_OPTIONAL', 'false'));
	if (!is_file(WP_PLUGIN_DIR . '/' . WOOCOMMERCE_PLUGIN)) {
		[$kind, $location] = woocommerce_source();
		say("installing WooCommerce from $location");
		$reason = install_woocommerce($kind, $location);
		if ($reason !== null) {
			$line = "WooCommerce could not be installed from $location: " . preg_replace('/\s+/', ' ', $reason);
			update_option('storekit_woocommerce', "not-installed: $line", false);
			if (!$optional) {
				fail($line, EXIT_SOURCE);
			}
			say("$line; WOOCOMMERCE_OPTIONAL=true, so the store runs without it");
			return;
		}
	}
	wp_clean_plugins_cache(false);
	if (!is_plugin_active(WOOCOMMERCE_PLUGIN)) {
		$activated = activate_plugin(WOOCOMMERCE_PLUGIN);
		if (is_wp_error($activated)) {
			fail('activating WooCommerce failed: ' . $activated->get_error_message());
		}
		say('WooCommerce activated');
	}
	$version = get_plugin_data(WP_PLUGIN_DIR . '/' . WOOCOMMERCE_PLUGIN, false, false)['Version'] ?: 'unknown';
	if (get_option('storekit_woocommerce') !== "installed: $version") {
		update_option('storekit_woocommerce', "installed: $version", false);
	}
	say("WooCommerce $version is active");
}

/** Step 4: the sample product (once) and cash on delivery, with WooCommerce's own classes. */
function step_store(): void
{
	load_wordpress(false);
	$state = (string) get_option('storekit_woocommerce');
	if (!str_starts_with($state, 'installed')) {
		say("store ready, WooCommerce not installed (storekit_woocommerce: $state)");
		report("woocommerce $state");
		return;
	}
	if (!class_exists('WC_Product_Simple')) {
		fail('WooCommerce is active but its product API (WC_Product_Simple) is missing');
	}
	$admin = get_user_by('login', env('ADMIN_USER'));
	if ($admin) {
		wp_set_current_user($admin->ID);
	}
	$id = (int) get_option('storekit_sample_product');
	if (!$id) {
		$existing = get_posts(['post_type' => 'product', 'title' => SAMPLE_PRODUCT, 'post_status' => 'any',
			'numberposts' => 1, 'fields' => 'ids']);
		if ($existing) {
			$id = (int) $existing[0];
			say(SAMPLE_PRODUCT . " exists (#$id)");
		} else {
			$product = new WC_Product_Simple();
			$product->set_name(SAMPLE_PRODUCT);
			$product->set_regular_price(SAMPLE_PRICE);
			$product->set_status('publish');
			$product->set_stock_status('instock');
			$id = (int) $product->save();
			if (!$id) {
				fail('creating the ' . SAMPLE_PRODUCT . ' failed');
			}
			say(SAMPLE_PRODUCT . " created (#$id, " . SAMPLE_PRICE . ')');
		}
		update_option('storekit_sample_product', $id, false);
	}
	$cod = get_option('woocommerce_cod_settings');
	$cod = is_array($cod) ? $cod : [];
	if (($cod['enabled'] ?? '') !== 'yes') {
		update_option('woocommerce_cod_settings', array_merge([
			'title' => 'Cash on delivery',
			'description' => 'Pay with cash upon delivery.',
		], $cod, ['enabled' => 'yes']));
		say('cash on delivery enabled');
	}
	say('store ready, WooCommerce ' . substr($state, strlen('installed: ')));
	report("woocommerce $state");
}

/** Run one step in a fresh PHP process; stop with its exit code when it fails. */
function run_step(string $step): void
{
	passthru(escapeshellarg(PHP_BINARY) . ' ' . escapeshellarg(__FILE__) . ' ' . escapeshellarg($step), $code);
	if ($code !== 0) {
		exit($code);
	}
}

become_www_data();
$step = $argv[1] ?? 'all';
switch ($step) {
	case 'all':
		wait_for_database();
		run_step('wordpress');
		run_step('plugin');
		run_step('store');
		break;
	case 'wordpress':
		step_wordpress();
		break;
	case 'plugin':
		step_plugin();
		break;
	case 'store':
		step_store();
		break;
	default:
		fail("unknown step '$step' (all, wordpress, plugin, store)");
}
