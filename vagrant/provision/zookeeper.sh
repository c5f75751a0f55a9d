#!/usr/bin/env bash
# ZooKeeper from Debian's `zookeeper` package, standalone on 127.0.0.1:2181, as the
# systemd service zookeeper.service (the package itself brings no unit).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
need_root

apt_install zookeeper default-jre-headless
make_dir /var/lib/zookeeper zookeeper:zookeeper
make_dir /etc/femto
# Our own configuration, so the package's example one (a conffile) stays untouched.
cat >"$ROOT/etc/femto/zoo.cfg" <<'CFG'
tickTime=2000
initLimit=10
syncLimit=5
dataDir=/var/lib/zookeeper
clientPort=2181
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr
CFG

write_unit zookeeper.service <<'UNIT'
[Unit]
Description=ZooKeeper (standalone, 127.0.0.1:2181) for Mesos and femto's leader election
After=network.target

[Service]
User=zookeeper
ExecStart=/usr/bin/java -Xmx256m -cp /etc/zookeeper/conf:/usr/share/java/zookeeper.jar org.apache.zookeeper.server.quorum.QuorumPeerMain /etc/femto/zoo.cfg
Restart=on-failure
RestartSec=2
# ZooKeeper exits with 143 on SIGTERM: that is a clean stop.
SuccessExitStatus=143

[Install]
WantedBy=multi-user.target
UNIT
start_units zookeeper.service
