"""Property-based tests (hypothesis) of the websocket protocol and the config validation,
in process and against a real server, plus a little fuzzing of the REST inputs."""

from __future__ import annotations

import json
import math
import time
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from live_server import LiveClient, running_server

from polytope_lens.core.settings import MAX_POINTS, RunConfig, ViewSettings
from polytope_lens.core.model import MAX_PARAMETERS, count_parameters
from polytope_lens.web.protocol import (
    DEFAULT_LIVE_LIMITS,
    MAX_ERROR_CHARS,
    TYPES,
    Configure,
    Pause,
    ProtocolError,
    Reset,
    Set,
    Start,
    Step,
    View,
    check_live_cost,
    parse_command,
)
from polytope_lens.web.sessions.local import LiveSession
from polytope_lens.web.sessions.outbox import ServerOutbox

FIELDS = list(RunConfig.model_fields)
RESOLUTION = ViewSettings().resolution  # the live view's default grid
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=300)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12,
)
# values that are sometimes valid for some field
plausible = st.one_of(
    st.integers(min_value=-5, max_value=2_000_000),
    st.floats(min_value=-1, max_value=20, allow_nan=False),
    st.sampled_from(["ring", "spiral", "nope", "../ring", "14x6", "8x2", "0", "3x70", "2000", "8,8,8", "x", ""]),
    st.sampled_from(["relu", "leaky_relu", "adam", "sgd", "sgd_momentum", "rmsprop", "tanh"]),
    st.booleans(),
    json_values,
)
configs = st.dictionaries(
    st.one_of(st.sampled_from(FIELDS), st.text(max_size=12)), plausible, max_size=len(FIELDS) + 2
)
messages = st.one_of(
    st.fixed_dictionaries({"type": st.just("configure"), "config": configs}),
    st.fixed_dictionaries(
        {"type": st.one_of(st.sampled_from(TYPES), st.text(max_size=12), json_scalars)},
        optional={
            "n": plausible,
            "lr": plausible,
            "optimizer": plausible,
            "visible": plausible,
            "fill_regions": plausible,
            "max_fps": plausible,
            "config": json_values,
            "extra": json_values,
        },
    ),
    json_values,
)


def as_text(value) -> str:
    return json.dumps(value, allow_nan=True)


def check_outcome(raw) -> object:
    """parse_command answers with a command or a ProtocolError in words, never anything else."""
    try:
        return parse_command(raw)
    except ProtocolError as exc:
        message = str(exc)
        assert 0 < len(message) <= MAX_ERROR_CHARS
        if exc.field is not None:
            assert isinstance(exc.field, str) and len(exc.field) <= 80
        return exc


@FUZZ
@given(messages)
def test_any_json_message_is_a_command_or_a_protocol_error(message):
    outcome = check_outcome(as_text(message))
    if not isinstance(outcome, ProtocolError):
        assert outcome.type in TYPES
        assert isinstance(message, dict) and message["type"] == outcome.type


@FUZZ
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_any_text_or_bytes_is_a_command_or_a_protocol_error(raw):
    outcome = check_outcome(raw)
    if isinstance(raw, bytes):
        assert isinstance(outcome, ProtocolError)


@FUZZ
@given(configs)
def test_config_validation_names_a_field_or_gives_a_valid_config(fields):
    try:
        config = parse_command(json.dumps({"type": "configure", "config": fields}, allow_nan=True)).config
        check_live_cost(config, RESOLUTION)
    except ProtocolError as exc:
        if exc.field is not None:
            assert exc.field in fields or exc.field in FIELDS or exc.field == "config", (exc.field, fields)
            assert exc.field[:40] in str(exc)
        return
    # everything the limits promise holds for what was accepted
    assert set(fields) <= set(FIELDS)
    assert config.train_points + config.val_points <= MAX_POINTS
    assert count_parameters(config.widths, out_dim=config.out_dim) <= MAX_PARAMETERS
    assert RESOLUTION**2 * count_parameters(config.widths, out_dim=config.out_dim) <= (
        DEFAULT_LIVE_LIMITS.max_frame_cost
    )
    assert 0 < config.lr <= 10 and math.isfinite(config.lr)
    # the validated config is a fixed point: what the server echoes is accepted as it is
    again = parse_command(json.dumps({"type": "configure", "config": config.model_dump()}))
    assert isinstance(again, Configure) and again.config == config


