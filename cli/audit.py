"""`trainyard audit`: read the audit trail (logins, users, tokens, aliases, runs started and cancelled)."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from trainyard.durations import parse_duration
from trainyard.registry import audit


def audit_command(
    user: str | None = typer.Option(None, "--user", help="Only what this user did (or tried)."),
    since: str | None = typer.Option(None, "--since", help="Only the last 1d, 12h, 30m…"),
    action: audit.Action | None = typer.Option(None, "--action", help="Only this kind of entry."),
    limit: int = typer.Option(100, min=1, max=10_000, help="At most this many entries, newest first."),
) -> None:
    """The audit trail, newest first: when, who, what, outcome, on what, from where."""
    try:
        start = datetime.now(UTC) - parse_duration(since) if since is not None else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since") from None
    total, entries = audit.read(user=user, since=start, action=action, limit=limit)
    for entry in entries:
        detail = " ".join(f"{k}={v}" for k, v in entry.detail.items())
        typer.echo(f"{entry.at:%Y-%m-%d %H:%M:%S}  {entry.actor or '-':<20} {entry.action:<18} {entry.outcome:<9} "
                   f"{entry.target or '-':<30} {entry.address or '-':<15} {detail}".rstrip())  # fmt: skip
    typer.echo(f"{len(entries)} of {total} entries", err=True)
