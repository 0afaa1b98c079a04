"""Streaming predictions from NATS JetStream (``steward stream serve``), against the real
NATS server: one answer per request on its reply subject, acknowledged only after it is
published and logged, and exactly one logged prediction per request when the consumer is
killed mid-stream and started again."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parents[1] / "gates"))
sys.path.insert(0, str(Path(__file__).parent))
from gatesdata import hmda, register_split, with_suite
from test_v2 import PERF, approved, body_for

from steward.cli import app
from steward.config import Home
from steward.deploy import DeployService
from steward.errors import NotFound, Unavailable, ValidationFailed
from steward.policy import Principal
from steward.registry import ModelService
from steward.runtime import Runtime
from steward.serving import ServingService, StreamConsumer, StreamSettings, StreamStats
from steward.serving.stream import check_subject, reply_problem, subject_covers
from steward.store import Prediction

ADMIN = Principal("admin")
ALICE = Principal("alice")
T = TypeVar("T")


def records(start: int, n: int) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "deny"} for r in hmda().slice(start, n).to_pylist()]


def wait_for(what: str, check: Callable[[], bool], timeout: float = 60.0) -> None:
    """Poll ``check`` until it is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


def logged_rows(rt: Runtime, endpoint: str = "credit") -> dict[str, list[int]]:
    """Request id -> the rows the log holds for it (primary answers), sorted."""
    out: dict[str, list[int]] = {}
    with rt.store.transaction() as s:
        for rid, row in s.execute(
            select(Prediction.request_id, Prediction.row).where(
                Prediction.endpoint == endpoint, Prediction.role == "primary"
            )
        ):
            out.setdefault(rid, []).append(row)
    return {k: sorted(v) for k, v in out.items()}


def logged_requests(rt: Runtime) -> int:
    with rt.store.transaction() as s:
        return int(
            s.scalar(
                select(func.count(func.distinct(Prediction.request_id))).where(
                    Prediction.endpoint == "credit", Prediction.role == "primary"
                )
            )
            or 0
        )


class Bus:
    """A NATS connection on an event loop of its own, driven from the synchronous test
    (and from a publisher thread): the test's side of the wire."""

    def __init__(self, url: str) -> None:
        import nats

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.nc = self.call(nats.connect(url))
        self.js = self.nc.jetstream()
        self.streams: list[str] = []

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stream(self, name: str, subject: str) -> None:
        self.streams.append(name)
        self.call(self.js.add_stream(name=name, subjects=[subject]))

    def publish(
        self, subject: str, body: dict[str, Any] | bytes, headers: dict[str, str] | None = None
    ) -> int:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        ack = self.call(self.js.publish(subject, data, headers=headers))
        assert not ack.duplicate
        return int(ack.seq)

    def listen(self, subject: str) -> list[Any]:
        """Every message published on ``subject`` from now on (appended as it arrives)."""
        got: list[Any] = []

        async def on_msg(msg: Any) -> None:
            got.append(msg)

        self.call(self.nc.subscribe(subject, cb=on_msg))
        self.call(self.nc.flush())
        return got

    def sync(self) -> None:
        """A round trip to the server: what it sent before has been handled."""
        self.call(self.nc.flush())

    def consumer(self, stream: str, name: str) -> Any:
        return self.call(self.js.consumer_info(stream, name))

    def created(self, stream: str) -> str:
        info = self.call(self.js.stream_info(stream))
        return info.created.strftime("%Y%m%dT%H%M%S%f")

    def close(self) -> None:
        from nats.js.errors import NotFoundError

        for name in self.streams:
            with contextlib.suppress(NotFoundError):
                self.call(self.js.delete_stream(name))
        self.call(self.nc.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture
def bus(nats_url: str) -> Iterator[Bus]:
    b = Bus(nats_url)
    yield b
    b.close()


@pytest.fixture
def credit(home: Home, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Runtime, str]]:
    """Endpoint ``credit`` at eu-fra serving an approved HMDA model (alice may predict)."""
    monkeypatch.setenv("STEWARD_SERVING_REFRESH", "0")
    with_suite(home, PERF)
    rt = Runtime.open(home)
    train, hold = register_split(rt)
    ref = approved(rt, train, hold)
    DeployService(rt).deploy(ADMIN, ref, endpoint="credit", site="eu-fra")
    yield rt, ref
    rt.close()


def names() -> tuple[str, str]:
    """A fresh subject and stream name (the tests share one NATS server)."""
    tag = secrets.token_hex(4)
    return f"steward.test.{tag}.requests", f"STEWARD_TEST_{tag.upper()}"


