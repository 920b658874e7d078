"""Package the official FHIR R4 definitions that Fireside needs at run time.

Reads the definition bundles in ``../shared/fhir-r4`` (never read at run time) and writes
compact, gzip-compressed JSON into ``fireside/fhir/data/``. Run it when the definitions change:

    python scripts/build_definitions.py [--source ../shared/fhir-r4]

The output is committed so that an installed Fireside needs nothing outside its package.
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
OUTPUT = REPO / "fireside" / "fhir" / "data"
FHIR_TYPE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
REGEX_EXTENSION = "http://hl7.org/fhir/StructureDefinition/regex"
FHIRPATH_SYSTEM_PREFIX = "http://hl7.org/fhirpath/System."


def load_bundle(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        bundle = json.load(handle)
    return [entry["resource"] for entry in bundle.get("entry", [])]


def compact_type(element_type: dict[str, Any]) -> dict[str, Any]:
    """One ElementDefinition.type, with System.* codes mapped to their FHIR type names."""
    code = element_type["code"]
    regex = None
    for extension in element_type.get("extension", []):
        if extension["url"] == FHIR_TYPE_EXTENSION:
            code = extension.get("valueUrl") or extension.get("valueUri") or code
        elif extension["url"] == REGEX_EXTENSION:
            regex = extension["valueString"]
    if code.startswith(FHIRPATH_SYSTEM_PREFIX):
        # The `value` of a primitive: keep the System type so the validator knows it is the leaf.
        code = "System." + code[len(FHIRPATH_SYSTEM_PREFIX):]
    result: dict[str, Any] = {"code": code}
    if regex:
        result["regex"] = regex
    for key in ("profile", "targetProfile"):
        if element_type.get(key):
            result[key] = element_type[key]
    return result


def compact_element(element: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "id": element.get("id", element["path"]),
        "path": element["path"],
        "min": element.get("min", 0),
        "max": element.get("max", "*"),
    }
    if element.get("sliceName"):
        result["sliceName"] = element["sliceName"]
    if element.get("type"):
        result["type"] = [compact_type(t) for t in element["type"]]
    if element.get("contentReference"):
        result["contentReference"] = element["contentReference"]
    binding = element.get("binding")
    if binding and binding.get("valueSet"):
        result["binding"] = {"strength": binding["strength"], "valueSet": binding["valueSet"]}
    constraints = [
        {key: c[key] for key in ("key", "severity", "human", "expression", "source") if key in c}
        for c in element.get("constraint", [])
        if c.get("expression")
    ]
    if constraints:
        result["constraint"] = constraints
    if element.get("isSummary"):
        result["summary"] = True
    if element.get("isModifier"):
        result["modifier"] = True
    if element.get("slicing"):
        result["slicing"] = element["slicing"]
    for key, value in element.items():
        if key.startswith(("fixed", "pattern")) or key in ("minValueInteger", "maxLength"):
            result[key] = value
    return result


def compact_structure_definition(definition: dict[str, Any]) -> dict[str, Any]:
    return {
        "url": definition["url"],
        "name": definition["name"],
        "type": definition["type"],
        "kind": definition["kind"],
        "abstract": definition.get("abstract", False),
        "derivation": definition.get("derivation"),
        "baseDefinition": definition.get("baseDefinition"),
        "elements": [compact_element(e) for e in definition["snapshot"]["element"]],
    }


def compact_search_parameter(parameter: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "url", "code", "base", "type", "expression", "target", "multipleOr", "multipleAnd",
        "comparator", "modifier", "chain", "component",
    )
    return {key: parameter[key] for key in keys if key in parameter}


FIRESIDE_BASE = "https://fireside.health/fhir/StructureDefinition/"

# Fireside's own administrative resource types: stored and validated like FHIR resources.
# (name, cardinality, type[, target]) per element; secrets are never elements of these.
FIRESIDE_TYPES: dict[str, list[tuple[str, str, str, str | None]]] = {
    "Project": [
        ("name", "1..1", "string", None),
        ("description", "0..1", "string", None),
        ("owner", "0..1", "Reference", "User"),
        # Self-registration at /oauth2/register (fireside/auth/registration.py): anyone may make a
        # User with a Patient profile in this project, through one of its client applications.
        ("registrationAllowed", "0..1", "boolean", None),
        # The AccessPolicy given to the memberships self-registration makes.
        ("defaultPatientAccessPolicy", "0..1", "Reference", "AccessPolicy"),
        # External OpenID Connect providers members may sign in with (fireside/auth/identity_providers.py).
        # The client secret is no element: it is sealed in identity_provider_secret.
        ("identityProvider", "0..*", "BackboneElement", None),
        ("identityProvider.name", "1..1", "string", None),
        ("identityProvider.issuer", "1..1", "uri", None),
        ("identityProvider.clientId", "1..1", "string", None),
        # Only emails of these domains may sign in through the provider; none: any domain.
        ("identityProvider.allowedDomain", "0..*", "string", None),
        # An email with no account here gets one (a Patient member) at first sign-in; default: no.
        ("identityProvider.createUsers", "0..1", "boolean", None),
    ],
    "ClientApplication": [
        ("name", "1..1", "string", None),
        ("description", "0..1", "string", None),
        ("redirectUri", "0..*", "uri", None),
        ("launchUri", "0..1", "uri", None),
        ("jwksUri", "0..1", "uri", None),
        # An inline JWK Set (RFC 7517) as JSON text, for private_key_jwt clients without a URL.
        ("jwks", "0..1", "string", None),
        ("pkceOptional", "0..1", "boolean", None),
        # The SMART scopes this client's tokens may reach (space-separated); none: any.
        ("scope", "0..1", "string", None),
    ],
    "User": [
        ("email", "1..1", "string", None),
        ("firstName", "0..1", "string", None),
        ("lastName", "0..1", "string", None),
    ],
    # A user's (or client's) place in a project: stored in that project. `admin` makes a project
    # admin; `profile` is the FHIR resource the member is (the ID token's fhirUser).
    "ProjectMembership": [
        ("project", "1..1", "Reference", "Project"),
        ("user", "0..1", "Reference", "User"),
        ("client", "0..1", "Reference", "ClientApplication"),
        ("bot", "0..1", "Reference", "Bot"),
        ("profile", "0..1", "Reference", "Resource"),
        ("admin", "0..1", "boolean", None),
        ("accessPolicy", "0..*", "Reference", "AccessPolicy"),
        # Values bound into the access policies' criteria: `%name` (fireside/auth/policies.py).
        ("parameter", "0..*", "BackboneElement", None),
        ("parameter.name", "1..1", "string", None),
        ("parameter.valueString", "0..1", "string", None),
        ("parameter.valueReference", "0..1", "Reference", "Resource"),
    ],
    # What a membership may touch (fireside/auth/policies.py, docs/access-control.md): each
    # `resource` rule grants one type (or `*`), narrowed by a search; several rules are a union.
    "AccessPolicy": [
        ("name", "0..1", "string", None),
        # Every rule limited to this compartment: "Patient/123", or a variable such as "%patient".
        ("compartment", "0..1", "string", None),
        ("resource", "0..*", "BackboneElement", None),
        ("resource.resourceType", "1..1", "code", None),
        ("resource.criteria", "0..1", "string", None),
        ("resource.readonly", "0..1", "boolean", None),
        ("resource.hiddenFields", "0..*", "string", None),
        ("resource.readonlyFields", "0..*", "string", None),
    ],
    # Server-side code a project deploys (fireside/auth/bots.py). A Bot acts in its project
    # through its own ProjectMembership, with that membership's access policies.
    "Bot": [
        ("name", "1..1", "string", None),
        ("description", "0..1", "string", None),
        ("runtimeVersion", "0..1", "code", None),
        # The Python source the bot runs.
        ("code", "0..1", "string", None),
        # Seconds a run may take before it is stopped.
        ("timeout", "0..1", "positiveInt", None),
    ],
    # A token signing key's public half (RFC 7517 members), in the admin project; the private
    # half is sealed in the signing_key table and is never an element (fireside/auth/keys.py).
    "JsonWebKey": [
        ("kid", "1..1", "string", None),
        ("kty", "1..1", "code", None),
        ("alg", "1..1", "code", None),
        ("use", "0..1", "code", None),
        ("crv", "0..1", "code", None),
        ("x", "0..1", "string", None),
        ("y", "0..1", "string", None),
        # True while the key signs new tokens; a retired key only verifies until its tokens expire.
        ("active", "1..1", "boolean", None),
        ("retired", "0..1", "instant", None),
    ],
    # One sign-in: an authorization code grant and the refresh tokens rotated from it (its family).
    # Code and refresh token hashes live in the oauth_token table, never in content.
    "Login": [
        ("client", "1..1", "Reference", "ClientApplication"),
        ("user", "1..1", "Reference", "User"),
        ("membership", "0..1", "Reference", "ProjectMembership"),
        ("scope", "0..1", "string", None),
        ("redirectUri", "1..1", "uri", None),
        ("codeChallenge", "0..1", "string", None),
        ("codeChallengeMethod", "0..1", "code", None),
        ("nonce", "0..1", "string", None),
        ("authTime", "1..1", "instant", None),
        ("expires", "0..1", "instant", None),
        ("revoked", "0..1", "boolean", None),
        # SMART launch context (fireside/auth/launch.py): chosen at sign-in, kept across refreshes.
        ("patient", "0..1", "Reference", "Patient"),
        ("encounter", "0..1", "Reference", "Encounter"),
    ],
}


def fireside_structure_definition(name: str, domain_resource: dict[str, Any]) -> dict[str, Any]:
    """A resource type of Fireside's, built on DomainResource like the core ones."""
    inherited = []
    for element in domain_resource["elements"]:
        copy = dict(element)
        copy["path"] = name + element["path"][len("DomainResource"):]
        copy["id"] = copy["path"]
        inherited.append(copy)
    own = []
    for element_name, cardinality, type_code, target in FIRESIDE_TYPES[name]:
        low, high = cardinality.split("..")
        element_type: dict[str, Any] = {"code": type_code}
        if target:
            element_type["targetProfile"] = ["http://hl7.org/fhir/StructureDefinition/" + target]
        own.append({"id": f"{name}.{element_name}", "path": f"{name}.{element_name}", "min": int(low),
                    "max": high, "type": [element_type], "summary": True})
    return {
        "url": FIRESIDE_BASE + name,
        "name": name,
        "type": name,
        "kind": "resource",
        "abstract": False,
        "derivation": "specialization",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/DomainResource",
        "elements": inherited + own,
    }


