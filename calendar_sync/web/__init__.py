"""The web edge: blueprints and what every response carries."""

from __future__ import annotations

from flask import Flask

from ..domain.times import short_day, short_when, when_words
from . import (
    activity,
    addon,
    auth,
    csrf,
    dashboard,
    followups,
    home,
    mailbox,
    marks,
    notices,
    outbox,
    patient,
    patients,
    security,
    settings,
    start,
    tasks,
    webhooks,
)
from .templates_editor import bp as templates_editor_bp


def register(app: Flask) -> None:
    # The one way a page shows a date or a time: ``{{ moment|when(zone) }}``.
    app.add_template_filter(short_when, "when")
    app.add_template_filter(short_day, "day")
    app.add_template_filter(when_words, "words")
    security.init_app(app)
    csrf.init_app(app)
    app.register_blueprint(home.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(marks.bp)
    app.register_blueprint(patient.bp)
    app.register_blueprint(templates_editor_bp)
    app.register_blueprint(settings.bp)
    app.register_blueprint(start.bp)
    app.register_blueprint(patients.bp)
    app.register_blueprint(outbox.bp)
    app.register_blueprint(followups.bp)
    app.register_blueprint(notices.bp)
    app.register_blueprint(activity.bp)
    app.register_blueprint(tasks.bp)
    app.register_blueprint(mailbox.bp)
    app.register_blueprint(addon.bp)
    # make url_for("index") == url_for("home.index")
    app.add_url_rule("/", endpoint="index")