def consume(
    rt: Runtime,
    nats_url: str,
    endpoint: str = "credit",
    serving_class: type[ServingService] = ServingService,
    **kw: Any,
) -> StreamStats:
    serving = serving_class(rt, refresh=0)
    try:
        settings = StreamSettings(endpoint=endpoint, nats_url=nats_url, fetch_wait=0.2, **kw)
        return asyncio.run(StreamConsumer(serving, ALICE, settings).run())
    finally:
        serving.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- subjects and settings (no server) -------------------------------------------------------
def test_subject_covers_follows_nats_wildcards() -> None:
    assert subject_covers("credit.>", "credit.requests")
    assert subject_covers("credit.>", "credit.a.>")
    assert subject_covers("credit.*", "credit.requests")
    assert subject_covers("credit.*", "credit.*")
    assert not subject_covers("credit.*", "credit.>")
    assert not subject_covers("credit.*", "credit.requests.replies")
    assert not subject_covers("credit.>", "credit")
    assert not subject_covers("credit.requests", "credit.*")
    assert subject_covers("credit.requests", "credit.requests")


def test_reply_subjects_that_would_loop_or_reach_the_server_are_refused() -> None:
    assert reply_problem("credit.requests.replies", "credit.requests") is None
    assert "its own answers" in (reply_problem("credit.replies", "credit.>") or "")
    assert "system subject" in (reply_problem("$JS.API.STREAM.DELETE.X", "credit.requests") or "")
    with pytest.raises(ValidationFailed) as err:
        StreamSettings(endpoint="credit", subject="credit.>").checked()
    assert err.value.details["parameter"] == "reply"
    with pytest.raises(ValidationFailed) as err:
        StreamSettings(endpoint="credit", subject="credit.>", reply="credit.out").checked()
    assert err.value.details["parameter"] == "reply"
    with pytest.raises(ValidationFailed) as err:
        check_subject("credit..requests", name="--subject", wildcards=True)
    assert err.value.details["found"] == "credit..requests"
    with pytest.raises(ValidationFailed) as err:
        StreamSettings(endpoint="credit", subject="credit.requests", batch=0).checked()
    assert err.value.details["parameter"] == "batch"
    s = StreamSettings(endpoint="credit", subject="credit.requests").checked()
    assert (s.reply, s.durable) == ("credit.requests.replies", "steward-credit")


# -- errors before consuming ------------------------------------------------------------------
def test_cannot_connect_says_what_was_tried_and_how_to_fix(
    credit: tuple[Runtime, str], home: Home
) -> None:
    rt, _ = credit
    url = f"nats://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(Unavailable) as err:
        consume(rt, url, subject="steward.test.nowhere")
    assert err.value.code == "unavailable" and err.value.details["url"] == url
    assert "nats-server -js" in err.value.message
    result = CliRunner().invoke(
        app,
        ["stream", "serve", "credit", "--subject", "steward.test.nowhere", "--nats", url],
        env={"STEWARD_HOME": str(home.root), "STEWARD_USER": "alice"},
    )
    assert result.exit_code == Unavailable.exit_code == 69, result.output
    assert "[unavailable]" in result.stderr and url in result.stderr


def test_a_server_without_jetstream_is_unavailable(
    credit: tuple[Runtime, str], tmp_path: Path
) -> None:
    server = shutil.which("nats-server") or "/usr/sbin/nats-server"
    if not Path(server).exists():
        pytest.skip("nats-server is not installed")
    rt, _ = credit
    port = free_port()
    proc = subprocess.Popen(
        [server, "-a", "127.0.0.1", "-p", str(port), "-l", str(tmp_path / "nats.log")]
    )
    try:

        def listening() -> bool:
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", port)) == 0

        wait_for("nats-server without JetStream to listen", listening, 30)
        with pytest.raises(Unavailable) as err:
            consume(rt, f"nats://127.0.0.1:{port}", subject="steward.test.nojs")
        assert err.value.details["tried"] == "$JS.API.INFO"
        assert "-js" in err.value.message
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_unknown_endpoint_is_not_found_before_consuming(
    credit: tuple[Runtime, str], home: Home
) -> None:
    rt, _ = credit
    url = f"nats://127.0.0.1:{free_port()}"  # NotFound, not Unavailable: NATS is not tried
    with pytest.raises(NotFound):
        consume(rt, url, endpoint="nope", subject="steward.test.nope")
    result = CliRunner().invoke(
        app,
        ["stream", "serve", "nope", "--subject", "steward.test.nope", "--nats", url],
        env={"STEWARD_HOME": str(home.root), "STEWARD_USER": "alice"},
    )
    assert result.exit_code == NotFound.exit_code, result.output
    assert "[not_found]" in result.stderr


