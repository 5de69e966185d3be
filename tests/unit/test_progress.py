"""Progress stages map each step's own count onto the run's 0..1, nested, never backwards."""

from trainyard import progress
from trainyard.progress import Reporter


def test_nested_stages_map_into_their_share_of_the_run() -> None:
    report = Reporter(None, "k")
    with report.stage("fit", 0.1, 0.5):
        report.advance(3, 10, "epochs")
        assert report.snapshot() == progress.Snapshot(0.1 + 0.3 * 0.4, "fit: 3/10 epochs")
    with report.stage("evaluate", 0.5, 1.0), report.stage("CV fold 2/4", 0.25, 0.5):
        report.advance(1, 2, "epochs")
        snapshot = report.snapshot()
    assert abs(snapshot.fraction - (0.5 + 0.5 * (0.25 + 0.125))) < 1e-9
    assert snapshot.step == "evaluate: CV fold 2/4: 1/2 epochs"


def test_progress_never_goes_backwards_and_finish_is_one() -> None:
    report = Reporter(None, "k")
    with report.stage("fit", 0.0, 1.0):
        report.advance(8, 10, "trees")
        report.advance(2, 10, "trees")  # a CV fold's fit restarting its count
        assert report.snapshot().fraction == 0.8
    report.finish()
    assert report.snapshot() == progress.Snapshot(1.0, "done")


def test_module_functions_do_nothing_without_a_reporter() -> None:
    assert progress.current() is None
    with progress.stage("fit", 0.0, 1.0):
        progress.advance(1, 2, "epochs")  # no run, no reporter: nothing to publish, nothing raised


def test_reporting_makes_the_reporter_current_for_the_fits_it_wraps() -> None:
    with progress.reporting(None, "k") as report:
        assert progress.current() is report
        with progress.stage("fit", 0.0, 0.5):
            progress.advance(1, 1, "epochs")
        assert report.snapshot().fraction == 0.5
    assert progress.current() is None
