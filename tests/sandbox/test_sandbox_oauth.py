"""The OAuth web-server flow, driven by google-auth-oauthlib and a person's form answers."""

from __future__ import annotations

import urllib.error
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import google.auth.exceptions
import google.auth.transport.requests
import pytest
import requests
from google_auth_oauthlib.flow import Flow

from calendar_sync.sandbox.testing import RunningSandbox

REDIRECT = "http://127.0.0.1:5000/oauth2callback"
THERAPIST = "dr.ruiz@example.test"
CALENDAR = "https://www.googleapis.com/auth/calendar.events"
SEND = "https://www.googleapis.com/auth/gmail.send"
EMAIL = "https://www.googleapis.com/auth/userinfo.email"
SCOPES = ["openid", "email", CALENDAR, SEND]


class _Form(HTMLParser):
    """The consent page's form: its action and the fields a browser would submit."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.hidden: dict[str, str] = {}
        self.accounts: list[tuple[str, bool]] = []
        self.scopes: list[tuple[str, bool]] = []  # (scope, can be unticked)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.action = a.get("action") or ""
        elif tag == "input" and a.get("type") == "hidden":
            self.hidden[a["name"] or ""] = a.get("value") or ""
        elif tag == "input" and a.get("name") == "account":
            self.accounts.append((a.get("value") or "", "checked" in a))
        elif tag == "input" and a.get("name") == "scope":
            assert "checked" in a, "every requested scope starts ticked"
            self.scopes.append((a.get("value") or "", "disabled" not in a))


@pytest.fixture
def secrets(sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    # oauthlib refuses plain http unless told; Google itself is always https.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    sandbox.add_account("dr.other@example.test", "Dr Other", "Europe/Paris")
    sandbox.add_account(THERAPIST, "Dr Ruiz", "America/New_York")
    return sandbox.register_client([REDIRECT])


def _flow(secrets: dict[str, Any], scopes: list[str] = SCOPES) -> Flow:
    return Flow.from_client_config(secrets, scopes=scopes, redirect_uri=REDIRECT)


def _consent(
    url: str, *, untick: tuple[str, ...] = (), decision: str = "allow", account: str | None = None
) -> dict[str, list[str]]:
    """Open the consent page, answer it like a person, and return the redirect's query."""
    page = requests.get(url, timeout=5)
    assert page.status_code == 200
    form = _Form()
    form.feed(page.text)
    chosen = account or next(email for email, checked in form.accounts if checked)
    fields: list[tuple[str, str]] = [*form.hidden.items(), ("account", chosen)]
    fields += [("scope", s) for s, optional in form.scopes if optional and s not in untick]
    fields.append(("decision", decision))
    answer = requests.post(urljoin(url, form.action), data=fields, allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT)
    return parse_qs(urlsplit(location).query)


def _post_token(sandbox: RunningSandbox, **form: str) -> requests.Response:
    return requests.post(sandbox.url + "token", data=form, timeout=5)


def test_client_secrets_have_google_console_shape(
    sandbox: RunningSandbox, secrets: dict[str, Any]
) -> None:
    web = secrets["web"]
    assert set(web) == {
        "client_id",
        "project_id",
        "auth_uri",
        "token_uri",
        "auth_provider_x509_cert_url",
        "client_secret",
        "redirect_uris",
    }
    assert web["auth_uri"] == sandbox.url + "o/oauth2/auth"
    assert web["token_uri"] == sandbox.url + "token"
    assert web["client_id"].endswith(".apps.googleusercontent.com")
    assert web["redirect_uris"] == [REDIRECT]


