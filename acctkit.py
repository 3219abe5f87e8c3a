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
    """Refuses a taken port, naming its holder: workers bind with SO_REUSEPORT, so a second
    serve (or a forgotten one) on the same port would otherwise split its requests silently."""
    import socket

    from server.serve import serve

    settings = _settings(args)
    try:
        taken = _taken(settings.host, settings.port)
    except socket.gaierror as exc:
        print(f"acctkit: cannot listen on host {settings.host!r}: {exc.strerror}", file=sys.stderr)
        return 1
    if taken:
        print(
            f"acctkit: port {settings.port} on {settings.host} is taken by "
            f"{_port_holder(settings.port)}; stop it, or choose another --port.",
            file=sys.stderr,
        )
        return 1
    return serve(settings, workers=args.workers)


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


def cmd_purge(args: argparse.Namespace) -> int:
    """Delete what a running service deletes every hour: finished mail past the outbox
    retention, and account records that ended over the record retention ago."""
    from core import db, outbox, retention, schema
    from core.context import Context

    settings = _settings(args)
    db.open_database(settings.database_url)
    try:
        schema.migrate()
        ctx = Context.create(settings)
        mail = outbox.purge(ctx)
        records = retention.purge(ctx)
    finally:
        db.close_database()
    print(f"deleted {mail} finished mail, and records: {records}")
    return 0


