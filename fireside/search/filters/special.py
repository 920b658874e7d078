"""The special parameters that are not one parameter's index rows: `_filter` (the filter
language), `_list` (List membership), and `_text`/`_content` (full text), each compiled to a
condition on the resource row `r` (https://hl7.org/fhir/R4/search.html#all)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from fireside.search.filters.condition import Condition, FilterContext
from fireside.search.filters.filter_param import compile_filter_parameter, filter_terminology_criteria
from fireside.search.filters.full_text import compile_full_text
from fireside.search.filters.lists import compile_list
from fireside.search.request import Criterion, SearchRequest, SpecialCriterion
from fireside.store.indexing import SearchParameterRegistry


@dataclass(frozen=True)
class SpecialScope:
    """Where a special parameter is compiled: the project and resource type searched, the
    registry (`_filter` names other parameters) and the server's base URL."""

    project_id: UUID
    resource_type: str
    registry: SearchParameterRegistry
    context: FilterContext


def compile_special(special: SpecialCriterion, scope: SpecialScope) -> Condition:
    if special.code == "_filter":
        return compile_filter_parameter(special, scope)
    if special.code == "_list":
        return compile_list(special, scope)
    return compile_full_text(special, scope)


def special_terminology_criteria(request: SearchRequest, registry: SearchParameterRegistry) -> list[Criterion]:
    """The :in, :not-in, :below and :above criteria that `_filter` parameters compile to (`in`,
    `ni`, `ss`, `sb`), so that their codes are resolved before compiling, like the others'."""
    return [criterion for special in request.specials if special.code == "_filter"
            for criterion in filter_terminology_criteria(special, registry, request.resource_type)]
