<?php
// Check one uploaded file against a hash check service before accepting it, failing closed.
// Only the file's hashes (MD5, SHA-1, SHA-256) are sent, never the file. Needs nothing beyond
// PHP's core (no curl extension).
//
// In an upload handler:
//     require 'check-upload.php';
//     $verdict = hashcheck_check_file($_FILES['photo']['tmp_name']);
//     if ($verdict !== 'no_match') { /* refuse: 'match' is listed, 'unchecked' try later */ }
//
// From a shell (the same exit codes as check-upload.sh):
//     HASHCHECK_SERVICE_URL=https://... HASHCHECK_CLIENT_ID=... HASHCHECK_CLIENT_SECRET=... \
//       php examples/check-upload.php FILE
// Exit 0: no match, accept.  Exit 1: the file matched, reject it.  Exit 2: it could not be
// checked (network, credentials, any unexpected answer): do not accept.

function hashcheck_check_file(string $path): string
{
    $url = getenv('HASHCHECK_SERVICE_URL');
    $id = getenv('HASHCHECK_CLIENT_ID');
    $secret = getenv('HASHCHECK_CLIENT_SECRET');
    if (!$url || !$id || !$secret || !is_readable($path)) {
        return 'unchecked';
    }
    $hashes = [
        'md5' => [hash_file('md5', $path)],
        'sha1' => [hash_file('sha1', $path)],
        'sha256' => [hash_file('sha256', $path)],
    ];
    if (in_array([false], $hashes, true)) {
        return 'unchecked';
    }
    $context = stream_context_create(['http' => [
        'method' => 'POST',
        'header' => "Content-Type: application/json\r\n"
            . 'Authorization: Basic ' . base64_encode("$id:$secret") . "\r\n",
        'content' => json_encode($hashes + ['only_matches' => true]),
        'timeout' => 10,
        'ignore_errors' => true, // read the answer of a 4xx/5xx too, to refuse it ourselves
    ]]);
    $body = @file_get_contents(rtrim($url, '/') . '/v2/check', false, $context);
    $status = isset($http_response_header[0])
        && preg_match('#^HTTP/\S+ (\d{3})#', $http_response_header[0], $m) ? (int) $m[1] : 0;
    if ($body === false || $status !== 200) {
        return 'unchecked';
    }
    $answer = json_decode($body, true);
    // Clean only when the service says it checked all three and lists no match.
    if (!is_array($answer) || ($answer['checked'] ?? null) !== 3
        || !is_array($answer['results'] ?? null)) {
        return 'unchecked';
    }
    foreach ($answer['results'] as $result) {
        if (($result['match'] ?? null) === true) {
            return 'match';
        }
        if (($result['match'] ?? null) !== false) {
            return 'unchecked';
        }
    }
    return $answer['results'] === [] ? 'no_match' : 'unchecked';
}

if (PHP_SAPI === 'cli' && realpath($argv[0] ?? '') === __FILE__) {
    if (count($argv) !== 2) {
        fwrite(STDERR, "usage: php check-upload.php FILE\n");
        exit(2);
    }
    $verdict = hashcheck_check_file($argv[1]);
    echo $verdict, "\n";
    exit(['no_match' => 0, 'match' => 1][$verdict] ?? 2);
}
