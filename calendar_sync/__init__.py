"""calendar-sync: follow-up after missed therapy sessions, inside Google Calendar."""
