"""Placeholder."""

from flask import Blueprint

bp = Blueprint("sandbox_gmail", __name__)