# -- round trips ------------------------------------------------------------------------------
def test_each_request_gets_one_reply_and_one_logged_answer(
    credit: tuple[Runtime, str], bus: Bus, nats_url: str
) -> None:
    rt, ref = credit
    subject, stream = names()
    bus.stream(stream, subject)
    own = subject.replace(".requests", ".own")
    replies, own_replies = bus.listen(f"{subject}.replies"), bus.listen(own)
    rows = records(1900, 6)
    inputs = ModelService(rt).show(ADMIN, ref).inputs
    bus.publish(subject, {"request_id": "rec-1", "records": rows[:2]})
    bus.publish(subject, {**body_for(rows[2:3], inputs), "id": "v2-1"})
    bus.publish(subject, {"records": rows[3:4]}, headers={"Nats-Msg-Id": "hdr-1"})
    no_id = bus.publish(subject, {"records": rows[4:5]})
    bus.publish(subject, {"request_id": "own-1", "records": rows[5:6]}, {"Steward-Reply": own})
    bus.publish(subject, b"{not json", headers={"Nats-Msg-Id": "junk-1"})
    bus.publish(subject, {"request_id": "bad-1", "records": [{"pirat": 0.2}]})
    bus.publish(subject, {"request_id": "loop-1", "records": rows[:1]}, {"Reply-To": subject})
    sent = 8

    stats = consume(rt, nats_url, subject=subject, stream=stream, batch=3, max_messages=sent)

    wait_for("the answers", lambda: len(replies) + len(own_replies) >= sent, 30)
    bus.sync()
    assert len(replies) + len(own_replies) == sent  # one each, no more
    fallback = f"{stream}:{bus.created(stream)}:{no_id}"
    got = {m.headers["Steward-Request-Id"]: m for m in replies}
    assert sorted(got) == sorted(["rec-1", "v2-1", "hdr-1", fallback, "junk-1", "bad-1", "loop-1"])
    assert [m.headers["Steward-Request-Id"] for m in own_replies] == ["own-1"]
    answers = {rid: json.loads(m.data) for rid, m in got.items()}
    answers["own-1"] = json.loads(own_replies[0].data)
    assert {rid: a["request_id"] for rid, a in answers.items()} == {r: r for r in answers}
    assert len(answers["rec-1"]["predictions"]) == 2
    assert answers["v2-1"]["model_name"] == "credit" and answers["v2-1"]["outputs"]
    for rid in ("hdr-1", fallback, "own-1"):
        assert len(answers[rid]["predictions"]) == 1 and answers[rid]["model"] == ref
    for rid, words in (
        ("junk-1", "not JSON"),
        ("bad-1", "missing field"),
        ("loop-1", "its own answers"),
    ):
        assert answers[rid]["error"]["error"] == "validation_failed"
        assert words in answers[rid]["error"]["message"]
        assert got[rid].headers["Steward-Status"] == "error"
    assert got["rec-1"].headers["Steward-Status"] == "ok"
    # the log: one primary row set per good request, nothing for the bad ones
    assert logged_rows(rt) == {
        "rec-1": [0, 1],
        "v2-1": [0],
        "hdr-1": [0],
        fallback: [0],
        "own-1": [0],
    }
    assert (stats.scored, stats.rejected, stats.duplicates) == (5, 3, 0)
    assert (stats.acked, stats.replies, stats.retried, stats.stopped) == (8, 8, 0, "max-messages")
    info = bus.consumer(stream, "steward-credit")
    assert (info.num_pending, info.num_ack_pending) == (0, 0)  # every message acknowledged


def test_a_request_already_logged_is_answered_from_the_log_not_scored_again(
    credit: tuple[Runtime, str], bus: Bus, nats_url: str
) -> None:
    rt, _ = credit
    subject, stream = names()
    bus.stream(stream, subject)
    replies = bus.listen(f"{subject}.replies")
    rows = records(1900, 3)
    # a consumer that died after logging dup-1 but before acknowledging it
    first = ServingService(rt, refresh=0).score_many(
        ALICE, "credit", [("dup-1", {"records": rows[:2]})]
    )
    before = logged_rows(rt)
    bus.publish(subject, {"request_id": "dup-1", "records": rows[:2]})
    bus.publish(subject, {"request_id": "new-1", "records": rows[2:3]})
    bus.publish(subject, {"request_id": "new-1", "records": rows[2:3]}, {"Nats-Msg-Id": "again"})

    stats = consume(rt, nats_url, subject=subject, stream=stream, max_messages=3)

    wait_for("the answers", lambda: len(replies) >= 3, 30)
    bus.sync()
    answers = [json.loads(m.data) for m in replies]
    assert [a["request_id"] for a in answers] == ["dup-1", "new-1", "new-1"]
    assert answers[0]["duplicate"] is True and "duplicate" not in answers[1]
    assert answers[0]["predictions"] == first[0]["predictions"]  # the fresh answer's shape
    assert answers[2]["duplicate"] is True
    assert [m.headers["Steward-Status"] for m in replies] == ["duplicate", "ok", "duplicate"]
    assert logged_rows(rt) == {**before, "new-1": [0]}
    assert (stats.scored, stats.duplicates, stats.acked) == (1, 2, 3)


