"""Code system hierarchies and ValueSet expansion (fireside.fhir.terminology): pure functions
over CodeSystem / ValueSet resources and the packaged R4 terminology."""

from __future__ import annotations

from typing import Any

import pytest

from fireside.fhir.terminology import (
    CodeSet,
    CodeSystemView,
    ExpansionError,
    expand_value_set,
    packaged_code_systems,
    packaged_value_set,
    view_of_code_system,
)

LOCAL = "http://example.org/cs"

TREE: dict[str, Any] = {
    "resourceType": "CodeSystem", "url": LOCAL, "version": "1", "content": "complete",
    "concept": [
        {"code": "a", "concept": [{"code": "a1", "concept": [{"code": "a1x"}]}, {"code": "a2"}]},
        {"code": "b", "property": [{"code": "status", "valueCode": "retired"}]},
        {"code": "b1", "property": [{"code": "subsumedBy", "valueCode": "b"}]},
        {"code": "c", "property": [{"code": "child", "valueCode": "c1"}, {"code": "flag", "valueBoolean": True}]},
        {"code": "c1"},
    ],
}


class Source:
    """A TerminologySource over resources held in memory."""

    def __init__(self, *resources: dict[str, Any]) -> None:
        self.code_systems = {r["url"]: view_of_code_system(r) for r in resources if r["resourceType"] == "CodeSystem"}
        self.value_sets = {r["url"]: r for r in resources if r["resourceType"] == "ValueSet"}

    def code_system(self, url: str) -> CodeSystemView | None:
        return self.code_systems.get(url) or packaged_code_systems().get(url)

    def value_set(self, url: str) -> CodeSet:
        if url in self.value_sets:
            return expand_value_set(self.value_sets[url], self)
        return packaged_value_set(url)


