"""The experiment database: WAL mode, trials through their states, events for the tuner, checkpoints."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from nasctl.runtime.errors import ExperimentError
from nasctl.runtime.manager._storage import Storage


def test_trial_lifecycle_and_tuner_events(tmp_path: Path) -> None:
    storage = Storage(tmp_path / "e.db", create=True)
    assert storage._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    storage.add_trial("a", 0, 0, {"x": 1})
    storage.set_running("a", None)
    storage.add_parameter("a", 1, 1, {"x": 2})
    storage.add_metric("a", 0, "intermediate", 0, 0.25)
    storage.add_metric("a", 0, "final", None, 0.5, parameters={"x": 1})
    storage.add_metric("a", 1, "final", None, {"default": 0.75, "loss": 1.0}, parameters={"x": 2})
    storage.set_architecture("a", {"k": 1})
    storage.finish_trial("a", "SUCCEEDED", exit_code=0, stderr_tail=None)
    [trial] = storage.trials()
    assert (trial.status, trial.parameter_id, trial.parameters, trial.exit_code) == ("SUCCEEDED", 0, {"x": 1}, 0)
    assert trial.value == {"default": 0.75, "loss": 1.0} and trial.default_value == 0.75
    assert trial.intermediate == [0.25] and trial.derived_architecture == {"k": 1}
    assert [p["value"] for p in trial.phases] == [0.5, {"default": 0.75, "loss": 1.0}]
    events = [(kind, pid) for _, kind, pid, _ in storage.events_after(0)]
    assert events == [("generate", 0), ("generate", 1), ("result", 0), ("result", 1), ("end", 0), ("end", 1)]
    assert storage.events_after(3)[0][1:3] == ("result", 1)
    assert storage.counts()["SUCCEEDED"] == 1 and storage.next_sequence() == 1 and storage.next_parameter_id() == 2
    storage.close()


def test_reset_drops_an_interrupted_attempt(tmp_path: Path) -> None:
    storage = Storage(tmp_path / "e.db", create=True)
    storage.add_trial("a", 0, 0, {"x": 1})
    storage.set_running("a", "0")
    storage.set_pgid("a", 12345)
    storage.add_parameter("a", 1, 1, {"x": 2})
    storage.add_metric("a", 0, "intermediate", 0, 0.25)
    storage.reset_trial("a")
    [trial] = storage.trials()
    assert trial.status == "WAITING" and trial.intermediate == [] and len(trial.phases) == 1
    assert storage.trial_pgid("a") is None and trial.attempts == 1
    with pytest.raises(ValueError, match="not a finished status"):
        storage.finish_trial("a", "RUNNING", exit_code=None, stderr_tail=None)
    storage.close()


def test_checkpoints_keep_only_the_latest(tmp_path: Path) -> None:
    storage = Storage(tmp_path / "e.db", create=True)
    assert storage.latest_checkpoint() is None
    storage.save_checkpoint(3, b"one")
    storage.save_checkpoint(5, b"two")
    assert storage.latest_checkpoint() == (5, b"two")
    assert storage._db.execute("SELECT COUNT(*) FROM checkpoints").fetchone()[0] == 1
    storage.close()


def test_readonly_open_cannot_write_and_missing_db_is_an_error(tmp_path: Path) -> None:
    Storage(tmp_path / "e.db", create=True).close()
    reader = Storage(tmp_path / "e.db", readonly=True)
    assert reader.trials() == []
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.set_meta(status="X")
    reader.close()
    with pytest.raises(ExperimentError, match="no experiment database"):
        Storage(tmp_path / "absent.db")


@pytest.mark.parametrize("folder", ["home#1", "what?mode=rwc", "100%25", "a b%"])
def test_readonly_open_escapes_uri_characters_in_the_path(tmp_path: Path, folder: str) -> None:
    path = tmp_path / folder / "e.db"
    path.parent.mkdir()
    writer = Storage(path, create=True)
    writer.set_meta(status="DONE")
    writer.close()
    reader = Storage(path, readonly=True)
    assert reader.meta("status") == "DONE"
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.set_meta(status="X")
    reader.close()


# -- scale: indexes, in-memory counts, prepared parameters ------------------------------------------

_OLD_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE trials (trial_id TEXT PRIMARY KEY, sequence INTEGER NOT NULL UNIQUE, status TEXT NOT NULL,
    exit_code INTEGER, stderr_tail TEXT, message TEXT, start_time REAL, end_time REAL,
    attempts INTEGER NOT NULL DEFAULT 0, pgid INTEGER, gpus TEXT, derived_architecture TEXT);
CREATE TABLE tuner_events (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,
    parameter_id INTEGER NOT NULL, payload TEXT NOT NULL);
INSERT INTO tuner_events(kind, parameter_id, payload) VALUES ('generate', 4, '{}');
"""


