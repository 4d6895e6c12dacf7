"""Reschedule proposals: a new time offered as a real invitation, and followed to an answer.

``workflow`` plans and advances proposals each cycle and takes a patient's choice,
``steps`` are the moves of one proposal, ``context`` what a step reads (rules, busy times).
"""
