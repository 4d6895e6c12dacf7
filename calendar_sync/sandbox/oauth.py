"""OAuth 2.0 for web-server apps, as accounts.google.com and oauth2.googleapis.com do it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Blueprint, Response, g, jsonify, redirect, render_template, request

from .api import drop_connection, google_method
from .id_tokens import certs as signing_certs
from .scopes import SIGN_IN_SCOPES, USERINFO_EMAIL, USERINFO_PROFILE, parse_scope_param
from .state import AUTH_CODE_LIFETIME, AuthCode, OAuthClient, SandboxState, current_state

bp = Blueprint("sandbox_oauth", __name__)

# RFC 7636: the verifier and the challenge are 43-128 characters of this alphabet.
_PKCE_VALUE = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_PROMPTS = {"none", "consent", "select_account"}


def _error_page(status: int, error: str, description: str) -> tuple[str, int]:
    """Google's "That's an error" page: problems it will not send back to the app."""
    page = render_template(
        "sandbox/error.html", status=status, error=error, description=description
    )
    return page, status


def _with_query(uri: str, params: dict[str, str]) -> str:
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


@bp.get("/o/oauth2/auth")
@bp.get("/o/oauth2/v2/auth")
def authorize() -> Any:
    """Check the authorization request, then show the account chooser and consent page."""
    state = current_state()
    args = request.args
    client = state.clients.get(args.get("client_id", ""))
    if client is None:
        return _error_page(401, "invalid_client", "The OAuth client was not found.")
    redirect_uri = args.get("redirect_uri", "")
    if redirect_uri not in client.redirect_uris:
        # Never redirect to an unregistered address: that is how codes get stolen.
        return _error_page(
            400,
            "redirect_uri_mismatch",
            "You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 "
            "policy. The redirect URI in the request does not match the ones authorized for "
            "the OAuth client.",
        )
    problem = _check_auth_request(args)
    if problem is not None:
        return _error_page(400, "invalid_request", problem)
    scopes = parse_scope_param(args["scope"])
    prompts = set(args.get("prompt", "").split())
    pending = {
        "client_id": client.client_id,
        "redirect_uri": redirect_uri,
        "scopes": sorted(scopes),
        "state": args.get("state"),
        "offline": args.get("access_type") == "offline",
        "prompt_consent": "consent" in prompts,
        "include_granted_scopes": args.get("include_granted_scopes") == "true",
        "code_challenge": args.get("code_challenge"),
        "code_challenge_method": (
            args.get("code_challenge_method", "plain") if args.get("code_challenge") else None
        ),
    }
    hint = args.get("login_hint")
    if "none" in prompts:
        return _silent(state, client, pending, hint)
    request_id = secrets.token_urlsafe(16)
    with state.lock:
        state.pending_auth[request_id] = pending
        accounts = list(state.accounts.values())
    return render_template(
        "sandbox/consent.html",
        request_id=request_id,
        accounts=accounts,
        selected=hint if hint in state.accounts else (accounts[0].email if accounts else None),
        scopes=[(scope, scope in SIGN_IN_SCOPES) for scope in sorted(scopes)],
        project=client.project_id,
    )


def _check_auth_request(args: Any) -> str | None:
    """What is wrong with the request's OAuth parameters, if anything."""
    if not args.get("response_type"):
        return "Required parameter is missing: response_type"
    if args["response_type"] != "code":
        return f"Invalid response_type: {args['response_type']} (this sandbox supports code)"
    if not parse_scope_param(args.get("scope", "")):
        return "Missing required parameter: scope"
    if args.get("access_type", "online") not in ("online", "offline"):
        return "Invalid access_type: must be online or offline"
    prompts = set(args.get("prompt", "").split())
    if not prompts <= _PROMPTS or ("none" in prompts and len(prompts) > 1):
        return "Invalid prompt"
    challenge = args.get("code_challenge")
    method = args.get("code_challenge_method")
    if method is not None and challenge is None:
        return "Missing required parameter: code_challenge"
    if challenge is not None:
        if method not in (None, "S256", "plain"):
            return "Invalid code_challenge_method: use S256 or plain"
        if not _PKCE_VALUE.fullmatch(challenge):
            return "Invalid code_challenge"
    return None


def _silent(
    state: SandboxState, client: OAuthClient, pending: dict[str, Any], hint: str | None
) -> Any:
    """``prompt=none``: succeed only if the hinted account already approved every scope."""
    with state.lock:
        consented = state.consents.get((client.client_id, hint or ""), frozenset())
        if hint not in state.accounts or not set(pending["scopes"]) <= consented:
            error = "login_required" if hint not in state.accounts else "consent_required"
            return redirect(_with_query(pending["redirect_uri"], _with_state(pending, error)))
        return _approve(state, pending, str(hint), frozenset(pending["scopes"]))


