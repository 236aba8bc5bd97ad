"""The CLI shell: an unexpected error is one plain line and a non-zero exit, never a traceback;
its frames (not its message, which may hold personal data) go to the command log."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadscore.cli import UNEXPECTED_ERROR_EXIT, app

REPO = Path(__file__).resolve().parents[2]


def _boom(*_args: object, **_kwargs: object) -> None:
    raise RuntimeError("cell value jane.doe@example.com 555-0100")


def test_an_unexpected_error_is_one_line_and_the_log_has_the_frames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADSCORE_HOME", str(tmp_path))
    monkeypatch.setattr("training.csv_import.read_export", _boom)
    result = CliRunner().invoke(app, ["score", "--csv", str(tmp_path / "leads.csv")])
    assert result.exit_code == UNEXPECTED_ERROR_EXIT
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    assert "failed unexpectedly (RuntimeError)" in lines[0]
    log = tmp_path / "logs" / "leadscore.log"
    assert str(log) in lines[0]
    text = log.read_text()
    assert "RuntimeError" in text
    assert "_boom" in text, "the stack frames are in the log"
    assert "jane.doe" not in text + result.output, "an exception message can hold personal data"


def test_an_expected_error_keeps_its_message_and_exit_code_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADSCORE_HOME", str(tmp_path))
    result = CliRunner().invoke(app, ["score", "--csv", str(tmp_path / "absent.csv")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_a_bad_setting_is_named_without_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADSCORE_PORT", "not-a-port")
    result = CliRunner().invoke(app, ["models"])
    assert result.exit_code == 2
    assert "LEADSCORE_PORT" in result.output
    assert "not-a-port" not in result.output


def test_a_real_process_prints_no_traceback_when_the_data_home_is_a_file(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    home.write_text("not a directory")
    export = tmp_path / "leads.csv"
    export.write_text("Lead Source,Converted\nweb,Yes\nphone,No\n")
    env = {
        **os.environ,
        "LEADSCORE_HOME": str(home),
        "PYTHONPATH": str(REPO),
        "TMPDIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-c", "from leadscore.cli import app; app()", "train", "--csv",
         str(export), "--target", "Converted"],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == UNEXPECTED_ERROR_EXIT, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert "the full log is in" in done.stderr
