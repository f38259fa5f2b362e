"""Config: documented defaults, precedence with sources, clear errors."""

from __future__ import annotations

import tomllib

import pytest

from conftest import REPO, write
from core import config
from core.errors import ConfigError


def test_repo_lakehouse_toml_documents_every_key_with_its_default():
    data = tomllib.loads((REPO / "lakehouse.toml").read_text())
    documented = {(s, k): v for s, keys in data.items() for k, v in keys.items()}
    expected = {(s, k): spec[1] for s, keys in config.SCHEMA.items() for k, spec in keys.items()}
    assert documented == expected
    text = (REPO / "lakehouse.toml").read_text()
    for (s, k) in expected:  # each key has a comment above it
        before = text.split(f"\n{k} = ", 1)[0].rstrip().splitlines()[-1]
        assert before.startswith("#"), f"{s}.{k} has no comment"


def test_defaults_and_sources(tmp_path):
    c = config.load(home=tmp_path / "h", env={})
    assert c.get("sql.display_rows") == 100
    assert c.root == (tmp_path / "h").resolve()
    sources = {k: s for k, _, s in c.items()}
    assert sources["storage.root"] == "--home" and sources["sql.threads"] == "default"


def test_home_file_env_and_flag_precedence(tmp_path):
    h = tmp_path / "h"
    h.mkdir()
    write(h / "lakehouse.toml", "[sql]\ndisplay_rows = 7\n")
    c = config.load(env={"LAKEHOUSE_HOME": str(h)})
    assert c.get("sql.display_rows") == 7
    assert dict((k, s) for k, _, s in c.items())["sql.display_rows"] == str(h / "lakehouse.toml")
    assert dict((k, s) for k, _, s in c.items())["storage.root"] == "LAKEHOUSE_HOME"
    other = write(tmp_path / "other.toml", "[sql]\ndisplay_rows = 9\n[storage]\nroot = '/nowhere'\n")
    c = config.load(config_file=other, env={"LAKEHOUSE_HOME": str(h)})
    assert c.get("sql.display_rows") == 9 and c.root == h.resolve()  # env beats the file
    c = config.load(home=tmp_path / "flag", config_file=other, env={"LAKEHOUSE_HOME": str(h)})
    assert c.root == (tmp_path / "flag").resolve()  # the flag beats env


@pytest.mark.parametrize("body,message", [
    ("[sql]\nthreadz = 2\n", "{f}: unknown key 'sql.threadz' — known keys in [sql]: threads, memory_limit, display_rows, timeout_s, max_statement_bytes, max_query_blocks"),
    ("[sqll]\nthreads = 2\n", "{f}: unknown section [sqll] — known sections: storage, ingest, postgres, sql, tables, ollama, ask, vectors, trials, memory, watch, cache, audit, retention, tui, daemon, jobs, demo, mcp, profiles, policies, contracts"),
    ("[sql]\nthreads = 'two'\n", "{f}: key 'sql.threads' must be an integer, got str 'two'"),
    ("[sql]\nthreads = true\n", "{f}: key 'sql.threads' must be an integer, got bool True"),
    ("[demo]\noffer_on_first_run = 1\n", "{f}: key 'demo.offer_on_first_run' must be true or false, got int 1"),
    ("[sql]\nthreads = -1\n", "{f}: key 'sql.threads' must not be negative, got -1"),
    ("sql = 3\n", "{f}: 'sql' must be a table ([sql]), got 3"),
    ("[trials]\nmin_recall = 1.5\n", "{f}: key 'trials.min_recall' must be above 0 and at most 1, got 1.5"),
    ("[trials]\nmin_recall = 0\n", "{f}: key 'trials.min_recall' must be above 0 and at most 1, got 0.0"),
    ("[trials]\nobjective = 'fast'\n", "{f}: key 'trials.objective' must be one of p50, p95, build, memory, got 'fast'"),
])
def test_config_errors_name_file_key_and_type(tmp_path, body, message):
    f = write(tmp_path / "bad.toml", body)
    with pytest.raises(ConfigError) as e:
        config.load(config_file=f, env={})
    assert str(e.value) == message.format(f=f)


def test_invalid_toml_names_line(tmp_path):
    f = write(tmp_path / "bad.toml", "[sql]\nthreads = = 2\n")
    with pytest.raises(ConfigError, match=r"bad.toml: invalid TOML — .*line 2"):
        config.load(config_file=f, env={})


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist — check the --config path"):
        config.load(config_file=tmp_path / "nope.toml", env={})


def test_cli_config_command_and_error_exit(cli, home):
    code, out, err = cli("config", "--format", "json")
    assert code == 0
    import json

    rows = {r["key"]: r for r in json.loads(out)}
    assert rows["storage.root"]["source"] == "LAKEHOUSE_HOME"
    assert rows["ingest.row_group_rows"]["value"] == 122880
    home.mkdir(parents=True, exist_ok=True)
    write(home / "lakehouse.toml", "[ingest]\nrow_group_rows = 'big'\n")
    code, out, err = cli("datasets")
    assert code == 2 and "Traceback" not in err
    assert err.strip() == (f"error: {home / 'lakehouse.toml'}: key 'ingest.row_group_rows' must be "
                           "an integer, got str 'big'")


def test_reading_config_stays_light():
    """core.config and the profile model are on the `lakehouse sql` fast path: tomlkit is
    imported only when a profile is written, and no schema library at all."""
    import subprocess
    import sys

    code = ("import sys, core.config, core.profiles.store\n"
            "print(sorted(m for m in ('tomlkit', 'tomli_w', 'msgspec', 'pydantic', 'pydantic_settings') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
