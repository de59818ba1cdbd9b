"""The composition root: the gateway's runtime state, built once at start-up."""
