from flask import Blueprint

bp = Blueprint("sandbox_calendar", __name__)