class Flaky(ServingService):
    """Fails every batch that holds a request whose id starts with ``boom``."""

    def score_many(
        self, principal: Principal, endpoint: str, requests: list[tuple[str, Any]], **kw: Any
    ) -> list[dict[str, Any]]:
        if any(rid.startswith("boom") for rid, _ in requests):
            raise RuntimeError("the scoring backend fell over")
        return super().score_many(principal, endpoint, requests, **kw)


def test_a_failing_request_does_not_hold_back_its_batch_and_is_abandoned_after_max_deliver(
    credit: tuple[Runtime, str], bus: Bus, nats_url: str
) -> None:
    rt, _ = credit
    subject, stream = names()
    bus.stream(stream, subject)
    replies = bus.listen(f"{subject}.replies")
    rows = records(1900, 3)
    for rid, row in zip(("ok-1", "boom-1", "ok-2"), rows, strict=True):
        bus.publish(subject, {"request_id": rid, "records": [row]})

    stats = consume(
        rt,
        nats_url,
        serving_class=Flaky,
        subject=subject,
        stream=stream,
        max_deliver=2,
        max_messages=3,  # two acknowledged, one abandoned
    )

    # the batch failed; scored one by one, ok-1 and ok-2 were answered at once and boom-1
    # handed back (1 s delay), failed again on its second delivery and was abandoned
    assert (stats.scored, stats.retried, stats.abandoned, stats.acked) == (2, 1, 1, 2)
    wait_for("the answers", lambda: len(replies) >= 3, 30)
    bus.sync()
    answers = {m.headers["Steward-Request-Id"]: json.loads(m.data) for m in replies}
    assert len(replies) == 3 and sorted(answers) == ["boom-1", "ok-1", "ok-2"]
    assert answers["boom-1"]["error"]["error"] == "failed"
    assert "2 deliveries" in answers["boom-1"]["error"]["message"]
    assert logged_rows(rt) == {"ok-1": [0], "ok-2": [0]}
    info = bus.consumer(stream, "steward-credit")
    assert (info.num_pending, info.num_ack_pending) == (0, 0)


def test_the_stream_is_created_when_none_captures_the_subject(
    credit: tuple[Runtime, str], bus: Bus, nats_url: str
) -> None:
    from nats.js.errors import NotFoundError

    rt, ref = credit
    subject, _ = names()
    endpoint = f"stream-{secrets.token_hex(3)}"  # its default stream is this test's alone
    DeployService(rt).deploy(ADMIN, ref, endpoint=endpoint, site="eu-fra")
    expected = "STEWARD_" + endpoint.upper().replace("-", "_")
    bus.streams.append(expected)  # deleted afterwards
    with pytest.raises(NotFoundError):
        bus.call(bus.js.find_stream_name_by_subject(subject))

    stats = consume(rt, nats_url, endpoint=endpoint, subject=subject, idle_exit=0.5)

    assert stats.stream_created and stats.stream == expected
    assert stats.consumer == f"steward-{endpoint}"
    info = bus.call(bus.js.stream_info(expected))
    assert info.config.subjects == [subject]
    assert info.config.retention == "workqueue"
    assert stats.stopped == "idle" and stats.acked == 0


