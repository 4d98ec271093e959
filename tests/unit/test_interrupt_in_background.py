"""A pytest run started in the background by a script stops on SIGINT, through its teardowns."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import REPO_ROOT


def test_sigint_stops_a_background_pytest_run_through_its_teardown(tmp_path: Path) -> None:
    started, finished, torn_down = (tmp_path / name for name in ("started", "finished", "torn"))
    probe = tmp_path / "probe_test.py"
    probe.write_text(
        textwrap.dedent(
            f"""
            import pathlib, time
            import pytest

            @pytest.fixture
            def stack():
                yield
                pathlib.Path({str(torn_down)!r}).touch()

            def test_waits(stack):
                pathlib.Path({str(started)!r}).touch()
                time.sleep(8)
                pathlib.Path({str(finished)!r}).touch()
            """
        )
    )
    # as run-tests.sh does: a background job of a non-interactive bash, stopped with kill -INT;
    # -p tests.conftest loads the project's hooks into a run outside the tests directory
    script = textwrap.dedent(
        f"""
        {sys.executable} -m pytest -q -p no:cacheprovider -p tests.conftest {probe} \\
          >/dev/null 2>&1 &
        pid=$!
        for _ in $(seq 100); do [ -e {started} ] && break; sleep 0.1; done
        kill -INT $pid
        wait $pid
        """
    )
    subprocess.run(["bash", "-c", script], cwd=REPO_ROOT, timeout=30, check=False)
    assert started.exists()
    assert not finished.exists(), "SIGINT was ignored: the test ran to its end"
    assert torn_down.exists(), "the fixture's teardown did not run"
