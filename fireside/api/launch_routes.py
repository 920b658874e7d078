"""SMART App Launch endpoints (https://hl7.org/fhir/smart-app-launch/app-launch.html): the EHR's
launch handles and standalone launch's patient picker. The rules live in `fireside.auth.launch`
and `fireside.auth.patient_picker`; these handlers parse requests and shape pages.
"""

from __future__ import annotations

import html
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from fireside.api.http import authenticate, outcome_response
from fireside.api.oauth_routes import (
    _NO_STORE,
    FORM_COOKIE,
    FORM_PAGE_HEADERS,
    PATIENT_PICKER_PATH,
    _fhir_base,
    _form,
    _page,
    _redirect,
    _services,
    _template,
)
from fireside.auth import AuthorizationPageError, OAuthError
from fireside.auth.launch import LAUNCH_LIFETIME, create_launch
from fireside.auth.patient_picker import (
    PatientChoice,
    PatientNotAvailable,
    choose_patient,
    patient_options,
    read_picker_token,
)
from fireside.fhir.errors import FhirError

LAUNCH_PATH = "/oauth2/launch"
_LAUNCH_PARAMETERS = {"patient": "Patient/", "encounter": "Encounter/", "client_id": ""}


async def launch_endpoint(request: Request) -> Response:
    """EHR launch: `POST /oauth2/launch` with a Bearer token and `patient`, `encounter` (ids or
    references) and optionally the `client_id` of the one app it may open; answers the handle."""
    services = _services(request)
    try:
        ctx = await authenticate(request, services)
        params = await _launch_parameters(request)
        handle = await create_launch(services.store, ctx, ctx.author, params.get("patient"), params.get("encounter"),
                                     params.get("client_id"))
    except FhirError as error:
        return outcome_response(error)
    return JSONResponse({"launch": handle, "iss": _fhir_base(request),
                         "expires_in": int(LAUNCH_LIFETIME.total_seconds())}, headers=_NO_STORE)


async def _launch_parameters(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type == "application/x-www-form-urlencoded":
            raw: Any = await _form(request)
        else:
            body = await request.body()
            raw = orjson.loads(body) if body.strip() else {}
    except (OAuthError, orjson.JSONDecodeError) as error:
        raise FhirError.single("invalid", "Send the launch as a JSON object or a form") from error
    if not isinstance(raw, dict):
        raise FhirError.single("invalid", "Send the launch as a JSON object or a form")
    params: dict[str, str] = {}
    for name, prefix in _LAUNCH_PARAMETERS.items():
        value = raw.get(name)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise FhirError.single("invalid", f"{name} must be a string", expression=name)
        params[name] = value.removeprefix(prefix) if prefix else value
    return params


async def patient_picker(request: Request) -> Response:
    """Standalone launch, after the password: GET lists (and searches by name) the patients the
    user may read; POST records the choice and sends the browser back to the app with its code."""
    services = _services(request)
    binding = request.cookies.get(FORM_COOKIE)
    try:
        if request.method == "GET":
            picker_token = request.query_params.get("picker_token", "")
            choice = read_picker_token(services.tokens, picker_token, binding)
            return await _picker_page(request, choice, picker_token, request.query_params.get("name", ""), "")
        form = await _form(request)
        picker_token = form.get("picker_token", "")
        choice = read_picker_token(services.tokens, picker_token, binding)
        redirect_uri, state = choice.request.redirect_uri, choice.request.state
        if "cancel" in form:
            return _redirect(redirect_uri, {"error": "access_denied", "error_description": "No patient was chosen",
                                            "state": state})
        try:
            code = await choose_patient(services.store, services.access, choice, form.get("patient", ""))
        except PatientNotAvailable as refused:
            return await _picker_page(request, choice, picker_token, "", str(refused), 400)
        return _redirect(redirect_uri, {"code": code, "state": state})
    except AuthorizationPageError as error:
        return _page("Patient choice refused", str(error), 400)
    except OAuthError as error:
        return _page("Patient choice refused", error.description, 400)
    except FhirError as error:
        return _page("Patient search failed", error.outcome()["issue"][0].get("diagnostics", ""), 400)


async def _picker_page(request: Request, choice: PatientChoice, picker_token: str, name: str, message: str,
                       status: int = 200) -> Response:
    services = _services(request)
    options = await patient_options(services.store, services.search, services.access, choice, name)
    items = "".join(
        f'<li><label><input type="radio" name="patient" value="{html.escape(option.id)}" required> '
        f'{html.escape(option.name)} <span class="details">{html.escape(option.birth_date)} '
        f"{html.escape(option.gender)}</span></label></li>"
        for option in options
    )
    page = _template("patient_picker.html").substitute(
        client_name=html.escape(choice.request.client_name or choice.request.client_id),
        action=html.escape(PATIENT_PICKER_PATH),
        picker_token=html.escape(picker_token),
        name=html.escape(name),
        message=f'<p class="error" role="alert">{html.escape(message)}</p>' if message else "",
        options=f"<ul>{items}</ul>" if items else "<p>No patients match.</p>",
    )
    return HTMLResponse(page, status_code=status, headers=FORM_PAGE_HEADERS)


def launch_routes() -> list[Route]:
    return [
        Route(LAUNCH_PATH, launch_endpoint, methods=["POST"]),
        Route(PATIENT_PICKER_PATH, patient_picker, methods=["GET", "POST"]),
    ]
