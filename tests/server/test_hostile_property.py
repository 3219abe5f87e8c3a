"""Property: no body, however hostile, gets a 5xx from any JSON route, and every refusal is a
problem document whose code the route's declaration lists.

Bodies are generated from the contract: each route's request Struct says which fields exist, and
each field gets either a plausible string or something hostile (another JSON type, a huge or
negative number, a lone surrogate, NUL and other control characters, deep nesting), or is left
out; unknown fields and whole-body oddities (not an object, not JSON, not UTF-8) come too.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.route import Route
from server.routes import ROUTES
from tests.conftest import make_settings, postgres_schema
from tests.server.live import LiveService

JSON_ROUTES = [r for r in ROUTES if r.body is not None]
NEST = "\x00nest\x00"  # stands for a deep nesting spliced into the encoded text

HOSTILE_CHARS = st.sampled_from(["\ud800", "\udfff", "\x00", "\x1b", "\x7f", "\x85", "\n", "\t"])
printable = st.text(max_size=40)
with_hostile_char = st.tuples(printable, HOSTILE_CHARS, printable).map("".join)
numbers = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([10**400, -(10**400)]),  # past float and int64: 1e400 in the JSON
)
scalars = st.one_of(printable, with_hostile_char, numbers, st.booleans(), st.none())
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(printable, inner, max_size=3)
    ),
    max_leaves=8,
)
field_values = st.one_of(printable, with_hostile_char, json_values, st.just(NEST))


@st.composite
def bodies(draw: st.DrawFn, kind: type[msgspec.Struct]) -> bytes:
    body = {}
    for field in msgspec.structs.fields(kind):
        if draw(st.booleans()) or draw(st.booleans()):  # most fields present
            body[field.encode_name] = draw(field_values)
    body.update(draw(st.dictionaries(printable, field_values, max_size=2)))
    shape = draw(st.sampled_from(["object"] * 6 + ["other", "deep", "junk"]))
    if shape == "other":
        text = json.dumps(draw(json_values))
    elif shape == "deep":
        depth = draw(st.integers(min_value=33, max_value=20_000))
        text = "[" * depth + "]" * depth
    elif shape == "junk":
        return draw(st.binary(max_size=60))
    else:
        text = json.dumps(body)  # ensure_ascii: a lone surrogate travels as "\ud800"
    depth = draw(st.integers(min_value=1, max_value=5_000))
    return text.replace(json.dumps(NEST), "[" * depth + "]" * depth).encode()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveService]:
    """On both databases: PostgreSQL refuses some strings SQLite stores (a NUL), and a 5xx that
    only it gives is still a 5xx."""
    path: Path = tmp_path_factory.mktemp("hostile")
    with contextlib.ExitStack() as stack:
        if request.param == "postgres":
            url = stack.enter_context(postgres_schema())
        else:
            url = f"sqlite:///{path}/acctkit.db"
        live = stack.enter_context(LiveService(make_settings(url, ratelimit=False)))
        live.sign_up("target")
        yield live


@pytest.fixture(scope="module")
def bearer(service: LiveService) -> str:
    return service.log_in("target@example.com")


@pytest.mark.parametrize("route", JSON_ROUTES, ids=lambda r: f"{r.method} {r.path}")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_no_hostile_body_gets_a_5xx(
    service: LiveService, bearer: str, route: Route, data: st.DataObject
) -> None:
    raw = data.draw(bodies(route.body), label="body")  # type: ignore[arg-type]
    headers = {"Content-Type": "application/json"}
    if route.auth:
        headers["Authorization"] = f"Bearer {bearer}"
    status, content_type, answer = service.request(route.method, route.path, raw, headers)
    assert status < 500, answer
    if status >= 400:
        assert content_type == "application/problem+json", answer
        problem = json.loads(answer)
        assert problem["status"] == status and problem["title"] and problem["detail"]
        assert problem["code"] in route.problems().get(status, []), (route.path, problem)
    elif route.ok[1] is not None:
        msgspec.json.decode(answer, type=route.ok[1])  # the answer is what the contract says