def _with_state(pending: dict[str, Any], error: str) -> dict[str, str]:
    params = {"error": error}
    if pending["state"] is not None:
        params["state"] = pending["state"]
    return params


@bp.post("/o/oauth2/auth")
@bp.post("/o/oauth2/v2/auth")
def decide() -> Any:
    """The person's answer on the consent page."""
    state = current_state()
    with state.lock:
        pending = state.pending_auth.pop(request.form.get("request_id", ""), None)
    if pending is None:
        return _error_page(400, "invalid_request", "This sign-in request is no longer valid.")
    if request.form.get("decision") != "allow":
        return redirect(_with_query(pending["redirect_uri"], _with_state(pending, "access_denied")))
    email = request.form.get("account", "")
    if email not in state.accounts:
        return _error_page(400, "invalid_request", "Choose an account to continue.")
    requested = frozenset(pending["scopes"])
    # Unticked boxes are simply absent from the form; sign-in scopes cannot be declined.
    ticked = frozenset(request.form.getlist("scope")) & requested
    granted = ticked | (requested & SIGN_IN_SCOPES)
    if not granted:
        return redirect(_with_query(pending["redirect_uri"], _with_state(pending, "access_denied")))
    return _approve(state, pending, email, granted)


def _approve(
    state: SandboxState, pending: dict[str, Any], email: str, granted: frozenset[str]
) -> Any:
    key = (pending["client_id"], email)
    with state.lock:
        before = state.consents.get(key, frozenset())
        # Google shows (and counts) consent when forced, or when something is new to approve.
        consent_shown = pending["prompt_consent"] or not frozenset(pending["scopes"]) <= before
        if pending["include_granted_scopes"]:
            granted |= before
        state.consents[key] = before | granted
        code = AuthCode(
            code="4/0" + secrets.token_urlsafe(40),
            client_id=pending["client_id"],
            email=email,
            scopes=granted,
            redirect_uri=pending["redirect_uri"],
            code_challenge=pending["code_challenge"],
            code_challenge_method=pending["code_challenge_method"],
            offline=pending["offline"],
            consent_shown=consent_shown,
            expires_at=state.now() + AUTH_CODE_LIFETIME,
        )
        state.codes[code.code] = code
    params = {"code": code.code, "scope": " ".join(sorted(granted))}
    if pending["state"] is not None:
        params["state"] = pending["state"]
    return redirect(_with_query(pending["redirect_uri"], params))


# -- token endpoint ------------------------------------------------------------------------


class _TokenError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


