#!/usr/bin/env bash
# Apache Mesos for the box, as systemd units. FEMTO_MESOS=real (the default): a master and
# an agent built from a pinned apache/mesos commit (no Debian 12 package exists), the
# master registered in ZooKeeper, the agent finding it there. FEMTO_MESOS=embedded: femto's
# embedded single-node Mesos (`python -m localmesos`) in their place, up in minutes.
#
# The build follows /work/shared/real-mesos.md (Debian's libraries instead of the bundled
# ones, four source changes) and is kept: a stamp in the install prefix names the commit,
# so provisioning again does not rebuild. FEMTO_MESOS_UNITS_ONLY=1 writes the units alone;
# MESOS_CHANGES_ONLY=1 applies the source changes to the checkout at MESOS_SRC and stops
# (to see whether they still apply to another commit before building it).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
need_root

MODE=${FEMTO_MESOS:-real}
# The pinned commit: 1.12.0-dev with cgroups v2 (no release has it; 1.11.0 is from 2020).
MESOS_COMMIT=${MESOS_COMMIT:-43e65760af52dd286e30a753fd87325c1e67cd6e}
MESOS_REPO=${MESOS_REPO:-https://github.com/apache/mesos.git}
PREFIX=${MESOS_PREFIX:-/opt/mesos}
SRC=${MESOS_SRC:-/var/cache/femto/mesos}
BUILD=${MESOS_BUILD:-/var/cache/femto/mesos-build}
JOBS=${MESOS_JOBS:-$(nproc)}
MESOS_ZK=$(unit_word "${FEMTO_MESOS_ZK:-$MESOS_ZK_DEFAULT}" FEMTO_MESOS_ZK)
EMBEDDED_LISTEN=$(unit_word "${FEMTO_MESOS_LISTEN:-0.0.0.0:5050}" FEMTO_MESOS_LISTEN)

# What a master and an agent need, and nothing more (the whole tree takes hours more).
PROGRAMS=(mesos-master mesos-agent)
HELPERS=(mesos-executor mesos-containerizer mesos-fetcher mesos-default-executor
    mesos-tcp-connect mesos-io-switchboard mesos-logrotate-logger mesos-usage)

BUILD_PACKAGES=(git perl build-essential autoconf automake libtool pkg-config
    libprotobuf-dev protobuf-compiler libgrpc++-dev libgrpc-dev protobuf-compiler-grpc
    libzookeeper-mt-dev libcurl4-openssl-dev libsasl2-dev libsasl2-modules libapr1-dev
    libsvn-dev zlib1g-dev libssl-dev libev-dev libleveldb-dev libgoogle-glog-dev
    libgflags-dev libboost-dev rapidjson-dev libelf-dev libhttp-parser-dev libarchive-dev
    libre2-dev)

# One source change: in FILE, the Perl substitution SUBST, unless MARK (a fixed string
# only the changed file has) is there already. Fails when the change no longer applies.
change() {
    local file=$1 what=$2 subst=$3 mark=$4
    grep -qF -- "$mark" "$SRC/$file" && return 0
    perl -0777 -i -pe "\$n += $subst; END { exit(\$n ? 0 : 3) }" "$SRC/$file" ||
        die "source change '$what' no longer applies to $file at $MESOS_COMMIT"
    grep -qF -- "$mark" "$SRC/$file" || die "source change '$what' left no '$mark' in $file"
    note "changed $file: $what"
}

change_sources() {
    local file
    # 1. gRPC 1.51's headers need C++14; autoconf's C++11 flag comes after CXXFLAGS.
    for file in configure.ac 3rdparty/libprocess/configure.ac 3rdparty/stout/configure.ac; do
        change "$file" "C++14 for gRPC 1.51" \
            's/AX_CXX_COMPILE_STDCXX\(\[11\]/AX_CXX_COMPILE_STDCXX([14]/g' \
            'AX_CXX_COMPILE_STDCXX([14]'
    done
    # 2. The bundled ZooKeeper tarball is unpacked for `make check` even with the system one.
    change 3rdparty/Makefile.am "no bundled ZooKeeper" \
        's/^ALL_LOCAL \+= \$\(ZOOKEEPER\)-stamp$/# femto: system ZooKeeper, nothing to unpack/m' \
        '# femto: system ZooKeeper, nothing to unpack'
    # 3. protobuf 3.21's util::Status has no error_message().
    for file in include/mesos/csi/v0.hpp include/mesos/csi/v1.hpp; do
        change "$file" "protobuf 3.21 Status" \
            's/status\.error_message\(\)/status.ToString()/g' 'status.ToString()'
    done
    # 4. A cgroup2 hierarchy mounted elsewhere than /sys/fs/cgroup (a hybrid v1/v2 host:
    #    /sys/fs/cgroup/unified) made the agent's flag validation fail; skip such mounts.
    change src/linux/cgroups2.cpp "cgroup2 mounted elsewhere" \
        's/return Error\("Found cgroups2 mount at an unexpected location"\s*" \x27" \+ entry\.dir \+ "\x27"\);/continue; \/\/ femto: only MOUNT_POINT counts/' \
        'continue; // femto: only MOUNT_POINT counts'
}

build_mesos() {
    local stamp="$PREFIX/.femto-built-$MESOS_COMMIT" program
    if [ -f "$stamp" ]; then
        note "mesos $MESOS_COMMIT already built in $PREFIX"
        return 0
    fi
    [ -z "$ROOT" ] || die "building Mesos needs FEMTO_ROOT=/ (FEMTO_MESOS_UNITS_ONLY=1 writes the units alone)"
    apt_install "${BUILD_PACKAGES[@]}"
    note "building mesos $MESOS_COMMIT (about an hour on 2 cores)"
    mkdir -p "$SRC"
    [ -d "$SRC/.git" ] || git -C "$SRC" init -q
    if [ "$(git -C "$SRC" rev-parse -q --verify HEAD || true)" != "$MESOS_COMMIT" ]; then
        git -C "$SRC" fetch -q --depth 1 "$MESOS_REPO" "$MESOS_COMMIT"
        git -C "$SRC" checkout -q --force "$MESOS_COMMIT"
    fi
    change_sources
    (cd "$SRC" && ./bootstrap)
    mkdir -p "$BUILD"
    # -O0 (configure's default without --enable-optimize) keeps the build to about an hour.
    (cd "$BUILD" && "$SRC/configure" --prefix="$PREFIX" \
        --disable-java --disable-python --disable-werror \
        --with-protobuf=/usr --with-grpc=/usr --with-zookeeper=/usr --with-glog=/usr \
        --with-leveldb=/usr --with-libev=/usr --with-http-parser=/usr --with-rapidjson=/usr \
        --with-boost=/usr --with-libarchive=/usr --with-re2=/usr --with-apr=/usr \
        --with-svn=/usr --with-curl=/usr --with-sasl=/usr --with-zlib=/usr)
    make -C "$BUILD/3rdparty" -j"$JOBS"
    make -C "$BUILD/src" -j"$JOBS" "${PROGRAMS[@]}" "${HELPERS[@]}"
    # libtool installs what was built, relinked against the installed libmesos.
    install -d "$PREFIX/lib" "$PREFIX/sbin" "$PREFIX/libexec/mesos" "$PREFIX/share/mesos"
    "$BUILD/libtool" --quiet --mode=install install -c "$BUILD/src/libmesos.la" "$PREFIX/lib/libmesos.la"
    for program in "${PROGRAMS[@]}"; do
        "$BUILD/libtool" --quiet --mode=install install -c "$BUILD/src/$program" "$PREFIX/sbin/$program"
    done
    for program in "${HELPERS[@]}"; do
        "$BUILD/libtool" --quiet --mode=install install -c "$BUILD/src/$program" \
            "$PREFIX/libexec/mesos/$program"
    done
    rm -rf "$PREFIX/share/mesos/webui"
    cp -r "$SRC/src/webui" "$PREFIX/share/mesos/webui"
    touch "$stamp"
}

write_real_units() {
    write_unit mesos-master.service <<UNIT
[Unit]
Description=Apache Mesos master (registered in ZooKeeper at $MESOS_ZK)
After=network-online.target zookeeper.service
Wants=network-online.target zookeeper.service

[Service]
# All interfaces, so the forwarded port 5050 reaches the UI; advertised as 127.0.0.1,
# which the host reaches too (every forwarded port is the same number on both sides).
ExecStart=$PREFIX/sbin/mesos-master --ip=0.0.0.0 --advertise_ip=127.0.0.1 --port=5050 --zk=$MESOS_ZK --quorum=1 --registry=replicated_log --work_dir=/var/lib/mesos/master --webui_dir=$PREFIX/share/mesos/webui --cluster=femto-demo
StateDirectory=mesos/master
Restart=on-failure
RestartSec=2

[Install]
WantedBy=multi-user.target
UNIT
    write_unit mesos-agent.service <<UNIT
[Unit]
Description=Apache Mesos agent (finds the master in ZooKeeper at $MESOS_ZK)
After=network-online.target zookeeper.service mesos-master.service
Wants=network-online.target zookeeper.service

[Service]
ExecStart=$PREFIX/sbin/mesos-agent --master=$MESOS_ZK --ip=127.0.0.1 --port=5051 --work_dir=/var/lib/mesos/agent --launcher_dir=$PREFIX/libexec/mesos --containerizers=mesos --launcher=posix --isolation=posix/cpu,posix/mem --no-systemd_enable_support
StateDirectory=mesos/agent
Restart=on-failure
RestartSec=2
# As Mesos advises under systemd: restarting the agent leaves its executors running,
# and the restarted agent recovers them (femto's tasks checkpoint).
KillMode=process

[Install]
WantedBy=multi-user.target
UNIT
}

write_embedded_unit() {
    make_dir /var/lib/femto/localmesos femto:femto
    write_unit femto-localmesos.service <<UNIT
[Unit]
Description=femto's embedded single-node Mesos (python -m localmesos) in place of a real one
After=network-online.target
Wants=network-online.target

[Service]
User=femto
Group=femto
ExecStart=$VENV/bin/python -m localmesos --listen $EMBEDDED_LISTEN --agents 2 --work-dir /var/lib/femto/localmesos
Restart=on-failure
RestartSec=2

[Install]
WantedBy=multi-user.target
UNIT
}

if [ -n "${MESOS_CHANGES_ONLY:-}" ]; then
    change_sources
    exit 0
fi

case $MODE in
real)
    [ -n "${FEMTO_MESOS_UNITS_ONLY:-}" ] || build_mesos
    retire_units femto-localmesos.service
    write_real_units
    start_units mesos-master.service mesos-agent.service
    ;;
embedded)
    ensure_femto_user
    ensure_venv
    retire_units mesos-agent.service mesos-master.service
    write_embedded_unit
    start_units femto-localmesos.service
    ;;
*) die "FEMTO_MESOS must be real or embedded, not ${MODE@Q}" ;;
esac
