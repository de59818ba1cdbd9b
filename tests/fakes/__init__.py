"""Fake upstream providers for tests: real servers on loopback speaking real wire formats."""
