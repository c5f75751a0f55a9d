"""An embedded single-node Mesos: one master and N agents in one process (see README.md)."""

from localmesos.cluster import LocalMesos

__all__ = ["LocalMesos"]
