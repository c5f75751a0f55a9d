# shellcheck shell=bash
# Sourced by the provision scripts: the root prefix everything is written under, and
# the few steps they share (packages, files, units, the femto venv).
#
# FEMTO_ROOT (default /) is the root the scripts write into. Anything other than / is a
# directory tree for inspection and tests: files and units are written there as the box
# would get them (paths inside them are the box's), and nothing is installed or started.

ROOT=${FEMTO_ROOT:-/}
ROOT=${ROOT%/} # "" for /, so "$ROOT/etc" is /etc

# Where the schedulers find Mesos when it is the real one: the master registers here.
# shellcheck disable=SC2034 # used by the scripts that source this file
MESOS_ZK_DEFAULT=zk://127.0.0.1:2181/mesos

die() {
    echo "provision: $*" >&2
    exit 1
}

note() {
    echo "provision: $*"
}

# Really provisioning this machine (not a root prefix), with systemd running it.
live() {
    [ -z "$ROOT" ] && [ -d /run/systemd/system ]
}

need_root() {
    [ -n "$ROOT" ] || [ "$(id -u)" = 0 ] ||
        die "run as root, or set FEMTO_ROOT to write into a directory"
}

# Installs the Debian packages that are missing; only on the machine itself.
apt_install() {
    [ -z "$ROOT" ] || return 0
    local missing=() package
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q ' installed$' ||
            missing+=("$package")
    done
    [ ${#missing[@]} -gt 0 ] || return 0
    note "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
}

# Makes DIR (a box path) under the root; OWNER applies on the machine itself only.
make_dir() {
    mkdir -p "$ROOT$1"
    if [ -z "$ROOT" ] && [ -n "${2:-}" ]; then
        chown "$2" "$1"
    fi
}

# A value that goes into an ExecStart line verbatim: systemd would expand % and $ in it,
# and split it at whitespace.
unit_word() {
    case $1 in
    *[%\$[:space:]]* | "") die "$2 ${1@Q} cannot go into a unit's ExecStart" ;;
    esac
    printf '%s' "$1"
}

CHANGED_UNITS=" "

# Writes the unit NAME from stdin into /etc/systemd/system under the root, remembering
# whether it changed (a changed unit is restarted, an unchanged one left running).
write_unit() {
    local path="$ROOT/etc/systemd/system/$1" text
    text=$(cat)
    mkdir -p "${path%/*}"
    if [ ! -f "$path" ] || [ "$(cat "$path")" != "$text" ]; then
        printf '%s\n' "$text" >"$path"
        CHANGED_UNITS+="$1 "
    fi
    note "unit $path"
}

# Enables and starts the units NAME..., restarting those whose file changed.
start_units() {
    live || return 0
    local unit
    systemctl daemon-reload
    systemctl enable --quiet "$@"
    for unit in "$@"; do
        if [[ $CHANGED_UNITS == *" $unit "* ]]; then
            systemctl restart "$unit"
        else
            systemctl start "$unit"
        fi
    done
}

# Stops and disables units NAME... that exist (switching between real and embedded Mesos).
retire_units() {
    local unit
    for unit in "$@"; do
        [ -f "$ROOT/etc/systemd/system/$unit" ] || continue
        if live; then
            systemctl disable --now --quiet "$unit"
        fi
        rm -f "$ROOT/etc/systemd/system/$unit"
        note "removed unit $unit"
    done
    if live; then
        systemctl daemon-reload
    fi
}

# The venv femto runs from. FEMTO_VENV names an existing one (used as it is; femto is
# installed into it only when missing); by default it is the box's own /opt/femto/venv,
# reinstalled from the synced source whenever that changed, so the box runs the checkout
# it was started from.
# shellcheck disable=SC2034 # used by the scripts that source this file
VENV=${FEMTO_VENV:-/opt/femto/venv}          # as the units name it
VENV_DIR=${FEMTO_VENV:-$ROOT/opt/femto/venv} # on this machine's disk
FEMTO_SRC=${FEMTO_SRC:-/vagrant}

ensure_venv() {
    local stamp="$VENV_DIR/.femto-installed"
    if [ -n "${FEMTO_VENV:-}" ] && [ -x "$VENV_DIR/bin/femto" ]; then
        return 0
    fi
    if [ -x "$VENV_DIR/bin/femto" ] && [ -f "$stamp" ] &&
        [ -z "$(find "$FEMTO_SRC" \( -name .git -o -name .venv -o -name .vagrant \) -prune \
            -o -type f -newer "$stamp" -print -quit)" ]; then
        return 0
    fi
    [ -f "$FEMTO_SRC/pyproject.toml" ] || die "no femto source at FEMTO_SRC=$FEMTO_SRC"
    apt_install python3-venv python3-pip
    [ -x "$VENV_DIR/bin/python" ] || python3 -m venv "$VENV_DIR"
    note "installing femto from $FEMTO_SRC into $VENV_DIR"
    "$VENV_DIR/bin/pip" install -q --disable-pip-version-check "$FEMTO_SRC"
    touch "$stamp"
}

# The system user the schedulers (and the embedded Mesos) run as.
ensure_femto_user() {
    [ -z "$ROOT" ] || return 0
    id femto >/dev/null 2>&1 ||
        useradd --system --home-dir /var/lib/femto --shell /usr/sbin/nologin femto
}
