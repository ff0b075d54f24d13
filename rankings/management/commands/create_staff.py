import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

ROLES = {
    "admin": "superuser: everything, including user accounts",
    "operator": "may view and change the catalog, keys, batches and rebuilds",
    "analyst": "may view everything in the backoffice, change nothing",
}


class Command(BaseCommand):
    help = (
        "Create a backoffice account with a role, without a prompt (the first admin of a new server, "
        "then analysts and operators). The password is generated and printed once unless --password "
        "is given. Roles: " + "; ".join(f"{role}: {what}" for role, what in ROLES.items()) + "."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", help="login name")
        parser.add_argument("--role", choices=sorted(ROLES), required=True, help="what the account may do")
        parser.add_argument("--email", default="", help="e-mail address (optional)")
        parser.add_argument(
            "--password",
            help="use this password instead of a generated one (it ends up in the shell history)",
        )

    def handle(self, *args, username: str, role: str, email: str, password: str | None, **options):
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            raise CommandError(f"a user named {username!r} exists already")
        generated = password is None
        password = password or secrets.token_urlsafe(12)
        if role == "admin":
            user = User.objects.create_superuser(username, email, password)
        else:
            group = Group.objects.filter(name=role).first()
            if group is None:
                raise CommandError(f"no {role!r} group: run `manage.py migrate` first")
            user = User.objects.create_user(username, email, password, is_staff=True)
            user.groups.add(group)
        self.stderr.write(f"Created {role} {user.username!r}.")
        if generated:
            self.stderr.write("Password (shown once):")
            self.stdout.write(password)
