"""`trainyard users …` and `trainyard tokens …`: accounts and API tokens, from the command line."""

from __future__ import annotations

import typer

from trainyard.durations import parse_duration
from trainyard.registry import users
from trainyard.registry.auth import parse_role

users_app = typer.Typer(help="Users and their roles (admin, hr_staff, manager).", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens: shown once when created, stored only as a sha256.", no_args_is_help=True)


def _fail(error: users.UserError) -> typer.Exit:
    typer.echo(f"error: {error}", err=True)
    return typer.Exit(1)


@users_app.command("add")
def add(
    username: str = typer.Argument(..., help="Login name."),
    role: str = typer.Option(..., "--role", help="admin, hr_staff or manager (DRH, RESPONSABLE_RH, MANAGER too)."),
    password: str = typer.Option(
        ..., prompt=True, hide_input=True, confirmation_prompt=True, help="Prompted for when not given (never echoed)."
    ),
    token: bool = typer.Option(False, "--token", help="Also create an API token and print it."),
) -> None:
    """Create a user."""
    try:
        users.add_user(username, password, role)
        typer.echo(f"created user {username} ({parse_role(role)})")
        if token:
            typer.echo(f"token {users.create_token(username)}   (shown once; keep it secret)")
    except users.UserError as exc:
        raise _fail(exc) from None


@users_app.command("list")
def list_() -> None:
    """Every user, with role, status and how many tokens they hold."""
    for user in users.list_users():
        status = "disabled" if user.disabled else "active"
        since = f"{user.created_at:%Y-%m-%d}"
        typer.echo(f"{user.username:<24} {user.role:<10} {status:<9} tokens={user.tokens}  since {since}")


@users_app.command("role")
def role(
    username: str,
    new_role: str = typer.Argument(..., metavar="ROLE", help="admin, hr_staff or manager."),
) -> None:
    """Change a user's role (their existing tokens carry the new one within TRAINYARD_TOKEN_CACHE_SECONDS)."""
    try:
        previous, current = users.set_role(username, new_role)
    except users.UserError as exc:
        raise _fail(exc) from None
    typer.echo(f"{username}: {previous} -> {current}")


@users_app.command("disable")
def disable(username: str) -> None:
    """Lock a user out: no login, and every token of theirs is revoked. Their runs keep their name."""
    try:
        revoked = users.set_disabled(username, True)
    except users.UserError as exc:
        raise _fail(exc) from None
    typer.echo(f"disabled {username}; revoked {revoked} token(s)")


@users_app.command("enable")
def enable(username: str) -> None:
    """Let a disabled user log in again (tokens must be created anew)."""
    try:
        users.set_disabled(username, False)
    except users.UserError as exc:
        raise _fail(exc) from None
    typer.echo(f"enabled {username}")


@tokens_app.command("create")
def create(
    username: str,
    expires: str | None = typer.Option(None, "--expires", help="Valid for this long: 90d, 12h, 30m, 2w. "
                                       "Not given: until revoked."),
) -> None:
    """Create an API token for a user and print it (once)."""
    try:
        lifetime = parse_duration(expires) if expires is not None else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--expires") from None
    try:
        typer.echo(users.create_token(username, lifetime))
    except users.UserError as exc:
        raise _fail(exc) from None


@tokens_app.command("list")
def tokens_list(username: str | None = typer.Argument(None, help="Only this user's tokens.")) -> None:
    """Tokens by id, owner, creation and expiry time (the tokens themselves are not stored)."""
    for token in users.list_tokens(username):
        created = f"{token.created_at:%Y-%m-%d %H:%M}"
        expires = "never" if token.expires_at is None else f"{token.expires_at:%Y-%m-%d %H:%M}"
        expires += " (expired)" if token.expired else ""
        typer.echo(f"{token.id:>6}  {token.username:<24} {created}  expires_at {expires:<26} "
                   f"sha256 {token.digest_prefix}…")  # fmt: skip


@tokens_app.command("revoke")
def revoke(
    token_id: int | None = typer.Argument(None, help="The token's id (see `trainyard tokens list`)."),
    user: str | None = typer.Option(None, "--user", help="Revoke every token of this user instead."),
) -> None:
    """Revoke one token, or all of a user's. A revoked token is refused within TRAINYARD_TOKEN_CACHE_SECONDS."""
    try:
        revoked = users.revoke_tokens(token_id=token_id, username=user)
    except users.UserError as exc:
        raise _fail(exc) from None
    typer.echo(f"revoked {revoked} token(s)")
