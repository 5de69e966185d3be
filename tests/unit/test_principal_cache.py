"""Token → user lookups are remembered by digest for a bounded time; unknown tokens never are."""

from __future__ import annotations

import asyncio
import uuid

from api.deps import PrincipalCache
from trainyard.registry.auth import create_user, issue_token, token_digest
from trainyard.registry.db import session_scope
from trainyard.registry.models import ApiToken


def _user_token() -> str:
    return issue_token(create_user(f"cache-{uuid.uuid4().hex[:8]}", "pw", "manager").id)


def _revoke(token: str) -> None:
    with session_scope() as session:
        session.query(ApiToken).filter(ApiToken.token_sha256 == token_digest(token)).delete()


def test_a_known_token_is_served_from_memory_until_it_expires() -> None:
    token = _user_token()
    cache = PrincipalCache(ttl=0.3)
    first = asyncio.run(cache.principal(token))
    _revoke(token)
    assert first is not None and asyncio.run(cache.principal(token)) == first  # within the TTL
    asyncio.run(asyncio.sleep(0.35))
    assert asyncio.run(cache.principal(token)) is None  # the revocation has taken effect


def test_ttl_zero_asks_the_registry_every_time() -> None:
    token = _user_token()
    cache = PrincipalCache(ttl=0)
    assert asyncio.run(cache.principal(token)) is not None
    _revoke(token)
    assert asyncio.run(cache.principal(token)) is None


def test_unknown_tokens_are_not_remembered() -> None:
    cache = PrincipalCache(ttl=60)
    assert asyncio.run(cache.principal("not-a-token")) is None
    assert cache._entries is not None and len(cache._entries) == 0
