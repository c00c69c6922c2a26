"""One SQLite database per experiment: config, search space, trials, metrics, tuner events, checkpoints.

WAL mode with `synchronous=NORMAL`: a committed transaction survives the manager being killed at
any moment. Every method that changes state commits before it returns, so callers act only on
committed state.
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any

from nasctl.runtime.errors import ExperimentError
from nasctl.runtime.manager._kinds import (
    FINISHED_STATUSES,
    TRIAL_STATUSES,
    MetricKind,
    TrialStatus,
    TunerEvent,
)

__all__ = ["Storage", "TrialRecord", "TRIAL_STATUSES", "FINISHED_STATUSES", "DB_NAME"]

DB_NAME = "experiment.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    trial_id TEXT PRIMARY KEY,
    sequence INTEGER NOT NULL UNIQUE,
    status TEXT NOT NULL,
    exit_code INTEGER,
    stderr_tail TEXT,
    message TEXT,
    start_time REAL,
    end_time REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    pgid INTEGER,
    gpus TEXT,
    derived_architecture TEXT
);
CREATE TABLE IF NOT EXISTS parameters (
    parameter_id INTEGER PRIMARY KEY,
    trial_id TEXT NOT NULL REFERENCES trials(trial_id),
    phase INTEGER NOT NULL,
    parameters TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS metrics (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    trial_id TEXT NOT NULL REFERENCES trials(trial_id),
    parameter_id INTEGER,
    kind TEXT NOT NULL,
    sequence INTEGER,
    value TEXT NOT NULL,
    time REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tuner_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    parameter_id INTEGER NOT NULL,
    payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS quarantined_events (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    parameter_id INTEGER NOT NULL,
    payload TEXT NOT NULL,
    error TEXT NOT NULL,
    time REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id INTEGER NOT NULL,
    data BLOB NOT NULL,
    time REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pid INTEGER NOT NULL,
    start REAL NOT NULL,
    heartbeat REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS metrics_trial ON metrics(trial_id);
CREATE INDEX IF NOT EXISTS parameters_trial ON parameters(trial_id);
CREATE INDEX IF NOT EXISTS trials_status ON trials(status, sequence);
CREATE INDEX IF NOT EXISTS tuner_events_parameter ON tuner_events(parameter_id, kind);
"""
# The indexes above keep the manager's per-trial queries flat as an experiment grows: the WAITING
# trials, the largest parameter id, whether a parameter's result is known. A database made before
# they existed gets them when it is next opened for writing.


# Older versions stored NaN and infinities; they read back as null, so no export writes bare NaN.
_load_metric = json.JSONDecoder(parse_constant=lambda _name: None).decode


@dataclass
class TrialRecord:
    """One trial as stored; `value` is its final metric (a number, or a dict with `default`)."""

    trial_id: str
    sequence: int
    status: TrialStatus
    parameter_id: int | None
    parameters: dict[str, Any] | None
    value: Any = None
    intermediate: list[Any] = field(default_factory=list)
    exit_code: int | None = None
    stderr_tail: str | None = None
    message: str | None = None
    start_time: float | None = None
    end_time: float | None = None
    attempts: int = 0
    derived_architecture: dict[str, Any] | None = None
    phases: list[dict[str, Any]] = field(default_factory=list)
    # darts: the architecture weights reported over training, `{"default", "arch_weights", "step"}` each
    arch_weights: list[Any] = field(default_factory=list)
    gpus: str | None = None

    @property
    def default_value(self) -> float | None:
        """The number tuners compare: the value itself or its `default` key."""
        value = self.value
        if isinstance(value, dict):
            value = value.get("default")
        if not isinstance(value, int | float) or isinstance(value, bool):
            return None
        try:
            number = float(value)
        except OverflowError:  # stored by an older version, which did not refuse it
            return None
        return number if math.isfinite(number) else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "trial_id": self.trial_id,
            "sequence": self.sequence,
            "parameter_id": self.parameter_id,
            "parameters": self.parameters,
            "value": self.value,
            "status": self.status,
            "intermediate": list(self.intermediate),
            "exit_code": self.exit_code,
            "stderr_tail": self.stderr_tail,
            "start_time": self.start_time,
            "end_time": self.end_time,
        }
        if self.derived_architecture is not None:
            out["derived_architecture"] = self.derived_architecture
        if len(self.phases) > 1:
            out["phases"] = self.phases
        if self.arch_weights:
            out["arch_weights"] = list(self.arch_weights)
        return out


