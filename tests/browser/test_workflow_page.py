"""The dashboard's workflow pages in a real browser against a live scheduler: the graph
drawn from the spec, its step nodes kept live by the event stream."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
from playwright.sync_api import Page, expect

from tests.framework.helpers import running_service, upload

REPO = Path(__file__).resolve().parents[2]
README_SCREENSHOT = REPO / "docs" / "workflow.png"

DIAMOND = {"name": "diamond", "steps": {
    "slow": {"operation": "command", "inputs": ["numbers"],
             "params": {"argv": ["sh", "-c", "sleep 4; cat"]},
             "resources": {"cpus": 0.25, "mem": 32}},
    "parity": {"operation": "real2bin", "inputs": ["numbers"]},
    "joined": {"operation": "add", "inputs": ["@slow", "@parity"]},
    "total": {"operation": "sum", "inputs": ["@joined"]},
}}
REFS = 3  # joined reads slow and parity, total reads joined


def test_a_running_workflows_nodes_change_state_without_a_reload(tmp_path: Path,
                                                                 page: Page) -> None:
    with running_service(tmp_path / "state") as (service, api):
        upload(api, "numbers", np.arange(300.0), 3)
        response = api.post("/v1/workflows", json=DIAMOND)
        assert response.status_code == 201, response.text
        workflow = response.json()
        page.goto(f"{service.url}/#/workflows/{workflow['id']}")
        nodes = page.locator("#graph g.step")
        expect(nodes).to_have_count(len(DIAMOND["steps"]))
        expect(page.locator("#graph path.edge.ref")).to_have_count(REFS)
        for ref in (("slow", "joined"), ("parity", "joined"), ("joined", "total")):
            edge = page.locator(f'#graph path.edge.ref[data-from="{ref[0]}"]'
                                f'[data-to="{ref[1]}"]')
            expect(edge).to_have_count(1)
        expect(page.locator("#graph path.edge.input")).to_have_count(2)  # from "numbers"
        total = page.locator('#graph g.step[data-step="total"]')
        expect(total).not_to_have_attribute("data-state", "FINISHED")
        page.evaluate("window.loadedOnce = true")  # gone if the page were reloaded
        expect(page.locator("body")).to_have_attribute("data-live", "live")
        # Mid-run: the quick branch done while the slow one runs, the join not yet begun.
        expect(page.locator('#graph g.step[data-step="parity"]')).to_have_attribute(
            "data-state", "FINISHED", timeout=60_000)
        expect(page.locator('#graph g.step[data-step="slow"]')).to_have_attribute(
            "data-state", "RUNNING", timeout=60_000)
        expect(page.locator('#graph g.step[data-step="joined"]')).to_have_attribute(
            "data-state", "WAITING")
        shot = tmp_path / "workflow.png"
        page.screenshot(path=str(shot), full_page=True)
        if os.environ.get("FEMTO_UPDATE_SCREENSHOT"):  # the README's picture, made on demand
            shutil.copy(shot, README_SCREENSHOT)
        for step in DIAMOND["steps"]:
            node = page.locator(f'#graph g.step[data-step="{step}"]')
            expect(node).to_have_attribute("data-state", "FINISHED", timeout=60_000)
        assert page.evaluate("window.loadedOnce") is True
        ended = api.get(f"/v1/workflows/{workflow['id']}").json()
        assert ended["state"] == "FINISHED"
        expect(page.locator("h1 .state")).to_have_text("FINISHED")
        # Each node links to its step's job, whose page links back.
        job = ended["steps"]["joined"]["job"]
        page.locator('#graph g.step[data-step="joined"]').click()
        expect(page).to_have_url(f"{service.url}/#/jobs/{job}")
        expect(page.locator("#job-workflow")).to_contain_text("step joined")


def test_the_workflows_page_lists_them_newest_first(tmp_path: Path, page: Page) -> None:
    with running_service(tmp_path / "state") as (service, api):
        upload(api, "numbers", np.arange(30.0), 1)
        quick = {"name": "first", "steps": {"total": {"operation": "sum",
                                                      "inputs": ["numbers"]}}}
        first = api.post("/v1/workflows", json=quick).json()
        page.goto(f"{service.url}/#/workflows")
        expect(page.locator("nav a.current")).to_have_text("Workflows")
        expect(page.locator(f'#workflows [data-workflow="{first["id"]}"]')).to_contain_text(
            "FINISHED", timeout=60_000)
        page.evaluate("window.loadedOnce = true")
        second = api.post("/v1/workflows", json={**quick, "name": "second"}).json()
        row = page.locator(f'#workflows [data-workflow="{second["id"]}"]')
        expect(row).to_contain_text("1/1 finished", timeout=60_000)
        expect(page.locator("#workflows tbody tr").first).to_contain_text("second")
        assert page.evaluate("window.loadedOnce") is True
        row.locator("a").click()
        expect(page.locator("#graph g.step")).to_have_count(1)


def test_a_failed_step_shows_red_its_dependents_skipped_and_the_reason(
    tmp_path: Path, page: Page,
) -> None:
    with running_service(tmp_path / "state") as (service, api):
        upload(api, "numbers", np.arange(30.0), 1)
        broken = {"name": "broken", "steps": {
            "bad": {"operation": "command", "inputs": ["numbers"], "max_retries": 0,
                    "params": {"argv": ["sh", "-c", "echo no luck >&2; exit 3"]}},
            "total": {"operation": "sum", "inputs": ["@bad"]},
        }}
        workflow = api.post("/v1/workflows", json=broken).json()
        page.goto(f"{service.url}/#/workflows/{workflow['id']}")
        expect(page.locator('#graph g.step[data-step="bad"]')).to_have_attribute(
            "data-state", "FAILED", timeout=60_000)
        expect(page.locator('#graph g.step[data-step="total"]')).to_have_attribute(
            "data-state", "SKIPPED")
        expect(page.locator("#workflow-error")).to_contain_text("step bad failed")
        expect(page.locator('#steps [data-step="total"]')).to_contain_text("SKIPPED")