def _age(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def cmd_outbox(args: argparse.Namespace) -> int:
    """List unsent mail (pending, failing, expired), or retry some or all of it now."""
    from core import backlog, db, schema
    from core.context import Context

    settings = _settings(args)
    db.open_database(settings.database_url)
    try:
        schema.migrate()
        ctx = Context.create(settings)
        if args.action == "retry":
            if not args.all and not args.ids:
                print("name mail ids or give --all", file=sys.stderr)
                return 2
            done = backlog.retry(ctx, None if args.all else args.ids)
            for mail_id, why in sorted(done.refused.items()):
                print(f"not retried {mail_id}: {why}", file=sys.stderr)
            print(f"{len(done.retried)} mail(s) due now; a running sender picks them up")
            return 1 if done.refused and not done.retried else 0
        rows = backlog.entries(ctx, states=args.state or ())
    finally:
        db.close_database()
    if not rows:
        print("no unsent mail")
        return 0
    now = ctx.clock.now()
    print(
        f"{'ID':>6} {'STATE':8} {'AGE':>7} {'TRIES':>5} {'FLOW':16} {'REF':24} "
        f"{'REQUEST ID':34} {'TO':28} LAST ERROR"
    )
    for e in rows:
        print(
            f"{e.id:>6} {e.state:8} {_age((now - e.created_at).total_seconds()):>7} "
            f"{e.attempts:>5} {e.flow:16} {e.ref[:24]:24} {(e.request_id or '-')[:34]:34} "
            f"{e.to[:28]:28} {(e.last_error or '-')[:120]}"
        )
    return 0


def cmd_devmail(rest: list[str]) -> int:
    from devmail.__main__ import main as devmail_main

    return devmail_main(rest)


def cmd_tui(rest: list[str]) -> int:
    from tui.__main__ import main as tui_main

    return tui_main(rest)


def _wait_ready(url: str, children: dict, timeout: float = 30.0) -> None:  # type: ignore[type-arg]
    import time
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, child in children.items():
            if child.poll() is not None:
                raise SystemExit(f"acctkit dev: {name} exited before {url} was ready; see its log")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise SystemExit(f"acctkit dev: {url} did not answer within {timeout:.0f} s")


def _port_holder(port: int) -> str:
    """Who listens on `port`, as far as /proc tells (Linux, our own processes): "pid 123 (cmd)"."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as lines:
                next(lines)
                for line in lines:
                    fields = line.split()
                    if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(f"socket:[{fields[9]}]")
        except OSError:
            continue
    for pid in filter(str.isdigit, os.listdir("/proc") if inodes else ()):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") in inodes for fd in fds):
                with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                    command = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
                return f"pid {pid} ({command.strip()})"
        except OSError:
            continue
    return "another process" + (" (not ours: /proc does not say which)" if inodes else "")


def _taken(host: str, port: int) -> bool:
    """Whether something listens on `port` at any address `host` names (socket.gaierror when
    it names none)."""
    import errno
    import socket

    for family, kind, proto, _, address in socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    ):
        with socket.socket(family, kind, proto) as probe:
            # SO_REUSEADDR: a TIME_WAIT left by the last run is not "taken"; a listener still is,
            # even one that set SO_REUSEPORT (the orphaned serve that used to split requests).
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return True
    return False


def _die_with_parent():  # type: ignore[no-untyped-def]
    """A preexec_fn that makes the kernel send the child SIGTERM when `acctkit dev` dies, even
    by SIGKILL (Linux PR_SET_PDEATHSIG); elsewhere the children outlive a SIGKILL."""
    import signal

    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before fork, not in the child
    parent = os.getpid()

    def arm() -> None:
        prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before the line above ran
            os._exit(1)

    return arm


def cmd_dev(rest: list[str]) -> int:
    """serve + devmail as children (SQLite under ./.acctkit/), then the TUI. The children die
    with this process (even on SIGKILL, on Linux); a taken port is refused, naming its holder;
    the exit status is 1 if a child died on its own."""
    import signal
    import subprocess
    import time

    parser = argparse.ArgumentParser(prog="acctkit dev", description=cmd_dev.__doc__)
    parser.add_argument("--no-tui", action="store_true", help="run the services until Ctrl-C")
    parser.add_argument("--port", type=_port, default=8000, help="accounts service HTTP port")
    parser.add_argument("--mail-port", type=_port, default=8025, help="devmail HTTP port")
    parser.add_argument("--smtp-port", type=_port, default=1025, help="devmail SMTP port")
    args = parser.parse_args(rest)

    host = "127.0.0.1"
    ports = {"the accounts service": args.port, "devmail HTTP": args.mail_port}
    ports["devmail SMTP"] = args.smtp_port
    for role, port in ports.items():
        if _taken(host, port):
            print(
                f"acctkit dev: port {port} ({role}) is taken by {_port_holder(port)}; "
                "stop it, or choose other ports (--port, --mail-port, --smtp-port).",
                file=sys.stderr,
            )
            return 1

    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))  # so `finally` stops children
    signal.signal(signal.SIGHUP, lambda signum, frame: sys.exit(0))
    api, mail = f"http://{host}:{args.port}", f"http://{host}:{args.mail_port}"
    log_dir = os.path.join(".acctkit", "logs")
    os.makedirs(log_dir, exist_ok=True)
    commands = {
        "serve": ["serve", "--host", host, "--port", str(args.port)],
        "devmail": [
            "devmail",
            *("--host", host, "--http-port", str(args.mail_port)),
            *("--smtp-port", str(args.smtp_port), "--db", ".acctkit/devmail.db"),
        ],
    }
    env = {**os.environ, "ACCTKIT_SMTP_URL": f"smtp://{host}:{args.smtp_port}"}
    env.setdefault("ACCTKIT_PUBLIC_URL", api)
    children: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, command in commands.items():
            with open(os.path.join(log_dir, f"{name}.log"), "ab") as log:
                children[name] = subprocess.Popen(
                    [sys.executable, "-m", "acctkit", *command],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    process_group=0,  # the terminal's Ctrl+C reaches us; we stop them in turn
                    preexec_fn=_die_with_parent(),
                )
        _wait_ready(api + "/healthz", children)
        _wait_ready(mail + "/livez", children)
        pids = ", ".join(f"{name} pid {child.pid}" for name, child in children.items())
        print(f"acctkit at {api}, devmail at {mail} ({pids}; logs in {log_dir}/)", flush=True)
        if args.no_tui:
            while all(child.poll() is None for child in children.values()):
                time.sleep(0.2)
            status = 0
        else:
            from tui.__main__ import main as tui_main

            status = tui_main(["--url", api, "--mail-url", mail])
    except KeyboardInterrupt:
        status = 0
    finally:
        died = {name: c.returncode for name, c in children.items() if c.poll() is not None}
        for child in children.values():
            if child.poll() is None:
                child.terminate()
        for child in children.values():
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
    for name, code in died.items():
        print(f"acctkit dev: {name} exited with status {code}; see {log_dir}/{name}.log")
    return 1 if died else status


def _port(raw: str) -> int:
    port = int(raw)
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"a port is 1 to 65535, not {raw}")
    return port


def _workers(raw: str) -> int:
    workers = int(raw)
    if workers < 1:
        raise argparse.ArgumentTypeError(f"at least 1 worker, not {raw}")
    return workers


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="acctkit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the accounts service")
    serve.add_argument("--host")
    serve.add_argument("--port", type=_port)
    serve.add_argument("--workers", type=_workers, default=1, help="processes sharing the port")
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

    box = sub.add_parser("outbox", help="list unsent mail, or retry it now")
    box.add_argument("--database-url")
    box.add_argument(
        "--state",
        action="append",
        choices=["pending", "failing", "expired", "failed"],
        help="only these states (repeatable)",
    )
    box.set_defaults(func=cmd_outbox, action="list")
    box_actions = box.add_subparsers(dest="action")
    retry = box_actions.add_parser("retry", help="make mail due now: IDs, or --all")
    retry.add_argument("ids", nargs="*", type=int, metavar="ID")
    retry.add_argument("--all", action="store_true", help="every unsent mail")
    retry.add_argument("--database-url")

    purge = sub.add_parser("purge", help="delete ended records and old mail now (as serve does)")
    purge.add_argument("--database-url")
    purge.set_defaults(func=cmd_purge)

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
    from core import redaction
    from core.errors import DatabaseUnavailable
    from core.settings import Settings, SettingsError

    try:
        return int(args.func(args) or 0)
    except SettingsError as exc:  # a setting the service cannot start with: say which, no trace
        print(f"acctkit: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl+C before serve's own handler, or in a one-off command
        print("acctkit: interrupted", file=sys.stderr)
        return 130
    except DatabaseUnavailable as exc:  # unreachable, refused, no such database: say which
        url = getattr(args, "database_url", None) or Settings.from_env(os.environ).database_url
        why = str(exc.__cause__ or exc).strip().splitlines()[0]
        print(f"acctkit: cannot use the database {redaction.url(url)}: {why}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
