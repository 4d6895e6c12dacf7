"""Placeholder."""

from flask import Blueprint

bp = Blueprint("sandbox_oauth", __name__)
