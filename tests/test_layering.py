"""The layers point one way (also checked statically by import-linter in `make test`)."""

from __future__ import annotations

import subprocess
import sys

CORE_MODULES = [
    "core.signup",
    "core.sessions",
    "core.outbox",
    "core.smtp",
    "core.schema",
    "core.accounts",
    "core.ratelimit",
    "core.policy",
    "core.tokens",
    "core.secret",
]


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys; print('\\n'.join(sys.modules))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return set(out.split())


def test_core_imports_neither_aiohttp_nor_textual() -> None:
    loaded = _modules_after("; ".join(f"import {m}" for m in CORE_MODULES))
    assert "core.signup" in loaded
    assert not {m for m in loaded if m.split(".")[0] in {"aiohttp", "textual", "server", "tui"}}


def test_the_command_imports_its_parts_lazily() -> None:
    loaded = _modules_after("import acctkit; acctkit.build_parser().format_help()")
    heavy = {"aiohttp", "textual", "peewee", "argon2", "core", "server", "devmail", "tui", "PIL"}
    assert not {m for m in loaded if m.split(".")[0] in heavy}
    out = subprocess.run(
        [sys.executable, "-m", "acctkit", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("serve", "migrate", "createuser", "devmail", "tui", "dev"):
        assert command in out
