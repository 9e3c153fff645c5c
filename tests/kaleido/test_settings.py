"""The project refuses unsafe production settings at start-up."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _check(**env):
    full_env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "ALLOWED_HOSTS"}}
    full_env.update(env)
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=full_env, capture_output=True,
                          text=True, timeout=120)


def test_debug_off_without_secret_key_refuses_to_start():
    result = _check(DEBUG="0", ALLOWED_HOSTS="example.com")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_debug_off_with_the_development_secret_refuses_to_start():
    result = _check(DEBUG="0", ALLOWED_HOSTS="example.com",
                    SECRET_KEY="kaleido-development-only-secret-key-do-not-use-in-production")
    assert result.returncode != 0
    assert "development default" in result.stderr


def test_debug_off_without_allowed_hosts_refuses_to_start():
    result = _check(DEBUG="0", SECRET_KEY="s3cret-for-this-test-" + "x" * 40)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS must be set" in result.stderr


def test_production_settings_start_and_turn_on_secure_cookies():
    env = {"DEBUG": "0", "SECRET_KEY": "s3cret-for-this-test-" + "x" * 40, "ALLOWED_HOSTS": "kaleido.example.com"}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c",
         "from django.conf import settings as s; print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS > 0)"],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-3:] == ["True", "True", "True"]


def test_invalid_boolean_is_a_clear_error():
    result = _check(DEBUG="maybe")
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr
