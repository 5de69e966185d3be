"""Operators' clicks in the real Prefect UI (headless Chromium): Retry on a Completed run, Cancel on a
running one. Screenshots of each step are kept in artifacts/ui-tests/."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright
from prefect import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

from tests.integration.conftest import Clients
from tests.integration.helpers import (
    assert_model_served,
    flow_run_pid,
    persist_blocked,
    task_states,
    wait_for_rerun,
    wait_for_status,
)
from trainyard.pids import pid_alive
from trainyard.registry.runs import get_run
from trainyard.settings import PROJECT_ROOT, get_settings

pytestmark = pytest.mark.integration
SHOTS = PROJECT_ROOT / "artifacts" / "ui-tests"
# As the machine's probe runs it: no sandbox (root), and none of Chromium's own network chatter.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]  # fmt: skip


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is needed for the UI tests (.ci/run installs it: apt-get install chromium)"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(30_000)
        yield page
        browser.close()


def _open_run(page: Page, live_stack: Clients, job_id: str, shot: str) -> None:
    ui = live_stack.stack.prefect_api_url.removesuffix("/api")
    page.goto(f"{ui}/runs/flow-run/{job_id}")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(SHOTS / f"{shot}.png"))
    assert (SHOTS / f"{shot}.png").stat().st_size > 0


def test_retry_clicked_on_a_completed_run_keeps_its_model(live_stack: Clients, page: Page) -> None:
    created = live_stack.hr.post("/api/training/train/", json={"model_version": "ui-retry-v1"})
    assert created.status_code == 201, created.text
    before = assert_model_served(live_stack.hr, created.json()["training_run_id"], "ui-retry-v1")
    job_id = before["flow_run_id"]
    _open_run(page, live_stack, job_id, "retry-1-completed-run")

    page.get_by_role("button", name="Retry").first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Any task runs without a persisted result will be run again").wait_for()
    page.screenshot(path=str(SHOTS / "retry-2-dialog.png"))
    dialog.get_by_role("button", name="Retry").click()
    wait_for_rerun(job_id, previous_count=1)
    _open_run(page, live_stack, job_id, "retry-3-after")

    after = assert_model_served(live_stack.hr, created.json()["training_run_id"], "ui-retry-v1")
    assert after["model_path"] == before["model_path"] and after["accuracy"] == before["accuracy"]


def test_cancel_clicked_on_a_running_job_ends_its_process(live_stack: Clients, page: Page) -> None:
    slow = {"dataset": "churn.csv", "retrain": True, "use_cv": False,
            "hyperparameters": {"epochs": 1000, "batch_size": 16}}  # fmt: skip
    job_id = live_stack.hr.post("/train/neural-net", json=slow).json()["job_id"]
    _cancel_in_the_ui(page, live_stack, job_id, "fit-neural-net", "cancel")
    assert page.get_by_text("Cancelled").first.is_visible()


def _cancel_in_the_ui(page: Page, live_stack: Clients, job_id: str, running_task: str, shots: str) -> None:
    """Once ``running_task`` runs, click Cancel on the run's page; the job ends cancelled, its process gone."""
    deadline = time.monotonic() + 120
    while task_states(job_id).get(running_task) != "Running":
        assert time.monotonic() < deadline, task_states(job_id)
        time.sleep(0.2)
    pid = flow_run_pid(job_id)
    _open_run(page, live_stack, job_id, f"{shots}-1-running-run")
    page.get_by_role("button", name="Cancel").first.click()
    page.get_by_role("dialog").get_by_role("button", name="Confirm").click()
    body = wait_for_status(live_stack.hr, job_id, {"cancelled", "failed", "completed"}, timeout=60)
    assert body["status"] == "cancelled", body
    deadline = time.monotonic() + 15
    while pid_alive(pid):
        assert time.monotonic() < deadline, f"process {pid} survived the UI's cancel"
        time.sleep(0.2)
    _open_run(page, live_stack, job_id, f"{shots}-2-cancelled")


def test_retry_clicked_on_a_failed_run_reruns_from_cache(live_stack: Clients, page: Page) -> None:
    with persist_blocked("random-forest", "ui-retry-failed-v1"):
        created = live_stack.hr.post("/api/training/train/", json={"model_version": "ui-retry-failed-v1"})
        assert created.status_code == 500, created.text
        run_id = created.json()["training_run_id"]
        job_id = live_stack.hr.get(f"/api/training/runs/{run_id}/").json()["flow_run_id"]
        _open_run(page, live_stack, job_id, "retry-failed-1-failed-run")
        assert page.get_by_text("Failed").first.is_visible()

    page.get_by_role("button", name="Retry").first.click()
    page.screenshot(path=str(SHOTS / "retry-failed-2-dialog.png"))
    page.get_by_role("dialog").get_by_role("button", name="Retry").click()
    wait_for_rerun(job_id, previous_count=1)
    assert_model_served(live_stack.hr, run_id, "ui-retry-failed-v1")
    states = task_states(job_id)
    assert {states[s] for s in ("load-dataset", "validate-dataset", "split-dataset")} == {"Cached"}, states
    _open_run(page, live_stack, job_id, "retry-failed-3-after")


