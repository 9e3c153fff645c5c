from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from creative.demo_context import DemoContext


class Command(BaseCommand):
    help = "Seed the demo catalogue and run the whole loop: generate, compose, simulate, train, test, report."

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=8000, help="Simulated users per simulation phase (at least KALEIDO_TRAIN_MIN_ROWS, 500 by default).")
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args, users, base_url, **options):
        if users < settings.KALEIDO_TRAIN_MIN_ROWS:
            # Fewer users than training needs: the demo would skip the model and the A/B test.
            raise CommandError(f"--users must be at least {settings.KALEIDO_TRAIN_MIN_ROWS} (KALEIDO_TRAIN_MIN_ROWS) "
                               f"so the demo can train a model and run its A/B test; got {users}.")
        from analytics import demo as analytics_demo
        from creative import demo as creative_demo
        from generation import demo as generation_demo
        from ranking import demo as ranking_demo

        ctx = DemoContext(stdout=self.stdout, base_url=base_url, users=users)
        creative_demo.seed_catalogue(ctx)
        generation_demo.run(ctx)  # images for each kit, auto-tagged
        creative_demo.compose_variants(ctx)
        ranking_demo.run(ctx)  # random bucket → train → experiment
        analytics_demo.run(ctx)  # report and attribution
        creative_demo.print_access(ctx)
