"""Small demo data for the dashboard's browser tests, through the same commands an operator runs.

Run inside Django: `manage.py shell -c "exec(open('frontend/tests/support/seed_dashboard.py').read())"`
with SEED_DIR and SEED_USERS in the environment. Prints one JSON object last.
"""

import json
import os
from pathlib import Path

from django.core.management import call_command

seed_dir = Path(os.environ["SEED_DIR"])
users = int(os.environ.get("SEED_USERS", "600"))
placement = "home-banner"
csv_path = seed_dir / "variants.csv"
csv_path.write_text(
    "variant_key,default,headline,tag:button_color,tag:appeal,tag:layout,tag:language\n"
    "red-benefit,1,Earn 3% on savings,red,benefit,single,en\n"
    "blue-proof,0,12000 people joined today,blue,social_proof,single,en\n"
    'gold-authority,0,"今天已有 12,000 人购买",gold,authority,grid,zh\n'
    "blue-urgency,0,Only 3 days left,blue,urgency,list,en\n"
    "green-plain,0,简单好懂的储蓄计划,green,plain,grid,zh\n"
    "orange-benefit,0,Get a red packet today,orange,benefit,left_image,en\n",
    encoding="utf-8",
)
call_command("import_variants", str(csv_path), placement=placement, create_placement=True)
call_command("start_experiment", "home-ab", placement=placement, buckets="control=0.2,random=0.4,model=0.4")
# Random and control traffic first, then a model to serve the model bucket, then more traffic.
call_command("simulate_traffic", placement=placement, users=users, k=1, seed=0)
call_command("train_ranker", placement=placement, algo="logreg", activate=True)
call_command("simulate_traffic", placement=placement, users=users, k=1, seed=1)
call_command("train_ranker", placement=placement, algo="logreg", activate=True)
print(json.dumps({"placement": placement, "experiment": "home-ab"}))
