from django.core.management.base import BaseCommand

from rankings.services import load_catalog, load_tag_keys


class Command(BaseCommand):
    help = "Create or refresh the starting catalog (authors, providers, categories, models, tag keys)."

    def handle(self, *args, **options):
        load_catalog()
        load_tag_keys()
        self.stdout.write("Catalog loaded.")
