"""The client-side control layer: paths, pidfile and lifecycle, the gateway key, the API client,
the instance lock and platform helpers. The CLI, tray and dashboard window import only this."""
