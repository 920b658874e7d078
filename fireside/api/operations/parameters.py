"""Operation inputs, read and checked against the operation's OperationDefinition.

https://hl7.org/fhir/R4/operations.html#request: a POST carries a `Parameters` resource (or,
when the operation has a single resource input, that resource itself); a GET carries primitive
inputs in the query string. Unknown names, wrong types and cardinality are 400s naming the part.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fireside.api.context import FhirRequest
from fireside.fhir import FhirDefinitions
from fireside.fhir.errors import FhirError, Issue, invalid

# Query parameters that belong to the HTTP exchange, not to the operation.
_TRANSPORT_PARAMETERS = {"_format", "_pretty"}


@dataclass
class OperationInput:
    values: dict[str, list[Any]] = field(default_factory=dict)

    def one(self, name: str) -> Any:
        found = self.values.get(name) or []
        return found[0] if found else None

    def all(self, name: str) -> list[Any]:
        return self.values.get(name, [])


def operation_definition(definitions: FhirDefinitions, code: str, resource_type: str | None) -> dict[str, Any]:
    candidates = definitions.operation(code)
    for candidate in candidates:
        if resource_type is None or resource_type in candidate.get("resource", []) or \
                "Resource" in candidate.get("resource", []):
            return candidate
    raise LookupError(f"no OperationDefinition for ${code}")


def _input_parameters(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in definition.get("parameter", []) if p.get("use") == "in"}


def read_operation_input(request: FhirRequest, definition: dict[str, Any]) -> OperationInput:
    declared = _input_parameters(definition)
    if request.method == "GET" or not request.body.strip():
        collected = _from_query(request, declared)
    else:
        collected = _from_body(request, declared)
    _check_cardinality(collected, declared, definition["code"])
    return collected


def _from_query(request: FhirRequest, declared: dict[str, dict[str, Any]]) -> OperationInput:
    collected = OperationInput()
    for name, value in request.query:
        if name in _TRANSPORT_PARAMETERS:
            continue
        parameter = declared.get(name)
        if parameter is None:
            raise invalid(f"Unknown parameter {name!r} for ${request.operation}")
        if parameter.get("type") in ("Resource", None) or parameter.get("part"):
            raise invalid(f"Parameter {name!r} of ${request.operation} cannot be sent in the URL; POST it")
        collected.values.setdefault(name, []).append(value)
    return collected


def _from_body(request: FhirRequest, declared: dict[str, dict[str, Any]]) -> OperationInput:
    body = request.resource_body()
    if body["resourceType"] != "Parameters":
        resource_inputs = [name for name, p in declared.items() if p.get("type") == "Resource"]
        if len(resource_inputs) != 1:
            raise invalid(f"${request.operation} takes a Parameters resource", "Parameters")
        return OperationInput({resource_inputs[0]: [body]})
    collected = OperationInput()
    for index, part in enumerate(body.get("parameter") or []):
        path = f"Parameters.parameter[{index}]"
        name = part.get("name") if isinstance(part, dict) else None
        parameter = declared.get(name) if isinstance(name, str) else None
        if parameter is None:
            raise invalid(f"Unknown parameter {name!r} for ${request.operation}", f"{path}.name")
        collected.values.setdefault(name, []).append(_part_value(part, parameter, path))  # type: ignore[arg-type]
    return collected


def _part_value(part: dict[str, Any], parameter: dict[str, Any], path: str) -> Any:
    expected = parameter.get("type")
    if expected == "Resource" or (expected and expected[0].isupper() and "resource" in part):
        if not isinstance(part.get("resource"), dict):
            raise invalid(f"Parameter {parameter['name']!r} must carry a resource", f"{path}.resource")
        return part["resource"]
    if parameter.get("part"):
        return part.get("part", [])
    values = [key for key in part if key.startswith("value")]
    if len(values) != 1:
        raise invalid(f"Parameter {parameter['name']!r} must carry one value[x]", path)
    suffix = values[0][len("value"):]
    if expected and suffix.lower() != expected.lower():
        raise invalid(f"Parameter {parameter['name']!r} must be a {expected}, not {suffix}", f"{path}.{values[0]}")
    return part[values[0]]


def _check_cardinality(collected: OperationInput, declared: dict[str, dict[str, Any]], code: str) -> None:
    issues = []
    for name, parameter in declared.items():
        count = len(collected.values.get(name, []))
        if count < int(parameter.get("min", 0)):
            issues.append(Issue("required", f"${code} requires parameter {name!r}"))
        maximum = parameter.get("max", "*")
        if maximum != "*" and count > int(maximum):
            issues.append(Issue("invalid", f"${code} takes at most {maximum} {name!r}, got {count}"))
    if issues:
        raise FhirError(issues)