def value_set(*includes: dict[str, Any], exclude: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    compose: dict[str, Any] = {"include": list(includes)}
    if exclude:
        compose["exclude"] = list(exclude)
    return {"resourceType": "ValueSet", "url": "http://example.org/vs", "compose": compose}


def test_below_follows_nesting_and_parent_and_child_properties() -> None:
    view = view_of_code_system(TREE)
    assert view.below("a") == {"a", "a1", "a1x", "a2"}
    assert view.below("b") == {"b", "b1"}
    assert view.below("c") == {"c", "c1"}
    assert view.below("a2") == {"a2"}


def test_above_is_the_code_and_its_ancestors() -> None:
    view = view_of_code_system(TREE)
    assert view.above("a1x") == {"a1x", "a1", "a"}
    assert view.above("b1") == {"b1", "b"}


def test_a_code_outside_the_hierarchy_subsumes_only_itself() -> None:
    assert view_of_code_system(TREE).below("unknown") == {"unknown"}


def test_a_cycle_in_the_hierarchy_does_not_loop() -> None:
    cyclic = {"resourceType": "CodeSystem", "url": LOCAL, "concept": [
        {"code": "x", "property": [{"code": "parent", "valueCode": "y"}]},
        {"code": "y", "property": [{"code": "parent", "valueCode": "x"}]}]}
    assert view_of_code_system(cyclic).below("x") == {"x", "y"}


def test_nesting_in_a_part_of_hierarchy_is_not_subsumption() -> None:
    grouped = {**TREE, "hierarchyMeaning": "part-of"}
    assert view_of_code_system(grouped).below("a") == {"a"}


def test_packaged_r4_code_systems_have_their_codes_and_hierarchies() -> None:
    act_code = packaged_code_systems().get("http://terminology.hl7.org/CodeSystem/v3-ActCode")
    assert act_code is not None and act_code.has_hierarchy
    assert {"IMP", "ACUTE", "NONAC"} <= act_code.below("IMP")
    category = packaged_code_systems().get("http://terminology.hl7.org/CodeSystem/observation-category")
    assert category is not None and "vital-signs" in category.codes
    assert packaged_code_systems().get("http://snomed.info/sct") is None


def test_packaged_r4_value_sets_are_listed_by_system() -> None:
    codes = packaged_value_set("http://hl7.org/fhir/ValueSet/observation-category")
    assert codes["http://terminology.hl7.org/CodeSystem/observation-category"] >= {"laboratory", "vital-signs"}
    with pytest.raises(ExpansionError):
        packaged_value_set("http://hl7.org/fhir/ValueSet/condition-code")  # SNOMED CT
    with pytest.raises(ExpansionError):
        packaged_value_set("http://example.org/unknown")


def test_expansion_contains_wins_over_compose_and_skips_abstract_entries() -> None:
    resource = {**value_set({"system": LOCAL, "concept": [{"code": "a"}]}), "expansion": {"contains": [
        {"system": LOCAL, "code": "b"}, {"abstract": True, "code": "g", "contains": [{"system": LOCAL, "code": "c"}]}]}}
    assert expand_value_set(resource, Source(TREE)) == {LOCAL: {"b", "c"}}


def test_compose_with_concepts_whole_systems_filters_and_exclusions() -> None:
    source = Source(TREE)
    assert expand_value_set(value_set({"system": LOCAL, "concept": [{"code": "a"}, {"code": "zz"}]}), source) == {
        LOCAL: {"a", "zz"}}
    assert expand_value_set(value_set({"system": LOCAL}), source)[LOCAL] == view_of_code_system(TREE).codes
    is_a = {"system": LOCAL, "filter": [{"property": "concept", "op": "is-a", "value": "a"}]}
    assert expand_value_set(value_set(is_a, exclude=({"system": LOCAL, "concept": [{"code": "a2"}]},)),
                            source) == {LOCAL: {"a", "a1", "a1x"}}
    descendants = {"system": LOCAL, "filter": [{"property": "concept", "op": "descendent-of", "value": "a"}]}
    assert expand_value_set(value_set(descendants), source) == {LOCAL: {"a1", "a1x", "a2"}}
    retired = {"system": LOCAL, "filter": [{"property": "status", "op": "=", "value": "retired"}]}
    assert expand_value_set(value_set(retired), source) == {LOCAL: {"b"}}
    flagged = {"system": LOCAL, "filter": [{"property": "flag", "op": "=", "value": "true"}]}
    assert expand_value_set(value_set(flagged), source) == {LOCAL: {"c"}}


def test_compose_imports_value_sets_and_intersects_them_with_a_system() -> None:
    inner = {**value_set({"system": LOCAL, "concept": [{"code": "a"}, {"code": "b"}]}), "url": "http://example.org/inner"}
    source = Source(TREE, inner)
    assert expand_value_set(value_set({"valueSet": ["http://example.org/inner|1"]}), source) == {LOCAL: {"a", "b"}}
    both = {"system": LOCAL, "valueSet": ["http://example.org/inner"],
            "filter": [{"property": "concept", "op": "is-a", "value": "a"}]}
    assert expand_value_set(value_set(both), source) == {LOCAL: {"a"}}
    r4 = value_set({"valueSet": ["http://hl7.org/fhir/ValueSet/administrative-gender"]})
    genders = {"male", "female", "other", "unknown"}
    assert expand_value_set(r4, source) == {"http://hl7.org/fhir/administrative-gender": genders}


@pytest.mark.parametrize("include", [
    {"system": "http://example.org/nowhere"},
    {"system": LOCAL, "filter": [{"property": "concept", "op": "regex", "value": "a.*"}]},
    {"system": LOCAL, "filter": [{"property": "concept", "op": "is-a"}]},
])
def test_what_cannot_be_listed_is_an_expansion_error(include: dict[str, Any]) -> None:
    with pytest.raises(ExpansionError):
        expand_value_set(value_set(include), Source(TREE))


def test_an_incomplete_code_system_cannot_stand_for_all_its_codes() -> None:
    fragment = {**TREE, "content": "fragment"}
    with pytest.raises(ExpansionError):
        expand_value_set(value_set({"system": LOCAL}), Source(fragment))
