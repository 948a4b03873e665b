"""Program configuration, fuzzed (Hypothesis): any document, and the shipped sample with any one field
replaced by any value, either loads or is refused with a ConfigError naming the file, the place and
the field; nothing else escapes, and whatever loads still passes the CTIA lint's hard rules."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sms_consent.config import ConfigError, ProgramConfig, parse_config
from sms_consent.settings import DEFAULT_PROGRAM_CONFIG

SAMPLE: dict[str, Any] = yaml.safe_load(Path(DEFAULT_PROGRAM_CONFIG).read_text(encoding="utf-8"))
values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 10**6) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3),
    max_leaves=8,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, child in node.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += _paths(child, (*prefix, index))
    return found


PATHS = _paths(SAMPLE)


def _parse(data: Any) -> ProgramConfig | None:
    refused: ConfigError | None = None
    try:
        return parse_config(data, "programs.yaml")
    except ConfigError as error:
        refused = error
    assert refused.file == "programs.yaml"
    assert refused.where
    assert refused.field
    return None


@settings(max_examples=150, derandomize=True)
@given(document=values)
def test_any_document_loads_or_is_refused_clearly(document: Any) -> None:
    _parse(document)


@settings(max_examples=300, derandomize=True)
@given(path=st.sampled_from(PATHS), value=values)
def test_the_sample_with_one_field_replaced_loads_or_is_refused_clearly(path: tuple[Any, ...], value: Any) -> None:
    data = copy.deepcopy(SAMPLE)
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    config = _parse(data)
    if config is not None:  # what loads keeps STOP and HELP instructions in every reply that needs them
        for program in config.programs.values():
            assert "STOP" in program.replies.confirmation.upper()
