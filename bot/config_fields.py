"""Field types of the config file: Slack ids, env var names, URLs, URNs, ids, each with a plain-words error."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlsplit

import phonenumbers
from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from bot.config_problems import CUSTOM_ERROR, show_value

ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
_WORDS = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?")
_CHANNEL = re.compile(r"[CG][A-Z0-9]{2,}")
_MEMBER = re.compile(r"[UWS][A-Z0-9]{2,}")
# prefixes of Slack, GitHub, Stripe-style and similar credentials people paste by mistake
_TOKEN_PREFIXES = ("xox", "xapp-", "sk_", "sk-", "ghp_", "gho_", "eyJ", "Bearer ")


def invalid(message: str) -> PydanticCustomError:
    """An error whose message is shown to the user as written."""
    return PydanticCustomError(CUSTOM_ERROR, "{reason}", {"reason": message})


def _slug(value: str) -> str:
    if not _SLUG.fullmatch(value):
        raise invalid(f'{show_value(value)} is not a valid id: use lower-case letters, digits and dashes ("acme")')
    return value


def _channel(value: str) -> str:
    if not _CHANNEL.fullmatch(value):
        raise invalid(
            f'{show_value(value)} is not a Slack channel id (C… or G…, like "C0123ABCD"): '
            "use the channel's id, not its name"
        )
    return value


def _member(value: str) -> str:
    if not _MEMBER.fullmatch(value):
        raise invalid(f"{show_value(value)} is not a Slack user id (U… or W…) or user group id (S…)")
    return value


def looks_like_secret(value: str) -> bool:
    """True for strings shaped like a credential rather than a variable name."""
    return value.startswith(_TOKEN_PREFIXES) or (len(value) >= 12 and not any(c.isspace() for c in value))


def _is_miscased_name(value: str) -> bool:
    """True for `acme_gh_secret`: a variable name in the wrong case rather than a credential."""
    digits = sum(c.isdigit() for c in value)
    return bool(_WORDS.fullmatch(value)) and "_" in value and digits < 4 and not value.startswith(_TOKEN_PREFIXES)


def _env_name(value: str) -> str:
    # the value is never echoed back: if it is a secret, the error message must not spread it further
    if ENV_NAME.fullmatch(value):
        return value
    if _is_miscased_name(value):
        raise invalid(f'environment variable names are upper case (did you mean "{value.upper()}"?)')
    if looks_like_secret(value):
        raise invalid(
            "this looks like a secret, not the name of an environment variable: "
            "put the secret in the environment and write the variable's NAME here"
        )
    raise invalid("expected the name of an environment variable (capital letters, digits and _)")


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise invalid(f"expected an http(s) URL, got {show_value(value)}")
    return value.rstrip("/")


def _phone_region(value: str) -> str:
    if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise invalid(f'{show_value(value)} is not a phone region code like "US" or "GB"')
    return value.upper()


def _urn(kind: str) -> AfterValidator:
    pattern = re.compile(rf"urn:li:{kind}:\d+")

    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise invalid(f'expected a URN like "urn:li:{kind}:123", got {show_value(value)}')
        return value

    return AfterValidator(check)


def _number_as_text(value: Any) -> Any:
    # Greenhouse ids are numbers on the wire, so `id = 4401` is as natural as `id = "4401"`
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Text = Annotated[str, Field(min_length=1)]
Slug = Annotated[str, AfterValidator(_slug)]
ChannelId = Annotated[str, AfterValidator(_channel)]
MemberId = Annotated[str, AfterValidator(_member)]
EnvName = Annotated[str, AfterValidator(_env_name)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
PhoneRegion = Annotated[str, AfterValidator(_phone_region)]
AtsId = Annotated[str, BeforeValidator(_number_as_text), Field(min_length=1)]
OrganizationUrn = Annotated[str, _urn("organization")]
ContractUrn = Annotated[str, _urn("contract")]
SeatUrn = Annotated[str, _urn("seat")]
