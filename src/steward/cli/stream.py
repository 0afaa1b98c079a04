"""``steward stream serve``: score an endpoint's requests from a NATS JetStream subject."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

import typer

from steward.cli.common import client, handle_errors, state
from steward.cli.output import console, err_console, print_json
from steward.errors import ValidationFailed
from steward.serving.stream import DEFAULT_NATS_URL  # nats itself is imported when consuming

if TYPE_CHECKING:
    from steward.serving.stream import StreamStats

__all__ = ["stream_app"]

stream_app = typer.Typer(
    help="Streaming predictions from NATS JetStream (see docs/streaming.md).",
    no_args_is_help=True,
)


def _counts(s: StreamStats) -> str:
    return (
        f"{s.acked:,} acknowledged ({s.scored:,} scored, {s.duplicates:,} duplicates answered "
        f"from the log, {s.rejected:,} rejected), {s.retried:,} handed back, "
        f"{s.abandoned:,} abandoned; {s.per_second:,.{0 if s.per_second >= 100 else 1}f}/s"
    )


@stream_app.command("serve")
@handle_errors
def stream_serve(
    endpoint: Annotated[str, typer.Argument(help="The endpoint that scores the requests.")],
    subject: Annotated[
        str, typer.Option("--subject", "-s", help="The subject requests are published on.")
    ],
    reply: Annotated[
        str | None,
        typer.Option(help="Where answers go unless a request says (default: SUBJECT.replies)."),
    ] = None,
    batch: Annotated[int, typer.Option(help="At most this many requests scored together.")] = 64,
    nats_url: Annotated[
        str, typer.Option("--nats", envvar="STEWARD_NATS_URL", help="The NATS server.")
    ] = DEFAULT_NATS_URL,
    durable: Annotated[
        str | None,
        typer.Option(
            help="Durable consumer name; processes sharing it share the work "
            "(default: steward-ENDPOINT)."
        ),
    ] = None,
    stream: Annotated[
        str | None,
        typer.Option(
            help="The JetStream stream (default: the one capturing SUBJECT; "
            "STEWARD_<ENDPOINT> is created if none does)."
        ),
    ] = None,
    max_messages: Annotated[
        int | None, typer.Option(help="Stop after acknowledging this many messages.")
    ] = None,
    idle_exit: Annotated[
        float | None, typer.Option(help="Stop after this many seconds without a message.")
    ] = None,
    ack_wait: Annotated[
        float, typer.Option(help="Seconds JetStream waits for an ack before redelivering.")
    ] = 30.0,
    max_deliver: Annotated[
        int, typer.Option(help="Deliveries of a failing request before it is abandoned.")
    ] = 20,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the final counts as JSON.")
    ] = False,
) -> None:
    """Consume requests from SUBJECT, score them in micro-batches, publish each answer and
    acknowledge it only after it is published and logged (Ctrl-C stops after the batch in
    hand)."""
    from steward.policy import Principal
    from steward.serving import ServingService
    from steward.serving.stream import StreamSettings, serve

    if state.url:
        raise ValidationFailed(
            "steward stream serve scores next to the database (embedded mode); drop --url / "
            "STEWARD_URL and give --home and --user",
        )
    settings = StreamSettings(
        endpoint=endpoint,
        subject=subject,
        reply=reply,
        batch=batch,
        nats_url=nats_url,
        durable=durable,
        stream=stream,
        max_messages=max_messages,
        idle_exit=idle_exit,
        ack_wait=ack_wait,
        max_deliver=max_deliver,
    ).checked()
    sw = client()
    serving = ServingService(
        sw.runtime, refresh=float(os.environ.get("STEWARD_SERVING_REFRESH", "1"))
    )
    principal = Principal(sw.me().name)

    def ready(s: StreamStats) -> None:
        err_console.print(
            f"consuming {s.subject} for endpoint {s.endpoint} as {principal.name}: stream "
            f"{s.stream}{' (created)' if s.stream_created else ''}, consumer {s.consumer} "
            f"(ack wait {s.ack_wait:g} s, max deliver {s.max_deliver}), answers to {s.reply}, "
            f"batches of up to {settings.batch} (Ctrl-C to stop)",
            markup=False,
        )

    def progress(s: StreamStats) -> None:
        err_console.print(f"{s.seconds:,.0f} s: {_counts(s)}", markup=False)

    try:
        stats = serve(serving, principal, settings, on_ready=ready, on_progress=progress)
    finally:
        serving.close()
        sw.close()
    if as_json:
        print_json(stats.to_dict())
        return
    console.print(
        f"endpoint {stats.endpoint}, {stats.subject}: {_counts(stats)} in "
        f"{stats.seconds:,.1f} s; stopped: {stats.stopped}",
        markup=False,
    )
