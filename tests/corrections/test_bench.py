"""``pingan bench corrections`` at a tiny size: the figures' shape, true entries generated and none missed.

Not a timed test: the benchmark's speed targets are for the full campaign on a quiet machine."""

from __future__ import annotations

import os
import queue

import numpy as np
import pytest

from pingan.corrections import bench
from pingan.corrections.benchmarks import corrections_bench, format_table


@pytest.mark.database_url  # its scratch database is of the run's kind
def test_tiny_campaign_end_to_end() -> None:
    # the alerts go to the same kind of database as the test run's (a scratch one of the bench's own)
    database = "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
    figures, table = corrections_bench(False, subjects=200, days=2, workers=1, database=database)
    assert figures["database"] == database
    for key in bench.KEYS:
        assert key in figures, key
    assert figures["subjects"] == 200 and figures["days"] == 2
    assert figures["errors"] == []
    assert figures["fixes"] > 200 * 2 * 12          # about one fix an hour per subject
    assert 0.6 < figures["fixes_per_subject_hour"] < 1.6
    assert figures["true_entries"] > 0              # the run can fail: entries were generated …
    assert figures["missed_entries"] == 0           # … and every one was warned
    assert figures["warnings"] >= figures["entrant_subjects"] > 0
    assert figures["unplanned_near"] == 0
    assert figures["false_warnings_per_1000_subject_days"] < 1.0
    # the warnings are stored as alerts, shown in the officer's queue and verified
    assert figures["alerts_stored"] == figures["alerts_opened"] > 0
    assert figures["queue_seen"] == figures["alerts_opened"]
    assert figures["queue_p95_ms"] is not None and figures["queue_p95_ms"] > 0
    assert figures["dismissed"] + figures["escalated"] == figures["alerts_opened"]
    assert figures["alerts_still_open"] == 0
    assert figures["replay_s"] > 0 and figures["fixes_per_s"] > 0
    assert "true entries missed" in table and "false warnings per 1,000 subject-days" in table


def test_truth_sees_an_entry_the_engine_must_warn() -> None:
    """The oracle on a hand-made path: two clean fixes deep inside an active core area are a true entry;
    a jump between them or a fix just inside the border is not."""
    district = bench.build_district(10)
    area = next(a for a in district if a.kind == "campaign" and not a.levels)
    subjects = bench.build_subjects(3, 10, district, entrant_share=0.0, near_share=0.0)
    rows = np.arange(3)
    truth = bench.Truth(subjects, rows, district)
    c = area.polygon.centroid
    edge = area.polygon.exterior.interpolate(0)
    t0 = bench.campaign_t0() + 3600 * 12
    # subject 0: two clean fixes at the centre; subject 1: a jump between; subject 2: 10 m inside the border
    inward = (c.x - edge.x, c.y - edge.y)
    norm = float(np.hypot(*inward))
    shallow = (edge.x + inward[0] / norm * 10, edge.y + inward[1] / norm * 10)
    row = np.array([0, 1, 2, 0, 1, 1, 2, 1])
    t = t0 + np.arange(8) * 60.0
    x = np.array([c.x, c.x, shallow[0], c.x, c.x, c.x, shallow[0], c.x])
    y = np.array([c.y, c.y, shallow[1], c.y, c.y, c.y, shallow[1], c.y])
    jump = np.array([False, False, False, False, True, False, False, False])
    truth.feed(row, t, x, y, np.zeros(8, dtype=bool), jump)
    ids = [e[0] for e in truth.entries]
    assert ids.count(int(subjects.ids[0])) == 1
    assert ids.count(int(subjects.ids[1])) == 1  # the jump broke the first run; the two fixes after it make one
    assert int(subjects.ids[2]) not in ids
    assert truth.near.all()                      # all three came within the buffer


def test_one_worker_replay_matches_its_truth() -> None:
    """A worker's replay on its own (no database): every true entry had an alert open when confirmed."""
    plan = bench.Plan(subjects=300, days=3, seed=bench.SEED, workers=1, entrant_share=0.1)
    out, done = queue.Queue(), queue.Queue()  # type: ignore[var-annotated]
    bench.replay_worker(plan, 0, out, done)
    summary = done.get_nowait()
    result = bench.outcome(plan, [summary])
    assert result["true_entries"] > 5
    assert result["missed_entries"] == 0, result["missed_sample"]
    assert result["false_warnings"] == 0, result["false_sample"]
    sent = []
    while not out.empty():
        sent += out.get_nowait()[1]
    assert sum(e[0] == "raise" for e in sent) == result["warnings"]
    # each raise carries the fixes it refers to, so the store can keep them as the alert's evidence
    assert all(len(e[8]) == len(e[5]) for e in sent if e[0] == "raise")


@pytest.mark.parametrize("size", [(0, 1), (1, 0)])
def test_sizes_must_be_positive(size: tuple[int, int]) -> None:
    with pytest.raises(ValueError):
        corrections_bench(False, subjects=size[0], days=size[1])


def test_table_has_the_figures() -> None:
    figures = {"subjects": 10, "days": 1, "replay_s": 1.0, "fixes_per_s": 10.0, "warnings": 1, "missed_entries": 0,
               "false_warnings_per_1000_subject_days": 0.0, "queue_p95_ms": 12.5, "database": "sqlite", "workers": 1,
               "core_areas": 30, "subjects_within_buffer": 1, "warned_subjects": 1}
    text = format_table(figures)
    assert "12.5" in text and "true entries missed" in text
