"""`chatpulse connector add|list|remove|drops` (docs/connectors.md): outputs and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.cli.test_cli import assert_one_line_failure, run


@pytest.fixture
def db(tmp_path: Path) -> str:
    database = f"sqlite:///{tmp_path / 'cli.db'}"
    assert run("site", "create", "--name", "Acme", "--database", database).returncode == 0
    return database


def test_add_prints_the_settings_then_the_webhook_url_last(db: str) -> None:
    added = run(
        "connector", "add", "chatwoot", "--site", "10000", "--database", db,
        "--public-url", "https://pulse.example.com/", "--api-url", "https://chat.example.com",
        "--api-token", "tok", "--account-id", "7",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    url = added.stdout.strip().splitlines()[-1]
    prefix = "https://pulse.example.com/api/v3/connectors/"
    assert url.startswith(prefix)
    connector_id, word, secret = url[len(prefix) :].split("/")
    assert (word, len(secret)) == ("webhook", 64)
    err = added.stderr.splitlines()
    assert err[0] == f"connector {connector_id} (chatwoot) for site 10000"
    assert (
        err[1] == "In Chatwoot: Settings > Integrations > Webhooks > Configure > Add new webhook."
    )
    assert err[2] == f"  Webhook URL: {url}"
    assert "Agent availability is read from https://chat.example.com (account 7)" in added.stderr

    listed = run("connector", "list", "--site", "10000", "--database", db)
    assert listed.returncode == 0, listed.stderr
    (line,) = listed.stdout.strip().splitlines()
    fields = line.split("\t")
    assert fields[:4] == [connector_id, "chatwoot", "Chatwoot", "poll every 30 s"]
    assert fields[4].startswith("created ")

    drops = run("connector", "drops", "--site", "10000", "--id", connector_id, "--database", db)
    assert (drops.returncode, drops.stdout, drops.stderr) == (0, "", "0 drops kept\n")

    removed = run("connector", "remove", "--site", "10000", "--id", connector_id, "--database", db)
    assert removed.returncode == 0, removed.stderr
    assert removed.stderr == f"removed connector {connector_id}\n"
    empty = run("connector", "list", "--site", "10000", "--database", db)
    assert (empty.stdout, empty.stderr) == ("", "site 10000 has no connectors\n")


def test_livechat_default_url_and_no_poll(db: str) -> None:
    added = run("connector", "add", "livechat", "--site", "10000", "--database", db)
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip().startswith("http://127.0.0.1:8000/api/v3/connectors/")
    listed = run("connector", "list", "--site", "10000", "--database", db)
    assert listed.stdout.split("\t")[1:4] == ["livechat", "Livechat", "no poll"]


def test_bad_arguments_fail_in_one_line(db: str) -> None:
    assert_one_line_failure(
        run("connector", "add", "chatwoot", "--site", "99", "--database", db), "--site: no site 99"
    )
    assert_one_line_failure(
        run("connector", "add", "chatwoot", "--site", "10000", "--poll-seconds", "30",
            "--database", db),
        "--api-url is required for the availability poll; --api-token is required for the"
        " availability poll; --account-id is required for the availability poll",
    )  # fmt: skip
    assert_one_line_failure(
        run("connector", "add", "livechat", "--site", "10000", "--reorder-ms", "9000",
            "--database", db),
        "--reorder-ms must be an integer from 0 to 5000",
    )  # fmt: skip
    unknown = "00000000-0000-4000-8000-000000000000"
    for action in ("remove", "drops"):
        assert_one_line_failure(
            run("connector", action, "--site", "10000", "--id", unknown, "--database", db),
            f"--id: site 10000 has no connector {unknown}",
        )
    bad_kind = run("connector", "add", "intercom", "--site", "10000", "--database", db)
    assert bad_kind.returncode == 2
    assert "invalid choice: 'intercom'" in bad_kind.stderr
