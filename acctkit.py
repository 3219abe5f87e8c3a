"""The `acctkit` command: dispatches to the service, the mail catcher, the TUI and admin tasks,
importing each part only when it is asked for (so `acctkit --help` is instant)."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from collections.abc import Sequence


def _settings(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from core.secret import ensure_secret_key
    from core.settings import Settings

    settings = Settings.from_env(os.environ)
    overrides = {
        k: v
        for k, v in (("host", getattr(args, "host", None)), ("port", getattr(args, "port", None)))
        if v is not None
    }
    if getattr(args, "database_url", None):
        overrides["database_url"] = args.database_url
    return ensure_secret_key(settings.replace(**overrides))


def cmd_serve(args: argparse.Namespace) -> int:
    from server.serve import serve

    return serve(_settings(args), workers=args.workers)


def cmd_migrate(args: argparse.Namespace) -> int:
    from server.serve import migrate_now

    version = migrate_now(_settings(args))
    print(f"schema at version {version}")
    return 0


def cmd_createuser(args: argparse.Namespace) -> int:
    from core import accounts, db, errors, schema
    from core.context import Context

    settings = _settings(args)
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Password (again): ") != password:
            print("Passwords do not match.", file=sys.stderr)
            return 2
    else:
        password = sys.stdin.readline().rstrip("\n")
    db.open_database(settings.database_url)
    try:
        schema.migrate()
        user = accounts.create_user(
            Context.create(settings),
            username=args.username,
            email=args.email,
            password=password,
            first_name=args.first_name,
            last_name=args.last_name,
        )
    except errors.AccountError as exc:
        print(f"{exc.code}: {exc.detail}", file=sys.stderr)
        for field, reasons in (exc.errors or {}).items():
            for reason in reasons:
                print(f"  {field}: {reason}", file=sys.stderr)
        return 1
    finally:
        db.close_database()
    print(f"created user {user.id} {user.username} <{user.email}>")
    return 0


def cmd_devmail(rest: list[str]) -> int:
    from devmail.__main__ import main as devmail_main

    return devmail_main(rest)


def cmd_tui(rest: list[str]) -> int:
    from tui.__main__ import main as tui_main

    return tui_main(rest)


def _wait_ready(url: str, children: list, timeout: float = 30.0) -> None:  # type: ignore[type-arg]
    import time
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(child.poll() is not None for child in children):
            raise SystemExit(f"a child process exited before {url} was ready; see its log above")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s")


def cmd_dev(rest: list[str]) -> int:
    """serve + devmail as children on the defaults (SQLite under ./.acctkit/), then the TUI."""
    import subprocess

    parser = argparse.ArgumentParser(prog="acctkit dev", description=cmd_dev.__doc__)
    parser.add_argument("--no-tui", action="store_true", help="run the services until Ctrl-C")
    args = parser.parse_args(rest)
    import signal

    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))  # so `finally` stops children

    api, mail = "http://127.0.0.1:8000", "http://127.0.0.1:8025"
    log_dir = os.path.join(".acctkit", "logs")
    os.makedirs(log_dir, exist_ok=True)
    commands = {"serve": ["serve"], "devmail": ["devmail", "--db", ".acctkit/devmail.db"]}
    children = []
    try:
        for name, command in commands.items():
            log = open(os.path.join(log_dir, f"{name}.log"), "ab")  # noqa: SIM115 - child owns it
            children.append(
                subprocess.Popen(
                    [sys.executable, "-m", "acctkit", *command],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        _wait_ready(api + "/healthz", children)
        _wait_ready(mail + "/livez", children)
        print(f"acctkit at {api}, devmail at {mail} (logs in {log_dir}/)", flush=True)
        if args.no_tui:
            return children[0].wait()
        from tui.__main__ import main as tui_main

        return tui_main(["--url", api, "--mail-url", mail])
    except KeyboardInterrupt:
        return 0
    finally:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="acctkit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the accounts service")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, default=1, help="processes sharing the port")
    serve.add_argument("--database-url", help="overrides ACCTKIT_DATABASE_URL")
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="create or upgrade the database schema")
    migrate.add_argument("--database-url")
    migrate.set_defaults(func=cmd_migrate)

    create = sub.add_parser("createuser", help="create a verified user (password from stdin)")
    create.add_argument("username")
    create.add_argument("--email", required=True)
    create.add_argument("--first-name", default="")
    create.add_argument("--last-name", default="")
    create.add_argument("--database-url")
    create.set_defaults(func=cmd_createuser)

    for name, text in PASSTHROUGH_HELP.items():
        sub.add_parser(name, help=text, add_help=False)
    return parser


# Commands with their own argument parsers: everything after the name goes to them untouched.
PASSTHROUGH = {"devmail": cmd_devmail, "tui": cmd_tui, "dev": cmd_dev}
PASSTHROUGH_HELP = {
    "devmail": "run the development mail catcher (--help for its options)",
    "tui": "open the terminal client (--help for its options)",
    "dev": "run service, mail catcher and TUI together",
}


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] in PASSTHROUGH:
        return int(PASSTHROUGH[args_list[0]](args_list[1:]) or 0)
    args = build_parser().parse_args(args_list)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
