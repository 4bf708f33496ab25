"""`python -m auth set-password NAME` and `python -m auth setup-code`, on the server.

set-password  a new password for an account (asked twice on the terminal), e.g.
              for the last admin who forgot theirs; ends that account's sessions
setup-code    print a fresh first-start setup code (only while no account exists),
              when the one printed at start-up was lost
"""
from __future__ import annotations

import argparse
import getpass
import sys

from sqlalchemy import select

import runtime
from auth import accounts, setup
from auth.accounts import AccountError
from db.models import Account
from db.session import session_scope


def _set_password(name: str) -> None:
    with session_scope() as session:
        account_id = session.scalar(select(Account.id).where(Account.username == name.strip().lower()))
    if account_id is None:
        sys.exit(f"no account named {name!r}")
    password = getpass.getpass("new password: ")
    if password != getpass.getpass("again: "):
        sys.exit("the two passwords differ")
    try:
        accounts.set_password(account_id, password)
    except AccountError as error:
        sys.exit(str(error))
    print(f"password of {name} changed; their sessions have ended")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m auth", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("set-password").add_argument("name")
    commands.add_parser("setup-code")
    options = parser.parse_args(argv)
    runtime.init(wait=10)
    if options.command == "set-password":
        _set_password(options.name)
    elif not setup.pending():
        sys.exit("accounts exist already: sign in, or use set-password")
    else:
        print(setup.new_code())


if __name__ == "__main__":
    main()
