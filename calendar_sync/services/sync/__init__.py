"""Sync: the therapist's calendars read from Google and kept up to date.

``calendar_list`` (which calendars exist and are chosen), ``event_sync`` (full and
incremental reads), ``event_store`` (events as rows, matched to patients), ``channels`` and
``notifications`` (Google's push), ``queue`` and ``jobs`` (the work a notification asks for).
"""
