"""Benchmark harness for the gateway: fake upstream, reference proxy, load generator, runner.

Run ``python -m bench.run`` (see ``bench/README.md``). Not part of the installed package.
"""
