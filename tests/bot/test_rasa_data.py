"""`rasa data validate` is clean: every warning it gives is a known false positive."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from crm_store.orders import ORDER_NUMBER_PATTERN
from tests.processes import RASA, RASA_ENV, ROOT

ACTIONS_DIR = ROOT / "bot" / "actions"
UNUSED = re.compile(r"The utterance '(utter_\w+)' is not used in any story or rule")
WARNING = re.compile(r"UserWarning: (.*)")


def responses_sent_by_actions() -> tuple[set[str], set[str]]:
    """Response names in our actions' code (`"utter_x"`), and name prefixes they
    complete at run time (`f"utter_confirm_{outcome}"`)."""
    source = "\n".join(path.read_text(encoding="utf-8") for path in ACTIONS_DIR.glob("*.py"))
    names = set(re.findall(r'"(utter_\w+)"', source))
    prefixes = set(re.findall(r'f"(utter_\w+?)\{', source))
    return names, prefixes


@pytest.mark.rasa
def test_rasa_data_validate_has_no_real_warnings() -> None:
    result = subprocess.run(
        [
            str(RASA),
            "data",
            "validate",
            "--config",
            "config.yml",
            "--domain",
            "domain.yml",
            "--data",
            "bot/data",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**RASA_ENV, "PATH": "/usr/bin:/bin"},
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    names, prefixes = responses_sent_by_actions()
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    # Forms ask for a slot with `utter_ask_<slot>` by convention.
    names |= {
        f"utter_ask_{slot}" for form in domain["forms"].values() for slot in form["required_slots"]
    }
    unexplained = []
    for message in WARNING.findall(output):
        unused = UNUSED.search(message)
        if unused and (unused.group(1) in names or unused.group(1).startswith(tuple(prefixes))):
            continue
        if "pkg_resources" in message or "declare_namespace" in message:
            continue  # third-party import noise
        unexplained.append(message)
    assert unexplained == []


def test_every_response_an_action_sends_exists_in_both_languages() -> None:
    responses = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"]
    names, prefixes = responses_sent_by_actions()
    assert names, "no responses found in the actions"
    for name in names:
        assert name in responses, name
    for prefix in prefixes:
        assert any(name.startswith(prefix) for name in responses), prefix
    for name, variants in responses.items():
        english = [v for v in variants if "condition" in v]
        chinese = [v for v in variants if "condition" not in v]
        assert english and chinese, f"{name} needs both a zh-TW and an en variant"


def test_rasa_reads_order_numbers_with_the_stores_own_pattern() -> None:
    lookups = yaml.safe_load((ROOT / "bot" / "data" / "nlu" / "lookups.yml").read_text("utf-8"))
    [regex] = [item for item in lookups["nlu"] if item.get("regex") == "order_number"]
    patterns = [line.removeprefix("- ").strip() for line in regex["examples"].splitlines()]
    assert [pattern for pattern in patterns if pattern] == [ORDER_NUMBER_PATTERN]
