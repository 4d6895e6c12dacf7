"""Placeholder."""

from flask import Blueprint

bp = Blueprint("sandbox_home", __name__)
