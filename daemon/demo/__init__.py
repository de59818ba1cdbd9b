"""``stackbilt-gw demo``: simulated providers, a replayed agent session and the dashboard on a
throwaway gateway (``runner``), never touching the user's own data, config or keys."""
