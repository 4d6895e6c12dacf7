"""Attendance evidence from outside the calendar: who joined a session's video call."""