def test_full_flow_with_pkce_refresh_and_revoke(
    sandbox: RunningSandbox, secrets: dict[str, Any]
) -> None:
    flow = _flow(secrets)
    url, state = flow.authorization_url(
        access_type="offline", prompt="consent", login_hint=THERAPIST
    )
    assert "code_challenge_method=S256" in url

    answer = _consent(url)

    assert answer["state"] == [state]
    flow.fetch_token(code=answer["code"][0])
    credentials = flow.credentials
    assert credentials.refresh_token
    granted = set(flow.oauth2session.token["scope"])
    assert granted == {"openid", EMAIL, CALENDAR, SEND}
    assert flow.oauth2session.token["expires_in"] == 3599

    userinfo = sandbox.build("oauth2", "v2", credentials).userinfo().get().execute()
    assert userinfo["email"] == THERAPIST  # login_hint preselected the account

    old = credentials.token
    credentials.refresh(google.auth.transport.requests.Request())
    assert credentials.token != old

    revoked = requests.post(sandbox.url + "revoke", data={"token": credentials.token}, timeout=5)
    assert revoked.status_code == 200
    # Revoking the access token took the refresh token with it.
    with pytest.raises(google.auth.exceptions.RefreshError, match="invalid_grant"):
        credentials.refresh(google.auth.transport.requests.Request())
    again = requests.post(sandbox.url + "revoke", params={"token": "unknown"}, timeout=5)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_token"


