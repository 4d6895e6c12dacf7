"""Signing in: the Google connect flow, and who the signed-in therapist is.

The same button connects a new therapist and signs a returning one in. The OAuth ``state``
and PKCE verifier live on the server (``sign_in_attempts``); the browser holds only a random
binding, so a callback opened in another browser, a forged state, or a reused one is refused.
Once signed in, the cookie holds only the random secret of a server-side sign-in
(``services.accounts.sign_ins``), never the therapist's row id.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, TypeVar

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import (
    session as browser_session,
)
from sqlalchemy import delete, func, select
from werkzeug.wrappers import Response

from ..google import GoogleApiError
from ..google.oauth import (
    MEET_READ,
    authorization_url,
    exchange_code,
    fetch_profile,
    missing_required,
)
from ..services.accounts.sign_ins import (
    SignInConflict,
    close_sign_in,
    sign_in_with_google,
    signed_in_therapist,
)
from ..storage.models import SignInAttempt, Therapist
from . import csrf
from .extensions import connections, current_time, database, runtime

bp = Blueprint("auth", __name__)
log = logging.getLogger(__name__)

# Long enough to read a consent page; short enough that a stale state is useless.
ATTEMPT_LIFETIME = timedelta(minutes=15)
# Anyone may press Connect, and each press keeps a row for ATTEMPT_LIFETIME: past this many
# pending at once, /connect answers "busy" instead of growing the table. Signed-in
# therapists are not affected; a real practice has a handful of sign-ins an hour.
MAX_PENDING_ATTEMPTS = 500

F = TypeVar("F", bound=Callable[..., Any])


def redirect_uri() -> str:
    return current_app.config["PUBLIC_URL"] + "/oauth2/callback"


def _binding_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def login_required(view: F) -> F:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_therapist() is None:
            return redirect(url_for("index"))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def current_therapist() -> Therapist | None:
    """The therapist signed in on this request, or None."""
    if "therapist" not in g:
        secret = browser_session.get("sign_in")
        found = None
        if isinstance(secret, str) and secret:
            with database().transaction() as db:
                found = signed_in_therapist(db, secret, current_time())
        g.therapist = found
    therapist: Therapist | None = g.therapist
    return therapist


@bp.app_context_processor
def _templates_know_who_is_signed_in() -> dict[str, Callable[[], bool]]:
    return {"signed_in": lambda: current_therapist() is not None}


@bp.get("/connect")
def connect() -> Response | tuple[str, int, dict[str, str]]:
    """Send the browser to Google's consent page."""
    return _start(force_consent=request.args.get("consent") == "1", login_hint=None)


#: Features that ask Google for more when turned on: name -> the scopes they add.
EXTRA_GRANTS = {"meet": (MEET_READ,)}


def ask_for_more(feature: str, login_hint: str) -> Response | tuple[str, int, dict[str, str]]:
    """Incremental authorization: Google's consent page for ``feature``'s scopes only.

    The callback signs in as usual and then tells :func:`granted_for` what came back.
    """
    response = _start(
        force_consent=False, login_hint=login_hint, extra_scopes=EXTRA_GRANTS[feature]
    )
    browser_session["asking_for"] = feature
    return response


