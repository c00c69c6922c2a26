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