def test_unticked_scope_is_not_granted(
    sandbox: RunningSandbox, secrets: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # oauthlib treats a narrower grant as an error unless told that is expected.
    monkeypatch.setenv("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
    flow = _flow(secrets)
    url, _ = flow.authorization_url(access_type="offline")

    answer = _consent(url, untick=(SEND,), account=THERAPIST)

    assert SEND not in answer["scope"][0].split()
    token = flow.fetch_token(code=answer["code"][0])
    assert set(token["scope"]) == {"openid", EMAIL, CALENDAR}


def test_sign_in_scopes_cannot_be_unticked(
    sandbox: RunningSandbox, secrets: dict[str, Any]
) -> None:
    url, _ = _flow(secrets).authorization_url()
    form = _Form()
    form.feed(requests.get(url, timeout=5).text)

    optional = {scope for scope, can_untick in form.scopes if can_untick}

    assert optional == {CALENDAR, SEND}
    assert {scope for scope, _ in form.scopes} == {"openid", EMAIL, CALENDAR, SEND}


def test_deny_redirects_with_access_denied(
    sandbox: RunningSandbox, secrets: dict[str, Any]
) -> None:
    url, state = _flow(secrets).authorization_url()

    answer = _consent(url, decision="deny")

    assert answer == {"error": ["access_denied"], "state": [state]}


def test_wrong_verifier_reused_code_and_wrong_redirect_uri(
    sandbox: RunningSandbox, secrets: dict[str, Any]
) -> None:
    web = secrets["web"]
    flow = _flow(secrets)
    url, _ = flow.authorization_url(access_type="offline")
    code = _consent(url)["code"][0]
    base = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": web["client_id"],
        "client_secret": web["client_secret"],
        "redirect_uri": REDIRECT,
    }

    wrong = _post_token(sandbox, **base, code_verifier="x" * 50)
    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_grant")
    missing = _post_token(sandbox, **base)
    assert missing.json() == {
        "error": "invalid_grant",
        "error_description": "Missing code verifier.",
    }
    elsewhere = _post_token(
        sandbox,
        **{**base, "redirect_uri": "http://127.0.0.1:5000/other"},
        code_verifier=flow.code_verifier,
    )
    assert (elsewhere.status_code, elsewhere.json()["error"]) == (400, "redirect_uri_mismatch")
    bad_secret = _post_token(
        sandbox, **{**base, "client_secret": "wrong"}, code_verifier=flow.code_verifier
    )
    assert (bad_secret.status_code, bad_secret.json()["error"]) == (401, "invalid_client")

    # HTTP Basic client authentication works as well as the form fields.
    basic = requests.post(
        sandbox.url + "token",
        data={k: v for k, v in base.items() if not k.startswith("client_")}
        | {"code_verifier": flow.code_verifier or ""},
        auth=(web["client_id"], web["client_secret"]),
        timeout=5,
    )
    assert basic.status_code == 200, basic.text
    assert basic.json()["token_type"] == "Bearer"

    reused = _post_token(sandbox, **base, code_verifier=flow.code_verifier or "")
    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")


def test_refresh_token_only_when_consent_was_shown(
    sandbox: RunningSandbox, secrets: dict[str, Any]
) -> None:
    def grant(**params: str) -> dict[str, Any]:
        flow = _flow(secrets)
        url, _ = flow.authorization_url(**params)
        token: dict[str, Any] = flow.fetch_token(code=_consent(url, account=THERAPIST)["code"][0])
        return token

    first = grant(access_type="offline")
    assert "refresh_token" in first

    # Same scopes again, no prompt=consent: Google skips consent and sends no refresh token.
    assert "refresh_token" not in grant(access_type="offline")
    # Online access never gets one.
    assert "refresh_token" not in grant(access_type="online", prompt="consent")
    # Forcing the consent screen brings a new one.
    forced = grant(access_type="offline", prompt="consent")
    assert forced["refresh_token"] != first["refresh_token"]


def test_expired_refresh_token_is_invalid_grant(
    sandbox: RunningSandbox, secrets: dict[str, Any]
) -> None:
    credentials = sandbox.credentials(THERAPIST, [CALENDAR])

    sandbox.control("POST", "grants/expire", {"email": THERAPIST})

    with pytest.raises(google.auth.exceptions.RefreshError, match="expired or revoked"):
        credentials.refresh(google.auth.transport.requests.Request())


def test_testing_clients_lose_refresh_tokens_after_seven_days(sandbox: RunningSandbox) -> None:
    sandbox.add_account(THERAPIST)
    client = sandbox.register_client([REDIRECT], testing=True)["web"]
    tokens = sandbox.issue_tokens(THERAPIST, [CALENDAR], client_id=client["client_id"])
    form = {
        "grant_type": "refresh_token",
        "refresh_token": tokens["refresh_token"],
        "client_id": client["client_id"],
        "client_secret": client["client_secret"],
    }
    assert _post_token(sandbox, **form).status_code == 200

    sandbox.control("POST", "clock", {"advance_seconds": 7 * 24 * 3600})

    late = _post_token(sandbox, **form)
    assert late.status_code == 400
    assert late.json() == {
        "error": "invalid_grant",
        "error_description": "Token has been expired or revoked.",
    }


def test_expired_access_token_is_refreshed_by_the_client(sandbox: RunningSandbox) -> None:
    userinfo = sandbox.service("oauth2", "v2", THERAPIST, ["email"])
    userinfo.userinfo().get().execute()

    sandbox.control("POST", "clock", {"advance_seconds": 3600})

    # The sandbox answers 401 for the stale token; google-auth refreshes and retries.
    assert userinfo.userinfo().get().execute()["email"] == THERAPIST
    assert sandbox.control("GET", "calls")["calls"]["oauth.token"] == 1


@pytest.mark.parametrize(
    ("change", "status", "text"),
    [
        ({"client_id": "nobody.apps.googleusercontent.com"}, 401, "invalid_client"),
        ({"redirect_uri": "http://127.0.0.1:5000/evil"}, 400, "redirect_uri_mismatch"),
        ({"response_type": "token"}, 400, "invalid_request"),
        ({"code_challenge_method": "S512"}, 400, "invalid_request"),
    ],
)
def test_bad_authorization_requests_show_an_error_page(
    sandbox: RunningSandbox,
    secrets: dict[str, Any],
    change: dict[str, str],
    status: int,
    text: str,
) -> None:
    url, _ = _flow(secrets).authorization_url()
    params = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()} | change

    page = requests.get(secrets["web"]["auth_uri"], params=params, allow_redirects=False, timeout=5)

    assert page.status_code == status
    assert text in page.text
    assert "Location" not in page.headers


def test_userinfo_answers_as_v2_or_as_openid_connect(sandbox: RunningSandbox) -> None:
    userinfo = sandbox.service("oauth2", "v2", THERAPIST, ["openid", EMAIL]).userinfo()
    v2 = userinfo.get().execute()
    assert set(v2) == {"id", "email", "verified_email"}
    assert sandbox.control("POST", "userinfo", {"style": "oidc"}) == {"style": "oidc"}
    oidc = userinfo.get().execute()
    assert oidc == {"sub": v2["id"], "email": THERAPIST, "email_verified": True}
    with pytest.raises(urllib.error.HTTPError) as refused:
        sandbox.control("POST", "userinfo", {"style": "saml"})
    refused.value.close()
    assert refused.value.code == 400