class Storage:
    """The experiment database at `path`; `readonly=True` opens it without any write.

    `track_counts()` keeps the per-status trial counts in memory, for a caller that is the
    database's only writer from then on (the manager, which holds the experiment's lock).
    """

    def __init__(self, path: str | Path, *, readonly: bool = False, create: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        if not create and not self.path.is_file():
            raise ExperimentError(f"no experiment database at {self.path}")
        if readonly:
            # A URI: `#`, `?` and `%` in the path must be escaped (NAS_HOME may hold them).
            uri = self.path.resolve().as_uri() + "?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        else:
            self._db = sqlite3.connect(str(self.path), isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        self._db.execute("PRAGMA busy_timeout=30000")
        self._counts: dict[TrialStatus, int] | None = None

    def close(self) -> None:
        self._db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, committed on exit (rolled back on an exception)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def track_counts(self) -> None:
        """Keep `counts()` in memory from now on: only this object may change trials' statuses."""
        self._counts = None
        self._counts = self.counts()

    @contextlib.contextmanager
    def _status_change(self, trial_id: str, new: TrialStatus) -> Iterator[sqlite3.Connection]:
        """A write transaction that moves `trial_id` to status `new`; the counts follow once it commits."""
        with self.transaction() as db:
            old = None
            if self._counts is not None:
                row = db.execute("SELECT status FROM trials WHERE trial_id = ?", (trial_id,)).fetchone()
                old = row[0] if row else None
            yield db
        if old is not None:
            self._moved(old, new)

    def _moved(self, old: str | None, new: TrialStatus) -> None:
        """Count one trial moved from status `old` (None: a new trial) to `new`, once committed."""
        if self._counts is None:
            return
        if old is not None:
            self._counts[old] -= 1
        self._counts[new] += 1

    # -- experiment metadata ------------------------------------------------------------------------

    def set_meta(self, **values: Any) -> None:
        with self.transaction() as db:
            db.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                           [(key, json.dumps(value)) for key, value in values.items()])

    def meta(self, key: str, default: Any = None) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def all_meta(self) -> dict[str, Any]:
        return {key: json.loads(value) for key, value in self._db.execute("SELECT key, value FROM meta")}

    # -- sessions (for the experiment's running time across resumes) --------------------------------

    def start_session(self, pid: int) -> int:
        now = time.time()
        with self.transaction() as db:
            return int(db.execute("INSERT INTO sessions(pid, start, heartbeat) VALUES (?, ?, ?)",
                                  (pid, now, now)).lastrowid)

    def heartbeat(self, session: int) -> None:
        with self.transaction() as db:
            db.execute("UPDATE sessions SET heartbeat = ? WHERE id = ?", (time.time(), session))

    def elapsed(self) -> float:
        """Seconds the experiment has run, over all manager sessions."""
        row = self._db.execute("SELECT COALESCE(SUM(heartbeat - start), 0) FROM sessions").fetchone()
        return float(row[0])

    # -- trials -------------------------------------------------------------------------------------

    def next_sequence(self) -> int:
        return int(self._db.execute("SELECT COALESCE(MAX(sequence), -1) + 1 FROM trials").fetchone()[0])

    def next_parameter_id(self) -> int:
        """A parameter id never used before (ids of dropped phases stay used: the tuner saw them)."""
        row = self._db.execute("SELECT MAX(COALESCE((SELECT MAX(parameter_id) FROM parameters), -1), "
                               "COALESCE((SELECT MAX(parameter_id) FROM tuner_events), -1)) + 1").fetchone()
        return int(row[0])

    def add_trial(self, trial_id: str, sequence: int, parameter_id: int, parameters: dict[str, Any],
                  *, tuner_event: bool = True) -> None:
        """A WAITING trial with its first parameters (and the tuner's `generate` event)."""
        payload = json.dumps(parameters)
        with self.transaction() as db:
            db.execute("INSERT INTO trials(trial_id, sequence, status) VALUES (?, ?, ?)",
                       (trial_id, sequence, TrialStatus.WAITING))
            self._insert_parameters(db, trial_id, parameter_id, 0, payload, tuner_event)
        self._moved(None, TrialStatus.WAITING)

    def add_parameter(self, trial_id: str, parameter_id: int, phase: int, parameters: dict[str, Any],
                      *, tuner_event: bool = True) -> None:
        """Another phase's parameters for a running trial (multi-phase)."""
        with self.transaction() as db:
            self._insert_parameters(db, trial_id, parameter_id, phase, json.dumps(parameters), tuner_event)

    @staticmethod
    def _insert_parameters(db: sqlite3.Connection, trial_id: str, parameter_id: int, phase: int, payload: str,
                           tuner_event: bool) -> None:
        db.execute("INSERT INTO parameters(parameter_id, trial_id, phase, parameters, created) "
                   "VALUES (?, ?, ?, ?, ?)", (parameter_id, trial_id, phase, payload, time.time()))
        if tuner_event:
            _add_event(db, TunerEvent.GENERATE, parameter_id, payload)

    def add_generated(self, parameter_id: int, parameters: dict[str, Any]) -> None:
        """The tuner's `generate` event for parameters prepared ahead of the trial that will run them."""
        with self.transaction() as db:
            _add_event(db, TunerEvent.GENERATE, parameter_id, json.dumps(parameters))

    def unassigned_parameters(self) -> list[tuple[int, dict[str, Any]]]:
        """(parameter_id, parameters) the tuner generated that no trial has run and no result or end
        closed (prepared by a manager that stopped before using them), oldest first."""
        rows = self._db.execute(
            "SELECT parameter_id, payload FROM tuner_events AS e WHERE kind = :generate "
            "AND NOT EXISTS (SELECT 1 FROM parameters AS p WHERE p.parameter_id = e.parameter_id) "
            "AND NOT EXISTS (SELECT 1 FROM tuner_events AS o WHERE o.parameter_id = e.parameter_id "
            "AND o.kind != :generate) ORDER BY id", {"generate": TunerEvent.GENERATE}).fetchall()
        return [(pid, json.loads(payload)) for pid, payload in rows]

    def trial_parameters(self, trial_id: str) -> list[tuple[int, int, dict[str, Any]]]:
        """(parameter_id, phase, parameters) of a trial, in phase order."""
        rows = self._db.execute("SELECT parameter_id, phase, parameters FROM parameters WHERE trial_id = ? "
                                "ORDER BY phase", (trial_id,)).fetchall()
        return [(pid, phase, json.loads(params)) for pid, phase, params in rows]

    def set_running(self, trial_id: str, gpus: str | None) -> None:
        with self._status_change(trial_id, TrialStatus.RUNNING) as db:
            db.execute("UPDATE trials SET status = ?, start_time = ?, end_time = NULL, exit_code = NULL, "
                       "stderr_tail = NULL, message = NULL, pgid = NULL, gpus = ?, attempts = attempts + 1 "
                       "WHERE trial_id = ?", (TrialStatus.RUNNING, time.time(), gpus, trial_id))

    def set_pgid(self, trial_id: str, pgid: int) -> None:
        with self.transaction() as db:
            db.execute("UPDATE trials SET pgid = ? WHERE trial_id = ?", (pgid, trial_id))

    def set_placement(self, trial_id: str, gpus: str | None, pgid: int | None) -> None:
        """Where a trial runs, once its training service knows: its GPUs and its process group."""
        with self.transaction() as db:
            db.execute("UPDATE trials SET gpus = ?, pgid = ? WHERE trial_id = ?", (gpus, pgid, trial_id))

    def finish_trial(self, trial_id: str, status: TrialStatus, *, exit_code: int | None, stderr_tail: str | None,
                     message: str | None = None, tuner_end: bool = True) -> None:
        """Record a trial's end (and, with `tuner_end`, the tuner's `end` event for each parameter)."""
        if status not in FINISHED_STATUSES:
            raise ValueError(f"not a finished status: {status}")
        status = TrialStatus(status)
        with self._status_change(trial_id, status) as db:
            self._set_ended(db, trial_id, status, exit_code, stderr_tail, message)
            if tuner_end:
                _add_end_events(db, trial_id, status == TrialStatus.SUCCEEDED)

    @staticmethod
    def _set_ended(db: sqlite3.Connection, trial_id: str, status: TrialStatus, exit_code: int | None,
                   stderr_tail: str | None, message: str | None) -> None:
        db.execute("UPDATE trials SET status = ?, exit_code = ?, stderr_tail = ?, message = ?, end_time = ? "
                   "WHERE trial_id = ?", (status, exit_code, stderr_tail, message, time.time(), trial_id))

    def early_stop_trial(self, trial_id: str, *, exit_code: int | None, stderr_tail: str | None,
                         message: str | None = None) -> tuple[int, dict[str, Any], Any] | None:
        """Record a trial its assessor stopped: EARLY_STOPPED, its last intermediate result as the
        tuner's `result` event, then the `end` events (not a success), in one transaction.

        Returns `(parameter_id, parameters, value)` for the tuner's `receive_trial_result`, or None
        when there is nothing to tell it (no numeric intermediate result, or the tuner has that
        parameter's result already).
        """
        told = None
        with self._status_change(trial_id, TrialStatus.EARLY_STOPPED) as db:
            self._set_ended(db, trial_id, TrialStatus.EARLY_STOPPED, exit_code, stderr_tail, message)
            rows = db.execute("SELECT parameter_id, value FROM metrics WHERE trial_id = ? AND kind = ? "
                              "ORDER BY id DESC", (trial_id, MetricKind.INTERMEDIATE)).fetchall()
            last = None
            for pid, payload in rows:
                value = json.loads(payload)
                if pid is not None and _scalar(value) is not None:
                    last = pid, value
                    break
            if last is not None:
                parameter_id, value = last
                row = db.execute("SELECT parameters FROM parameters WHERE parameter_id = ?", (parameter_id,)).fetchone()
                parameters = json.loads(row[0]) if row is not None else None
                if parameters is not None and _add_result(db, parameter_id, parameters, value):
                    told = (parameter_id, parameters, value)
            _add_end_events(db, trial_id, False)
        return told

    def reset_trial(self, trial_id: str) -> None:
        """Make an interrupted trial WAITING again: its metrics and later phases are dropped."""
        with self._status_change(trial_id, TrialStatus.WAITING) as db:
            db.execute("UPDATE trials SET status = ?, pgid = NULL, start_time = NULL, end_time = NULL, "
                       "derived_architecture = NULL WHERE trial_id = ?", (TrialStatus.WAITING, trial_id))
            db.execute("DELETE FROM metrics WHERE trial_id = ?", (trial_id,))
            db.execute("DELETE FROM parameters WHERE trial_id = ? AND phase > 0", (trial_id,))

    def add_metric(self, trial_id: str, parameter_id: int | None, kind: MetricKind, sequence: int | None, value: Any,
                   *, parameters: dict[str, Any] | None = None) -> bool:
        """Store a metric; a final one also becomes the tuner's `result` event.

        Returns whether the tuner is to be told: False for an intermediate metric, and for the final
        result of a parameter the tuner already has (reported by an attempt a killed manager lost).
        """
        payload = json.dumps(value)
        with self.transaction() as db:
            db.execute("INSERT INTO metrics(trial_id, parameter_id, kind, sequence, value, time) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (trial_id, parameter_id, kind, sequence, payload, time.time()))
            if kind != MetricKind.FINAL or parameter_id is None:
                return False
            return _add_result(db, parameter_id, parameters, value)

    def final_parameter_ids(self, trial_id: str) -> set[int]:
        """The parameter ids of a trial that have a final result stored."""
        rows = self._db.execute("SELECT DISTINCT parameter_id FROM metrics WHERE trial_id = ? AND kind = ? "
                                "AND parameter_id IS NOT NULL", (trial_id, MetricKind.FINAL)).fetchall()
        return {row[0] for row in rows}

    def set_architecture(self, trial_id: str, architecture: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.execute("UPDATE trials SET derived_architecture = ? WHERE trial_id = ?",
                       (json.dumps(architecture), trial_id))

    def trial_ids_with_status(self, *statuses: TrialStatus) -> list[str]:
        marks = ",".join("?" * len(statuses))
        rows = self._db.execute(f"SELECT trial_id FROM trials WHERE status IN ({marks}) ORDER BY sequence",
                                statuses).fetchall()
        return [row[0] for row in rows]

    def trial_sequence(self, trial_id: str) -> int:
        row = self._db.execute("SELECT sequence FROM trials WHERE trial_id = ?", (trial_id,)).fetchone()
        if row is None:
            raise ExperimentError(f"no trial {trial_id!r} in this experiment")
        return int(row[0])

    def trial_pgid(self, trial_id: str) -> int | None:
        row = self._db.execute("SELECT pgid FROM trials WHERE trial_id = ?", (trial_id,)).fetchone()
        return row[0] if row else None

    def counts(self) -> dict[TrialStatus, int]:
        """Number of trials in each status (every status present, zero if none)."""
        if self._counts is not None:
            return dict(self._counts)
        out = dict.fromkeys(TRIAL_STATUSES, 0)
        for status, count in self._db.execute("SELECT status, COUNT(*) FROM trials GROUP BY status"):
            out[TrialStatus(status)] = count
        return out

    def _metric_lists(self, condition: str, *kinds: MetricKind) -> dict[str, list[Any]]:
        """trial id -> the values of its metrics that meet `condition` (on `kinds`), in order, as one JSON decode."""
        rows = self._db.execute(f"SELECT trial_id, value FROM metrics WHERE {condition} ORDER BY trial_id, id", kinds)
        return {trial_id: _load_metric("[" + ",".join(map(itemgetter(1), group)) + "]")
                for trial_id, group in groupby(rows, itemgetter(0))}

    def trials(self) -> list[TrialRecord]:
        """Every trial in sequence order, with its parameters and metrics."""
        params: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        rows = self._db.execute(
            "SELECT trial_id, parameter_id, parameters FROM parameters ORDER BY trial_id, phase").fetchall()
        decoded = json.loads("[" + ",".join(row[2] for row in rows) + "]")
        for (trial_id, pid, _), parameters in zip(rows, decoded, strict=True):
            params.setdefault(trial_id, []).append((pid, parameters))
        finals: dict[tuple[str, int | None], Any] = {}
        for trial_id, pid, payload in self._db.execute(
                "SELECT trial_id, parameter_id, value FROM metrics WHERE kind = ? ORDER BY id", (MetricKind.FINAL,)):
            finals[(trial_id, pid)] = _load_metric(payload)
        # Each trial's intermediate values (and its architecture weights) are decoded in one call each.
        intermediate = self._metric_lists("kind NOT IN (?, ?)", MetricKind.FINAL, MetricKind.ARCH_WEIGHTS)
        arch_weights = self._metric_lists("kind = ?", MetricKind.ARCH_WEIGHTS)
        records = []
        for row in self._db.execute(
                "SELECT trial_id, sequence, status, exit_code, stderr_tail, message, start_time, end_time, "
                "attempts, derived_architecture, gpus FROM trials ORDER BY sequence"):
            trial_id, status = row[0], TrialStatus(row[2])
            phases = [{"parameter_id": pid, "parameters": p, "value": finals.get((trial_id, pid))}
                      for pid, p in params.get(trial_id, [])]
            value = None
            for phase in phases:
                if phase["value"] is not None:
                    value = phase["value"]
            if value is None:
                value = finals.get((trial_id, None))
            if value is None and status == TrialStatus.EARLY_STOPPED:  # its last intermediate result stands for it
                value = next((v for v in reversed(intermediate.get(trial_id, [])) if _scalar(v) is not None), None)
            first = phases[0] if phases else {"parameter_id": None, "parameters": None}
            records.append(TrialRecord(
                trial_id=trial_id, sequence=row[1], status=status, exit_code=row[3], stderr_tail=row[4],
                message=row[5], start_time=row[6], end_time=row[7], attempts=row[8],
                derived_architecture=json.loads(row[9]) if row[9] else None,
                parameter_id=first["parameter_id"], parameters=first["parameters"], value=value,
                intermediate=intermediate.get(trial_id, []), phases=phases,
                arch_weights=arch_weights.get(trial_id, []), gpus=row[10]))
        return records

    # -- tuner events and checkpoints -----------------------------------------------------------------

    def last_event_id(self) -> int:
        return int(self._db.execute("SELECT COALESCE(MAX(id), 0) FROM tuner_events").fetchone()[0])

    def events_after(self, event_id: int) -> list[tuple[int, TunerEvent, int, Any]]:
        """(id, kind, parameter_id, payload) of the tuner events after `event_id`, in order."""
        rows = self._db.execute("SELECT id, kind, parameter_id, payload FROM tuner_events WHERE id > ? ORDER BY id",
                                (event_id,)).fetchall()
        return [(eid, TunerEvent(kind), pid, json.loads(payload)) for eid, kind, pid, payload in rows]

    def quarantine_event(self, event_id: int, error: str) -> None:
        """Move a tuner event a resume cannot replay out of the replay, keeping it and why."""
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO quarantined_events(id, kind, parameter_id, payload, error, time) "
                       "SELECT id, kind, parameter_id, payload, ?, ? FROM tuner_events WHERE id = ?",
                       (error, time.time(), event_id))
            db.execute("DELETE FROM tuner_events WHERE id = ?", (event_id,))

    def quarantined_events(self) -> list[tuple[int, str, int, str]]:
        """(id, kind, parameter_id, error) of the tuner events taken out of the replay, in order."""
        return [tuple(row) for row in self._db.execute(
            "SELECT id, kind, parameter_id, error FROM quarantined_events ORDER BY id")]

    def save_checkpoint(self, event_id: int, data: bytes) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO checkpoints(event_id, data, time) VALUES (?, ?, ?)", (event_id, data, time.time()))
            db.execute("DELETE FROM checkpoints WHERE id < (SELECT MAX(id) FROM checkpoints)")

    def latest_checkpoint(self) -> tuple[int, bytes] | None:
        row = self._db.execute("SELECT event_id, data FROM checkpoints ORDER BY id DESC LIMIT 1").fetchone()
        return (int(row[0]), bytes(row[1])) if row else None


def _add_event(db: sqlite3.Connection, kind: TunerEvent, parameter_id: int, payload: str) -> None:
    db.execute("INSERT INTO tuner_events(kind, parameter_id, payload) VALUES (?, ?, ?)", (kind, parameter_id, payload))


def _add_result(db: sqlite3.Connection, parameter_id: int, parameters: dict[str, Any] | None, value: Any) -> bool:
    """The tuner's `result` event for `parameter_id`; False (nothing stored) if it has one already."""
    known = db.execute("SELECT 1 FROM tuner_events WHERE kind = ? AND parameter_id = ?",
                       (TunerEvent.RESULT, parameter_id)).fetchone()
    if known:
        return False
    _add_event(db, TunerEvent.RESULT, parameter_id, json.dumps({"parameters": parameters, "value": value}))
    return True


def _add_end_events(db: sqlite3.Connection, trial_id: str, success: bool) -> None:
    """The tuner's `end` event for each parameter the trial ran, in phase order."""
    db.execute("INSERT INTO tuner_events(kind, parameter_id, payload) "
               "SELECT ?, parameter_id, ? FROM parameters WHERE trial_id = ? ORDER BY phase",
               (TunerEvent.END, json.dumps(success), trial_id))


def _scalar(value: Any) -> float | None:
    """The number in a metric value (itself or its `default`), None if it has none or it is the darts
    backend's report of its architecture weights (not a point of the trial's learning curve)."""
    if isinstance(value, dict):
        value = value.get("default") if "arch_weights" not in value else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
