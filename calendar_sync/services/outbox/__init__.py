"""The outbox: every message to a patient or therapist, queued, held, sent at most once."""
