#!/usr/bin/env bash
# MongoDB 7.0 from MongoDB's own Debian repository, its signing key checked against the
# fingerprint below, bound to 127.0.0.1 (mongod.service comes with the package).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
need_root

MAJOR=7.0
KEY_URL=https://pgp.mongodb.com/server-$MAJOR.asc
# "MongoDB 7.0 Release Signing Key <packaging@mongodb.com>"
FINGERPRINT=E58830201F7DD82CD808AA84160D26BB1785BA38
KEYRING=/usr/share/keyrings/mongodb-server-$MAJOR.gpg
LIST=/etc/apt/sources.list.d/mongodb-org-$MAJOR.list

if [ -n "$ROOT" ]; then
    note "mongodb: nothing to write under FEMTO_ROOT (the package brings its own unit)"
    exit 0
fi

# The primary key fingerprints in a key file, one a line.
fingerprints() {
    gpg --batch --no-default-keyring --show-keys --with-colons "$1" 2>/dev/null |
        awk -F: '$1 == "pub" { want = 1; next } $1 == "fpr" && want { print $10; want = 0 }'
}

apt_install ca-certificates curl gnupg
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A keyring of its own for gpg, so root's is left alone.
export GNUPGHOME="$tmp/gnupg"
mkdir -m 700 "$GNUPGHOME"
if [ ! -s "$KEYRING" ] || [ "$(fingerprints "$KEYRING")" != "$FINGERPRINT" ]; then
    curl -fsSL "$KEY_URL" -o "$tmp/key.asc"
    got=$(fingerprints "$tmp/key.asc")
    [ "$got" = "$FINGERPRINT" ] ||
        die "the key at $KEY_URL has fingerprint(s) '${got//$'\n'/ }', expected $FINGERPRINT"
    gpg --batch --dearmor <"$tmp/key.asc" >"$tmp/keyring.gpg"
    install -m 0644 "$tmp/keyring.gpg" "$KEYRING"
fi
echo "deb [ signed-by=$KEYRING ] https://repo.mongodb.org/apt/debian bookworm/mongodb-org/$MAJOR main" \
    >"$LIST"
apt_install mongodb-org-server

# The package's default already binds 127.0.0.1; make sure of it, since femto's store
# must not be reachable from the network the box is on.
if ! grep -Eq '^[[:space:]]*bindIp:[[:space:]]*127\.0\.0\.1[[:space:]]*$' /etc/mongod.conf; then
    sed -i -E 's/^([[:space:]]*bindIp:).*/\1 127.0.0.1/' /etc/mongod.conf
    grep -Eq '^[[:space:]]*bindIp:[[:space:]]*127\.0\.0\.1[[:space:]]*$' /etc/mongod.conf ||
        die "/etc/mongod.conf has no net.bindIp to set to 127.0.0.1"
    CHANGED_UNITS+="mongod.service "
fi
start_units mongod.service
