"""A therapist's account: the Google connection and its tokens, settings, and disconnect."""
