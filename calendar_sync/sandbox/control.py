"""Control API for tests and the demo: accounts, clients, tokens, clock, faults, mail."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request

from .scopes import normalize_scopes
from .signing import ISSUER, LIFETIME_SECONDS, sandbox_key
from .state import Fault, OAuthClient, SandboxState, current_state

bp = Blueprint("sandbox_control", __name__, url_prefix="/_sandbox")

# The client used when a test asks for tokens without naming one.
DEFAULT_CLIENT_KEY = "_default_client"

# What Google sends for each injectable failure: (status, reason) -> (domain, message).
FAULT_SHAPES: dict[tuple[int, str], tuple[str, str]] = {
    (429, "rateLimitExceeded"): ("usageLimits", "Rate Limit Exceeded"),
    (403, "rateLimitExceeded"): ("usageLimits", "Rate Limit Exceeded"),
    (403, "userRateLimitExceeded"): ("usageLimits", "User Rate Limit Exceeded"),
    (403, "quotaExceeded"): ("usageLimits", "Calendar usage limits exceeded."),
    (403, "forbidden"): ("global", "Forbidden"),
    (404, "notFound"): ("global", "Requested entity was not found."),
    (410, "fullSyncRequired"): (
        "calendar",
        "Sync token is no longer valid, a full sync is required.",
    ),
    (410, "updatedMinTooLongAgo"): (
        "calendar",
        "The requested minimum modification time lies too far in the past.",
    ),
    (500, "backendError"): ("global", "Backend Error"),
    (503, "backendError"): ("global", "The service is currently unavailable."),
}
DEFAULT_REASONS = {
    429: "rateLimitExceeded",
    403: "rateLimitExceeded",
    404: "notFound",
    410: "fullSyncRequired",
    500: "backendError",
    503: "backendError",
}


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(_bad("a JSON object body is required"))
    return data


def _bad(message: str, status: int = 400) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    return response


def client_secrets(client: OAuthClient, base_url: str) -> dict[str, Any]:
    """The client in the JSON layout Google Cloud Console downloads."""
    return {
        "web": {
            "client_id": client.client_id,
            "project_id": client.project_id,
            "auth_uri": base_url + "o/oauth2/auth",
            "token_uri": base_url + "token",
            "auth_provider_x509_cert_url": base_url + "oauth2/v1/certs",
            "client_secret": client.client_secret,
            "redirect_uris": list(client.redirect_uris),
        }
    }


def default_client(state: SandboxState) -> OAuthClient:
    with state.lock:
        client_id = state.extras.get(DEFAULT_CLIENT_KEY)
        if client_id is None:
            client = state.register_client(["http://127.0.0.1/oauth2callback"])
            state.extras[DEFAULT_CLIENT_KEY] = client.client_id
            return client
        return state.clients[client_id]


@bp.post("/accounts")
def create_account() -> tuple[Response, int]:
    data = _body()
    email = data.get("email")
    if not isinstance(email, str) or "@" not in email:
        abort(_bad("email is required"))
    name = data.get("name") or email.split("@", 1)[0].title()
    account = current_state().add_account(email, str(name), str(data.get("time_zone") or "UTC"))
    return jsonify(_account_json(account.email)), 201


@bp.get("/accounts")
def list_accounts() -> Response:
    state = current_state()
    with state.lock:
        return jsonify({"accounts": [_account_json(email) for email in state.accounts]})


def _account_json(email: str) -> dict[str, Any]:
    account = current_state().accounts[email]
    return {
        "email": account.email,
        "name": account.name,
        "time_zone": account.time_zone,
        "id": account.id,
    }


@bp.post("/clients")
def create_client() -> tuple[Response, int]:
    data = _body()
    uris = data.get("redirect_uris")
    if not isinstance(uris, list) or not all(isinstance(u, str) for u in uris):
        abort(_bad("redirect_uris must be a list of strings"))
    client = current_state().register_client(
        uris,
        project_id=str(data.get("project_id") or "sandbox-project"),
        testing=bool(data.get("testing", False)),
    )
    return jsonify(client_secrets(client, request.host_url)), 201


@bp.post("/tokens")
def issue_tokens() -> tuple[Response, int]:
    """Tokens for an account without the consent page, as if it had approved ``scopes``."""
    state = current_state()
    data = _body()
    email, scopes = data.get("email"), data.get("scopes")
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        abort(_bad("scopes must be a list of strings"))
    with state.lock:
        if email not in state.accounts:
            abort(_bad("unknown account", 404))
        client_id = data.get("client_id")
        if client_id is None:
            client = default_client(state)
        elif client_id in state.clients:
            client = state.clients[client_id]
        else:
            abort(_bad("unknown client", 404))
        grant = state.create_grant(
            client.client_id, str(email), normalize_scopes(scopes), with_refresh=True
        )
        access = state.issue_access_token(grant)
    return jsonify(
        {
            "access_token": access.token,
            "refresh_token": grant.refresh_token,
            "expires_in": int((access.expires_at - state.now()).total_seconds()),
            "expiry": access.expires_at.isoformat(),
            "scope": " ".join(sorted(grant.scopes)),
            "token_uri": request.host_url + "token",
            "client_id": client.client_id,
            "client_secret": client.client_secret,
        }
    ), 201


def _grant_selector() -> tuple[str | None, str]:
    data = _body()
    state = current_state()
    with state.lock:
        for key in ("refresh_token", "access_token"):
            value = data.get(key)
            if isinstance(value, str):
                grant_id = state.refresh_tokens.get(value)
                if grant_id is None and value in state.access_tokens:
                    grant_id = state.access_tokens[value].grant_id
                if grant_id is None:
                    abort(_bad("unknown token", 404))
                grant = state.grants[grant_id]
                return grant.client_id, grant.email
    email = data.get("email")
    if not isinstance(email, str):
        abort(_bad("give email (and optionally client_id), refresh_token or access_token"))
    client_id = data.get("client_id")
    return (client_id if isinstance(client_id, str) else None), email


@bp.post("/id-tokens")
def sign_id_token() -> tuple[Response, int]:
    """An ID token signed with the sandbox's published key: for an account (``email``, whose
    id becomes ``sub``) or any ``subject``; ``audience`` is required, ``lifetime`` (seconds,
    negative for one already expired) and ``issuer`` are optional."""
    state = current_state()
    data = _body()
    audience = data.get("audience")
    if not isinstance(audience, str) or not audience:
        abort(_bad("audience is required"))
    email = data.get("email")
    with state.lock:
        if email is not None:
            if email not in state.accounts:
                abort(_bad("unknown account", 404))
            subject = state.accounts[email].id
        else:
            subject = str(data.get("subject") or "")
    if not subject:
        abort(_bad("email or subject is required"))
    lifetime = int(data.get("lifetime", LIFETIME_SECONDS))
    issued_at = None if lifetime > 0 else float(time.time() + lifetime - 60)
    token = sandbox_key().id_token(
        subject=subject,
        audience=audience,
        email=email,
        issuer=str(data.get("issuer") or ISSUER),
        lifetime=abs(lifetime) if lifetime > 0 else 1,
        issued_at=issued_at,
    )
    return jsonify({"id_token": token}), 201


@bp.post("/grants/revoke")
def revoke_grants() -> Response:
    """The user removes the app's access (Google Account > Security > Third-party access)."""
    client_id, email = _grant_selector()
    return jsonify({"revoked": current_state().revoke_access(client_id, email)})


