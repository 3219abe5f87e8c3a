"""Closed-loop load on loopback: `wrk` when it is installed (a C client costs the 2-core machine
far less CPU than the server it measures), else an aiohttp client in its own process.

Every run is bounded by a duration; both generators report requests/s, latency percentiles and
how many answers were not the expected status, so a figure built on errors never passes silently.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

WRK = shutil.which("wrk")

# wrk's request hook: one JSON body for every request and, when asked, a loopback
# X-Forwarded-For picked at random, so per-address limits see many clients (rate limits on).
_WRK_SCRIPT = """
local method, body, ctype, spread, randomize = %s, %s, %s, %s, %d
local headers, tokens = {}, {}
%s
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
request = function()
  local h = {}
  for k, v in pairs(headers) do h[k] = v end
  if #tokens > 0 then h["Authorization"] = "Bearer " .. tokens[math.random(1, #tokens)] end
  local b = body
  if randomize > 0 then b = string.gsub(body, "{n}", tostring(math.random(1, randomize))) end
  if b ~= "" then h["Content-Type"] = ctype end
  if spread then
    h["X-Forwarded-For"] = "127." .. math.random(1, 250) .. "." .. math.random(0, 255) .. "."
      .. math.random(1, 254)
  end
  return wrk.format(method, nil, h, b ~= "" and b or nil)
end
"""
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


@dataclass(frozen=True)
class Load:
    """What to send: one request shape, repeated by `clients` connections for `seconds`."""

    url: str
    method: str = "GET"
    body: dict | None = None
    headers: dict[str, str] = field(default_factory=dict)
    clients: int = 32
    seconds: float = 5.0
    spread_addresses: bool = False  # random X-Forwarded-For per request
    expect: int = 200
    randomize: int = 0  # when > 0, each "{n}" in the body becomes a random 1..randomize
    tokens: tuple[str, ...] = ()  # bearer tokens, one picked at random per request


@dataclass(frozen=True)
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    unexpected: int
    tool: str

    def as_dict(self) -> dict:
        return asdict(self)


def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal here


def _wrk(load: Load) -> Result:
    header_lines = "\n".join(
        [f"headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in load.headers.items()]
        + [f"tokens[#tokens + 1] = {_lua_string(t)}" for t in load.tokens]
    )
    script = _WRK_SCRIPT % (
        _lua_string(load.method),
        _lua_string(json.dumps(load.body) if load.body is not None else ""),
        _lua_string("application/json"),
        "true" if load.spread_addresses else "false",
        load.randomize,
        header_lines,
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(
            [
                WRK,
                "-t1",
                f"-c{load.clients}",
                f"-d{max(1, round(load.seconds))}s",
                "--timeout",
                "10s",
                "--latency",
                "-s",
                f.name,
                load.url,
            ],
            capture_output=True,
            text=True,
            timeout=load.seconds + 60,
            check=True,
        ).stdout
    finally:
        Path(f.name).unlink()
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    unexpected = (int(bad.group(1)) if bad else 0) + (
        sum(int(g) for g in errors.groups()) if errors else 0
    )

    def pct(label: str) -> float:
        value, unit = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M).groups()
        return float(value) * _UNITS[unit]

    return Result(rps, pct("50"), pct("99"), requests, unexpected, "wrk")


async def _python(load: Load) -> Result:
    import aiohttp

    latencies: list[float] = []
    unexpected = 0
    deadline = time.perf_counter() + load.seconds
    connector = aiohttp.TCPConnector(limit=load.clients)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client(n: int) -> None:
            nonlocal unexpected
            while time.perf_counter() < deadline:
                headers = dict(load.headers)
                if load.spread_addresses:
                    headers["X-Forwarded-For"] = f"127.{n % 250 + 1}.{len(latencies) % 256}.1"
                if load.tokens:
                    headers["Authorization"] = f"Bearer {random.choice(load.tokens)}"
                body = load.body
                if load.randomize and body is not None:
                    text = json.dumps(body).replace("{n}", str(random.randint(1, load.randomize)))
                    body = json.loads(text)
                t = time.perf_counter()
                async with session.request(
                    load.method, load.url, json=body, headers=headers
                ) as resp:
                    await resp.read()
                    if resp.status != load.expect:
                        unexpected += 1
                latencies.append((time.perf_counter() - t) * 1000)

        start = time.perf_counter()
        await asyncio.gather(*(client(n) for n in range(load.clients)))
        elapsed = time.perf_counter() - start
    q = statistics.quantiles(latencies, n=100)
    return Result(len(latencies) / elapsed, q[49], q[98], len(latencies), unexpected, "python")


WARM_UP_SECONDS = 1.0
"""Each measured run follows as long a run of the same load, not measured. The first requests
of a phase open pooled database connections, start threads and touch cold pages: a p99 over a
few hundred light-load requests is the third-worst of them, and those few set it otherwise."""


def _once(load: Load) -> Result:
    if WRK:
        return _wrk(load)
    return asyncio.run(_python(load))


def run(load: Load) -> Result:
    _once(replace(load, seconds=WARM_UP_SECONDS))
    return _once(load)


def run_together(loads: list[Load]) -> list[Result]:
    """Several loads at once (a storm of logins beside cheap reads), each in its own process,
    after a warm-up of all of them together."""
    if WRK:
        from concurrent.futures import ThreadPoolExecutor as Pool
    else:  # one process per load, so the generators do not share one event loop
        from concurrent.futures import ProcessPoolExecutor as Pool  # type: ignore[assignment]
    with Pool(len(loads)) as pool:
        list(pool.map(_once, [replace(load, seconds=WARM_UP_SECONDS) for load in loads]))
        return list(pool.map(_once, loads))


if __name__ == "__main__":  # a quick manual check: python bench/load.py URL
    print(run(Load(sys.argv[1], seconds=3)))