def _start(
    *, force_consent: bool, login_hint: str | None, extra_scopes: tuple[str, ...] = ()
) -> Response | tuple[str, int, dict[str, str]]:
    now = current_time()
    binding = secrets.token_urlsafe(32)
    state = secrets.token_urlsafe(32)
    # RFC 7636 allows 43-128 characters; 64 random bytes give 86.
    verifier = secrets.token_urlsafe(64)
    earlier = browser_session.get("sign_in_binding")
    with database().transaction() as db:
        db.execute(delete(SignInAttempt).where(SignInAttempt.created_at < now - ATTEMPT_LIFETIME))
        if isinstance(earlier, str):
            # A browser pressing Connect again replaces its own attempt rather than adding one.
            db.execute(
                delete(SignInAttempt).where(SignInAttempt.browser_binding == _binding_hash(earlier))
            )
        pending = db.scalar(select(func.count()).select_from(SignInAttempt)) or 0
        if pending < MAX_PENDING_ATTEMPTS:
            db.add(
                SignInAttempt(
                    state=state,
                    code_verifier=verifier,
                    browser_binding=_binding_hash(binding),
                    created_at=now,
                )
            )
    if pending >= MAX_PENDING_ATTEMPTS:
        log.warning("sign-in refused: %s sign-ins already pending", pending)
        retry = str(int(ATTEMPT_LIFETIME.total_seconds() // 3))
        return render_template("auth/busy.html"), 503, {"Retry-After": retry}
    browser_session["sign_in_binding"] = binding
    try:
        url = authorization_url(
            connections().client,
            redirect_uri=redirect_uri(),
            state=state,
            code_verifier=verifier,
            login_hint=login_hint,
            force_consent=force_consent,
            extra_scopes=extra_scopes,
        )
    except GoogleApiError:
        log.exception("sign-in cannot start: the OAuth client is not configured")
        flash("Google sign-in is not set up on this server yet (see the README).", "error")
        return redirect(url_for("index"))
    return redirect(url)


@bp.get("/oauth2/callback")
def callback() -> Response | tuple[str, int] | tuple[str, int, dict[str, str]]:
    """Google's answer: check it belongs to this browser, keep the tokens, sign in."""
    now = current_time()
    attempt = _take_attempt(request.args.get("state", ""), now)
    if attempt is None:
        return render_template("auth/refused.html"), 400
    if request.args.get("error"):
        flash("Google sign-in was cancelled; nothing was connected.", "error")
        return redirect(url_for("index"))
    code = request.args.get("code")
    if not code:
        return render_template("auth/refused.html"), 400
    keeper = connections()
    try:
        grant = exchange_code(
            keeper.client,
            redirect_uri=redirect_uri(),
            code=code,
            code_verifier=attempt.code_verifier,
            now=now,
        )
    except GoogleApiError as exc:
        log.warning("sign-in failed at the code exchange: %s", exc.reason)
        return render_template("auth/refused.html"), 400
    missing = missing_required(grant.scopes)
    if missing:
        # Nothing is kept: a connection that cannot read sessions would only look healthy.
        log.info("sign-in refused: a required permission was not granted")
        return render_template("auth/missing_permissions.html", missing=missing), 403
    try:
        account = fetch_profile(grant.access_token, keeper.api_root)
    except GoogleApiError as exc:
        log.warning("sign-in failed reading who signed in: %s", exc.reason)
        return render_template("auth/refused.html"), 400
    try:
        therapist_id, sign_in = sign_in_with_google(runtime(), account, grant, now)
    except SignInConflict:
        log.warning("sign-in could not be recorded: the account changed during two tries")
        return render_template("auth/refused.html"), 409
    asked_for = browser_session.get("asking_for")
    browser_session.clear()
    browser_session["sign_in"] = sign_in
    csrf.token()
    if asked_for in EXTRA_GRANTS:
        # The settings page reads what was granted from the stored connection.
        return redirect(url_for("settings.meet_granted"))
    if not keeper.has_refresh_token(therapist_id):
        # No long-lived token stored or sent: only a shown consent yields one.
        return _start(force_consent=True, login_hint=account.email or None)
    return redirect(url_for("dashboard.index"))


def _take_attempt(state: str, now: datetime) -> SignInAttempt | None:
    """The attempt this browser started with ``state``, used up; None if not valid."""
    binding = browser_session.pop("sign_in_binding", None)
    if not state or not binding:
        return None
    with database().transaction() as db:
        attempt = db.get(SignInAttempt, state)
        if attempt is None:
            return None
        db.delete(attempt)
    if attempt.created_at < now - ATTEMPT_LIFETIME:
        return None
    if not hmac.compare_digest(attempt.browser_binding, _binding_hash(str(binding))):
        return None
    return attempt


@bp.post("/signout")
def signout() -> Response:
    secret = browser_session.get("sign_in")
    if isinstance(secret, str) and secret:
        with database().transaction() as db:
            close_sign_in(db, secret)
    browser_session.clear()
    return redirect(url_for("index"))


def require_therapist() -> Therapist:
    therapist = current_therapist()
    if therapist is None:
        abort(401)
    return therapist
