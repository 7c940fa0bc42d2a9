from __future__ import annotations

import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from pingan.accounts import actions
from pingan.accounts.models import Organisation, Role
from pingan.core.errors import DomainError
from pingan.geo.models import Area


class Command(BaseCommand):
    help = "Create a user, optionally with a role over an area or an organisation."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", help="role code, e.g. grid_worker")
        parser.add_argument("--area", help="area code the role reaches, e.g. 330503101")
        parser.add_argument("--organisation", help="organisation code")
        parser.add_argument("--name", default="", help="display name")
        parser.add_argument("--superuser", action="store_true", help="Django admin superuser (break-glass)")
        parser.add_argument("--password-stdin", action="store_true", help="read the password from standard input")

    def handle(self, *args: Any, **o: Any) -> None:
        if o["password_stdin"]:
            import sys

            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass("Password: ")
        try:
            role = Role.objects.get(code=o["role"]) if o["role"] else None
            area = Area.objects.get(code=o["area"]) if o["area"] else None
            org = Organisation.objects.get(code=o["organisation"]) if o["organisation"] else None
        except (Role.DoesNotExist, Area.DoesNotExist, Organisation.DoesNotExist) as exc:
            raise CommandError(str(exc)) from exc
        try:
            user = actions.create_user("cli", username=o["username"], password=password, display_name=o["name"],
                                       organisation=org, is_superuser=o["superuser"])
            if role:
                actions.assign_role("cli", user, role, area=area, organisation=org)
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        self.stdout.write(f"created {user.username}" + (f" as {role.code}" if role else ""))
