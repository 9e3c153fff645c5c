import json

from django.core.management.base import BaseCommand, CommandError

from ranking import simulator


class Command(BaseCommand):
    help = "Simulated users rank → see → click through the real API; prints ground-truth CTR per bucket."

    def add_arguments(self, parser):
        parser.add_argument("--placement", required=True)
        parser.add_argument("--users", type=int, default=1000)
        parser.add_argument("--k", type=int, default=1)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--base-url", help="Send to a running server instead of in-process.")
        parser.add_argument("--api-key", help="Key with scopes rank,events (required with --base-url).")
        parser.add_argument("--json", action="store_true", dest="as_json", help="Print the report as one JSON line last.")

    def handle(self, *args, placement, users, k, seed, base_url, api_key, as_json, **options):
        transport: simulator.HttpTransport | simulator.InProcessTransport
        if base_url:
            if not api_key:
                raise CommandError("--api-key is required with --base-url.")
            transport = simulator.HttpTransport(base_url, api_key)
        else:
            transport = simulator.InProcessTransport(api_key) if api_key else simulator.in_process_transport()
        population = simulator.make_users(users, seed=seed)
        try:
            report = simulator.simulate(transport=transport, placement=placement, users=population, k=k, seed=seed)
        except simulator.RankFailed as exc:
            raise CommandError(str(exc)) from exc
        for line in report.lines():
            self.stdout.write(line)
        if as_json:
            self.stdout.write(json.dumps(report.as_dict()))