def _token_response(body: dict[str, Any], status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    # RFC 6749 5.1: token responses must not be cached.
    response.headers["Cache-Control"] = "no-cache, no-store, max-age=0, must-revalidate"
    response.headers["Pragma"] = "no-cache"
    return response


# Token-endpoint error codes for injected status faults.
_TOKEN_FAULTS = {
    429: "rate_limit_exceeded",
    403: "access_denied",
    410: "invalid_grant",
    500: "internal_failure",
    503: "temporarily_unavailable",
}


@bp.post("/token")
def token() -> Response:
    """Exchange an authorization code, or refresh an access token."""
    state = current_state()
    with state.lock:
        state.calls["oauth.token"] += 1
    fault = state.next_fault("oauth.token")
    if fault is not None and fault.timeout is not None and not fault.after_processing:
        return drop_connection(fault.timeout)
    if fault is not None and fault.status is not None:
        error = _TOKEN_FAULTS.get(fault.status, "server_error")
        return _token_response({"error": error, "error_description": fault.reason}, fault.status)
    try:
        client = _authenticate_client(state)
        grant_type = request.form.get("grant_type")
        if not grant_type:
            raise _TokenError(400, "invalid_request", "Missing required parameter: grant_type")
        if grant_type == "authorization_code":
            body = _exchange_code(state, client)
        elif grant_type == "refresh_token":
            body = _refresh(state, client)
        else:
            raise _TokenError(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")
    except _TokenError as problem:
        return _token_response(
            {"error": problem.error, "error_description": problem.description}, problem.status
        )
    if fault is not None:
        # A token was minted, but the answer never reaches the app.
        return drop_connection(fault.timeout or 0.0)
    return _token_response(body)


def _authenticate_client(state: SandboxState) -> OAuthClient:
    """The client, from HTTP Basic credentials or client_id/client_secret in the body."""
    client_id = request.form.get("client_id")
    secret = request.form.get("client_secret")
    auth = request.authorization
    if auth is not None and auth.type == "basic":
        client_id, secret = auth.username, auth.password
    if not client_id:
        raise _TokenError(400, "invalid_request", "Could not determine client ID from request.")
    client = state.clients.get(client_id)
    if client is None:
        raise _TokenError(401, "invalid_client", "The OAuth client was not found.")
    if secret is None or not hmac.compare_digest(secret, client.client_secret):
        raise _TokenError(401, "invalid_client", "Unauthorized")
    return client


def _pkce_matches(code: AuthCode, verifier: str) -> bool:
    if not _PKCE_VALUE.fullmatch(verifier) or code.code_challenge is None:
        return False
    if code.code_challenge_method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    else:
        expected = verifier
    return hmac.compare_digest(expected, code.code_challenge)


def _exchange_code(state: SandboxState, client: OAuthClient) -> dict[str, Any]:
    form = request.form
    for name in ("code", "redirect_uri"):
        if not form.get(name):
            raise _TokenError(400, "invalid_request", f"Missing required parameter: {name}")
    with state.lock:
        code = state.codes.get(form["code"])
        if (
            code is None
            or code.used
            or code.client_id != client.client_id
            or code.expires_at <= state.now()
        ):
            raise _TokenError(400, "invalid_grant", "Bad Request")
        if form["redirect_uri"] != code.redirect_uri:
            raise _TokenError(400, "redirect_uri_mismatch", "Bad Request")
        if code.code_challenge is not None:
            verifier = form.get("code_verifier")
            if not verifier:
                raise _TokenError(400, "invalid_grant", "Missing code verifier.")
            if not _pkce_matches(code, verifier):
                raise _TokenError(400, "invalid_grant", "Invalid code verifier.")
        code.used = True
        # Google hands out a refresh token only for offline access, and only when the
        # person saw the consent screen for this grant.
        grant = state.create_grant(
            client.client_id,
            code.email,
            code.scopes,
            with_refresh=code.offline and code.consent_shown,
        )
        access = state.issue_access_token(grant)
    body: dict[str, Any] = {
        "access_token": access.token,
        "expires_in": 3599,
        "scope": " ".join(sorted(grant.scopes)),
        "token_type": "Bearer",
    }
    if grant.refresh_token is not None:
        body["refresh_token"] = grant.refresh_token
    return body


def _refresh(state: SandboxState, client: OAuthClient) -> dict[str, Any]:
    value = request.form.get("refresh_token")
    if not value:
        raise _TokenError(400, "invalid_request", "Missing required parameter: refresh_token")
    with state.lock:
        grant = state.grant_for_refresh(value)
        if grant is None:
            raise _TokenError(400, "invalid_grant", "Token has been expired or revoked.")
        if grant.client_id != client.client_id:
            raise _TokenError(401, "unauthorized_client", "Unauthorized")
        scopes = grant.scopes
        if request.form.get("scope"):
            # A refresh may narrow the scopes, never widen them.
            wanted = parse_scope_param(request.form["scope"])
            invalid = ", ".join(sorted(wanted - grant.scopes))
            if invalid:
                raise _TokenError(
                    400,
                    "invalid_scope",
                    f"Some requested scopes were invalid. {{invalid=[{invalid}]}}",
                )
            scopes = wanted
        access = state.issue_access_token(grant, scopes)
    return {
        "access_token": access.token,
        "expires_in": 3599,
        "scope": " ".join(sorted(scopes)),
        "token_type": "Bearer",
    }


@bp.post("/revoke")
def revoke() -> Response:
    """Revoke an access or refresh token, and with it the whole grant."""
    state = current_state()
    with state.lock:
        state.calls["oauth.revoke"] += 1
    value = request.form.get("token") or request.args.get("token") or ""
    if not state.revoke_token(value):
        return _token_response(
            {"error": "invalid_token", "error_description": "Token expired or revoked"}, 400
        )
    return _token_response({})


@bp.get("/oauth2/v1/certs")
def certs() -> Response:
    """The certificates of the key that signs the sandbox's ID tokens (Cloud Tasks' OIDC)."""
    return jsonify(signing_certs())


@bp.get("/oauth2/v2/userinfo")
@google_method("oauth2.userinfo.get")
def userinfo(account: str) -> Response:
    """The profile fields the token's scopes allow, as Google's userinfo endpoint answers.

    With the ``oidc`` style (``POST /_sandbox/userinfo``) the fields are named as an OpenID
    Connect provider names them: ``sub`` and ``email_verified``.
    """
    state = current_state()
    person = state.accounts[account]
    oidc = state.userinfo_style == "oidc"
    body: dict[str, Any] = {"sub": person.id} if oidc else {"id": person.id}
    scopes = g.token_scopes
    if USERINFO_EMAIL in scopes:
        body.update({"email": person.email, "email_verified" if oidc else "verified_email": True})
    if USERINFO_PROFILE in scopes:
        given, _, family = person.name.partition(" ")
        body.update(name=person.name, given_name=given)
        if family:
            body["family_name"] = family
    return jsonify(body)