def test_artifacts_tab_renders_the_plots_and_the_progress(live_stack: Clients, page: Page) -> None:
    body = {"model_type": "xgboost", "dataset": "churn.csv", "retrain": True, "hyperparameters": {"n_estimators": 60}}
    job_id = live_stack.hr.post("/train", json=body).json()["job_id"]
    assert wait_for_status(live_stack.hr, job_id, {"completed", "failed", "cancelled"})["status"] == "completed"
    _open_run(page, live_stack, job_id, "artifacts-1-run-page")
    page.get_by_text("Artifacts", exact=True).first.click()  # the run page's tab (an li.p-tab, no ARIA role)
    for key in ("xgboost-progress", "xgboost-summary", "xgboost-per-class-metrics", "xgboost-plots"):
        page.get_by_text(key, exact=True).first.wait_for()
    page.screenshot(path=str(SHOTS / "artifacts-2-tab.png"), full_page=True)

    page.get_by_text("xgboost-progress", exact=True).first.click()  # a card opens the artifact's own page
    page.get_by_text("Progress: 100%").wait_for()
    page.screenshot(path=str(SHOTS / "artifacts-3-progress.png"), full_page=True)
    page.go_back()

    page.get_by_text("Artifacts", exact=True).first.click()
    page.get_by_text("xgboost-plots", exact=True).first.click()
    page.get_by_role("img", name="Feature importances").wait_for()
    page.wait_for_load_state("networkidle")
    rendered = page.eval_on_selector_all(
        "img[src^='data:image/png']", "els => els.map(e => [e.alt, e.naturalWidth, e.naturalHeight])"
    )
    assert {alt for alt, width, height in rendered if width > 100 and height > 100} == {
        "Confusion matrix", "ROC curve", "Precision-recall curve", "Feature importances"}, rendered  # fmt: skip
    page.screenshot(path=str(SHOTS / "artifacts-4-plots.png"), full_page=True)


def test_a_run_started_from_the_ui_form_trains_a_registered_dataset_by_name(live_stack: Clients, page: Page,
                                                                              sandbox: Path) -> None:  # fmt: skip
    """An operator registers a table, then starts a LightGBM run from its deployment's Run form in the UI
    with the table's name typed into the Dataset field."""
    from trainyard import datagen

    datagen.future_skills(seed=9, noisy=True).to_csv(sandbox / "data" / "skills_q3.csv", index=False)
    added = subprocess.run([str(Path(sys.executable).parent / "trainyard"), "datasets", "add", "skills_q3", "--file",
                            "skills_q3.csv", "--target", "future_need_level"], env=os.environ, capture_output=True,
                           text=True, timeout=120)  # fmt: skip
    assert added.returncode == 0, added.stderr
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("train-lightgbm/lightgbm")
    ui = live_stack.stack.prefect_api_url.removesuffix("/api")
    page.goto(f"{ui}/deployments/deployment/{deployment.id}/run")
    page.wait_for_load_state("networkidle")
    page.locator("textarea").first.fill("skills_q3")  # the form's first field: params.dataset
    page.screenshot(path=str(SHOTS / "own-data-1-run-form.png"), full_page=True)
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url("**/deployments/deployment/**")
    deadline = time.monotonic() + 30
    runs: list = []
    while not runs:
        assert time.monotonic() < deadline, "the form created no run"
        with get_client(sync_client=True) as client:
            runs = [r for r in client.read_flow_runs(deployment_filter=DeploymentFilter(
                id=DeploymentFilterId(any_=[deployment.id]))) if r.parameters["params"].get("dataset") == "skills_q3"]
        time.sleep(0.5)
    done = wait_for_status(live_stack.hr, str(runs[0].id), {"completed", "failed", "cancelled"})
    assert done["status"] == "completed" and done["model_type"] == "lightgbm", done
    assert Path(done["model_path"]).is_dir()
    record = get_run(str(runs[0].id))
    assert record is not None and record.dataset_path.endswith("skills_q3.csv"), record


def _score(live_stack: Clients, dataset: str, **options: object) -> str:
    if not any(m["type"] == "xgboost" for m in
               live_stack.manager.get("/train/models/available").json()["available_models"].values()):
        job = live_stack.hr.post("/train/xgboost", json={"dataset": "churn", "retrain": True,
                                                         "hyperparameters": {"n_estimators": 20}}).json()  # fmt: skip
        assert wait_for_status(live_stack.hr, job["job_id"], {"completed", "failed"})["status"] == "completed"
    started = live_stack.hr.post("/score", json={"model": "xgboost@champion", "dataset": dataset,
                                                 "alias_dataset": "churn", **options})  # fmt: skip
    assert started.status_code == 202, started.text
    return started.json()["job_id"]


