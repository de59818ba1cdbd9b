"""Test-only adapters over the shared simulator (``stackbilt_gateway.daemon.simulator``): the gateway
app in a thread (``gateway.GatewayThread``). The fake upstream itself is ``simulator.upstream``."""
