from django.core.management.base import BaseCommand, CommandError

from ingest.auth import revoke
from ingest.models import IngestKey


class Command(BaseCommand):
    help = "Create, list or revoke ingest keys. A new key's plaintext is shown once."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a key and print it once")
        create.add_argument("name", help="a unique name, e.g. the gateway it is for")
        create.add_argument("--owner", default="", help="who to ask about this key (free text)")
        create.add_argument(
            "--rate-limit",
            type=int,
            help="requests per minute for this key (default: TOKENRANK_INGEST_RATE_LIMIT)",
        )
        sub.add_parser("list", help="list keys: name, prefix, state, events accepted, last use")
        rev = sub.add_parser("revoke", help="revoke a key by name (it answers 403 from then on)")
        rev.add_argument("name", help="the key's name")

    def handle(self, *args, action: str, **options):
        if action == "create":
            if IngestKey.objects.filter(name=options["name"]).exists():
                raise CommandError(f"a key named {options['name']!r} exists already")
            key, plaintext = IngestKey.issue(options["name"], options["owner"])
            if options["rate_limit"]:
                key.rate_limit_per_minute = options["rate_limit"]
                key.save(update_fields=["rate_limit_per_minute"])
            self.stderr.write(f"Created ingest key {key.name!r}. It is shown only now; store it safely:")
            self.stdout.write(plaintext)
        elif action == "list":
            for key in IngestKey.objects.all():
                state = "revoked" if key.revoked_at else "active"
                self.stdout.write(
                    f"{key.name}\t{key.prefix}…\t{state}\t{key.events_accepted} events\t"
                    f"last used {key.last_used_at or 'never'}"
                )
        else:
            key = IngestKey.objects.filter(name=options["name"]).first()
            if key is None:
                raise CommandError(f"no key named {options['name']!r}")
            revoke(key)
            self.stdout.write(f"Revoked {key.name!r}.")
