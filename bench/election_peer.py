"""`python -m bench.election_peer HOSTS PATH`: a bare kazoo election contender, the
failover benchmark's peer. It prints "leading" once elected and holds leadership until
killed; with femto's session timeout, its takeover time is ZooKeeper's own floor."""

from __future__ import annotations

import sys
import threading

from kazoo.client import KazooClient

SESSION_TIMEOUT_S = 10.0  # what framework.leadership asks ZooKeeper for


def lead() -> None:
    print("leading", flush=True)
    threading.Event().wait()


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m bench.election_peer HOSTS PATH", file=sys.stderr)
        return 2
    client = KazooClient(hosts=argv[0], timeout=SESSION_TIMEOUT_S)
    client.start(timeout=30)
    client.Election(argv[1]).run(lead)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
