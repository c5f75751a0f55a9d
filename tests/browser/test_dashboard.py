"""The dashboard in a real browser against a live scheduler on the embedded cluster."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
from playwright.sync_api import Page, expect

from tests.framework.helpers import running_service, submit, upload, wait_done

REPO = Path(__file__).resolve().parents[2]
README_SCREENSHOT = REPO / "docs" / "dashboard.png"


def test_a_running_jobs_task_cells_change_without_a_reload(tmp_path: Path, page: Page) -> None:
    with running_service(tmp_path / "state") as (service, api):
        upload(api, "numbers", np.arange(300.0), 3)
        job = submit(api, {"name": "slow-copy", "operation": "command",
                           "params": {"argv": ["sh", "-c", "sleep 3; cat"]},
                           "inputs": ["numbers"], "resources": {"cpus": 0.25, "mem": 32}})
        page.goto(f"{service.url}/#/jobs/{job['id']}")
        cells = page.locator("#tasks [data-partition]")
        expect(cells).to_have_count(3)
        first = page.locator('#tasks [data-partition="0"]')
        expect(first).not_to_have_attribute("data-state", "FINISHED")
        page.evaluate("window.loadedOnce = true")  # gone if the page were reloaded
        expect(page.locator("body")).to_have_attribute("data-live", "live")  # the stream
        # The program reports no progress: its cell says how long it has run instead.
        expect(page.locator("#tasks .elapsed").first).to_contain_text("running")
        for partition in range(3):
            cell = page.locator(f'#tasks [data-partition="{partition}"]')
            expect(cell).to_have_attribute("data-state", "FINISHED", timeout=60_000)
            expect(cell).to_have_attribute("data-attempt", "1")
        for task in api.get(f"/v1/jobs/{job['id']}/tasks").json():
            cell = page.locator(f'#tasks [data-partition="{task["partition"]}"]')
            expect(cell.locator(".host")).to_have_text(task["attempts"][-1]["host"])
        assert page.evaluate("window.loadedOnce") is True
        expect(page.locator("#download")).to_have_text("Download slow-copy-"
                                                       f"{job['id'][:8]}.npy")


def test_the_job_page_draws_a_histogram_result(tmp_path: Path, page: Page) -> None:
    rng = np.random.default_rng(14)
    with running_service(tmp_path / "state") as (service, api):
        upload(api, "events", rng.normal(50.0, 12.0, 200_000), 8)
        job = submit(api, {"name": "pt-histogram", "operation": "histogram",
                           "params": {"bins": 50, "range": [0.0, 100.0]},
                           "inputs": ["events"], "resources": {"cpus": 0.25, "mem": 64}})
        assert wait_done(api, job["id"])["state"] == "FINISHED"
        page.goto(f"{service.url}/#/jobs/{job['id']}")
        expect(page.locator("#histogram canvas")).to_be_visible()
        expect(page.locator("#result")).to_contain_text("50 bins over [0, 100]")
        expect(page.locator('#tasks [data-state="FINISHED"]')).to_have_count(8)
        expect(page.locator("#spec")).to_contain_text('"histogram"')
        shot = tmp_path / "dashboard.png"
        page.screenshot(path=str(shot), full_page=True)
        if os.environ.get("FEMTO_UPDATE_SCREENSHOT"):  # the README's picture, made on demand
            README_SCREENSHOT.parent.mkdir(exist_ok=True)
            shutil.copy(shot, README_SCREENSHOT)


def test_the_token_prompt_keeps_a_good_token_for_the_session(tmp_path: Path, page: Page) -> None:
    with running_service(tmp_path / "state", api_token="s3cret") as (service, api):
        api.headers["Authorization"] = "Bearer s3cret"
        upload(api, "d", np.arange(4.0), 1)
        job = submit(api, {"name": "guarded", "operation": "sum", "inputs": ["d"]})
        wait_done(api, job["id"])
        page.goto(f"{service.url}/")
        dialog = page.locator("#token-dialog")
        expect(dialog).to_be_visible()
        page.fill("#token-input", "wrong")
        page.click("#token-save")
        expect(page.locator("#token-problem")).to_contain_text("refused")
        expect(dialog).to_be_visible()
        page.fill("#token-input", "s3cret")
        page.click("#token-save")
        expect(dialog).to_be_hidden()
        expect(page.locator(f'#jobs [data-job="{job["id"]}"]')).to_contain_text("guarded")
        page.reload()  # kept in the tab's session storage
        expect(page.locator(f'#jobs [data-job="{job["id"]}"]')).to_contain_text("FINISHED")
        expect(dialog).to_be_hidden()
        assert page.evaluate("sessionStorage.getItem('femto.token')") == "s3cret"


def test_a_failed_job_shows_its_error_as_words(tmp_path: Path, page: Page) -> None:
    with running_service(tmp_path / "state") as (service, api):
        upload(api, "d", np.arange(4.0), 1)
        job = submit(api, {"name": "broken", "operation": "command", "max_retries": 0,
                           "params": {"argv": ["sh", "-c", "echo no such input >&2; exit 3"]},
                           "inputs": ["d"]})
        assert wait_done(api, job["id"])["state"] == "FAILED"
        page.goto(f"{service.url}/#/jobs/{job['id']}")
        expect(page.locator("#job-error")).to_contain_text("exited with status 3")
        failed = page.locator('#tasks [data-state="FAILED"] .message')
        expect(failed).to_contain_text("no such input")


def test_the_cluster_page_shows_the_leader_and_every_agent(tmp_path: Path, page: Page) -> None:
    with running_service(tmp_path / "state", agents=2, agent_cpus=3.0) as (service, _):
        page.goto(f"{service.url}/#/cluster")
        expect(page.locator("#schedulers")).to_contain_text(service.url)
        expect(page.locator("#schedulers")).to_contain_text("leader")
        expect(page.locator("#agents tbody tr")).to_have_count(2)
        expect(page.locator("#agents td.cpus")).to_have_text(["0 / 3", "0 / 3"])  # used / total


def test_a_job_submitted_after_the_list_loaded_appears_and_finishes_on_it(
    tmp_path: Path, page: Page,
) -> None:
    with running_service(tmp_path / "state") as (service, api):
        upload(api, "d", np.arange(10.0), 2)
        page.goto(f"{service.url}/")
        expect(page.locator("body")).to_have_attribute("data-live", "live")
        page.evaluate("window.loadedOnce = true")
        job = submit(api, {"name": "late", "operation": "command", "inputs": ["d"],
                           "params": {"argv": ["sh", "-c", "sleep 1; cat"]}})
        row = page.locator(f'#jobs [data-job="{job["id"]}"]')
        expect(row).to_contain_text("late")
        expect(row).to_contain_text("FINISHED", timeout=60_000)
        expect(row).to_contain_text("2/2 finished")
        assert page.evaluate("window.loadedOnce") is True