@bp.post("/grants/expire")
def expire_grants() -> Response:
    """Refresh tokens die on their own (7-day Testing limit, six months unused, password)."""
    client_id, email = _grant_selector()
    return jsonify({"expired": current_state().expire_refresh_tokens(client_id, email)})


@bp.post("/userinfo")
def set_userinfo_style() -> Response:
    """Answer user info as Google's v2 does (``id``) or as OpenID Connect does (``sub``)."""
    style = _body().get("style")
    if style not in ("v2", "oidc"):
        abort(_bad("style must be v2 or oidc"))
    current_state().userinfo_style = style
    return jsonify({"style": style})


@bp.get("/clock")
def get_clock() -> Response:
    return jsonify({"now": current_state().now().isoformat()})


@bp.post("/clock")
def set_clock() -> Response:
    data = _body()
    state = current_state()
    if "advance_seconds" in data:
        seconds = data["advance_seconds"]
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            abort(_bad("advance_seconds must be a non-negative number"))
        now = state.advance(float(seconds))
    elif isinstance(data.get("now"), str):
        try:
            when = datetime.fromisoformat(data["now"])
        except ValueError:
            abort(_bad("now must be an ISO 8601 date-time with offset"))
        if when.tzinfo is None:
            abort(_bad("now must carry a UTC offset"))
        now = state.set_now(when)
    else:
        abort(_bad("give advance_seconds or now"))
    return jsonify({"now": now.isoformat()})


@bp.get("/mail")
def list_mail() -> Response:
    state = current_state()
    wanted = request.args.get("to")
    with state.lock:
        messages = [
            message.to_json()
            for message in state.sent
            if wanted is None
            or wanted.lower() in (a.lower() for a in message.to + message.cc + message.bcc)
        ]
    return jsonify({"messages": messages})


@bp.get("/calls")
def get_calls() -> Response:
    state = current_state()
    with state.lock:
        return jsonify({"calls": dict(state.calls)})


@bp.delete("/calls")
def reset_calls() -> Response:
    state = current_state()
    with state.lock:
        state.calls.clear()
    return jsonify({"calls": {}})


@bp.post("/faults")
def add_fault() -> tuple[Response, int]:
    data = _body()
    method = data.get("method")
    if not isinstance(method, str) or not method:
        abort(_bad("method is required (a discovery id such as calendar.events.list)"))
    count = data.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        abort(_bad("count must be a positive integer"))
    skip = data.get("skip", 0)
    if not isinstance(skip, int) or isinstance(skip, bool) or skip < 0:
        abort(_bad("skip must be a non-negative integer"))
    after = bool(data.get("after_processing", False))
    if "timeout" in data:
        timeout = data["timeout"]
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout < 0:
            abort(_bad("timeout must be a non-negative number of seconds"))
        fault = Fault(timeout=float(timeout), after_processing=after, remaining=count, skip=skip)
    else:
        status = data.get("status")
        if status not in DEFAULT_REASONS:
            abort(_bad(f"status must be one of {sorted(DEFAULT_REASONS)}"))
        reason = data.get("reason") or DEFAULT_REASONS[status]
        if (status, reason) not in FAULT_SHAPES:
            pairs = sorted(f"{s}/{r}" for s, r in FAULT_SHAPES)
            abort(_bad(f"unsupported status/reason; use one of {pairs}"))
        fault = Fault(status=status, reason=reason, remaining=count, skip=skip)
    current_state().add_fault(method, fault)
    return jsonify({"method": method, "count": count}), 201


@bp.get("/faults")
def list_faults() -> Response:
    state = current_state()
    with state.lock:
        queued = {
            method: [
                {
                    "status": f.status,
                    "reason": f.reason,
                    "timeout": f.timeout,
                    "count": f.remaining,
                    "skip": f.skip,
                }
                for f in queue
            ]
            for method, queue in state.faults.items()
            if queue
        }
    return jsonify({"faults": queued})


@bp.delete("/faults")
def clear_faults() -> Response:
    state = current_state()
    with state.lock:
        state.faults.clear()
    return jsonify({"faults": {}})
