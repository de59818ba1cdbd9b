"""The dashboard web UI served by the daemon and shown in the pywebview window."""
