"""The generated TypedDicts: current with the definitions, complete, and never imported by the client."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import typing
from pathlib import Path

from fireside.client import types
from fireside.fhir import load_definitions

REPO = Path(__file__).resolve().parent.parent.parent


def _generator() -> typing.Any:
    spec = importlib.util.spec_from_file_location("build_client_types", REPO / "scripts" / "build_client_types.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_the_committed_types_module_is_what_the_generator_writes() -> None:
    generated = _generator().generate(load_definitions())
    assert Path(types.__file__).read_text(encoding="utf-8") == generated, \
        "run .venv/bin/python scripts/build_client_types.py"


def test_every_resource_type_has_a_typed_dict_that_requires_its_resource_type() -> None:
    for name in load_definitions().resource_types:
        typed_dict = getattr(types, name)
        assert "resourceType" in typed_dict.__required_keys__, name


def test_backbone_elements_choices_and_recursion_are_typed() -> None:
    assert {"contact", "deceasedBoolean", "deceasedDateTime"} <= types.Patient.__optional_keys__
    hints = typing.get_type_hints(types.QuestionnaireItem)
    assert hints["item"] == list[types.QuestionnaireItem]
    assert hints["enableWhen"] == list[types.QuestionnaireItemEnableWhen]
    assert "class" in types.Encounter.__optional_keys__  # a Python keyword, so the functional syntax


def test_importing_the_client_does_not_import_the_types_module() -> None:
    code = "import sys, fireside.client; assert 'fireside.client.types' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
