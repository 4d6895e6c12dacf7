"""The gate every sandbox Google API view passes: counting, faults, auth, scopes, validation."""

from __future__ import annotations

import contextlib
import functools
import socket
import time
from collections.abc import Callable
from typing import Any

from flask import Response, g, request

from .control import FAULT_SHAPES
from .discovery import method as discovery_method
from .discovery import validate_body, validate_query
from .errors import GoogleError
from .state import Fault, SandboxState, current_state

_REALM = 'Bearer realm="https://accounts.google.com/"'
_CREDENTIAL_HINT = (
    "Expected OAuth 2 access token, login cookie or other valid authentication credential. "
    "See https://developers.google.com/identity/sign-in/web/devconsole-project."
)

View = Callable[..., Any]


def fault_error(fault: Fault) -> GoogleError:
    """The error Google sends for an injected status fault."""
    assert fault.status is not None and fault.reason is not None
    domain, message = FAULT_SHAPES[(fault.status, fault.reason)]
    return GoogleError(fault.status, fault.reason, message, domain)


def drop_connection(seconds: float) -> Response:
    """Hang for ``seconds``, then close the socket so the client never gets an answer.

    The response returned afterwards cannot be written: werkzeug sees the closed connection
    and gives up on it quietly.
    """
    time.sleep(seconds)
    sock = request.environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        # An OSError means the client already went away, which is the same outcome.
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    return Response(status=204)


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    # Google also takes the token as a query parameter.
    return request.args.get("access_token") or request.args.get("oauth_token")


def _authenticate(state: SandboxState, scopes: list[str]) -> str:
    token_value = _bearer_token()
    if token_value is None:
        raise GoogleError(
            401,
            "required",
            "Request is missing required authentication credential. " + _CREDENTIAL_HINT,
            location="Authorization",
            location_type="header",
            headers={"WWW-Authenticate": _REALM},
            detail_message="Login Required.",
        )
    with state.lock:
        token = state.authenticate(token_value)
        if token is None:
            raise GoogleError(
                401,
                "authError",
                "Request had invalid authentication credentials. " + _CREDENTIAL_HINT,
                location="Authorization",
                location_type="header",
                headers={"WWW-Authenticate": _REALM + ', error="invalid_token"'},
                detail_message="Invalid Credentials",
            )
        if scopes and not token.scopes.intersection(scopes):
            raise GoogleError(
                403,
                "insufficientPermissions",
                "Request had insufficient authentication scopes.",
                headers={
                    "WWW-Authenticate": _REALM
                    + f', error="insufficient_scope", scope="{" ".join(scopes)}"'
                },
                detail_message="Insufficient Permission",
            )
        g.token_scopes = token.scopes
        return state.grants[token.grant_id].email


def _json_body() -> Any:
    if not request.get_data():
        return None
    try:
        return request.get_json(force=True)
    except Exception:  # werkzeug raises BadRequest subclasses for undecodable JSON
        raise GoogleError(
            400, "parseError", "Invalid JSON payload received. Unexpected token."
        ) from None


def google_method(method_id: str) -> Callable[[View], View]:
    """Make a view behave like Google's front end for discovery method ``method_id``.

    In order: count the call, play an injected fault, authenticate the bearer token, check
    its scopes against the discovery document, validate query parameters and the JSON body.
    The view then gets ``account`` (the authenticated email) with its URL parameters;
    converted query parameters are in ``flask.g.params``, the parsed body in ``g.body`` and
    the token's granted scopes in ``g.token_scopes``.
    """
    spec = discovery_method(method_id)

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(**url_params: Any) -> Any:
            state = current_state()
            with state.lock:
                state.calls[method_id] += 1
            fault = state.next_fault(method_id)
            if fault is not None and not fault.after_processing:
                if fault.timeout is not None:
                    return drop_connection(fault.timeout)
                raise fault_error(fault)
            account = _authenticate(state, spec.scopes)
            g.params = validate_query(spec, request.args, url_params)
            g.body = _json_body()
            if "request" in spec.spec:
                if g.body is None:
                    g.body = {}
                validate_body(spec, g.body)
            result = view(account=account, **url_params)
            if fault is not None:
                # The work is done, but the answer is lost on its way back.
                return drop_connection(fault.timeout or 0.0)
            return result

        return wrapper

    return decorate