def _plan(db: sqlite3.Connection, sql: str, *args: object) -> str:
    return " ".join(row[-1] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", args))


def test_a_database_made_before_the_indexes_gets_them_on_open(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(_OLD_SCHEMA)
    old.close()
    storage = Storage(path)
    names = {row[0] for row in storage._db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"trials_status", "tuner_events_parameter"} <= names
    db = storage._db
    # The per-trial queries of the manager use them instead of scanning the tables.
    assert "tuner_events_parameter" in _plan(db, "SELECT 1 FROM tuner_events WHERE kind = 'result' AND parameter_id = ?", 4)
    assert "tuner_events_parameter" in _plan(db, "SELECT MAX(parameter_id) FROM tuner_events")
    assert "trials_status" in _plan(db, "SELECT trial_id FROM trials WHERE status IN (?) ORDER BY sequence", "WAITING")
    assert storage.next_parameter_id() == 5
    storage.close()


def test_counts_kept_in_memory_match_the_table(tmp_path: Path) -> None:
    import random

    storage = Storage(tmp_path / "e.db", create=True)
    storage.add_trial("t0", 0, 0, {"x": 0})
    storage.set_running("t0", None)
    storage.track_counts()
    reader = Storage(tmp_path / "e.db", readonly=True)
    rng = random.Random(5)
    created = 1
    for _ in range(200):
        ids = storage.trial_ids_with_status("WAITING", "RUNNING")
        action = rng.choice(["add", "run", "finish", "early", "reset"])
        if action == "add" or not ids:
            storage.add_trial(f"t{created}", created, created, {"x": created})
            created += 1
        elif action == "run":
            storage.set_running(rng.choice(ids), None)
        elif action == "finish":
            storage.finish_trial(rng.choice(ids), rng.choice(["SUCCEEDED", "FAILED", "TIMEOUT", "USER_CANCELED"]),
                                 exit_code=0, stderr_tail=None)
        elif action == "early":
            storage.early_stop_trial(rng.choice(ids), exit_code=-9, stderr_tail=None)
        else:
            storage.reset_trial(rng.choice(ids))
        assert storage.counts() == reader.counts()  # the reader counts with SQL
    assert sum(storage.counts().values()) == created
    reader.close()
    storage.close()


def test_unassigned_parameters_are_those_no_trial_ran_or_closed(tmp_path: Path) -> None:
    storage = Storage(tmp_path / "e.db", create=True)
    storage.add_generated(0, {"x": 0})
    storage.add_trial("a", 0, 0, {"x": 0}, tuner_event=False)  # prepared, then run: assigned
    storage.add_generated(1, {"x": 1})  # prepared, never run
    storage.add_generated(2, {"x": 2})
    storage.add_metric("a", 2, "final", None, 0.5, parameters={"x": 2})  # the tuner has its result: closed
    storage.add_generated(3, {"x": 3})
    assert storage.unassigned_parameters() == [(1, {"x": 1}), (3, {"x": 3})]
    assert storage.next_parameter_id() == 4
    storage.close()


def test_trials_decode_every_trials_metrics_in_order(tmp_path: Path) -> None:
    storage = Storage(tmp_path / "e.db", create=True)
    for index, trial_id in enumerate(("a", "b")):
        storage.add_trial(trial_id, index, index, {"x": index})
    for step in range(3):
        storage.add_metric("b", 1, "intermediate", step, {"default": step, "arch": [step]})
        storage.add_metric("a", 0, "intermediate", step, step / 4)
    storage.add_metric("a", 0, "final", None, 1.5, parameters={"x": 0})
    a, b = storage.trials()
    assert a.intermediate == [0.0, 0.25, 0.5] and a.value == 1.5
    assert b.intermediate == [{"default": 0, "arch": [0]}, {"default": 1, "arch": [1]}, {"default": 2, "arch": [2]}]
    assert b.value is None and b.parameters == {"x": 1}
    storage.close()
