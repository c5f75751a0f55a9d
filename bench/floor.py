"""The HTTP stack's floor: a FastAPI app on uvicorn answering constant JSON on femto's
job routes, so the API benchmark's ratio shows what femto adds to the request path."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

JOB = {"id": "00000000-0000-4000-8000-000000000000", "name": "bench-count", "state": "PENDING",
       "operation": "count", "created": "2024-01-01T00:00:00.000Z", "started": None,
       "finished": None, "tasks": {"total": 1, "pending": 1, "running": 0, "finished": 0,
                                   "failed": 0},
       "attempts": 0, "result": None, "error": None}

app = FastAPI()


@app.post("/v1/jobs")
async def submit(request: Request) -> JSONResponse:
    await request.body()  # read it, as femto does, so both sides receive the same bytes
    return JSONResponse(JOB, status_code=201)


@app.get("/v1/jobs/{job_id}")
def get_job(job_id: str) -> dict[str, Any]:
    return JOB


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
