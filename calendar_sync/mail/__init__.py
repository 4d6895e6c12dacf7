"""Email: templates, the message format, and the ways a message leaves (Gmail, SMTP, dev)."""
