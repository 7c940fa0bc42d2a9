from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run(env_extra: dict[str, str], *args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINGAN_") and k != "DATABASE_URL"}
    env.update({"PINGAN_VAR_DIR": str(tmp), "DATABASE_URL": f"sqlite:///{tmp}/x.sqlite3", **env_extra})
    return subprocess.run([sys.executable, "-m", "pingan.cli", *args], env=env, capture_output=True, text=True, timeout=120)


def test_production_refuses_to_start_without_secrets(tmp_path: Path) -> None:
    result = run({"PINGAN_ENV": "production", "PINGAN_ALLOWED_HOSTS": "pingan.example.cn"}, "check", tmp=tmp_path)
    assert result.returncode != 0
    assert "PINGAN_SECRET_KEY" in result.stderr
    assert not list(tmp_path.glob("*.secret")), "production must not create secrets on disk"


def test_production_settings_pass_the_deploy_check(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("x" * 64 + "-not-a-real-secret-but-long-and-random-enough-9f8e7d6c5b4a")
    result = run(
        {"PINGAN_ENV": "production", "PINGAN_SECRET_KEY_FILE": str(key), "PINGAN_SIGNING_KEY": "s" * 50,
         "PINGAN_ALLOWED_HOSTS": "pingan.example.cn"},
        "check", "--deploy", "--fail-level", "WARNING", tmp=tmp_path,
    )
    assert result.returncode == 0, result.stderr + result.stdout


def test_demo_creates_its_secrets_owner_only(tmp_path: Path) -> None:
    result = run({"PINGAN_ENV": "demo"}, "check", tmp=tmp_path)
    assert result.returncode == 0, result.stderr
    secret = tmp_path / "pingan_secret_key.secret"
    assert secret.exists() and (secret.stat().st_mode & 0o777) == 0o600
