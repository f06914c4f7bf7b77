"""Who may call the OpenAI-compatible endpoint: the access rule, in one place.

* ``MODELFORGE_API_KEY`` set (passed to the app as ``api_key``): every request needs
  ``Authorization: Bearer <key>``.
* Else, the app has a login (``--auth user:password``): the bearer token is that ``user:password``.
* Else, the app is public (a share link, a Hugging Face Space, a non-loopback host): refused,
  until a key or a login is set.
* Else (a local app on a loopback address, without a login): open.

The key is compared in constant time and never logged, stored or shown.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

KEY_ENV = "MODELFORGE_API_KEY"
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


@dataclass(frozen=True)
class AppOptions:
    """How the app is served, as app.py learned it from its flags.

    ``public``       reachable by others: a share link, a Hugging Face Space, or a non-loopback host
    ``share_link``   served through a public share link (the page warns when it has no login)
    ``auth``         the login (user, password), or None
    ``api_key``      the key the OpenAI-compatible endpoint requires (``MODELFORGE_API_KEY``), or None
    """

    public: bool = False
    share_link: bool = False
    auth: tuple[str, str] | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)

    @property
    def shared_without_login(self) -> bool:
        return self.share_link and self.auth is None


def is_loopback(host: str | None) -> bool:
    """Whether an address to listen on only accepts connections from this machine."""
    host = (host or "").strip().lower()
    return host in LOOPBACK or host.startswith("127.")


class AccessDenied(Exception):
    """A request the access rule refuses: HTTP ``status``, OpenAI error ``code``, and a message
    saying how to get in."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (None without one)."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def check(options: AppOptions, authorization: str | None) -> None:
    """Raise :class:`AccessDenied` unless the request's ``Authorization`` header lets it in."""
    token = bearer(authorization)
    if options.api_key:
        if not _same(token, options.api_key):
            raise AccessDenied(401, "invalid_api_key", (
                ("Missing API key" if token is None else "Incorrect API key") + ": this server requires the key "
                f"set in {KEY_ENV}. Pass it as the header 'Authorization: Bearer <key>' (with the openai "
                "client: OpenAI(base_url=..., api_key=<key>))."))
        return
    if options.auth is not None:
        if not _same(token, f"{options.auth[0]}:{options.auth[1]}"):
            raise AccessDenied(401, "invalid_api_key", (
                ("Missing credentials" if token is None else "Incorrect credentials") + ": this server has a "
                "login and no API key, so the bearer token is the login as user:password. Pass it as the "
                "header 'Authorization: Bearer user:password' (with the openai client: api_key='user:password'), "
                f"or start the server with {KEY_ENV} set and pass that key."))
        return
    if options.public:
        raise AccessDenied(403, "api_key_required", (
            "The OpenAI-compatible endpoint is off: this server is public (a share link, a Hugging Face Space "
            f"or a non-loopback address) and has neither a login nor an API key. Set {KEY_ENV} (a Space "
            "secret, or an environment variable) and restart it, then pass the key as 'Authorization: "
            "Bearer <key>'."))


def describe(options: AppOptions) -> str:
    """Who may call the endpoint, in a few words (for the console; never shows the key)."""
    if options.api_key:
        return f"requires the key in {KEY_ENV} as 'Authorization: Bearer <key>'"
    if options.auth is not None:
        return "requires the login as 'Authorization: Bearer user:password'"
    if options.public:
        return f"off: this server is public without a login; set {KEY_ENV} to turn it on"
    return f"open to this machine; set {KEY_ENV} to require a key"


__all__ = ["KEY_ENV", "AccessDenied", "AppOptions", "bearer", "check", "describe", "is_loopback"]
