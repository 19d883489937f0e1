#!/bin/sh
# Initialises the secrets service on first run (a passphrase seal, from the operator's file) and
# unseals every secrets replica, one by one: each replica keeps its own unsealed key in memory,
# so each is unsealed separately (docs/operations.md, "Unsealing"). Shipped in the CLI image as
# /app/unseal.sh; compose's secrets-unseal job and the Kubernetes toolbox run it.
#   GATEHOUSE_UNSEAL_PASSPHRASE_FILE  the passphrase file, or - to read it once from stdin
#   GATEHOUSE_SECRETS_REPLICAS        "host:port host:port" (compose), or
#   GATEHOUSE_SECRETS_REPLICAS_DNS    "name:port": every address the name resolves to (Kubernetes'
#                                     headless secrets-all-replicas Service, ready or not)
#   GATEHOUSE_UNSEAL_NO_INIT=1        never initialise (a sealed-but-uninitialised replica fails)
#   GATEHOUSE_CLI_BUNDLE              the CLI bundle (default /app/main.mjs, the CLI image's)
# The passphrase is read from the file by the CLI; it is never on a command line or in a log.
set -eu
umask 077
gatehouse() { node "${GATEHOUSE_CLI_BUNDLE:-/app/main.mjs}" "$@"; }
pass="${GATEHOUSE_UNSEAL_PASSPHRASE_FILE:?set GATEHOUSE_UNSEAL_PASSPHRASE_FILE (a file, or - for stdin)}"
if [ "$pass" = - ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  cat > "$tmp/passphrase"
  pass="$tmp/passphrase"
fi
replicas="${GATEHOUSE_SECRETS_REPLICAS:-}"
if [ -z "$replicas" ]; then
  dns="${GATEHOUSE_SECRETS_REPLICAS_DNS:?set GATEHOUSE_SECRETS_REPLICAS or GATEHOUSE_SECRETS_REPLICAS_DNS}"
  replicas=$(getent ahostsv4 "${dns%:*}" | awk -v port="${dns##*:}" '{ print $1 ":" port }' | sort -u)
  [ -n "$replicas" ] || { echo "unseal: ${dns%:*} resolves to no address" >&2; exit 1; }
fi
state_of() { GATEHOUSE_SECRETS_ADDR="$1" gatehouse secrets status --json 2>/dev/null | sed -n 's/.*"state":"\([A-Z_]*\)".*/\1/p'; }
for target in $replicas; do
  tries=0
  until state=$(state_of "$target") && [ -n "$state" ]; do
    tries=$((tries + 1))
    if [ "$tries" -ge 60 ]; then echo "unseal: $target does not answer SealStatus" >&2; exit 1; fi
    sleep 2
  done
  if [ "$state" = UNINITIALIZED ] && [ "${GATEHOUSE_UNSEAL_NO_INIT:-}" != 1 ]; then
    echo "unseal: initialising through $target (first run)"
    GATEHOUSE_SECRETS_ADDR="$target" gatehouse secrets init --passphrase-file "$pass" >/dev/null
    state=$(state_of "$target")
  fi
  if [ "$state" = SEALED ]; then
    GATEHOUSE_SECRETS_ADDR="$target" gatehouse secrets unseal --passphrase-file "$pass" >/dev/null
    state=$(state_of "$target")
  fi
  echo "unseal: $target is $state"
  [ "$state" = UNSEALED ] || exit 1
done
