#!/usr/bin/env bash
# femto: a venv installed from the synced source, an API token generated once, and two
# schedulers as systemd units (femto-PORT.service), which elect a leader in ZooKeeper.
# The token reaches femto through --api-token-file, never a command line; it is printed
# at the end.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
need_root

case ${FEMTO_MESOS:-real} in
embedded) default_master=127.0.0.1:5050 ;;
*) default_master=$MESOS_ZK_DEFAULT ;;
esac
MASTER=$(unit_word "${FEMTO_MASTER:-$default_master}" FEMTO_MASTER)
ZK=$(unit_word "${FEMTO_ZK:-127.0.0.1:2181/femto}" FEMTO_ZK)
STORE=$(unit_word "${FEMTO_STORE:-mongodb://127.0.0.1/femto}" FEMTO_STORE)
# All interfaces in the box, so the forwarded ports reach the schedulers; with a token,
# as femto requires beyond loopback.
HOST=$(unit_word "${FEMTO_LISTEN_HOST:-0.0.0.0}" FEMTO_LISTEN_HOST)
read -r -a PORTS <<<"${FEMTO_PORTS:-8080 8081}"
TOKEN_FILE=/etc/femto/token

ensure_femto_user
ensure_venv

make_dir /etc/femto
if [ ! -s "$ROOT$TOKEN_FILE" ]; then
    (
        umask 077
        head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$ROOT$TOKEN_FILE"
    )
fi
if [ -z "$ROOT" ]; then
    chown root:femto "$TOKEN_FILE"
    chmod 0640 "$TOKEN_FILE"
fi

units=()
for port in "${PORTS[@]}"; do
    port=$(unit_word "$port" FEMTO_PORTS)
    make_dir "/var/lib/femto/$port" femto:femto
    write_unit "femto-$port.service" <<UNIT
[Unit]
Description=femto scheduler on port $port (one of ${#PORTS[@]}; ZooKeeper elects the leader)
After=network-online.target zookeeper.service mongod.service mesos-master.service femto-localmesos.service
Wants=network-online.target

[Service]
User=femto
Group=femto
ExecStart=$VENV/bin/femto --log-level INFO serve --master $MASTER --zk $ZK --store $STORE --listen $HOST:$port --api-token-file $TOKEN_FILE --state-dir /var/lib/femto/$port
# Also after a SIGKILL (the demo's leader kill): it comes back as a standby.
Restart=on-failure
RestartSec=2

[Install]
WantedBy=multi-user.target
UNIT
    units+=("femto-$port.service")
done
start_units "${units[@]}"

note "femto schedulers: ${PORTS[*]/#/http://127.0.0.1:} (units ${units[*]})"
note "API token (in $TOKEN_FILE): $(cat "$ROOT$TOKEN_FILE")"
