"""Client-side protocol adapters: each client wire format to and from the IR.

Pure translation (no I/O): validate and parse a client request into ``core.ir``, render IR
responses, stream events and ``GatewayError``s back in the client's own shape. Upstream wire
formats live in ``daemon.providers``; composing the two is the pipeline's job, not an adapter's.
"""
