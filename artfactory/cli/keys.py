"""`keys set|delete|status|test`: provider API keys in the system keychain."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from artfactory.cli.common import EXIT_FAILED, EXIT_OK, CliError, emit


def provider_choices() -> list[str]:
    """The providers `keys` accepts: every registered cloud provider (the registry loads no client for this)."""
    from artfactory.providers import registry

    return registry.cloud_ids()


def _report_status(args: argparse.Namespace, data: dict[str, Any]) -> int:
    emit(args, {"provider": args.provider, **data},
         lambda: print(f"{args.provider}: {'set' if data.get('set') else 'not set'} ({data.get('source')})"))
    if data.get("warning") or data.get("error"):  # an unsafe or missing keychain: said even with --json
        print(f"artfactory: {data.get('warning') or data.get('error')}", file=sys.stderr)
    return EXIT_OK


def cmd_keys_set(args: argparse.Namespace) -> int:
    from artfactory.services import secrets

    try:
        if args.stdin or not sys.stdin.isatty():
            value = sys.stdin.readline().strip()
        else:
            value = getpass.getpass(f"{args.provider} API key (hidden): ").strip()
        if not value:
            raise CliError("no key given")
        secrets.set_key(args.provider, value)
        data = secrets.key_status(args.provider)
    except secrets.SecretsError as exc:
        raise CliError(str(exc), EXIT_FAILED) from None
    return _report_status(args, data)


def cmd_keys_delete(args: argparse.Namespace) -> int:
    from artfactory.services import secrets

    try:
        secrets.delete_key(args.provider)
        data = secrets.key_status(args.provider)
    except secrets.SecretsError as exc:
        raise CliError(str(exc), EXIT_FAILED) from None
    return _report_status(args, data)


def cmd_keys_status(args: argparse.Namespace) -> int:
    from artfactory.services import secrets

    try:
        data = secrets.key_status(args.provider)
    except secrets.SecretsError as exc:
        raise CliError(str(exc), EXIT_FAILED) from None
    return _report_status(args, data)


def cmd_keys_test(args: argparse.Namespace) -> int:
    """One request that creates nothing: does the provider accept the key?"""
    from artfactory.config import load_settings, resolve_home
    from artfactory.providers.connection import check_connection
    from artfactory.providers.http import ProviderError
    from artfactory.services import secrets

    try:
        key = secrets.require_key(args.provider)
        message = check_connection(args.provider, load_settings(resolve_home(args.home)), key)
    except (ProviderError, secrets.SecretsError) as exc:
        raise CliError(str(exc), EXIT_FAILED) from None
    emit(args, {"provider": args.provider, "ok": True, "message": message}, lambda: print(message))
    return EXIT_OK
