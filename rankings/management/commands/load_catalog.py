from django.core.management.base import BaseCommand

from rankings.services import load_catalog


class Command(BaseCommand):
    help = "Create or refresh the starting catalog (authors, providers, categories, models)."

    def handle(self, *args, **options):
        load_catalog()
        self.stdout.write("Catalog loaded.")
