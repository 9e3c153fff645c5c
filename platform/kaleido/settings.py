"""The one settings module. Every value comes from the environment with a safe default.

The embedded default (no variables set) runs on a SQLite file with Celery tasks executed
eagerly in-process; set DATABASE_URL and REDIS_URL for the full stack.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from .env import development_secret_key, env_bool, env_float, env_int, env_list, env_str
from .queues import CPU_QUEUE, GPU_QUEUE

BASE_DIR = Path(__file__).resolve().parents[2]
VAR_DIR = Path(env_str("KALEIDO_VAR_DIR", str(BASE_DIR / "var")))

# Off unless asked for: the demo (`make demo`, `manage.py demo`) and the test settings turn it on.
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = development_secret_key(VAR_DIR / "secret_key")
if not DEBUG and len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("SECRET_KEY is too short; use at least 32 random characters when DEBUG is off.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "kaleido",  # the project itself: the whole-system `demo` command, which spans every app
    "access",
    "creative",
    "generation",
    "ranking",
    "analytics",
]

MIDDLEWARE = [
    "kaleido.request_context.RequestIdMiddleware",  # first: every later log line carries the request id
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "kaleido.urls"
WSGI_APPLICATION = "kaleido.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "platform" / "kaleido" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

if not env_str("DATABASE_URL"):
    VAR_DIR.mkdir(parents=True, exist_ok=True)  # the embedded default's SQLite file lives here
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'kaleido.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
# seconds a connection that ended its last request cleanly is reused without a SELECT 1 first
DB_HEALTH_CHECK_GRACE_S = env_float("DB_HEALTH_CHECK_GRACE_S", 1.0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "kaleido.postgresql"  # Django's, with a cheaper health check
    # A hung or locked database costs a request seconds, never a worker forever (docs/operations.md).
    # 0 turns a timeout off (e.g. KALEIDO_DB_STATEMENT_TIMEOUT_S=0 for a long `migrate`).
    DATABASES["default"].setdefault("OPTIONS", {}).update({
        "connect_timeout": env_int("KALEIDO_DB_CONNECT_TIMEOUT_S", 5),
        "options": (f"-c statement_timeout={int(env_float('KALEIDO_DB_STATEMENT_TIMEOUT_S', 60.0) * 1000)}"
                    f" -c lock_timeout={int(env_float('KALEIDO_DB_LOCK_TIMEOUT_S', 10.0) * 1000)}"),
    })
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while a worker writes; the timeout rides out short locks.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    # Short socket timeouts: a slow or hung Redis must cost a rank call milliseconds, not a hang; every
    # cache use on the serving path falls back (to the database or to process memory) on an error.
    CACHES = {"default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
        "OPTIONS": {"socket_timeout": env_float("REDIS_SOCKET_TIMEOUT", 0.2),
                    "socket_connect_timeout": env_float("REDIS_SOCKET_TIMEOUT", 0.2)},
    }}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "kaleido"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [d for d in [BASE_DIR / "frontend" / "dashboard" / "dist"] if d.exists()]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MODEL_ROOT = Path(env_str("MODEL_ROOT", str(VAR_DIR / "models")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

LOGIN_URL = "/admin/login/"
# Failed admin logins allowed in a window, per client address and username and per address (access/login_throttle.py)
ADMIN_LOGIN_MAX_FAILURES = env_int("ADMIN_LOGIN_MAX_FAILURES", 5)
ADMIN_LOGIN_MAX_FAILURES_PER_ADDRESS = env_int("ADMIN_LOGIN_MAX_FAILURES_PER_ADDRESS", 50)
ADMIN_LOGIN_WINDOW_S = env_int("ADMIN_LOGIN_WINDOW_S", 900)

# Celery: with no broker every task runs eagerly in-process (the embedded default).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", "") or None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = CPU_QUEUE
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
CELERY_TASK_ROUTES = {
    "generation.tasks.*": {"queue": GPU_QUEUE},
    "ranking.tasks.*": {"queue": CPU_QUEUE},
    "analytics.tasks.*": {"queue": CPU_QUEUE},
}
CELERY_BEAT_SCHEDULE: dict = {}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "access.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON bodies capped in bytes (DATA_UPLOAD_MAX_MEMORY_SIZE, 413) and nesting (400) before parsing.
    "DEFAULT_PARSER_CLASSES": [
        "kaleido.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "kaleido.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "kaleido.api_errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_CLASSES": ["access.throttling.ApiKeyRateThrottle"],
}
API_KEY_RATE_LIMIT_PER_MINUTE = env_int("API_KEY_RATE_LIMIT_PER_MINUTE", 60000)
API_KEY_RATE_LEASE_MAX = env_int("API_KEY_RATE_LEASE_MAX", 100)  # most tokens a process leases per round trip
API_KEY_LOCAL_CACHE_S = env_float("API_KEY_LOCAL_CACHE_S", 5.0)  # s a process trusts its copy of a key
# Report reads (analytics:read keys and dashboard sessions) are expensive: their own, lower limit.
ANALYTICS_RATE_LIMIT_PER_MINUTE = env_int("ANALYTICS_RATE_LIMIT_PER_MINUTE", 120)
# /metrics (kaleido.metrics) answers these networks, or a bearer token when one is set.
KALEIDO_METRICS_ALLOWED_NETWORKS = env_list("KALEIDO_METRICS_ALLOWED_NETWORKS", ["127.0.0.0/8", "::1/128"])
KALEIDO_METRICS_TOKEN = env_str("KALEIDO_METRICS_TOKEN", "")
SPECTACULAR_SETTINGS = {
    "TITLE": "Kaleido API",
    "DESCRIPTION": "Rank personalized creative variants, report events, read experiment and attribution reports.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Choice sets that several answers share get one name each (the generated TypeScript types use them).
    "ENUM_NAME_OVERRIDES": {
        "ExperimentStatusEnum": "ranking.models.Experiment.Status",
        "VariantStatusEnum": "creative.models.VariantStatus",
        "ExplanationStatusEnum": "analytics.models.PlacementExplanation.Status",
        "TermTypeEnum": ["main", "pair"],
        "AttributionSourceEnum": ["snapshot", "live"],
    },
}

# analytics
KALEIDO_EBM_MAX_ROWS = env_int("KALEIDO_EBM_MAX_ROWS", 1_000_000)  # rows the attribution EBM trains on
KALEIDO_EBM_JOBS = env_int("KALEIDO_EBM_JOBS", 0)  # threads an EBM fit uses; 0 = every core
KALEIDO_ROLLUP_SEGMENTS = env_list("KALEIDO_ROLLUP_SEGMENTS", [])  # empty: every feature of the decision
KALEIDO_EVENT_RETENTION_DAYS = env_int("KALEIDO_EVENT_RETENTION_DAYS", 400)
KALEIDO_DECISION_RETENTION_DAYS = env_int("KALEIDO_DECISION_RETENTION_DAYS", 400)  # pruned by events_retention
# s an event whose decision is not stored yet is held (not counted anywhere) before it is dropped
KALEIDO_EVENT_LATE_DECISION_S = env_float("KALEIDO_EVENT_LATE_DECISION_S", 120.0)
KALEIDO_ATTRIBUTION_MIN_SUPPORT = env_int("KALEIDO_ATTRIBUTION_MIN_SUPPORT", 150)
# The most values (numbers binned first) a user feature may have to be an attribution segment; features with
# more (a device id, a postcode) are skipped by the findings and refused as a grid's segment.
KALEIDO_SEGMENT_MAX_LEVELS = env_int("KALEIDO_SEGMENT_MAX_LEVELS", 50)
# Prepared attribution answers (analytics.attribution_snapshots): a read serves a stored grid at most this old,
# the job recomputes a placement's when its rollups moved (checked every _EVERY_S) or it is half that old.
KALEIDO_ATTRIBUTION_SNAPSHOT_MAX_AGE_S = env_float("KALEIDO_ATTRIBUTION_SNAPSHOT_MAX_AGE_S", 21600.0)
CELERY_BEAT_SCHEDULE["analytics-attribution-snapshots"] = {
    "task": "analytics.tasks.refresh_attribution_snapshots_task",
    "schedule": env_float("KALEIDO_ATTRIBUTION_SNAPSHOT_EVERY_S", 300.0)}
CELERY_BEAT_SCHEDULE["analytics-refresh-rollups"] = {"task": "analytics.tasks.refresh_rollups_task",
                                                     "schedule": env_float("KALEIDO_ROLLUP_EVERY_S", 60.0)}
CELERY_BEAT_SCHEDULE["analytics-event-partitions"] = {"task": "analytics.tasks.maintain_partitions_task",
                                                      "schedule": 3600.0}

# generation: where models run and how much of them a worker keeps loaded.
GENERATION_DEVICE = env_str("GENERATION_DEVICE", "auto")  # auto: cuda when available, else cpu
GENERATION_CACHE_MB = env_int("GENERATION_CACHE_MB", 12288)  # pipelines kept per worker, least recently used out
GENERATION_MAX_BATCH = env_int("GENERATION_MAX_BATCH", 4)
GENERATION_VAE_TILING = env_bool("GENERATION_VAE_TILING", False)
GENERATION_ATTENTION_SLICING = env_bool("GENERATION_ATTENTION_SLICING", False)
# Seconds a running job's lease lasts; renewed at every step and image, so it outlives only a dead worker.
GENERATION_LEASE_S = env_int("GENERATION_LEASE_S", 60)
GENERATION_COMPILE = env_bool("GENERATION_COMPILE", False)  # a GPU worker compiles the UNet; LoRAs switch by hotswap
GENERATION_LORA_MAX_RANK = env_int("GENERATION_LORA_MAX_RANK", 0)  # hotswap's rank budget (0: the largest loaded)
GENERATION_PROGRESS_S = env_float("GENERATION_PROGRESS_S", 0.5)  # least seconds between progress writes
# An image that must be enlarged past MAX_UPSCALE for its placement gets a "hires fix": Lanczos, then img2img
# at this strength over the same pipeline (0 turns it off: such an image is then kept at its own resolution).
GENERATION_HIRES_STRENGTH = env_float("GENERATION_HIRES_STRENGTH", 0.35)
if not 0.0 <= GENERATION_HIRES_STRENGTH <= 1.0:  # an img2img strength: 0 turns the pass off, 1 redraws all of it
    raise ImproperlyConfigured(f"GENERATION_HIRES_STRENGTH must be between 0 and 1 (0 = off), not {GENERATION_HIRES_STRENGTH}")
GENERATION_WARMUP = env_str("GENERATION_WARMUP", "auto")  # one tiny pass per loaded pipeline: auto = on CUDA only
# A CLIP model folder under MODEL_ROOT (config.json, .safetensors, tokenizer, preprocessor_config.json): images get
# subject and visual_style by zero-shot classification; empty or missing: those two groups are not auto-tagged.
GENERATION_CLIP_MODEL = env_str("GENERATION_CLIP_MODEL", "clip")
# The least probability CLIP's most likely value must reach for a group to be tagged at all (the floor; a group of n
# values also needs 2/n, twice a uniform guess); a group below it, or with fewer than two values, is left untagged.
GENERATION_CLIP_MIN_CONFIDENCE = env_float("GENERATION_CLIP_MIN_CONFIDENCE", 0.25)
CELERY_BEAT_SCHEDULE["generation-resend-unsent"] = {"task": "generation.tasks.generation_resend_unsent",
                                                    "schedule": env_float("KALEIDO_RESEND_UNSENT_EVERY_S", 30.0)}

# ranking: serving, model loading and retraining
KALEIDO_RANK_CATALOGUE_TTL = env_float("KALEIDO_RANK_CATALOGUE_TTL", 30.0)  # s a process keeps live variants
KALEIDO_MODEL_STAMP_TTL = env_int("KALEIDO_MODEL_STAMP_TTL", 10)  # s the active-model table is cached
KALEIDO_RANK_LOCAL_CHECK_S = env_float("KALEIDO_RANK_LOCAL_CHECK_S", 1.0)  # s between serving-version reads
# s a rank call waits for a model still loading before serving the control design instead
KALEIDO_RANK_MODEL_WAIT_S = env_float("KALEIDO_RANK_MODEL_WAIT_S", 0.2)
KALEIDO_RANK_COMPILE_MODELS = env_bool("KALEIDO_RANK_COMPILE_MODELS", True)  # LightGBM → machine code (lleaves)
# host-specific compiled models, keyed by artefact, CPU and compiler versions
KALEIDO_COMPILED_MODEL_DIR = Path(env_str("KALEIDO_COMPILED_MODEL_DIR", str(VAR_DIR / "compiled-models")))
KALEIDO_DECISION_ASYNC_COMMIT = env_bool("KALEIDO_DECISION_ASYNC_COMMIT", True)  # PostgreSQL only
# direct: one INSERT per rank call; journal: append to a local journal file, flushed in batches (ranking/decision_log.py)
KALEIDO_DECISION_LOG = env_str("KALEIDO_DECISION_LOG", "direct")
if KALEIDO_DECISION_LOG not in ("direct", "journal"):
    raise ImproperlyConfigured(f"KALEIDO_DECISION_LOG must be 'direct' or 'journal', not {KALEIDO_DECISION_LOG!r}")
KALEIDO_DECISION_JOURNAL_DIR = Path(env_str("KALEIDO_DECISION_JOURNAL_DIR", str(VAR_DIR / "decision-journal")))
KALEIDO_DECISION_FLUSH_S = env_float("KALEIDO_DECISION_FLUSH_S", 0.2)  # s between journal flushes
KALEIDO_DECISION_JOURNAL_SEGMENT_MB = env_int("KALEIDO_DECISION_JOURNAL_SEGMENT_MB", 16)  # rotate past this
# none: page cache only; interval: fdatasync every flush interval; always: fdatasync per call (docs/ranking.md)
KALEIDO_DECISION_FSYNC = env_str("KALEIDO_DECISION_FSYNC", "interval")
if KALEIDO_DECISION_FSYNC not in ("none", "interval", "always"):
    raise ImproperlyConfigured(f"KALEIDO_DECISION_FSYNC must be none, interval or always, not {KALEIDO_DECISION_FSYNC!r}")
KALEIDO_NEW_VARIANT_SHARE = env_float("KALEIDO_NEW_VARIANT_SHARE", 0.05)  # model-bucket share for new variants
# A variant is "new" while under this share of its peers' mean impressions (and under the placement's threshold).
KALEIDO_NEW_VARIANT_RELATIVE = env_float("KALEIDO_NEW_VARIANT_RELATIVE", 0.5)
# The model bucket's ε shrinks like 1/√(mean impressions per variant) past this many, down to the floor.
KALEIDO_EXPLORATION_SETTLE_IMPRESSIONS = env_float("KALEIDO_EXPLORATION_SETTLE_IMPRESSIONS", 200.0)
KALEIDO_EXPLORATION_FLOOR = env_float("KALEIDO_EXPLORATION_FLOOR", 0.01)
KALEIDO_THOMPSON_SCALE = env_float("KALEIDO_THOMPSON_SCALE", 0.5)  # posterior sd (log-odds) of an unseen variant
KALEIDO_IPS_CLIP = env_float("KALEIDO_IPS_CLIP", 10.0)
KALEIDO_TRAIN_MIN_ROWS = env_int("KALEIDO_TRAIN_MIN_ROWS", 500)
# Label maturity: impressions younger than this are not yet negatives (their click may still come).
KALEIDO_CLICK_WINDOW_S = env_float("KALEIDO_CLICK_WINDOW_S", 1800.0)
KALEIDO_TRAIN_THREADS = env_int("KALEIDO_TRAIN_THREADS", 2)
# Training reads the interaction log in chunks of this many impressions (bounded memory per chunk), and at most
# KALEIDO_TRAINING_MAX_ROWS of them: the most recent (docs/scaling.md, "Training"); 0 = no cap.
KALEIDO_TRAINING_CHUNK_ROWS = env_int("KALEIDO_TRAINING_CHUNK_ROWS", 20_000)
KALEIDO_TRAINING_MAX_ROWS = env_int("KALEIDO_TRAINING_MAX_ROWS", 300_000)
# The blend of the best tree and the best logistic regression (ranking/training.py, BLEND_WEIGHT): "validation"
# keeps it when its validation log loss is within a standard error of the candidate chosen alone, "always" keeps
# it whenever both were fitted (algo auto), "off" (default) never blends: on the learning bench it raised the
# 10th percentile and lowered the median (docs/ranking.md).
KALEIDO_TRAINING_BLEND = env_str("KALEIDO_TRAINING_BLEND", "off")
if KALEIDO_TRAINING_BLEND not in ("validation", "always", "off"):
    raise ImproperlyConfigured(
        f"KALEIDO_TRAINING_BLEND must be validation, always or off, not {KALEIDO_TRAINING_BLEND!r}")
# A Dask scheduler address (tcp://host:8786): LightGBM fits run there through lightgbm.dask; empty = in process.
KALEIDO_DASK_SCHEDULER = env_str("KALEIDO_DASK_SCHEDULER", "")
KALEIDO_RETRAIN_MIN_NEW_IMPRESSIONS = env_int("KALEIDO_RETRAIN_MIN_NEW_IMPRESSIONS", 5000)
KALEIDO_RETRAIN_MIN_AUC = env_float("KALEIDO_RETRAIN_MIN_AUC", 0.55)  # auto-activate only above this
CELERY_BEAT_SCHEDULE["ranking-retrain-due"] = {
    "task": "ranking.tasks.retrain_due_placements",
    "schedule": env_float("KALEIDO_RETRAIN_INTERVAL_S", 3600.0),
}
# Gradual release of a model (ranking.rollout): step length, sample per arm, guardrail limits, alerting.
KALEIDO_ROLLOUT_MIN_DWELL_S = env_int("KALEIDO_ROLLOUT_MIN_DWELL_S", 3600)
KALEIDO_ROLLOUT_MIN_IMPRESSIONS = env_int("KALEIDO_ROLLOUT_MIN_IMPRESSIONS", 2000)
KALEIDO_ROLLOUT_TOLERANCE = env_float("KALEIDO_ROLLOUT_TOLERANCE", 0.0)  # relative CTR/CVR loss accepted
KALEIDO_ROLLOUT_MAX_EXTRA_FALLBACK = env_float("KALEIDO_ROLLOUT_MAX_EXTRA_FALLBACK", 0.01)
KALEIDO_ROLLOUT_MAX_SCORE_MS = env_float("KALEIDO_ROLLOUT_MAX_SCORE_MS", 25.0)
KALEIDO_ROLLOUT_MAX_ROWS = env_int("KALEIDO_ROLLOUT_MAX_ROWS", 200_000)
KALEIDO_ROLLOUT_WEBHOOK_URL = env_str("KALEIDO_ROLLOUT_WEBHOOK_URL", "")
KALEIDO_ROLLOUT_WEBHOOK_TIMEOUT_S = env_float("KALEIDO_ROLLOUT_WEBHOOK_TIMEOUT_S", 3.0)
CELERY_BEAT_SCHEDULE["ranking-evaluate-rollouts"] = {
    "task": "ranking.tasks.evaluate_rollouts",
    "schedule": env_float("KALEIDO_ROLLOUT_CHECK_INTERVAL_S", 60.0),
}
CELERY_BEAT_SCHEDULE["ranking-check-experiment-splits"] = {
    "task": "ranking.tasks.check_experiment_splits",
    "schedule": env_float("KALEIDO_SRM_CHECK_INTERVAL_S", 600.0),
}

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# JSON lines with a request id (kaleido.request_context); LOG_FORMAT=text for a human at a terminal.
LOG_FORMAT = env_str("LOG_FORMAT", "text" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "kaleido.request_context.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "kaleido.request_context.KaleidoJsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["request_id"],
                             "formatter": "json" if LOG_FORMAT == "json" else "text"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
}

# scale (docs/scaling.md): running counters, bounded rollup segments, a read replica, PgBouncer.
INSTALLED_APPS += ["counters"]  # variant impression totals the catalogue reads (kept by the rollup refresh)
# Rollup rows keep only these features in their segment key; empty: the fewest-valued features of each
# (placement, day) whose value combinations stay within KALEIDO_ROLLUP_SEGMENT_MAX_KEYS (analytics.rollups).
KALEIDO_ROLLUP_SEGMENT_FEATURES = env_list("KALEIDO_ROLLUP_SEGMENT_FEATURES", [])
KALEIDO_ROLLUP_SEGMENT_MAX_KEYS = env_int("KALEIDO_ROLLUP_SEGMENT_MAX_KEYS", 64)
# A read replica for report and dashboard GETs (kaleido.db_router); its test database is the default's.
if env_str("DATABASE_REPLICA_URL"):
    DATABASES["replica"] = dj_database_url.parse(env_str("DATABASE_REPLICA_URL"),
                                                 conn_max_age=env_int("DB_CONN_MAX_AGE", 60), conn_health_checks=True)
    DATABASES["replica"]["ENGINE"] = DATABASES["default"]["ENGINE"]
    DATABASES["replica"]["OPTIONS"] = dict(DATABASES["default"].get("OPTIONS", {}))
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["kaleido.db_router.ReplicaRouter"]
MIDDLEWARE.append("kaleido.db_router.ReplicaReadsMiddleware")
KALEIDO_REPLICA_APPS = env_list("KALEIDO_REPLICA_APPS", ["analytics", "ranking", "creative", "counters"])
KALEIDO_REPLICA_VIEWS = env_list("KALEIDO_REPLICA_VIEWS", [
    "experiment-report", "placement-attribution", "placement-explain", "placement-ope",
    "dashboard:api-meta", "dashboard:api-experiment-daily", "dashboard:api-variants", "dashboard:api-models"])
# Behind PgBouncer in transaction mode a session is not ours between transactions: no server-side (named)
# cursors, no prepared statements, and no startup `options` (PgBouncer refuses them; the statement and
# lock timeouts are then the server's or the role's settings, see docker-compose.yml).
KALEIDO_PGBOUNCER = env_bool("KALEIDO_PGBOUNCER", False)
if KALEIDO_PGBOUNCER:
    for _alias in DATABASES.values():
        if _alias["ENGINE"] == "kaleido.postgresql":
            _alias["DISABLE_SERVER_SIDE_CURSORS"] = True
            _alias.setdefault("OPTIONS", {}).pop("options", None)
            _alias["OPTIONS"]["prepare_threshold"] = None