valid_configs = st.fixed_dictionaries(
    {},
    optional={
        "image": st.sampled_from(["ring", "spiral", "face"]),
        "color": st.booleans(),
        "layers": st.sampled_from(["8", "14x6", "10x10,2,10x3", "64,32,16", "1x64"]),
        "activation": st.sampled_from(["relu", "leaky_relu"]),
        "negative_slope": st.floats(min_value=0.001, max_value=0.99),
        "optimizer": st.sampled_from(["adam", "sgd", "sgd_momentum", "rmsprop"]),
        "lr": st.floats(min_value=1e-6, max_value=10.0),
        "momentum": st.floats(min_value=0.0, max_value=0.99),
        "batch_size": st.integers(min_value=1, max_value=4096),
        "train_points": st.integers(min_value=1, max_value=100_000),
        "val_points": st.integers(min_value=1, max_value=100_000),
        "seed": st.integers(min_value=0, max_value=2**31 - 1),
    },
)


@FUZZ
@given(valid_configs)
def test_documented_ranges_are_accepted(fields):
    command = parse_command(json.dumps({"type": "configure", "config": fields}))
    config = command.config
    for name, value in fields.items():
        assert getattr(config, name) == value or name == "layers"


# -- against a real server ------------------------------------------------------------------
@pytest.fixture(scope="module")
def server():
    with running_server(max_sessions=2) as url:
        yield url
        assert url.alive()


@pytest.fixture(scope="module")
def session(server):
    with LiveClient(server) as client:
        yield client


PROBE = {"n": 0}


@settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(messages.map(as_text), st.text(max_size=200), st.binary(max_size=200)))
def test_live_session_answers_every_message_and_survives(session, raw):
    outcome = check_outcome(raw)
    # commands that would start real work are exercised elsewhere; keep this fuzz cheap
    assume(not isinstance(outcome, Configure))
    session.send_raw(raw)
    PROBE["n"] += 1
    probe = f"probe-{PROBE['n']}"
    session.send(probe)  # an unknown type: always answered with an error naming it
    error = session.expect("error", timeout=20, where=lambda m: probe in m["message"])
    assert error["field"] == "type"


def test_live_session_still_works_after_the_fuzz(session, server):
    status = session.configure(layers="8x2", train_points=300, val_points=100, resolution=16)
    assert status["state"] == "paused"
    assert httpx.get(f"{server}/api/health").json()["status"] == "ok"


@settings(deadline=None, max_examples=60)
@given(
    image_id=st.text(alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=40),
    size=st.one_of(st.integers(min_value=-10, max_value=3000), st.text(max_size=5)),
)
def test_image_route_never_fails_on_odd_input(server, image_id, size):
    # An id of only slashes or dots is another path, not an id (the server decodes %2F).
    assume(image_id.strip("/") not in ("", ".", ".."))
    url = f"{server}/api/images/{quote(image_id, safe='')}"
    # A trailing slash is answered with a redirect to the path without it.
    r = httpx.get(url, params={"size": size}, timeout=30, follow_redirects=True)
    assert r.status_code in (200, 404, 422), r.text
    if r.status_code != 200:
        assert isinstance(r.json()["detail"], str)


