"""`python -m tui` and `acctkit tui`: the client against running services."""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="acctkit tui", description="Interactive client of the accounts service and devmail."
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="accounts service base URL")
    parser.add_argument("--mail-url", default="http://127.0.0.1:8025", help="devmail HTTP base URL")
    args = parser.parse_args(argv)
    # Imported here so `--help` does not pay for Textual.
    from tui.app import AcctkitApp

    AcctkitApp(url=args.url, mail_url=args.mail_url).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
