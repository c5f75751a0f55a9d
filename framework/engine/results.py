"""A job's partials become its result: reduced (a query) or an output dataset (a transform).

A partial is recorded once per partition, from the TASK_FINISHED of the attempt that
produced it (first write wins); a transform's partial names that attempt, whose uploaded
blob becomes the partition of the output dataset."""

from __future__ import annotations

from typing import Any

from femto.datasets import Datasets
from femto.engine.admission import Admitted
from femto.jobs.operations.base import Query
from femto.jobs.plain import json_safe
from femto.model import Job, from_json_safe, task_key, to_json_safe
from femto.store import Store, StoreError


class ResultError(Exception):
    """The partials cannot make the job's result; the message says why."""


def output_blob(job_id: str, partition: int, attempt: int) -> str:
    """Where the output partition an attempt uploaded is kept."""
    return f"out/{job_id}/{partition}/{attempt}"


def record_partial(store: Store, job_id: str, partition: int, attempt: int,
                   value: Any) -> None:
    """First write wins: a duplicate or retried attempt never counts twice."""
    store.insert_if_absent("partials", task_key(job_id, partition), {
        "job_id": job_id, "partition": partition, "attempt": attempt,
        "value": to_json_safe(value),
    })


def stored_partials(store: Store, job_id: str) -> list[dict[str, Any]]:
    """The job's partials in partition order."""
    return sorted((from_json_safe(p) for p in store.find("partials", job_id=job_id)),
                  key=lambda p: p["partition"])


def result_of(store: Store, datasets: Datasets, job: Job, admitted: Admitted) -> dict[str, Any]:
    """The finished job's result; ResultError if its partials cannot make one."""
    if admitted.spec.standing:
        return {"dataset": job.output}  # its outputs were published as they came
    partials = stored_partials(store, job.id)
    if job.output is None:
        operation = admitted.operation
        assert isinstance(operation, Query)  # admission gives only transforms an output
        try:
            # A reducer (a plugin's too) may return NumPy values; the store takes JSON.
            result = json_safe(operation.reduce([p["value"] for p in partials],
                                                admitted.params))
        except Exception as exc:  # a reducer's failure fails this job, not the scheduler
            raise ResultError(f"reducing results failed: {exc}") from exc
        if not isinstance(result, dict):
            raise ResultError(f"reducing results failed: {operation.name} returned a "
                              f"{type(result).__name__}, not a JSON object")
        return result
    blobs = [output_blob(job.id, p["partition"], p["attempt"]) for p in partials]
    for partial, blob in zip(partials, blobs, strict=True):
        if not store.has_blob(blob):
            raise ResultError(
                f"the output of partition {partial['partition']} (attempt "
                f"{partial['attempt']}) was reported but never uploaded")
    try:
        datasets.from_outputs(job.output, job.id, [p["value"] for p in partials], blobs,
                              fmt=admitted.spec.output_format)
    except StoreError:
        raise  # not the job's fault: the update is delivered again
    except Exception as exc:
        raise ResultError(f"making output dataset {job.output!r} failed: {exc}") from exc
    return {"dataset": job.output}

