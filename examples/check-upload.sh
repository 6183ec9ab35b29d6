#!/usr/bin/env bash
# Check one uploaded file against a hash check service over the legacy API, failing closed.
#   HASHCHECK_SERVICE_URL=https://... HASHCHECK_CLIENT_ID=... HASHCHECK_CLIENT_SECRET=... \
#     examples/check-upload.sh FILE
# Exit 0: no match, accept.  Exit 1: the file matched, reject it.  Exit 2: it could not be
# checked (network, credentials, any answer other than exactly true/false): do not accept.
set -u
file=${1:?usage: check-upload.sh FILE}
url=${HASHCHECK_SERVICE_URL:?set HASHCHECK_SERVICE_URL}
md5=$(md5sum -- "$file" | cut -d' ' -f1) || exit 2
answer=$(curl --silent --show-error --max-time 10 --retry 2 --fail \
  -u "${HASHCHECK_CLIENT_ID:?}:${HASHCHECK_CLIENT_SECRET:?}" \
  --data "$md5" "$url/v1/check/md5") || exit 2
case "$answer" in
  true) exit 1 ;;
  false) exit 0 ;;
  *) exit 2 ;;  # never read anything else as clean
esac