@settings(deadline=None, max_examples=40)
@given(st.binary(max_size=3000))
def test_uploads_of_random_bytes_are_answered_in_words(server, data):
    r = httpx.post(f"{server}/api/images", files={"file": ("x", data, "application/octet-stream")}, timeout=30)
    assert r.status_code in (201, 415, 422), r.text
    if r.status_code != 201:
        assert isinstance(r.json()["detail"], str) and r.json()["detail"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_json_numbers_are_refused_naming_the_field(constant):
    # Python's json would read them, and NaN slips past every "<=" check of a range.
    with pytest.raises(ProtocolError, match="lr: Input should be a valid number") as refused:
        parse_command('{"type": "set", "lr": %s}' % constant)
    assert refused.value.field == "lr"


# -- issue 11, problem 4: a flood of commands loses no reply, and the last accepted command wins -----------
FLOOD_CONFIG = {"layers": "8x2", "train_points": 300, "val_points": 100, "batch_size": 128}


def test_every_command_of_a_flood_gets_exactly_one_reply(server):
    n = 1000
    with LiveClient(server) as client:
        client.send("view", resolution=16)
        client.expect("status", where=lambda m: m["view"]["resolution"] == 16)
        for i in range(n):
            client.send("configure", config={**FLOOD_CONFIG, "seed": i})
        applied, refused = [], []
        deadline = time.monotonic() + 90
        while len(applied) + len(refused) < n:
            assert time.monotonic() < deadline, f"{len(applied)} applied, {len(refused)} refused of {n}"
            message = client.recv(timeout=20)
            if message["type"] == "status" and message.get("message") == "new network":
                applied.append(message["config"]["seed"])
            elif message["type"] == "error":
                refused.append(message["message"])
        assert applied and applied == sorted(applied), applied[:20]
        assert all("slow down" in m and "'configure' ignored" in m for m in refused), refused[:3]
        late = [m for m in client.quiet(1.0) if m["type"] in ("status", "error")]
        assert not late, late[:3]  # exactly one reply each: nothing more comes
        client.send("step", n=1)
        status = client.expect("status", where=lambda m: m["step"] == 1)
        assert status["config"]["seed"] == applied[-1]  # the last accepted configure is the network
        print(f"\n{n} configures: {len(applied)} applied, {len(refused)} told to slow down, none lost")


class CountingSession(LiveSession):
    """A LiveSession that counts the commands its worker has finished (to know when it is done)."""

    def __init__(self, *args, **kwargs):
        self.handled = 0
        super().__init__(*args, **kwargs)

    def _handle_safely(self, command) -> None:
        super()._handle_safely(command)
        self.handled += 1


_RING = None


def _ring_target(image, color):
    global _RING
    if _RING is None:
        from conftest import ring_values
        from polytope_lens.core.images import Target

        _RING = Target(ring_values())
    return _RING


session_commands = st.lists(
    st.one_of(
        st.just(Start(type="start")),
        st.just(Pause(type="pause")),
        st.builds(lambda n: Step(type="step", n=n), st.integers(1, 30)),
        st.just(Reset(type="reset")),
        st.builds(lambda lr: Set(type="set", lr=lr), st.sampled_from([1e-3, 3e-3, 1e-2])),
        st.builds(lambda v: View(type="view", visible=v), st.booleans()),
        st.builds(lambda seed: Configure(type="configure", config=RunConfig(**FLOOD_CONFIG, seed=seed)), st.integers(0, 3)),
    ),
    min_size=1,
    max_size=40,
)


def _expected(accepted) -> tuple[str, int, int]:
    """(final state, statuses at least, errors) that the accepted commands must produce, in order."""
    state, network, statuses, errors = "idle", False, 0, 0
    for command in accepted:
        if isinstance(command, Configure):
            state, network = "paused", True
            statuses += 1
        elif isinstance(command, View):
            continue
        elif not network:
            errors += 1  # "no network yet"
        elif isinstance(command, Start):
            state = "running"
            statuses += 1
        elif isinstance(command, (Pause, Reset)):
            state = "paused"
            statuses += 1
        elif isinstance(command, Step):
            state = "paused"
        elif isinstance(command, Set):
            statuses += 1
    return state, statuses, errors


@settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(commands=session_commands, queue_size=st.integers(1, 6))
def test_final_state_follows_the_last_accepted_command(commands, queue_size):
    outbox = ServerOutbox()
    session = CountingSession(_ring_target, outbox, max_queued=queue_size)
    try:
        accepted = [c for c in commands if session.submit(c)]  # as fast as a flooding client
        deadline = time.monotonic() + 30
        while session.handled < len(accepted):
            assert time.monotonic() < deadline, f"{session.handled} of {len(accepted)} commands handled"
            time.sleep(0.002)
        state, statuses, errors = _expected(accepted)
        assert session.state == state, (accepted, session.state)
        messages, _ = outbox.take()
        got_errors = [m for m in messages if m.type == "error"]
        got_statuses = [m for m in messages if m.type == "status"][1:]  # the first says hello, before any command
        steps = sum(isinstance(c, Step) for c in accepted)
        assert len(got_errors) == errors, got_errors
        assert statuses <= len(got_statuses) <= statuses + steps, (accepted, got_statuses)
        configures = [c for c in accepted if isinstance(c, Configure)]
        assert len([m for m in messages if m.type == "points"]) == len(configures)
        if configures:
            assert session.config().seed == configures[-1].config.seed
    finally:
        session.close()


def test_the_outbox_never_drops_a_message():
    outbox = ServerOutbox(max_messages=8)
    for i in range(10_000):
        outbox.put_message({"type": "status", "i": i})
    assert outbox.backlog() == 10_000 >= outbox.high_water
    messages, _ = outbox.take()
    assert [m["i"] for m in messages] == list(range(10_000)) and outbox.backlog() == 0
