"""Per-attempt credentials: what an executor shows to read a task's inputs and deliver its
output, instead of the users' API token.

A credential is `<mesos task id>.<HMAC of it>` under a key kept in the store, so that any
scheduler of the cluster (a new leader, a standby serving reads) can check one without a
record per attempt. It names exactly one attempt; whether that attempt may still act is
for the engine to say.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from femto.store import Store

KEY_DOC = "attempt-key"


def load_key(store: Store) -> bytes:
    """The cluster's key, made once by whichever scheduler gets there first."""
    store.insert_if_absent("meta", KEY_DOC, {"key": secrets.token_hex(32)})
    doc = store.get("meta", KEY_DOC)
    assert doc is not None, "inserted just above"
    return bytes.fromhex(doc["key"])


def _mac(key: bytes, task_id: str) -> str:
    return hmac.new(key, task_id.encode(), hashlib.sha256).hexdigest()


def issue(key: bytes, task_id: str) -> str:
    return f"{task_id}.{_mac(key, task_id)}"


def verify(key: bytes, credential: str) -> str | None:
    """The task id a credential was issued for, or None if it is not one of ours."""
    task_id, _, mac = credential.rpartition(".")
    if not task_id or not hmac.compare_digest(mac.encode(), _mac(key, task_id).encode()):
        return None
    return task_id
