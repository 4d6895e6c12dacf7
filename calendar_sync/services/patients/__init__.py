"""Patients: the therapist's directory of them, and the signed links sent to them."""