def test_cancel_clicked_on_a_scoring_run_ends_it_and_writes_nothing(live_stack: Clients, page: Page,
                                                                     sandbox: Path) -> None:  # fmt: skip
    from trainyard import datagen
    from trainyard.registry.scoring import get_scoring

    datagen.churn(rows=1_000_000, seed=5).to_parquet(sandbox / "data" / "churn_big.parquet")
    job_id = _score(live_stack, "churn_big.parquet", chunk_rows=1000)
    _cancel_in_the_ui(page, live_stack, job_id, "predict-and-write", "score-cancel")
    record = get_scoring(job_id)
    assert record is not None and record.output_location is None  # nothing published for a cancelled batch
    assert not list((get_settings().artifacts_dir / "predictions").rglob(f"{job_id}.*"))


def test_retry_clicked_on_a_failed_scoring_run_scores_the_fixed_table(live_stack: Clients, page: Page,
                                                                      sandbox: Path) -> None:  # fmt: skip
    import pandas as pd

    table = pd.read_csv(sandbox / "data" / "churn.csv").drop(columns=["churn"])
    broken = table.copy()
    broken.loc[7, "months"] = -3
    broken.to_csv(sandbox / "data" / "to_score.csv", index=False)
    job_id = _score(live_stack, "to_score.csv")
    failed = wait_for_status(live_stack.hr, job_id, {"completed", "failed"})
    assert failed["status"] == "failed" and "'months'" in failed["error"] and "7 (-3" in failed["error"], failed
    assert failed["scoring"]["output_location"] is None
    table.to_csv(sandbox / "data" / "to_score.csv", index=False)  # the operator fixes the file
    _open_run(page, live_stack, job_id, "score-retry-1-failed")
    page.get_by_role("button", name="Retry").first.click()
    page.get_by_role("dialog").get_by_role("button", name="Retry").click()
    wait_for_rerun(job_id, previous_count=1)
    done = wait_for_status(live_stack.hr, job_id, {"completed", "failed"})
    assert done["status"] == "completed" and done["scoring"]["rows"] == len(table), done
    assert Path(done["scoring"]["output_location"]).is_file()
    _open_run(page, live_stack, job_id, "score-retry-2-completed")


def test_a_schedule_paused_in_the_ui_is_paused_in_trainyard_too(live_stack: Clients, page: Page,
                                                                 sandbox: Path) -> None:  # fmt: skip
    """An operator pauses a registered table's nightly retraining with its toggle on the deployment's page:
    GET /schedules says paused at once, its future runs are gone, and the next sync writes it to the spec."""
    from tests.fits import unseen_table
    from trainyard.datasets import get_spec

    unseen_table(seed=31).to_csv(sandbox / "data" / "night_shifts.csv", index=False)
    trainyard = str(Path(sys.executable).parent / "trainyard")
    added = subprocess.run([trainyard, "datasets", "add", "night_shifts", "--file", "night_shifts.csv", "--target",
                            "needs_review"], env=os.environ, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert added.returncode == 0, added.stderr
    created = live_stack.hr.post("/schedules", json={"dataset": "night_shifts", "families": ["random-forest"],
                                                     "cron": "0 1 * * *", "promote": True})  # fmt: skip
    assert created.status_code == 201, created.text
    schedule = created.json()["schedules"][0]
    assert schedule["active"] and schedule["next_run_at"]

    page.goto(schedule["prefect_ui_url"])  # the deployment's page, as GET /schedules links it
    page.wait_for_load_state("networkidle")
    card = page.locator(".deployment-schedule-card", has_text=schedule["id"])  # the card shows the schedule's id
    switch = card.get_by_role("switch")
    assert switch.get_attribute("aria-checked") == "true"
    page.screenshot(path=str(SHOTS / "schedule-1-active.png"), full_page=True)
    switch.click()
    page.wait_for_function("el => el.getAttribute('aria-checked') === 'false'", arg=switch.element_handle())
    page.screenshot(path=str(SHOTS / "schedule-2-paused.png"), full_page=True)

    deadline = time.monotonic() + 15
    while True:
        listed = {s["id"]: s for s in live_stack.manager.get("/schedules", params={"dataset": "night_shifts"})
                  .json()["schedules"]}[schedule["id"]]  # fmt: skip
        if listed["active"] is False or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert listed["active"] is False and listed["next_run_at"] is None, listed
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(schedule["deployment"])
        future = [r for r in client.read_flow_runs(deployment_filter=DeploymentFilter(
                  id=DeploymentFilterId(any_=[deployment.id])))
                  if r.parameters.get("params", {}).get("trained_by") == f"schedule:{schedule['id']}"
                  and r.state is not None and r.state.is_scheduled()]  # fmt: skip
    assert future == [], "a paused schedule's runs must be withdrawn"

    synced = subprocess.run([trainyard, "schedules", "sync"], env=os.environ, capture_output=True, text=True,
                            timeout=120)  # fmt: skip
    assert synced.returncode == 0, synced.stderr
    assert f"schedule {schedule['id']}: paused/resumed in Prefect, written to its spec" in synced.stdout
    assert get_spec("night_shifts").schedules[0].active is False  # a restart keeps it paused
    assert live_stack.hr.delete(f"/schedules/{schedule['id']}").status_code == 200
