"""JSON Patch (RFC 6902, https://hl7.org/fhir/R4/http.html#patch) applied to a resource's JSON.

Failures follow RFC 5789: a malformed patch document is 400 (`invalid`); a well-formed one
that cannot apply to this resource (a path that isn't there, a failing `test`) is 422
(`processing`). Each message names the operation at fault by its position.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import jsonpointer

from fireside.fhir.errors import FhirError, invalid

_POINTER_MEMBERS = ("path", "from")


def apply_json_patch(resource: dict[str, Any], document: Any) -> Any:
    """The patched copy of `resource` (`resource` itself is left alone); may be any JSON value,
    so the caller checks that a resource came out."""
    if not isinstance(document, list):
        raise invalid("A JSON Patch document must be an array of operations")
    patched: Any = copy.deepcopy(resource)
    for index, operation in enumerate(document):
        patch = _read_operation(index, operation)
        try:
            patched = patch.apply(patched, in_place=True)
        except jsonpatch.InvalidJsonPatch as error:
            raise invalid(f"JSON Patch operation {index} is malformed: {error}") from None
        except jsonpatch.JsonPatchTestFailed as error:
            raise _cannot_apply(index, operation, f"the test failed: {error}") from None
        except jsonpatch.JsonPatchConflict as error:
            # Some of these messages are only the missing key ("'zz'"): say what is missing.
            reason = str(error) if len(str(error)) > 20 else f"{_pointers(operation)} does not exist"
            raise _cannot_apply(index, operation, reason) from None
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as error:
            raise _cannot_apply(index, operation, str(error)) from None
        except (KeyError, IndexError, TypeError, ValueError) as error:
            raise _cannot_apply(index, operation, f"{type(error).__name__}: {error}") from None
    return patched


def _read_operation(index: int, operation: Any) -> jsonpatch.JsonPatch:
    if not isinstance(operation, dict):
        raise invalid(f"JSON Patch operation {index} must be an object, not {type(operation).__name__}")
    for member in _POINTER_MEMBERS:
        pointer = operation.get(member)
        if member in operation and not isinstance(pointer, str):
            raise invalid(f"JSON Patch operation {index}: {member!r} must be a JSON Pointer string")
        if isinstance(pointer, str):
            try:
                jsonpointer.JsonPointer(pointer)
            except jsonpointer.JsonPointerException as error:
                raise invalid(f"JSON Patch operation {index}: {member} {pointer!r} is not a JSON Pointer: "
                              f"{error}") from None
    try:
        return jsonpatch.JsonPatch([operation])
    except jsonpatch.InvalidJsonPatch as error:
        raise invalid(f"JSON Patch operation {index} is malformed: {error}") from None


def _pointers(operation: dict[str, Any]) -> str:
    # move and copy read `from`; the others act on `path`.
    return str(operation.get("from") if operation.get("op") in ("move", "copy") else operation.get("path"))


def _cannot_apply(index: int, operation: dict[str, Any], reason: str) -> FhirError:
    return FhirError.single(
        "processing", f"JSON Patch operation {index} ({operation.get('op')} {operation.get('path')}) "
        f"cannot be applied: {reason}"
    )