def write_gzip_json(name: str, payload: Any) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    data = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    # mtime=0 keeps the output byte-identical across runs, so regeneration makes no git noise.
    with gzip.GzipFile(OUTPUT / name, "wb", compresslevel=9, mtime=0) as handle:
        handle.write(data)
    print(f"{name}: {len(data):,} bytes of JSON, {(OUTPUT / name).stat().st_size:,} compressed")


def build(source: Path) -> None:
    core: list[dict[str, Any]] = []
    operations: list[dict[str, Any]] = []
    compartments: list[dict[str, Any]] = []
    for name in ("profiles-types.json", "profiles-resources.json"):
        for resource in load_bundle(source / name):
            kind = resource["resourceType"]
            if kind == "StructureDefinition":
                core.append(compact_structure_definition(resource))
            elif kind == "OperationDefinition":
                operations.append({k: v for k, v in resource.items() if k != "text"})
            elif kind == "CompartmentDefinition":
                compartments.append({k: v for k, v in resource.items() if k != "text"})
    domain_resource = next(sd for sd in core if sd["type"] == "DomainResource")
    core.extend(fireside_structure_definition(name, domain_resource) for name in FIRESIDE_TYPES)
    profiles = [
        compact_structure_definition(r)
        for name in ("profiles-others.json", "extension-definitions.json")
        for r in load_bundle(source / name)
        if r["resourceType"] == "StructureDefinition" and "snapshot" in r
    ]
    search_parameters = [
        compact_search_parameter(r)
        for r in load_bundle(source / "search-parameters.json")
        if r["resourceType"] == "SearchParameter"
    ]
    write_gzip_json("structure-definitions.json.gz", core)
    write_gzip_json("profiles.json.gz", profiles)
    write_gzip_json("search-parameters.json.gz", search_parameters)
    write_gzip_json("operation-definitions.json.gz", operations)
    write_gzip_json("compartment-definitions.json.gz", compartments)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", type=Path, default=REPO.parent / "shared" / "fhir-r4")
    build(parser.parse_args().source)


if __name__ == "__main__":
    main()
