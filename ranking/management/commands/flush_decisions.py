from django.conf import settings
from django.core.management.base import BaseCommand

from ranking.decision_log import recover_orphans


class Command(BaseCommand):
    help = ("Store the decisions left in journal segments by web processes that are gone (KALEIDO_DECISION_LOG="
            "journal). Running processes' segments are left to them. Safe to run any time, and twice.")

    def add_arguments(self, parser):
        parser.add_argument("--dir", default=None, help="The journal folder (default KALEIDO_DECISION_JOURNAL_DIR).")

    def handle(self, *args, dir=None, **options):  # noqa: A002
        folder = dir or settings.KALEIDO_DECISION_JOURNAL_DIR
        sent = recover_orphans(folder)
        self.stdout.write(f"{sent} decisions stored from segments left in {folder}.")
