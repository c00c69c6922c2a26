"""The vocabulary: the ten sampling types, the mode names, relaxable options."""

from __future__ import annotations

import pytest

from nasctl.searchspace import MODES, SAMPLING_ARITY, SAMPLING_TYPES, normalize_mode, relaxable_options


def test_ten_sampling_types_with_their_arity() -> None:
    assert len(SAMPLING_TYPES) == 10 and SAMPLING_TYPES[0] == "choice"
    assert {SAMPLING_ARITY[t] for t in SAMPLING_TYPES if t.startswith("q")} == {3}
    assert SAMPLING_ARITY["randint"] == 2 and SAMPLING_ARITY["choice"] is None


@pytest.mark.parametrize(("name", "canonical"), [
    ("classic", "classic"), ("darts_mode", "darts"), (" ENAS_mode ", "enas"), ("oneshot", "oneshot")])
def test_mode_names_normalise_to_the_canonical_one(name: str, canonical: str) -> None:
    assert normalize_mode(name) == canonical
    assert canonical in MODES


def test_an_unknown_mode_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown NAS mode 'fast'; expected one of: classic, .*darts_mode"):
        normalize_mode("fast")
    with pytest.raises(ValueError, match="unknown NAS mode 3"):
        normalize_mode(3)  # type: ignore[arg-type]


def test_a_registry_accepts_modes_it_does_not_know_yet() -> None:
    assert normalize_mode("recording_mode", known=None) == "recording"
    assert normalize_mode("spos", known=("spos",)) == "spos"
    with pytest.raises(ValueError, match="a NAS mode is a name, got None"):
        normalize_mode(None, known=None)  # type: ignore[arg-type]


def test_only_distinct_numbers_relax() -> None:
    assert relaxable_options([8, 16]) and relaxable_options([0.5, 1])
    assert not relaxable_options([]) and not relaxable_options([8, 8]) and not relaxable_options(["a", "b"])
    assert not relaxable_options([True, 2])
