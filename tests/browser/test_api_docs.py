"""/docs in a real browser: Swagger UI, served by femto itself, draws every public route."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.framework.helpers import running_service


def test_the_docs_page_draws_the_api_offline(tmp_path: Path, page: Page) -> None:
    with running_service(tmp_path / "state") as (service, api):
        documented = sum(len(ops) for ops in api.get("/openapi.json").json()["paths"].values())
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        page.goto(f"{service.url}/docs")
        operations = page.locator(".opblock")
        expect(operations.first).to_be_visible()
        expect(operations).to_have_count(documented)
        expect(page.locator(".opblock-summary-path", has_text="/v1/jobs").first).to_be_visible()
        # Nothing came from anywhere but femto (this machine has no network, and a user's
        # may not either).
        assert requested and all(url.startswith(service.url) for url in requested), requested
