"""``stackbilt-gw clients add NAME [--rpm N] [--tpm N] [--concurrency N] | list | revoke NAME``.

Named clients of the gateway, each with its own key. ``add`` prints only the new key on stdout
(shown once; the messages go to stderr, like ``stackbilt-gw key``); ``list`` never prints a key
(only names and limits; keys are stored hashed); ``revoke`` removes a client, its key stops
working on the daemon's next request. The file format is ``governance.clients_store``'s.
"""

from __future__ import annotations

import argparse
import sys
import time

from ..governance.clients_store import (
    DEFAULT_CLIENT,
    ClientsFileError,
    add_client,
    clients_file,
    read_clients,
    revoke_client,
)
from .common import Context, Subparsers, fail


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def add_parsers(sub: Subparsers) -> None:
    clients = sub.add_parser("clients", help="named clients, each with its own key and limits")
    csub = clients.add_subparsers(dest="clients_command", metavar="ACTION", required=True)
    p = csub.add_parser("add", help="create a client; prints only its new key (shown once)")
    p.add_argument("name")
    p.add_argument("--rpm", type=_positive, help="requests per minute")
    p.add_argument("--tpm", type=_positive, help="tokens per minute")
    p.add_argument("--concurrency", type=_positive, help="requests in flight at once")
    p.set_defaults(func=cmd_add)
    p = csub.add_parser("list", help="the clients and their limits (never their keys)")
    p.set_defaults(func=cmd_list)
    p = csub.add_parser("revoke", help="remove a client; its key stops working")
    p.add_argument("name")
    p.set_defaults(func=cmd_revoke)


def cmd_add(args: argparse.Namespace, ctx: Context) -> int:
    path = clients_file(ctx.paths.config_dir)
    try:
        key = add_client(path, args.name, rpm=args.rpm, tpm=args.tpm, concurrency=args.concurrency)
    except ClientsFileError as exc:
        return fail(str(exc), 1)
    print(key)
    print(
        f"(client {args.name!r} created; its key is shown only now: store it where the client reads it)",
        file=sys.stderr,
    )
    return 0


def _limit(value: int | None) -> str:
    return "-" if value is None else str(value)


def cmd_list(args: argparse.Namespace, ctx: Context) -> int:
    try:
        clients = read_clients(clients_file(ctx.paths.config_dir))
    except ClientsFileError as exc:
        return fail(str(exc), 1)
    print(f"{'client':<24} {'rpm':>6} {'tpm':>9} {'conc':>5}  created")
    print(f"{DEFAULT_CLIENT:<24} {'-':>6} {'-':>9} {'-':>5}  (the gateway key)")
    for c in sorted(clients.values(), key=lambda c: c.name):
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(c.created))
        print(f"{c.name:<24} {_limit(c.rpm):>6} {_limit(c.tpm):>9} {_limit(c.concurrency):>5}  {created}")
    return 0


def cmd_revoke(args: argparse.Namespace, ctx: Context) -> int:
    if args.name == DEFAULT_CLIENT:
        return fail(f"{DEFAULT_CLIENT!r} is the gateway key's own client and cannot be revoked", 2)
    try:
        removed = revoke_client(clients_file(ctx.paths.config_dir), args.name)
    except ClientsFileError as exc:
        return fail(str(exc), 1)
    if not removed:
        return fail(f"no client named {args.name!r} (see `stackbilt-gw clients list`)", 1)
    print(f"revoked client {args.name!r}; its key no longer works", file=sys.stderr)
    return 0
