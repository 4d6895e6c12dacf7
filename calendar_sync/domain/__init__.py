"""The pure domain: what a session is, what counts as a miss, and what to do about it.

No I/O, no clock, no logging: every function takes ``now`` and plain data. Start with
:func:`calendar_sync.domain.decide.decide`; the policy and its defaults are in
:mod:`calendar_sync.domain.policy` and ``docs/policy.md``.
"""
