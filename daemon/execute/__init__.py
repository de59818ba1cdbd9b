"""Execution: sending a resolved request upstream and shaping what goes back to the client."""
