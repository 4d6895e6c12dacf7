"""OAuth scope names as Google treats them."""

from __future__ import annotations

from collections.abc import Iterable

USERINFO_EMAIL = "https://www.googleapis.com/auth/userinfo.email"
USERINFO_PROFILE = "https://www.googleapis.com/auth/userinfo.profile"
OPENID = "openid"

# Google accepts the short sign-in names and answers with the full userinfo URLs.
_ALIASES = {"email": USERINFO_EMAIL, "profile": USERINFO_PROFILE}

# Sign-in scopes are always granted: Google's granular consent does not offer to untick them.
SIGN_IN_SCOPES = frozenset({OPENID, USERINFO_EMAIL, USERINFO_PROFILE})


def normalize_scopes(scopes: Iterable[str]) -> frozenset[str]:
    """Scopes with the short sign-in aliases replaced by the names Google grants."""
    return frozenset(_ALIASES.get(scope, scope) for scope in scopes if scope)


def parse_scope_param(value: str) -> frozenset[str]:
    """The ``scope`` parameter of an OAuth request: space-separated (Google also takes commas)."""
    return normalize_scopes(value.replace(",", " ").split())
