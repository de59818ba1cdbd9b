"""The client-side control layer: what runs outside the daemon to find, start, stop, configure and
talk to it.

The CLI (``daemon.cli``), the tray, the dashboard window and the installer import only this
package from the daemon (an import-linter contract in pyproject.toml holds them to it). Its
modules, each owning one concern:

- ``paths``: where the gateway's files live (config, data, state, logs).
- ``lifecycle``: the pidfile, finding, starting (background or foreground), stopping and probing
  the daemon, and port diagnostics.
- ``lock``: the single-instance lock (tray, dashboard window, daemon).
- ``settings``: the user's configuration as a client reads it (port, shutdown grace, errors).
- ``providers``: the provider list, key needs and known model names, for ``keys`` / ``init``.
- ``gatewaykey``: the gateway's own client key. ``secrets``: provider keys in the OS keyring.
- ``api_client``: the running daemon's loopback HTTP API. ``mode``: the persisted shadow/live mode.
- ``platform``: OS helpers (open a file, is there a graphical session).

Some of these are shared with the daemon (it writes the pidfile, reads the keys and the mode);
the daemon's request path, routing and storage are never imported from here.
"""
