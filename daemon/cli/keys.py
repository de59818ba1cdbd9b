"""``stackbilt-gw keys list | set PROVIDER | delete PROVIDER``: provider keys in the OS keyring.

Owns reading a key from the user (hidden prompt, or one line of stdin) and the wording. Storage
and backend checks are ``control.secrets``', the provider names ``control.providers``'. Never
prints, logs or echoes a key value.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from ..control.gatewaykey import keys_equal, read_gateway_key
from ..control.lifecycle import find_daemon
from ..control.providers import ProviderSpec, find_provider, provider_specs
from ..control.secrets import CACHE_TTL, SERVICE, check_backend, delete_key, key_presence, set_key
from .common import Context, Subparsers, fail


def add_parsers(sub: Subparsers) -> None:
    keys = sub.add_parser("keys", help="provider API keys in the OS keyring")
    ksub = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)

    p = ksub.add_parser("list", help="which provider keys are set and where (never their values)")
    p.set_defaults(func=cmd_list)

    p = ksub.add_parser("set", help="store a provider key in the keyring")
    p.add_argument("provider")
    p.add_argument(
        "--value-stdin", action="store_true", help="read the key from one line of stdin (no prompt)"
    )
    p.set_defaults(func=cmd_set)

    p = ksub.add_parser("delete", help="remove a provider key from the keyring")
    p.add_argument("provider")
    p.set_defaults(func=cmd_delete)


def _spec(name: str) -> ProviderSpec | None:
    spec = find_provider(name)
    if spec is None:
        fail(f"unknown provider {name!r}; known providers: {', '.join(sorted(provider_specs()))}", 2)
    return spec


def cmd_list(args: argparse.Namespace, ctx: Context) -> int:
    found = read_gateway_key(ctx.paths, ctx.env)
    for name, where in key_presence(ctx.env, found[0] if found else "").items():
        print(f"{name:<12} {where}")
    return 0


def _read_value(spec: ProviderSpec, from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().strip()
    return getpass.getpass(f"{spec.display_name} API key (input hidden): ").strip()


def cmd_set(args: argparse.Namespace, ctx: Context) -> int:
    spec = _spec(args.provider)
    if spec is None:
        return 2
    check_backend()  # before asking for the secret: fail fast with the fix
    value = _read_value(spec, args.value_stdin)
    if not value:
        return fail("no key given; nothing stored", 1)
    found = read_gateway_key(ctx.paths, ctx.env)
    if found is not None and keys_equal(value, found[0]):
        return fail(
            "that is the gateway's own key (what clients send to the gateway), not a "
            f"{spec.display_name} key; nothing stored",
            1,
        )
    set_key(spec.name, value)
    print(f"stored the {spec.display_name} key in the keyring (service {SERVICE}, user {spec.name})")
    overriding = [var for var in spec.key_env if ctx.env.get(var, "").strip()]
    if overriding:
        print(f"note: {overriding[0]} is set in this environment; when the daemon has it too, it wins")
    if find_daemon(ctx.paths) is not None:
        print(f"the running daemon picks it up within {CACHE_TTL:g} s")
    return 0


def cmd_delete(args: argparse.Namespace, ctx: Context) -> int:
    spec = _spec(args.provider)
    if spec is None:
        return 2
    if delete_key(spec.name):
        print(f"deleted the {spec.display_name} key from the keyring")
    else:
        print(f"no {spec.display_name} key in the keyring; nothing to delete")
    return 0