# -- the consumer killed mid-stream -----------------------------------------------------------
class Relay:
    """A TCP relay to the NATS server whose consumer-to-server direction can be held: what
    the consumer sends while it is held (its answers' flush, its acks) does not arrive."""

    def __init__(self, bus: Bus, nats_url: str) -> None:
        target = urlsplit(nats_url)
        self.upstream = (target.hostname or "127.0.0.1", target.port or 4222)
        self.held = False
        self.bus = bus
        self.tasks: list[asyncio.Task[Any]] = []
        self.server = bus.call(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.url = f"nats://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)

        async def pump(
            src: asyncio.StreamReader, dst: asyncio.StreamWriter, holdable: bool
        ) -> None:
            try:
                while data := await src.read(65536):
                    while holdable and self.held:
                        await asyncio.sleep(0.001)
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:
                dst.close()

        self.tasks += [
            asyncio.create_task(pump(reader, up_writer, True)),
            asyncio.create_task(pump(up_reader, writer, False)),
        ]

    def close(self) -> None:
        async def stop() -> None:
            self.server.close()
            for t in self.tasks:
                t.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            await self.server.wait_closed()

        self.bus.call(stop())


def polled(check: Callable[[], bool], timeout: float) -> bool:
    """Whether ``check`` became true within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def test_killed_consumer_restarted_logs_every_request_exactly_once(
    credit: tuple[Runtime, str], bus: Bus, nats_url: str, home: Home, tmp_path: Path
) -> None:
    rt, _ = credit
    subject, stream = names()
    bus.stream(stream, subject)
    replies = bus.listen(f"{subject}.replies")
    n = 300
    pool = records(1900, n + 2)
    sizes = {f"r-{i:03d}": 1 + i % 3 for i in range(n)}  # 1, 2 or 3 records per request
    for i, (rid, size) in enumerate(sizes.items()):
        bus.publish(subject, {"request_id": rid, "records": pool[i : i + size]})

    def start(name: str, url: str) -> tuple[subprocess.Popen[bytes], Path]:
        err = tmp_path / f"{name}.err"
        command = [sys.executable, "-m", "steward.cli", "--home", str(home.root)]
        command += ["--user", "alice", "stream", "serve", "credit", "--subject", subject]
        command += ["--stream", stream, "--batch", "16", "--ack-wait", "2", "--nats", url]
        with (tmp_path / f"{name}.out").open("wb") as out_fh, err.open("wb") as err_fh:
            # the child has its own copies of the descriptors
            proc = subprocess.Popen(
                [*command, "--json"],
                stdout=out_fh,
                stderr=err_fh,
                env={**os.environ, "NO_COLOR": "1"},
            )
        wait_for(
            f"consumer {name} to be ready ({err})",
            lambda: "consuming" in err.read_text() or proc.poll() is not None,
            90,
        )
        assert proc.poll() is None, err.read_text()
        return proc, err

    relay = Relay(bus, nats_url)
    first, _ = start("first", relay.url)
    wait_for("the first consumer to log 40 requests", lambda: logged_requests(rt) >= 40)
    # Kill it between logging a batch and acknowledging it: hold what it sends, then wait
    # for a batch to be logged. That batch's answers and acks are stuck in the relay (acks
    # go out only after the answers' flush comes back). If it was not scoring when the hold
    # began (fetching, or acknowledging), nothing is logged: let go and try again.
    for _ in range(30):
        relay.held = True
        before = logged_requests(rt)
        if polled(lambda b=before: logged_requests(rt) > b, 2.0):
            break
        relay.held = False
        wait_for("the consumer to go on", lambda b=before: logged_requests(rt) > b, 30)
    else:
        pytest.fail("never caught the first consumer between logging a batch and its acks")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    relay.close()
    at_kill = logged_requests(rt)
    assert 40 <= at_kill < n  # killed mid-stream: some logged, not all
    assert bus.consumer(stream, "steward-credit").num_ack_pending > 0  # delivered, not acked

    second, err = start("second", nats_url)

    def drained() -> bool:
        info = bus.consumer(stream, "steward-credit")
        return logged_requests(rt) >= n and info.num_pending == 0 and info.num_ack_pending == 0

    wait_for("every request to be logged and acknowledged", drained, 120)
    second.send_signal(signal.SIGTERM)  # graceful: finish the batch, drain, summarise
    assert second.wait(timeout=60) == 0, err.read_text()
    summary = json.loads((tmp_path / "second.out").read_text())
    assert summary["stopped"] == "signal" and summary["retried"] == 0
    # the batch logged before the kill came again and was answered from the log
    assert summary["duplicates"] >= 1
    assert summary["scored"] + summary["duplicates"] == summary["acked"]

    # every published request has exactly its rows in the log, once; nothing else is there
    assert logged_rows(rt) == {rid: list(range(size)) for rid, size in sizes.items()}
    # and every request was answered at least once (twice if it was redelivered)
    bus.sync()
    answered = {m.headers["Steward-Request-Id"] for m in replies}
    assert answered == set(sizes)
    assert not [m for m in replies if m.headers["Steward-Status"] == "error"]
