"""Streaming predictions from NATS JetStream (``steward stream serve``).

A durable pull consumer reads requests from the stream that captures a subject, fetches up
to ``batch`` of them at a time, scores them with :meth:`ServingService.score_many` (which
writes their prediction-log rows before it returns), publishes each answer to its reply
subject, flushes, and only then acknowledges the messages. Delivery is therefore
at-least-once: a consumer that dies between logging and acknowledging gets the messages
again, and ``score_many`` answers a request id the log already holds from the log
(``"duplicate": true``) instead of scoring it again, so each request has exactly one
logged prediction.

- The stream: the one that captures the subject (asked with JetStream's API), or the one
  named with ``stream=``; when none captures it, a work-queue stream ``STEWARD_<ENDPOINT>``
  (acknowledged messages are removed) is created for the subject.
- The consumer: durable (``steward-<endpoint>`` unless named), filtered on the subject,
  explicit acks, ``ack_wait`` 30 s (kept alive with progress acks while a batch is being
  scored, so a slow batch is not redelivered under the consumer's feet), ``max_deliver``
  20. Several processes with the same durable name share the work.
- A message that is not JSON, or names a bad reply subject, is answered with an error and
  acknowledged: nothing poisons the consumer. A batch that fails for a reason that is not
  the request's fault (the database is away, say) is scored again one message at a time, so
  one bad message does not hold the others back; a message that still fails is
  negatively acknowledged with a growing delay (1 s, 2 s, 4 s ... up to 60 s) and, on its
  ``max_deliver``-th delivery, answered with an error and terminated.
- An unknown endpoint or a principal who may not predict stops the consumer before it
  reads anything (and, should it happen later, hands the batch back and stops).

Request ids: the body's ``request_id`` or ``id``, else the ``Nats-Msg-Id`` header (which
JetStream also uses to drop repeated publications), else ``<stream>:<stream created
at>:<stream sequence>``. The creation time is part of the last form because a deleted and
re-created stream starts its sequence again at 1; without it a new request would be
answered with an old request's logged answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from steward.errors import (
    Conflict,
    NotFound,
    PolicyDenied,
    StewardError,
    Unavailable,
    ValidationFailed,
)
from steward.policy import Principal
from steward.serving.service import ServingService

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.js import JetStreamContext

__all__ = [
    "DEFAULT_NATS_URL",
    "StreamConsumer",
    "StreamSettings",
    "StreamStats",
    "check_subject",
    "reply_problem",
    "serve",
    "subject_covers",
]

_log = logging.getLogger("steward.serving.stream")

DEFAULT_NATS_URL = "nats://127.0.0.1:4222"
MAX_BATCH = 1000
MAX_REQUEST_ID = 128  # the prediction log's request_id column
#: Headers a request may carry to name where its answer goes (the first one present wins).
REPLY_HEADERS = ("Steward-Reply", "Reply-To")


# -- settings and counts -----------------------------------------------------------------------
@dataclass(frozen=True)
class StreamSettings:
    """What ``steward stream serve`` is told. ``checked()`` validates and fills defaults."""

    endpoint: str
    subject: str
    reply: str | None = None  # default: "<subject>.replies"
    batch: int = 64
    nats_url: str = DEFAULT_NATS_URL
    durable: str | None = None  # default: "steward-<endpoint>"
    stream: str | None = None  # default: the stream that captures the subject
    max_messages: int | None = None  # stop after acknowledging this many
    idle_exit: float | None = None  # stop after this many seconds without a message
    ack_wait: float = 30.0
    max_deliver: int = 20
    fetch_wait: float = 1.0  # how long one fetch waits for a first message
    progress_every: float = 5.0

    def checked(self) -> StreamSettings:
        subject = check_subject(self.subject, name="--subject", wildcards=True)
        if self.reply is None and any(t in ("*", ">") for t in subject.split(".")):
            raise ValidationFailed(
                f"--reply: the subject {subject!r} has wildcards, so there is no default "
                "reply subject; name one, e.g. --reply credit.replies",
                parameter="reply",
            )
        reply = check_subject(self.reply or f"{subject}.replies", name="--reply", wildcards=False)
        problem = reply_problem(reply, subject)
        if problem:
            raise ValidationFailed(f"--reply: {problem}", parameter="reply", found=reply)
        if not 1 <= self.batch <= MAX_BATCH:
            raise ValidationFailed(
                f"--batch: expected 1 to {MAX_BATCH}; found {self.batch}",
                parameter="batch",
                found=self.batch,
            )
        durable = self.durable or f"steward-{self.endpoint}"
        if not durable or any(c in durable for c in ".*> \t\r\n"):
            raise ValidationFailed(
                f"--durable: a consumer name has no '.', '*', '>' or spaces; found {durable!r}",
                parameter="durable",
            )
        for name, value, low in (
            ("--max-messages", self.max_messages, 1),
            ("--idle-exit", self.idle_exit, 0),
            ("--ack-wait", self.ack_wait, 1),
            ("--max-deliver", self.max_deliver, 1),
        ):
            if value is not None and value < low:
                raise ValidationFailed(
                    f"{name}: expected at least {low}; found {value}",
                    parameter=name.lstrip("-"),
                    found=value,
                )
        if not self.nats_url.startswith(("nats://", "tls://", "ws://", "wss://")):
            raise ValidationFailed(
                f"--nats: expected a URL such as {DEFAULT_NATS_URL}; found {self.nats_url!r}",
                parameter="nats",
            )
        return StreamSettings(
            **{**asdict(self), "subject": subject, "reply": reply, "durable": durable}
        )


@dataclass
class StreamStats:
    """What a consumer did. ``received`` counts deliveries (redeliveries too)."""

    endpoint: str
    subject: str
    reply: str
    stream: str = ""
    consumer: str = ""
    stream_created: bool = False  # the consumer created the stream
    received: int = 0
    # each acknowledged message is one of: scored (now, and logged), duplicate or rejected
    scored: int = 0  # requests scored now and logged
    duplicates: int = 0  # answered from the log (redelivered, or a repeated request id)
    rejected: int = 0  # bad input: answered with an error and acknowledged
    replies: int = 0  # answers published
    acked: int = 0
    retried: int = 0  # deliveries handed back after a failure that was not the request's
    abandoned: int = 0  # terminated after max_deliver failures (answered with an error)
    unacked: int = 0  # left unacknowledged because publishing the answers failed
    batches: int = 0
    seconds: float = 0.0
    stopped: str = ""  # max-messages | idle | signal | error
    ack_wait: float = 0.0
    max_deliver: int = 0
    _t0: float = field(default_factory=time.monotonic, repr=False)

    @property
    def per_second(self) -> float:
        """Messages acknowledged per second since the consumer started reading."""
        return self.acked / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if not k.startswith("_")}
        out["per_second"] = round(self.per_second, 1)
        out["seconds"] = round(self.seconds, 3)
        return out


# -- subjects ----------------------------------------------------------------------------------
def check_subject(subject: str, *, name: str, wildcards: bool) -> str:
    """A NATS subject: dot-separated non-empty tokens, no spaces; ``*`` and a final ``>``
    only where ``wildcards`` are allowed."""
    tokens = subject.split(".")
    bad = not subject or any(not t or any(c.isspace() for c in t) for t in tokens)
    if not bad and ">" in tokens[:-1]:
        bad = True
    if bad:
        raise ValidationFailed(
            f"{name}: expected a NATS subject such as 'credit.requests' (dot-separated "
            f"tokens, no spaces, '>' only last); found {subject!r}",
            parameter=name.lstrip("-"),
            found=subject,
        )
    if not wildcards and any(t in ("*", ">") for t in tokens):
        raise ValidationFailed(
            f"{name}: a subject to publish to has no wildcards; found {subject!r}",
            parameter=name.lstrip("-"),
            found=subject,
        )
    return subject


def subject_covers(pattern: str, subject: str) -> bool:
    """Whether every subject that ``subject`` matches (it may have wildcards itself) is
    matched by ``pattern``."""
    p, s = pattern.split("."), subject.split(".")
    for i, pt in enumerate(p):
        if pt == ">":
            return i < len(s)
        if i >= len(s) or s[i] == ">":
            return False
        if pt != "*" and (s[i] == "*" or s[i] != pt):
            return False
    return len(s) == len(p)


def reply_problem(reply: str, subject: str) -> str | None:
    """Why answers may not be published to ``reply``, or ``None``."""
    if reply.startswith("$"):
        # $JS.API.*, $SYS.*, $KV.*: a request must not make the consumer talk to the server
        return f"{reply!r} is a system subject ('$...'); name an ordinary subject"
    if subject_covers(subject, reply):
        return (
            f"{reply!r} is matched by the subject the consumer reads ({subject!r}): the "
            "consumer would read its own answers"
        )
    return None


# -- the consumer ------------------------------------------------------------------------------
@dataclass
class _Item:
    msg: Msg
    request_id: str
    reply: str
    body: Any = None
    error: dict[str, str] | None = None
    answer: dict[str, Any] | None = None


class StreamConsumer:
    """Consume one endpoint's requests from a JetStream subject (see the module docs).

    ``on_ready(stats)`` is called once the consumer is bound (``stats`` names the stream
    and consumer), ``on_progress(stats)`` every ``settings.progress_every`` seconds."""

    def __init__(
        self,
        serving: ServingService,
        principal: Principal,
        settings: StreamSettings,
        *,
        on_ready: Callable[[StreamStats], None] | None = None,
        on_progress: Callable[[StreamStats], None] | None = None,
    ) -> None:
        self.serving = serving
        self.principal = principal
        self.settings = settings.checked()
        self.on_ready = on_ready
        self.on_progress = on_progress
        assert self.settings.reply is not None and self.settings.durable is not None
        self.stats = StreamStats(settings.endpoint, self.settings.subject, self.settings.reply)
        self._id_prefix = ""
        self._last_progress = 0.0
        self._ack_wait = self.settings.ack_wait
        self._max_deliver = self.settings.max_deliver
        self._closing = False

    async def run(self, stop: asyncio.Event | None = None) -> StreamStats:
        """Consume until ``stop`` is set, ``max_messages`` are acknowledged or the stream
        has been idle ``idle_exit`` seconds; returns the counts."""
        st = self.settings
        # before anything is read: an unknown endpoint is NotFound, a principal who may not
        # predict is PolicyDenied (and the models are loaded now, not on the first batch)
        await asyncio.to_thread(self.serving.authorise, self.principal, st.endpoint)
        stop = stop or asyncio.Event()
        nc = await self._connect()
        sub = None
        try:
            js = nc.jetstream()
            await self._check_jetstream(js)
            stream, created_at = await self._stream(js)
            self._id_prefix = f"{stream}:{created_at}:" if created_at else f"{stream}:"
            sub = await self._subscribe(js, stream)
            if self.on_ready:
                self.on_ready(self.stats)
            self.stats._t0 = time.monotonic()
            self._last_progress = self.stats._t0
            try:
                await self._consume(nc, sub, stop)
            except StewardError:
                self.stats.stopped = "error"
                raise
        finally:
            self.stats.seconds = time.monotonic() - self.stats._t0
            self._closing = True
            # the pull subscription first: a fetch's late status message left in its queue
            # would hold a drain of it until the drain timeout (nobody reads that queue)
            with contextlib.suppress(Exception):
                if sub is not None:
                    await sub.unsubscribe()
            with contextlib.suppress(Exception):  # already closed: nothing left to drain
                await nc.drain()
        return self.stats

    # -- connecting --------------------------------------------------------------------------
    async def _connect(self) -> Client:
        import nats

        url = self.settings.nats_url
        errors: list[BaseException] = []
        connected = False

        async def on_error(exc: Exception) -> None:
            errors.append(exc)
            del errors[:-1]
            if connected:  # while starting, the failure is raised below instead
                _log.warning("NATS: %s: %s", type(exc).__name__, exc)

        async def on_disconnected() -> None:
            if connected and not self._closing:
                _log.warning("NATS: disconnected from %s; reconnecting", url)

        async def on_reconnected() -> None:
            _log.warning("NATS: reconnected to %s", url)

        try:
            nc = await nats.connect(
                url,
                name=f"steward-stream-{self.settings.endpoint}",
                connect_timeout=2,
                # two quick tries when starting: a server that is not there is an error
                # the operator should see at once, not after minutes of retrying
                max_reconnect_attempts=1,
                reconnect_time_wait=0.2,
                error_cb=on_error,
                disconnected_cb=on_disconnected,
                reconnected_cb=on_reconnected,
            )
        except Exception as exc:
            why = errors[-1] if errors else exc
            raise Unavailable(
                f"cannot connect to NATS at {url} ({type(why).__name__}: {why}). Start a NATS "
                "server with JetStream enabled (nats-server -js -sd DIR) or point --nats / "
                "STEWARD_NATS_URL at one",
                url=url,
                tried=f"nats.connect({url!r}), 2 attempts",
            ) from exc
        connected = True
        # once running, ride out a server restart: about two minutes of reconnecting
        # (nats-py reads these options on every reconnect)
        nc.options["max_reconnect_attempts"] = 60
        nc.options["reconnect_time_wait"] = 2
        return nc

    async def _check_jetstream(self, js: JetStreamContext) -> None:
        from nats.errors import Error as NatsError

        try:
            await js.account_info()
        except (NatsError, TimeoutError) as exc:
            raise Unavailable(
                f"the NATS server at {self.settings.nats_url} does not answer JetStream "
                f"requests ({type(exc).__name__}); start it with JetStream enabled "
                "(nats-server -js -sd DIR) or enable it for this account",
                url=self.settings.nats_url,
                tried="$JS.API.INFO",
            ) from exc

    async def _stream(self, js: JetStreamContext) -> tuple[str, str]:
        """The stream that captures the subject (made if need be) and its creation time."""
        from nats.js import api
        from nats.js.errors import APIError, NotFoundError

        st = self.settings
        found = st.stream
        if found is None:
            with contextlib.suppress(NotFoundError):
                found = await js.find_stream_name_by_subject(st.subject)
        info = None
        if found is not None:
            with contextlib.suppress(NotFoundError):
                info = await js.stream_info(found)
        name = found or "STEWARD_" + st.endpoint.upper().replace("-", "_")
        if info is None:
            try:
                info = await js.add_stream(
                    name=name,
                    subjects=[st.subject],
                    retention=api.RetentionPolicy.WORK_QUEUE,
                    storage=api.StorageType.FILE,
                    description=f"requests for Steward endpoint {st.endpoint}",
                )
            except APIError as exc:
                raise Conflict(
                    f"no stream captures {st.subject!r} and stream {name} could not be "
                    f"created: {exc.description or exc}. Add the subject to a stream, or "
                    "name another with --stream",
                    stream=name,
                    subject=st.subject,
                ) from exc
            self.stats.stream_created = True
            _log.info("created stream %s for %s", name, st.subject)
        subjects = list(info.config.subjects or [])
        if not any(subject_covers(p, st.subject) for p in subjects):
            raise Conflict(
                f"stream {name} captures {', '.join(subjects) or 'no subjects'}, which does not "
                f"take in every message on {st.subject!r}; add the subject to the stream or "
                "name the stream that captures it with --stream",
                stream=name,
                subject=st.subject,
                found=subjects,
            )
        self.stats.stream = name
        created = info.created.strftime("%Y%m%dT%H%M%S%f") if info.created else ""
        return name, created

    async def _subscribe(
        self, js: JetStreamContext, stream: str
    ) -> JetStreamContext.PullSubscription:
        from nats.js import api
        from nats.js.errors import APIError, NotFoundError

        st = self.settings
        durable = st.durable
        assert durable is not None
        try:
            existing: api.ConsumerInfo | None = await js.consumer_info(stream, durable)
        except NotFoundError:
            existing = None
        if existing is not None:
            cfg = existing.config
            if cfg.filter_subject != st.subject or cfg.ack_policy != api.AckPolicy.EXPLICIT:
                raise Conflict(
                    f"consumer {durable} on stream {stream} reads "
                    f"{cfg.filter_subject or 'every subject'!r} "
                    f"(ack policy {cfg.ack_policy}), not {st.subject!r} with explicit acks; "
                    "give this one its own --durable NAME or delete that consumer",
                    stream=stream,
                    consumer=durable,
                )
        config = api.ConsumerConfig(
            name=durable,
            durable_name=durable,
            description=f"steward stream serve {st.endpoint}",
            filter_subject=st.subject,
            deliver_policy=api.DeliverPolicy.ALL,
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=st.ack_wait,
            max_deliver=st.max_deliver,
            max_ack_pending=max(1000, 4 * st.batch),
        )
        try:
            info = await js.add_consumer(stream, config)  # or update ack_wait, max_deliver
        except APIError as exc:
            raise Conflict(
                f"consumer {durable} on stream {stream} could not be created: "
                f"{exc.description or exc}",
                stream=stream,
                consumer=durable,
            ) from exc
        self._ack_wait = float(info.config.ack_wait or st.ack_wait)
        self._max_deliver = int(info.config.max_deliver or st.max_deliver)
        self.stats.consumer = durable
        self.stats.ack_wait = self._ack_wait
        self.stats.max_deliver = self._max_deliver
        return await js.pull_subscribe_bind(durable=durable, stream=stream)

    # -- consuming ---------------------------------------------------------------------------
    async def _consume(
        self, nc: Client, sub: JetStreamContext.PullSubscription, stop: asyncio.Event
    ) -> None:
        from nats.errors import ConnectionClosedError
        from nats.errors import Error as NatsError

        st, stats = self.settings, self.stats
        last_message = time.monotonic()
        while not stop.is_set():
            want = st.batch
            if st.max_messages is not None:
                want = min(want, st.max_messages - stats.acked - stats.abandoned)
                if want <= 0:
                    stats.stopped = "max-messages"
                    return
            try:
                msgs = await sub.fetch(want, timeout=st.fetch_wait)
            except TimeoutError:  # nats' own and asyncio's (nats-py raises both): none came
                msgs = []
            except ConnectionClosedError as exc:
                raise Unavailable(
                    f"lost the connection to NATS at {st.nats_url} and could not reconnect; "
                    "unacknowledged requests will be delivered again to the next consumer",
                    url=st.nats_url,
                ) from exc
            except NatsError as exc:  # e.g. the consumer or the stream was deleted meanwhile
                raise Unavailable(
                    f"fetching from consumer {stats.consumer} on stream {stats.stream} failed "
                    f"({type(exc).__name__}: {exc}); unacknowledged requests will be delivered "
                    "again to the next consumer",
                    url=st.nats_url,
                    stream=stats.stream,
                    consumer=stats.consumer,
                ) from exc
            now = time.monotonic()
            if msgs:
                last_message = now
                await self._handle(nc, msgs)
            elif st.idle_exit is not None and now - last_message >= st.idle_exit:
                stats.stopped = "idle"
                return
            self._progress()
        stats.stopped = "signal"

    def _progress(self) -> None:
        now = time.monotonic()
        self.stats.seconds = now - self.stats._t0
        if self.on_progress and now - self._last_progress >= self.settings.progress_every:
            self._last_progress = now
            self.on_progress(self.stats)

    def _parse(self, msg: Msg) -> _Item:
        """The request id, reply subject and body of one message (or why it is bad)."""
        headers = msg.headers or {}
        request_id = (
            headers.get("Nats-Msg-Id") or f"{self._id_prefix}{msg.metadata.sequence.stream}"
        )
        if len(request_id) > MAX_REQUEST_ID:
            request_id = "nats:" + hashlib.sha256(request_id.encode()).hexdigest()[:40]
        default = self.settings.reply or ""
        reply = next((headers[h] for h in REPLY_HEADERS if headers.get(h)), default)
        problem = None
        if reply != default:
            try:
                check_subject(reply, name="reply header", wildcards=False)
                problem = reply_problem(reply, self.settings.subject)
            except ValidationFailed as exc:
                problem = exc.message
        item = _Item(msg, request_id, default if problem else reply)
        try:
            item.body = json.loads(msg.data)
        except ValueError as exc:
            return self._bad(item, f"the message is not JSON ({exc})")
        if isinstance(item.body, dict):
            given = item.body.get("request_id", item.body.get("id"))
            if given is not None:
                if isinstance(given, bool) or not isinstance(given, str | int):
                    return self._bad(item, "request_id: expected a string")
                given = str(given)
                if not 1 <= len(given) <= MAX_REQUEST_ID:
                    return self._bad(
                        item,
                        f"request_id: expected 1 to {MAX_REQUEST_ID} characters; found "
                        f"{len(given)}",
                    )
                item.request_id = given
        if problem:  # answered on the consumer's reply subject instead
            return self._bad(item, f"reply header: {problem}")
        return item

    @staticmethod
    def _bad(item: _Item, message: str) -> _Item:
        item.error = {"error": ValidationFailed.code, "message": message}
        return item

    async def _handle(self, nc: Client, msgs: list[Msg]) -> None:
        from nats.errors import Error as NatsError

        stats = self.stats
        stats.received += len(msgs)
        stats.batches += 1
        items = [self._parse(m) for m in msgs]
        todo = [it for it in items if it.error is None]
        try:
            await self._score_all(todo)
        except (NotFound, PolicyDenied):
            # not the requests' fault and not going to pass: hand them to whoever comes next
            with contextlib.suppress(NatsError):
                for it in items:
                    await it.msg.nak()
                await nc.flush()
            raise
        acks: list[Msg] = []
        later: list[tuple[Msg, float]] = []
        terms: list[Msg] = []
        answers: list[tuple[_Item, dict[str, Any]]] = []
        for it in items:
            if it.error is None and it.answer is None:  # failed, not the request's fault
                delivered = it.msg.metadata.num_delivered
                if self._max_deliver < 0 or delivered < self._max_deliver:
                    later.append((it.msg, min(2.0 ** (delivered - 1), 60.0)))
                    continue
                terms.append(it.msg)
                message = f"scoring failed on all {delivered} deliveries; see the consumer's log"
                answers.append(
                    (
                        it,
                        {
                            "request_id": it.request_id,
                            "error": {"error": "failed", "message": message},
                        },
                    )
                )
                continue
            answers.append((it, it.answer or {"request_id": it.request_id, "error": it.error}))
            acks.append(it.msg)
        try:
            for it, answer in answers:
                await self._reply(nc, it, answer)
            await nc.flush()  # the answers are with the server before any request is acked
            for m in acks:
                await m.ack()
            for m in terms:
                await m.term()
            for m, delay in later:
                await m.nak(delay=delay)
            await nc.flush()
        except NatsError as exc:
            # the answers may not have reached the server: acknowledge nothing; JetStream
            # delivers the batch again after ack_wait and the log answers it
            _log.warning(
                "publishing the answers of %d request(s) failed (%s: %s); they are not "
                "acknowledged and will be delivered again",
                len(answers),
                type(exc).__name__,
                exc,
            )
            stats.unacked += len(msgs)
            return
        terminated = {id(m) for m in terms}
        for it, answer in answers:
            if id(it.msg) in terminated:
                continue
            if "error" in answer:
                stats.rejected += 1
            elif answer.get("duplicate"):
                stats.duplicates += 1
            else:
                stats.scored += 1
        stats.acked += len(acks)
        stats.abandoned += len(terms)
        stats.retried += len(later)

    async def _score_all(self, todo: list[_Item]) -> None:
        """Score the batch (log rows written before this returns); if it fails for a reason
        that is not bad input, score its requests one by one so that one does not hold the
        others back. Requests that fail on their own keep ``answer = None``."""
        if not todo:
            return
        try:
            answers = await self._score(todo)
        except (NotFound, PolicyDenied):
            raise
        except Exception as exc:
            _log.warning(
                "scoring a batch of %d failed (%s: %s)%s",
                len(todo),
                type(exc).__name__,
                exc,
                "; retrying one by one" if len(todo) > 1 else "",
            )
            if len(todo) == 1:
                return
            for it in todo:
                try:
                    (it.answer,) = await self._score([it])
                except (NotFound, PolicyDenied):
                    raise
                except Exception as one:
                    _log.warning(
                        "request %s failed: %s: %s", it.request_id, type(one).__name__, one
                    )
            return
        for it, answer in zip(todo, answers, strict=True):
            it.answer = answer

    async def _score(self, items: list[_Item]) -> list[dict[str, Any]]:
        beat = asyncio.create_task(self._keep_alive([it.msg for it in items]))
        try:
            return await asyncio.to_thread(
                self.serving.score_many,
                self.principal,
                self.settings.endpoint,
                [(it.request_id, it.body) for it in items],
                source="stream",
            )
        finally:
            beat.cancel()

    async def _keep_alive(self, msgs: list[Msg]) -> None:
        """Tell JetStream the messages are being worked on, so that a batch slower than
        ``ack_wait`` is not delivered again meanwhile."""
        while True:
            await asyncio.sleep(max(self._ack_wait / 3, 0.5))
            for m in msgs:
                await m.in_progress()

    async def _reply(self, nc: Client, item: _Item, answer: dict[str, Any]) -> None:
        status = "error" if "error" in answer else "duplicate" if answer.get("duplicate") else "ok"
        data = json.dumps(answer, separators=(",", ":"), allow_nan=False).encode()
        if len(data) > nc.max_payload:
            # scored and logged, but too big for one message: say so instead
            status = "error"
            data = json.dumps(
                {
                    "request_id": item.request_id,
                    "error": {
                        "error": "reply_too_large",
                        "message": f"the answer is {len(data):,} bytes and the NATS server "
                        f"takes at most {nc.max_payload:,}; it is in the prediction log. "
                        "Send fewer records per request",
                    },
                }
            ).encode()
        await nc.publish(
            item.reply,
            data,
            headers={"Steward-Request-Id": item.request_id, "Steward-Status": status},
        )
        self.stats.replies += 1


def serve(
    serving: ServingService,
    principal: Principal,
    settings: StreamSettings,
    *,
    on_ready: Callable[[StreamStats], None] | None = None,
    on_progress: Callable[[StreamStats], None] | None = None,
) -> StreamStats:
    """Run a consumer until SIGINT or SIGTERM (which finish the batch in hand, then
    drain; a second one stops the process at once), ``max_messages`` or ``idle_exit``;
    returns its counts."""
    consumer = StreamConsumer(
        serving, principal, settings, on_ready=on_ready, on_progress=on_progress
    )

    async def main() -> StreamStats:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_signal(sig: signal.Signals) -> None:
            stop.set()
            loop.remove_signal_handler(sig)  # the next one has its usual effect

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal, sig)
        try:
            return await consumer.run(stop)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    return asyncio.run(main())
