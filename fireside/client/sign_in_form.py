"""A user's sign-in at /oauth2/authorize, done without a browser: the first half of the
authorization code flow with PKCE (RFC 6749 section 4.1, RFC 7636) for `PasswordSignIn`.

The server answers the authorization request with a plain HTML form (inputs `email` and
`password`, a hidden signed `form_token`) and a cookie the form token is bound to, against login
CSRF; so the post sends both back, as a browser would. The answer is a 303 to the redirect URI
with `code` and `state`: the code is read from the Location and the redirect URI never visited.

A user with two-factor sign-in (TOTP) on gets a second form instead of the 303: a hidden signed
`challenge` and an input `code`, posted (with the same cookie) to the form's action,
/oauth2/authorize/code. Its answer is the same 303. (The server's side:
fireside/api/oauth_routes.py, fireside/api/mfa_routes.py, docs/identity.md.)
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

from fireside.client.errors import FiresideError, outcome_of
from fireside.client.exchange import Exchange, HttpRequest, HttpResponse, RetryPolicy, send_with_retries

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
# Gives the current one-time code when the server asks for one (None: the caller has none).
CodeSource = Callable[[], str]


@dataclass(frozen=True)
class Pkce:
    """RFC 7636 section 4.1-4.2: a random verifier and its S256 challenge (the only method Fireside takes)."""

    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> Pkce:
        verifier = secrets.token_urlsafe(48)  # 64 characters of [A-Za-z0-9_-]; 43 to 128 are allowed
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        return cls(verifier, base64.urlsafe_b64encode(digest).decode().rstrip("="))


def sign_in_with_password(authorize_url: str, params: dict[str, str], email: str, password: str,
                          retry: RetryPolicy, second_factor: CodeSource | None = None) -> Exchange[str]:
    """The authorization code for `params` (the authorization request, with its `state`), after
    signing in with `email` and `password`, and with a code from `second_factor` when the server
    asks for one; a refusal raises FiresideError."""
    form_request = HttpRequest("GET", authorize_url, list(params.items()), {"Accept": "text/html"})
    page = yield from send_with_retries(form_request, retry)
    if page.status != 200:
        raise refusal(form_request, page)
    form_token = read_page(page).inputs.get("form_token")
    if not form_token:
        raise FiresideError(page.status, outcome_of("The sign-in page has no form_token: is this a Fireside server?"),
                            method="GET", url=authorize_url)
    headers = {"Content-Type": FORM_CONTENT_TYPE, "Accept": "text/html", **cookie_header(page)}
    fields = {"form_token": form_token, "email": email, "password": password}
    post = HttpRequest("POST", authorize_url, headers=headers, content=urlencode(fields).encode())
    answer = yield from send_with_retries(post, retry)
    if answer.status == 200:  # two-factor sign-in: the code form instead of the redirect
        post, answer = yield from submit_code(post, answer, headers, second_factor, retry)
    if answer.status != 303:
        raise refusal(post, answer)
    return code_from_redirect(post, answer, params.get("state"))


def submit_code(password_post: HttpRequest, page_response: HttpResponse, headers: dict[str, str],
                second_factor: CodeSource | None, retry: RetryPolicy) -> Exchange[tuple[HttpRequest, HttpResponse]]:
    """The second step: post a code for the code form's challenge; the post and its answer."""
    page = read_page(page_response)
    if "challenge" not in page.inputs:
        raise refusal(password_post, page_response)
    if second_factor is None:
        raise FiresideError(page_response.status, outcome_of(
            "This user signs in with a two-factor code: give the client totp_secret or totp_code", "login"),
            method=password_post.method, url=password_post.url)
    action = urljoin(password_post.url, page.action)  # as a browser does: no action posts to the page's URL
    if urlsplit(action)[:2] != urlsplit(password_post.url)[:2]:
        # The code and the sign-in cookie go to the server that asked for them, nowhere else.
        raise FiresideError(page_response.status, outcome_of(f"The code form posts to {action}, another server",
                                                             "security"), method=password_post.method,
                            url=password_post.url)
    fields = {"challenge": page.inputs["challenge"], "code": second_factor().strip()}
    post = HttpRequest("POST", action, headers=headers, content=urlencode(fields).encode())
    answer = yield from send_with_retries(post, retry)
    return post, answer


def cookie_header(response: HttpResponse) -> dict[str, str]:
    """The Cookie header that returns what `response` set (the form's binding cookie)."""
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(response.header("set-cookie") or "")
    except CookieError:
        return {}
    pairs = [f"{name}={morsel.coded_value}" for name, morsel in jar.items()]
    return {"Cookie": "; ".join(pairs)} if pairs else {}


def code_from_redirect(request: HttpRequest, response: HttpResponse, state: str | None) -> str:
    location, query = redirect_query(response)
    if "error" in query:
        raise refusal(request, response)
    if "code" not in query:
        # A SMART launch scope (launch/patient) sends the user to a patient picker: a browser's job.
        raise FiresideError(response.status, outcome_of(f"The sign-in continues at {location.split('?')[0]}, which "
                                                        "needs a browser; leave launch scopes out", "not-supported"),
                            method=request.method, url=request.url)
    if query.get("state") != state:
        # RFC 6749 section 10.12: a code for another request must not be redeemed.
        raise FiresideError(response.status, outcome_of("The sign-in answered with another request's state",
                                                        "security"), method=request.method, url=request.url)
    return query["code"]


def redirect_query(response: HttpResponse) -> tuple[str, dict[str, str]]:
    location = response.header("location") or ""
    return location, {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def refusal(request: HttpRequest, response: HttpResponse) -> FiresideError:
    """The error for an answer that is not the next step, with the server's reason as an OperationOutcome."""
    if response.status in (302, 303):
        # RFC 6749 section 4.1.2.1: refused after the redirect URI was checked, so told to the client.
        location, query = redirect_query(response)
        error = query.get("error")
        message = f"{error}: {query.get('error_description', error)}" if error else f"Redirected to {location}"
        return FiresideError(response.status, outcome_of(message, "security"), method=request.method, url=request.url)
    page = read_page(response)
    message = page.alert or page.message or f"HTTP {response.status} from the sign-in page"
    code = {400: "security", 401: "login", 429: "throttled"}.get(response.status, "exception")
    return FiresideError(response.status, outcome_of(message, code), method=request.method, url=request.url)


@dataclass
class SignInPage:
    inputs: dict[str, str] = field(default_factory=dict)  # every <input name value>
    action: str = ""  # the first <form>'s action
    alert: str = ""  # the form's error line (role="alert"): "Wrong email or password"
    message: str = ""  # an error page's heading and paragraph


def read_page(response: HttpResponse) -> SignInPage:
    reader = _PageReader()
    reader.feed(response.content.decode("utf-8", "replace"))
    reader.close()
    return reader.page


class _PageReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.page = SignInPage()
        self._in: str | None = None
        self._texts: dict[str, list[str]] = {"alert": [], "h1": [], "p": []}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "input" and attributes.get("name"):
            self.page.inputs[str(attributes["name"])] = attributes.get("value") or ""
        elif tag == "form" and not self.page.action:
            self.page.action = attributes.get("action") or ""
        elif attributes.get("role") == "alert":
            self._in = "alert"
        elif tag in ("h1", "p"):
            self._in = tag

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in is not None:
            self._texts[self._in].append(data)

    def close(self) -> None:
        super().close()
        self.page.alert = "".join(self._texts["alert"]).strip()
        self.page.message = ": ".join(text for text in ("".join(self._texts["h1"]).strip(),
                                                         " ".join(self._texts["p"]).strip()) if text)
