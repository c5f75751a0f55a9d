"""Finding the leading Mesos master.

A master spec is ``HOST:PORT``, ``http(s)://HOST:PORT`` or
``zk://[USER:PASS@]HOSTS/PATH``. For ZooKeeper, Mesos masters contend by
creating sequential ephemeral znodes ``PATH/json.info_<seq>`` holding their
MasterInfo as JSON; the lowest sequence number is the leader.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError
from kazoo.recipe.watchers import ChildrenWatch, DataWatch

logger = logging.getLogger(__name__)

LEADER_PREFIX = "json.info_"


@dataclass(frozen=True)
class MasterSpec:
    """A parsed master spec: a fixed ``url``, or ZooKeeper ``zk_hosts`` + ``zk_path``."""

    url: str | None = None
    zk_hosts: str | None = None
    zk_path: str | None = None
    zk_auth: str | None = None


def parse_master_spec(spec: str) -> MasterSpec:
    """Parse a master spec; ValueError naming what is wrong."""
    text = spec.strip()
    if text.startswith("zk://"):
        rest = text[len("zk://") :]
        hosts, slash, path = rest.partition("/")
        auth = None
        if "@" in hosts:
            auth, _, hosts = hosts.rpartition("@")
        if not hosts or not slash or not path.strip("/"):
            raise ValueError(f"malformed ZooKeeper master {spec!r}: expected zk://HOSTS/PATH")
        return MasterSpec(zk_hosts=hosts, zk_path="/" + path.strip("/"), zk_auth=auth)
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.port is None:
            raise ValueError(f"malformed master URL {spec!r}: expected http(s)://HOST:PORT")
        return MasterSpec(url=f"{parts.scheme}://{parts.hostname}:{parts.port}")
    return MasterSpec(url="http://" + _host_port(text, spec))


def redirect_target(location: str, current: str) -> str:
    """The base URL a 307 ``Location`` points to.

    Masters send ``//host:port/api/v1/scheduler``; the docs also show a bare
    ``host:port``; a full URL is accepted too. A scheme-less location keeps the
    scheme of ``current``.
    """
    scheme = urlsplit(current).scheme or "http"
    text = location.strip()
    if text.startswith("//"):
        text = f"{scheme}:{text}"
    elif "://" not in text:
        text = f"{scheme}://{text}"
    parts = urlsplit(text)
    if not parts.hostname or parts.port is None:
        raise ValueError(f"malformed redirect Location {location!r}")
    return f"{parts.scheme}://{parts.hostname}:{parts.port}"


def leader_node(children: list[str]) -> str | None:
    """The znode of the leading master: the lowest ``json.info_`` sequence number."""
    contenders = [c for c in children if c.startswith(LEADER_PREFIX)]
    numbered = [(c[len(LEADER_PREFIX) :], c) for c in contenders]
    valid = [(int(seq), c) for seq, c in numbered if seq.isdigit()]
    return min(valid)[1] if valid else None


def master_info_url(info: Mapping[str, Any]) -> str:
    """The base URL of a master from its MasterInfo JSON."""
    address = info.get("address") or {}
    host = address.get("hostname") or address.get("ip") or info.get("hostname")
    port = address.get("port") or info.get("port")
    if not host or not port:
        raise ValueError(f"MasterInfo has no usable address: {json.dumps(info)[:200]}")
    return f"http://{host}:{int(port)}"


def _host_port(text: str, spec: str) -> str:
    host, colon, port = text.rpartition(":")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"malformed master {spec!r}: expected HOST:PORT, URL or zk://HOSTS/PATH")
    return f"{host}:{port}"


class MasterDetector:
    """Tracks the current leading master's base URL (``http://host:port``).

    ``on_change(url)`` is called (on a kazoo thread for ZooKeeper) whenever the
    leader changes; ``url`` is None while no master leads.
    """

    def __init__(self, spec: str, on_change: Callable[[str | None], None] | None = None) -> None:
        self.spec = parse_master_spec(spec)
        self._on_change = on_change
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._leader: str | None = self.spec.url
        self._zk: KazooClient | None = None
        self._children_watch: ChildrenWatch | None = None

    def start(self) -> None:
        """Connect to ZooKeeper and watch the election (no-op for a fixed master)."""
        if self.spec.zk_hosts is None or self._zk is not None:
            return
        auth = [("digest", self.spec.zk_auth)] if self.spec.zk_auth else None
        self._zk = KazooClient(hosts=self.spec.zk_hosts, auth_data=auth)
        self._zk.start_async()
        # DataWatch works on a missing node, so the detector copes with a
        # path no master has created yet; it starts the children watch once
        # the node exists (and again if the node is ever recreated).
        DataWatch(self._zk, self.spec.zk_path, self._on_path)

    def stop(self) -> None:
        if self._zk is not None:
            self._zk.stop()
            self._zk.close()
            self._zk = None

    def leader(self) -> str | None:
        with self._lock:
            return self._leader

    def wait_for_leader(self, timeout: float) -> str | None:
        """The leader's URL, waiting up to ``timeout`` seconds for one to appear."""
        with self._changed:
            self._changed.wait_for(lambda: self._leader is not None, timeout)
            return self._leader

    def _on_path(self, data: bytes | None, stat: Any) -> None:
        if stat is None:
            self._children_watch = None
            self._set_leader(None)
        elif self._children_watch is None and self._zk is not None:
            self._children_watch = ChildrenWatch(self._zk, self.spec.zk_path, self._on_children)

    def _on_children(self, children: list[str]) -> None:
        self._set_leader(self._read_leader(children))

    def _read_leader(self, children: list[str]) -> str | None:
        assert self._zk is not None
        remaining = list(children)
        while remaining:
            node = leader_node(remaining)
            if node is None:
                return None
            try:
                data, _ = self._zk.get(f"{self.spec.zk_path}/{node}")
                return master_info_url(json.loads(data))
            except NoNodeError:
                # The leader vanished between listing and reading; a new
                # children event follows, but the next contender is already known.
                remaining.remove(node)
            except ValueError as exc:
                logger.error("ignoring unreadable master znode %s: %s", node, exc)
                remaining.remove(node)
        return None

    def _set_leader(self, url: str | None) -> None:
        with self._changed:
            if url == self._leader:
                return
            self._leader = url
            self._changed.notify_all()
        logger.info("leading master is now %s", url)
        if self._on_change is not None:
            self._on_change(url)
