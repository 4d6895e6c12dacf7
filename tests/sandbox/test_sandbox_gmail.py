"""Gmail send and profile through the real googleapiclient."""

from __future__ import annotations

import base64
import urllib.request
from email.message import EmailMessage

import pytest
from googleapiclient.errors import HttpError

from calendar_sync.sandbox.testing import RunningSandbox

SEND = "https://www.googleapis.com/auth/gmail.send"
THERAPIST = "dr.lee@example.test"


def _raw(message: EmailMessage) -> str:
    return base64.urlsafe_b64encode(message.as_bytes()).decode("ascii")


def _follow_up() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Practice Lee <someone-else@example.test>"
    message["To"] = "Sam <sam@example.test>"
    message["Cc"] = "front-desk@example.test"
    message["Bcc"] = "archive@example.test"
    message["Subject"] = "About your appointment"
    message.set_content("We missed you on Tuesday.\n")
    message.add_alternative("<p>We missed you on Tuesday.</p>", subtype="html")
    return message


def test_multipart_message_is_sent_as_the_account_and_kept_parsed(
    sandbox: RunningSandbox,
) -> None:
    gmail = sandbox.service("gmail", "v1", THERAPIST, [SEND])

    answer = gmail.users().messages().send(userId="me", body={"raw": _raw(_follow_up())}).execute()

    assert answer["labelIds"] == ["SENT"]
    assert answer["threadId"] == answer["id"]
    [kept] = sandbox.control("GET", "mail?to=sam@example.test")["messages"]
    assert kept["id"] == answer["id"]
    # Gmail sends as the authenticated user, keeping the display name.
    assert kept["from"] == f"Practice Lee <{THERAPIST}>"
    assert kept["to"] == ["sam@example.test"]
    assert kept["cc"] == ["front-desk@example.test"]
    assert kept["bcc"] == ["archive@example.test"]
    assert kept["subject"] == "About your appointment"
    assert kept["text"] == "We missed you on Tuesday.\n"
    assert kept["html"].strip() == "<p>We missed you on Tuesday.</p>"
    names = [name for name, _ in kept["headers"]]
    assert "Message-ID" in names and "Date" in names
    assert sandbox.control("GET", "mail?to=nobody@example.test")["messages"] == []


def test_reply_in_thread_keeps_thread_id(sandbox: RunningSandbox) -> None:
    gmail = sandbox.service("gmail", "v1", THERAPIST, [SEND])
    first = gmail.users().messages().send(userId="me", body={"raw": _raw(_follow_up())}).execute()

    second = (
        gmail.users()
        .messages()
        .send(userId=THERAPIST, body={"raw": _raw(_follow_up()), "threadId": first["threadId"]})
        .execute()
    )

    assert second["threadId"] == first["threadId"]
    assert second["id"] != first["id"]


@pytest.mark.parametrize(
    ("header", "value", "message"),
    [
        ("To", "not-an-address", "Invalid To header"),
        (None, None, "Recipient address required"),
    ],
)
def test_bad_recipients_are_refused(
    sandbox: RunningSandbox, header: str | None, value: str | None, message: str
) -> None:
    gmail = sandbox.service("gmail", "v1", THERAPIST, [SEND])
    mail = EmailMessage()
    mail["Subject"] = "Hello"
    if header is not None:
        mail[header] = value
    mail.set_content("text")

    with pytest.raises(HttpError) as caught:
        gmail.users().messages().send(userId="me", body={"raw": _raw(mail)}).execute()

    assert caught.value.status_code == 400
    assert caught.value.error_details[0]["reason"] == "invalidArgument"
    assert caught.value.reason == message
    assert sandbox.state.sent == []


def test_sending_for_another_user_is_delegation_denied(sandbox: RunningSandbox) -> None:
    gmail = sandbox.service("gmail", "v1", THERAPIST, [SEND])

    with pytest.raises(HttpError) as caught:
        gmail.users().messages().send(
            userId="other@example.test", body={"raw": _raw(_follow_up())}
        ).execute()

    assert caught.value.status_code == 403
    assert caught.value.error_details[0]["reason"] == "forbidden"


def test_send_scope_cannot_read_profile_but_modify_can(sandbox: RunningSandbox) -> None:
    sender = sandbox.service("gmail", "v1", THERAPIST, [SEND])
    sender.users().messages().send(userId="me", body={"raw": _raw(_follow_up())}).execute()

    with pytest.raises(HttpError) as caught:
        sender.users().getProfile(userId="me").execute()
    assert caught.value.status_code == 403
    assert caught.value.error_details[0]["reason"] == "insufficientPermissions"

    reader = sandbox.service(
        "gmail", "v1", THERAPIST, ["https://www.googleapis.com/auth/gmail.modify"]
    )
    profile = reader.users().getProfile(userId="me").execute()
    assert profile["emailAddress"] == THERAPIST
    assert profile["messagesTotal"] == 1
    assert profile["threadsTotal"] == 1
    assert int(profile["historyId"]) > 0


def test_mail_page_lists_sent_mail(sandbox: RunningSandbox) -> None:
    gmail = sandbox.service("gmail", "v1", THERAPIST, [SEND])
    gmail.users().messages().send(userId="me", body={"raw": _raw(_follow_up())}).execute()

    with urllib.request.urlopen(sandbox.url + "mail", timeout=5) as response:
        page = response.read().decode()

    assert "About your appointment" in page
    assert "We missed you on Tuesday." in page
