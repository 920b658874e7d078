"""_filter (https://hl7.org/fhir/R4/search_filter.html): each operator per parameter type,
and, or, not(), precedence, parentheses, quoted strings and syntax errors."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from fireside.fhir import FhirError
from tests.search.conftest import Searcher

pytestmark = pytest.mark.anyio

UCUM = "http://unitsofmeasure.org"


async def people(searcher: Searcher) -> None:
    await searcher.put(
        {"resourceType": "Patient", "id": "peter", "gender": "male", "birthDate": "2014-11-01",
         "name": [{"family": "Peterson", "given": ["Peter"]}],
         "identifier": [{"system": "http://mrn", "value": "1"}],
         "meta": {"profile": ["http://example.org/fhir/StructureDefinition/kid"]}},
        {"resourceType": "Patient", "id": "ana", "gender": "female", "birthDate": "1990-05-05",
         "name": [{"family": "Ávila", "given": ["Ana"]}],
         "identifier": [{"system": "http://mrn", "value": "2"}],
         "generalPractitioner": [{"reference": "Practitioner/doc"}]},
        {"resourceType": "Patient", "id": "cy", "gender": "other", "name": [{"family": 'O"Brien\\Smith'}]},
    )


async def matching(searcher: Searcher, resource_type: str, expression: str, extra: str = "") -> set[str]:
    query = urlencode({"_filter": expression}) + (f"&{extra}" if extra else "")
    return await searcher.ids(resource_type, query)


async def refused(searcher: Searcher, expression: str, resource_type: str = "Patient") -> FhirError:
    with pytest.raises(FhirError) as raised:
        await matching(searcher, resource_type, expression)
    return raised.value


async def test_string_co_matches_anywhere_in_a_name(searcher: Searcher) -> None:
    await people(searcher)
    assert await matching(searcher, "Patient", 'name co "eter"') == {"peter"}


async def test_string_sw_and_ew_match_the_start_and_the_end_ignoring_case(searcher: Searcher) -> None:
    await people(searcher)
    assert await matching(searcher, "Patient", 'family sw "PET"') == {"peter"}
    assert await matching(searcher, "Patient", 'family ew "SON"') == {"peter"}
    assert await matching(searcher, "Patient", 'family ew "pet"') == set()


async def test_string_eq_is_the_whole_value_ignoring_case_and_accents(searcher: Searcher) -> None:
    await people(searcher)
    assert await matching(searcher, "Patient", 'given eq "peter"') == {"peter"}
    assert await matching(searcher, "Patient", 'family eq "avila"') == {"ana"}
    assert await matching(searcher, "Patient", 'family eq "peter"') == set()


async def test_string_ne_matches_everything_but_the_value(searcher: Searcher) -> None:
    await people(searcher)
    assert await matching(searcher, "Patient", 'family ne "peterson"') == {"ana", "cy"}


async def test_quoted_strings_take_escaped_quotes_and_backslashes(searcher: Searcher) -> None:
    await people(searcher)
    assert await matching(searcher, "Patient", 'family eq "O\\"Brien\\\\Smith"') == {"cy"}
    assert await matching(searcher, "Patient", 'family co "\\u0022brien"') == {"cy"}


async def test_token_eq_ne_and_system_bar_code(searcher: Searcher) -> None:
    await people(searcher)
    assert await matching(searcher, "Patient", "gender eq female") == {"ana"}
    assert await matching(searcher, "Patient", "gender ne female") == {"peter", "cy"}
    assert await matching(searcher, "Patient", "identifier eq http://mrn|1") == {"peter"}
    assert await matching(searcher, "Patient", 'identifier eq "http://mrn|2"') == {"ana"}


async def test_date_prefix_operators_compare_ranges(searcher: Searcher) -> None:
    await people(searcher)
    assert await matching(searcher, "Patient", "birthdate ge 2014-10-10") == {"peter"}
    assert await matching(searcher, "Patient", "birthdate lt 2000") == {"ana"}
    assert await matching(searcher, "Patient", "birthdate eq 2014") == {"peter"}
    assert await matching(searcher, "Patient", "birthdate ne 2014") == {"ana"}
    assert await matching(searcher, "Patient", "birthdate sa 2000") == {"peter"}
    assert await matching(searcher, "Patient", "birthdate eb 2000") == {"ana"}
    assert await matching(searcher, "Patient", "birthdate ap 2014-11-01") == {"peter"}


async def test_date_po_matches_periods_that_overlap_the_value(searcher: Searcher) -> None:
    await searcher.put(
        {"resourceType": "Encounter", "id": "march", "status": "finished", "class": {"code": "AMB"},
         "period": {"start": "2020-02-20", "end": "2020-03-02"}},
        {"resourceType": "Encounter", "id": "may", "status": "finished", "class": {"code": "AMB"},
         "period": {"start": "2020-05-01", "end": "2020-05-02"}},
    )
    assert await matching(searcher, "Encounter", "date po 2020-03") == {"march"}
    assert await matching(searcher, "Encounter", "date eq 2020-03") == set()


async def test_pr_tells_whether_a_parameter_has_any_value(searcher: Searcher) -> None:
    await people(searcher)
    assert await matching(searcher, "Patient", "birthdate pr true") == {"peter", "ana"}
    assert await matching(searcher, "Patient", "birthdate pr false") == {"cy"}
    assert await matching(searcher, "Patient", "_id pr true") == {"peter", "ana", "cy"}


async def test_number_and_quantity_take_prefix_operators_and_units(searcher: Searcher) -> None:
    await searcher.put(
        {"resourceType": "Observation", "id": "low", "status": "final", "code": {"text": "x"},
         "valueQuantity": {"value": 5.4, "system": UCUM, "code": "mg"}},
        {"resourceType": "Observation", "id": "high", "status": "final", "code": {"text": "x"},
         "valueQuantity": {"value": 70, "system": UCUM, "code": "kg"}},
        {"resourceType": "RiskAssessment", "id": "likely", "status": "final", "subject": {"reference": "Patient/p"},
         "prediction": [{"probabilityDecimal": 0.8}]},
        {"resourceType": "RiskAssessment", "id": "unlikely", "status": "final", "subject": {"reference": "Patient/p"},
         "prediction": [{"probabilityDecimal": 0.1}]},
    )
    assert await matching(searcher, "Observation", "value-quantity lt 60") == {"low"}
    assert await matching(searcher, "Observation", f"value-quantity gt 5|{UCUM}|kg") == {"high"}
    assert await matching(searcher, "Observation", "value-quantity eq 5.4") == {"low"}
    assert await matching(searcher, "RiskAssessment", "probability gt 0.5") == {"likely"}
    assert await matching(searcher, "RiskAssessment", "probability le 0.5") == {"unlikely"}


async def test_reference_re_and_eq_match_the_target(searcher: Searcher) -> None:
    await people(searcher)
    assert await matching(searcher, "Patient", "general-practitioner re Practitioner/doc") == {"ana"}
    assert await matching(searcher, "Patient", "general-practitioner eq Practitioner/doc") == {"ana"}
    assert await matching(searcher, "Patient", "general-practitioner ne Practitioner/doc") == {"peter", "cy"}


async def test_uri_eq_and_sw(searcher: Searcher) -> None:
    await people(searcher)
    profile = "http://example.org/fhir/StructureDefinition/kid"
    assert await matching(searcher, "Patient", f"_profile eq {profile}") == {"peter"}
    assert await matching(searcher, "Patient", "_profile sw http://example.org/fhir") == {"peter"}
    assert await matching(searcher, "Patient", "_profile ne http://example.org/fhir") == {"peter", "ana", "cy"}


async def test_id_and_last_updated_are_filterable(searcher: Searcher) -> None:
    await people(searcher)
    assert await matching(searcher, "Patient", "_id eq ana") == {"ana"}
    assert await matching(searcher, "Patient", "_id ne ana") == {"peter", "cy"}
    assert await matching(searcher, "Patient", "_lastUpdated gt 2000-01-01") == {"peter", "ana", "cy"}
    assert await matching(searcher, "Patient", "_lastUpdated lt 2000-01-01") == set()


async def test_and_binds_tighter_than_or(searcher: Searcher) -> None:
    await people(searcher)
    expression = "gender eq male or gender eq female and birthdate gt 2000"
    assert await matching(searcher, "Patient", expression) == {"peter"}


async def test_parentheses_group_before_and(searcher: Searcher) -> None:
    await people(searcher)
    expression = "(gender eq male or gender eq female) and birthdate lt 2000"
    assert await matching(searcher, "Patient", expression) == {"ana"}


async def test_not_negates_a_group(searcher: Searcher) -> None:
    await people(searcher)
    assert await matching(searcher, "Patient", "not (gender eq male)") == {"ana", "cy"}
    assert await matching(searcher, "Patient", "not(gender eq male or gender eq female)") == {"cy"}
    assert await matching(searcher, "Patient", "gender ne other and not (birthdate lt 2000)") == {"peter"}


async def test_keywords_and_operators_ignore_case(searcher: Searcher) -> None:
    await people(searcher)
    assert await matching(searcher, "Patient", "gender EQ male OR gender Eq female") == {"peter", "ana"}


async def test_filter_combines_with_other_parameters_by_and(searcher: Searcher) -> None:
    await people(searcher)
    assert await matching(searcher, "Patient", "gender ne other", extra="birthdate=lt2000") == {"ana"}


async def test_two_filters_must_both_hold(searcher: Searcher) -> None:
    await people(searcher)
    query = urlencode([("_filter", "gender ne other"), ("_filter", "birthdate gt 2000")])
    assert await searcher.ids("Patient", query) == {"peter"}


async def test_a_syntax_error_names_filter_and_the_position(searcher: Searcher) -> None:
    error = await refused(searcher, "gender eq male and")
    assert error.issues[0].code == "invalid"
    assert "_filter" in error.issues[0].diagnostics and "position 19" in error.issues[0].diagnostics
    assert "position 12" in (await refused(searcher, '(gender eq "male')).issues[0].diagnostics
    assert "position 1" in (await refused(searcher, ")")).issues[0].diagnostics


async def test_an_unknown_operator_or_parameter_is_refused(searcher: Searcher) -> None:
    assert "'xx' is not a filter operator" in (await refused(searcher, "gender xx male")).issues[0].diagnostics
    assert "not a search parameter of Patient" in (await refused(searcher, "color eq red")).issues[0].diagnostics


async def test_an_operator_that_does_not_apply_to_the_type_is_refused(searcher: Searcher) -> None:
    error = await refused(searcher, "gender co mal")
    assert "'co' does not apply to token" in error.issues[0].diagnostics
    error = await refused(searcher, "birthdate sw 2014")
    assert "'sw' does not apply to date" in error.issues[0].diagnostics


async def test_a_bad_value_names_filter_and_the_parameter(searcher: Searcher) -> None:
    error = await refused(searcher, "birthdate gt yesterday")
    assert "_filter (birthdate at position 1)" in error.issues[0].diagnostics


async def test_chained_and_filtered_paths_are_not_supported(searcher: Searcher) -> None:
    error = await refused(searcher, 'subject.name co "pet"', "Observation")
    assert "chained and filtered paths are not supported" in error.issues[0].diagnostics
    assert "position 8" in error.issues[0].diagnostics
    error = await refused(searcher, 'related[type eq has-member].target pr true', "Observation")
    assert "position 8" in error.issues[0].diagnostics


async def test_bad_escapes_and_unterminated_strings_are_refused(searcher: Searcher) -> None:
    assert "invalid escape" in (await refused(searcher, 'family eq "a\\qb"')).issues[0].diagnostics
    assert "unterminated string" in (await refused(searcher, 'family eq "ab')).issues[0].diagnostics


async def test_a_projects_own_search_parameter_can_be_filtered_on(searcher: Searcher) -> None:
    nickname = "http://example.org/fhir/StructureDefinition/nickname"
    await searcher.put({
        "resourceType": "SearchParameter", "id": "nickname", "url": "http://example.org/SearchParameter/nickname",
        "name": "nickname", "status": "active", "description": "nickname", "code": "nickname", "base": ["Patient"],
        "type": "string", "expression": f"Patient.extension.where(url = '{nickname}').value"})
    await searcher.put(
        {"resourceType": "Patient", "id": "ana", "extension": [{"url": nickname, "valueString": "Nana"}]})
    assert await matching(searcher, "Patient", 'nickname eq "nana"') == {"ana"}


CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
FINDINGS = "http://example.org/fhir/CodeSystem/findings"


async def test_in_and_ni_test_value_set_membership(searcher: Searcher) -> None:
    await searcher.put(*(
        {"resourceType": "Observation", "id": resource_id, "status": "final", "code": {"text": "x"},
         "category": [{"coding": [{"system": system, "code": "laboratory"}]}]}
        for resource_id, system in (("lab", CATEGORY), ("other", "http://example.org/other"))))
    value_set = "http://hl7.org/fhir/ValueSet/observation-category"
    assert await matching(searcher, "Observation", f"category in {value_set}") == {"lab"}
    assert await matching(searcher, "Observation", f"category ni {value_set}") == {"other"}
    assert await matching(searcher, "Observation", f"not (category in {value_set})") == {"other"}


async def test_ss_and_sb_follow_the_code_system_hierarchy(searcher: Searcher) -> None:
    await searcher.put(
        {"resourceType": "CodeSystem", "id": "findings", "url": FINDINGS, "status": "active", "content": "complete",
         "hierarchyMeaning": "is-a",
         "concept": [{"code": "lung", "concept": [{"code": "asthma"}, {"code": "pneumonia"}]}]},
        *({"resourceType": "Condition", "id": code, "subject": {"reference": "Patient/p"},
           "code": {"coding": [{"system": FINDINGS, "code": code}]}} for code in ("lung", "asthma", "pneumonia")),
    )
    assert await matching(searcher, "Condition", f"code ss {FINDINGS}|lung") == {"lung", "asthma", "pneumonia"}
    assert await matching(searcher, "Condition", f"code sb {FINDINGS}|asthma") == {"lung", "asthma"}
