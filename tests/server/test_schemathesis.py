"""schemathesis, with every check, over the OpenAPI document the running service publishes.

The real service on an ephemeral port (SQLite under tmp_path, real SMTP inbox), a real account,
and schemathesis's CLI as an outside client would run it (every check, a fixed seed: both
in schemathesis.toml): no 5xx, no answer outside the document
(statuses, content types, schemas, problem codes), schema-invalid data refused. The few checks
that cannot judge some routes are switched off narrowly in schemathesis.toml, each with why.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.server.live import LiveService

CONFIG = Path(__file__).with_name("schemathesis.toml")
ST = Path(sys.executable).with_name("st")
MAX_EXAMPLES = 25  # about a minute on two busy cores; the seed is printed to replay a failure


def test_schemathesis_finds_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    # Rate limits off (the load-test switch): a fuzzer from one address would otherwise spend
    # its run on 429s, which are documented and so would pass, but test nothing behind them.
    settings = make_settings(f"sqlite:///{tmp_path}/acctkit.db", ratelimit=False)
    with LiveService(settings) as service:
        service.sign_up("fuzzer")  # the account schemathesis.toml logs in as
        result = subprocess.run(
            [
                str(ST),
                "--config-file",
                str(CONFIG),
                "run",
                f"{service.url}/api/openapi.json",
                "--max-examples",
                str(MAX_EXAMPLES),
                "--workers",
                "2",
                "--request-timeout",
                "20",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=240,
        )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert not [a for a in service.answered if a[2] >= 500], report
    # Authenticated routes were exercised with a real token, not only refused.
    assert ("GET", "/api/me/", 200) in service.answered, report
    assert any(m == "PATCH" and s == 200 for m, _, s in service.answered), report
    assert "unhandled error" not in caplog.text, caplog.text
    assert "Traceback" not in caplog.text, caplog.text
