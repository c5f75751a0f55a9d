"""Upload a transform's result partition to femto's API."""

from __future__ import annotations

import numpy as np

from femto.executor.httpio import Api, request
from femto.jobs.datasets import npy_bytes


def put_output(url: str, array: np.ndarray, api: Api) -> None:
    """PUT `array` as .npy to `url` (or a mirror); TransferError when it cannot be delivered."""
    request(api, "PUT", url, content=npy_bytes(array), content_type="application/octet-stream")
