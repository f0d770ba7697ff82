"""Environment variables are checked at start-up: the variable, the value, what is expected."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kafkaview.env import EnvError, env_bool, env_choice, env_float, env_int, env_list, env_path
from tests.helpers import BASE_DIR


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("true", True), ("YES", True), (" on ", True), ("0", False), ("Off", False)],
)
def test_env_bool_reads_the_usual_words(raw: str, expected: bool) -> None:
    assert env_bool({"X": raw}, "X", not expected) is expected


@pytest.mark.parametrize("raw", ["ture", "2", "enabled", "nein"])
def test_env_bool_refuses_a_typo_instead_of_reading_it_as_off(raw: str) -> None:
    with pytest.raises(EnvError, match=rf"X={raw!r}: expected one of 1, true"):
        env_bool({"X": raw}, "X", False)


def test_unset_or_blank_means_the_default() -> None:
    assert env_bool({}, "X", True) is True
    assert env_float({"X": "  "}, "X", 3.0) == 3.0
    assert env_int({}, "X", 7) == 7
    assert env_list({}, "X", "a, b,,c") == ["a", "b", "c"]
    assert env_path({}, "X", Path("/tmp")) == Path("/tmp")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("abc", "expected a number"),
        ("nan", "expected a finite number"),
        ("0", "expected a number above 0"),
        ("-2", "expected a number above 0"),
    ],
)
def test_env_float_names_the_variable_and_the_bad_value(raw: str, message: str) -> None:
    with pytest.raises(EnvError) as info:
        env_float({"KAFKAVIEW_REQUEST_TIMEOUT": raw}, "KAFKAVIEW_REQUEST_TIMEOUT", 3.0, above=0)
    assert str(info.value).startswith(f"KAFKAVIEW_REQUEST_TIMEOUT={raw!r}: ")
    assert message in str(info.value)


def test_env_int_bounds() -> None:
    assert env_int({"P": "8080"}, "P", 8000, minimum=1, maximum=65535) == 8080
    with pytest.raises(EnvError, match="at most 65535"):
        env_int({"P": "70000"}, "P", 8000, minimum=1, maximum=65535)
    with pytest.raises(EnvError, match="whole number"):
        env_int({"P": "80.5"}, "P", 8000)


def test_env_choice_is_case_insensitive_and_returns_the_listed_spelling() -> None:
    assert env_choice({"L": "warning"}, "L", "INFO", ("INFO", "WARNING")) == "WARNING"
    with pytest.raises(EnvError, match="expected one of INFO, WARNING"):
        env_choice({"L": "loud"}, "L", "INFO", ("INFO", "WARNING"))


def test_a_bad_variable_stops_django_start_up_with_a_clear_message() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env={"PATH": "/usr/bin:/bin", "KAFKAVIEW_SAMPLE_INTERVAL": "ten"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "KAFKAVIEW_SAMPLE_INTERVAL='ten': expected a number" in result.stderr
