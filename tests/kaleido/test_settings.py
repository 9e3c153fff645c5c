"""The project refuses unsafe production settings at start-up."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _check(*command, **env):
    full_env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "ALLOWED_HOSTS"}}
    full_env.update(env, DJANGO_SETTINGS_MODULE="kaleido.settings")
    return subprocess.run([sys.executable, "manage.py", *(command or ["check"])], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=120)


def test_debug_is_off_unless_asked_for_so_a_bare_start_needs_a_secret_key():
    result = _check(ALLOWED_HOSTS="example.com")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_debug_on_without_a_secret_key_makes_one_under_var_and_keeps_it(tmp_path):
    show = ["shell", "-c", "from django.conf import settings as s; print(s.DEBUG, s.SECRET_KEY)"]
    first = _check(*show, DEBUG="1", KALEIDO_VAR_DIR=str(tmp_path))
    second = _check(*show, DEBUG="1", KALEIDO_VAR_DIR=str(tmp_path))
    assert first.returncode == 0, first.stderr
    debug, key = first.stdout.split()[-2:]
    assert debug == "True" and len(key) >= 50
    assert second.stdout.split()[-1] == key  # made once, then read
    assert (tmp_path / "secret_key").read_text().strip() == key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0  # readable by its owner only
    other = _check(*show, DEBUG="1", KALEIDO_VAR_DIR=str(tmp_path / "elsewhere"))
    assert other.stdout.split()[-1] != key  # random per install, not a constant of the source


def test_debug_off_without_secret_key_refuses_to_start():
    result = _check(DEBUG="0", ALLOWED_HOSTS="example.com")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_debug_off_with_a_short_secret_refuses_to_start():
    result = _check(DEBUG="0", ALLOWED_HOSTS="example.com", SECRET_KEY="changeme")
    assert result.returncode != 0
    assert "SECRET_KEY is too short" in result.stderr


def test_debug_off_without_allowed_hosts_refuses_to_start():
    result = _check(DEBUG="0", SECRET_KEY="s3cret-for-this-test-" + "x" * 40)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS must be set" in result.stderr


def test_production_settings_start_and_turn_on_secure_cookies():
    env = {"DEBUG": "0", "SECRET_KEY": "s3cret-for-this-test-" + "x" * 40, "ALLOWED_HOSTS": "kaleido.example.com"}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c",
         "from django.conf import settings as s; print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS > 0)"],
        cwd=ROOT, env={**os.environ, **env, "DJANGO_SETTINGS_MODULE": "kaleido.settings"}, capture_output=True,
        text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-3:] == ["True", "True", "True"]


def test_invalid_boolean_is_a_clear_error():
    result = _check(DEBUG="maybe")
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


def test_the_demo_command_turns_debug_on_by_itself(tmp_path):
    result = _check("demo", "--help", KALEIDO_VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "secret_key").is_file()


def test_a_hires_strength_outside_0_to_1_refuses_to_start_and_0_turns_the_pass_off():
    show = ["shell", "-c", "from django.conf import settings as s; print(s.GENERATION_HIRES_STRENGTH)"]
    for bad in ("1.5", "-0.1"):
        result = _check(*show, DEBUG="1", GENERATION_HIRES_STRENGTH=bad)
        assert result.returncode != 0
        assert "GENERATION_HIRES_STRENGTH must be between 0 and 1" in result.stderr
    off = _check(*show, DEBUG="1", GENERATION_HIRES_STRENGTH="0")
    assert off.returncode == 0, off.stderr
    assert off.stdout.split()[-1] == "0.0"
