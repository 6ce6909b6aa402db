"""User tokens and service credentials: what verifies, and every way a token must be refused."""

import base64
import hashlib
import hmac
import time

import jwt
import pytest

from services.common.auth import (
    ALGORITHM,
    ISSUER,
    SERVICE_AUDIENCE,
    SERVICE_HEADER,
    SERVICE_TOKEN_TTL_S,
    USER_AUDIENCE,
    ServiceCredential,
    TokenKeys,
    User,
    issue_service_token,
    issue_user_token,
    verify_service_token,
    verify_user_token,
)
from services.common.errors import Unauthorized

ALICE = User(id=42, handle="alice")


def user_claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": "42",
        "handle": "alice",
        "aud": USER_AUDIENCE,
        "iss": ISSUER,
        "iat": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def test_user_token_round_trips_to_the_same_user(keys: TokenKeys) -> None:
    assert verify_user_token(keys, issue_user_token(keys, ALICE)) == ALICE


def test_user_token_carries_audience_issuer_and_a_day_of_validity(keys: TokenKeys) -> None:
    claims = jwt.decode(
        issue_user_token(keys, ALICE), keys.user_secret, [ALGORITHM], audience=USER_AUDIENCE
    )
    assert claims["sub"] == "42"
    assert claims["handle"] == "alice"
    assert claims["iss"] == ISSUER
    assert claims["exp"] - claims["iat"] == 24 * 3600


def test_expired_user_token_is_refused_as_expired(keys: TokenKeys) -> None:
    token = issue_user_token(keys, ALICE, ttl_s=-5)
    with pytest.raises(Unauthorized, match="expired") as caught:
        verify_user_token(keys, token)
    assert caught.value.status == 401
    assert caught.value.headers == {"WWW-Authenticate": "Bearer"}


def test_user_token_signed_with_another_secret_is_refused(keys: TokenKeys) -> None:
    forged = jwt.encode(user_claims(), "x" * 64, algorithm=ALGORITHM)
    with pytest.raises(Unauthorized, match="invalid"):
        verify_user_token(keys, forged)


def test_user_token_with_a_tampered_payload_is_refused(keys: TokenKeys) -> None:
    header, _, signature = issue_user_token(keys, ALICE).split(".")
    other_payload = issue_user_token(keys, User(id=1, handle="admin")).split(".")[1]
    with pytest.raises(Unauthorized):
        verify_user_token(keys, f"{header}.{other_payload}.{signature}")


def test_unsigned_alg_none_token_is_refused(keys: TokenKeys) -> None:
    unsigned = jwt.encode(user_claims(), key=None, algorithm="none")
    with pytest.raises(Unauthorized):
        verify_user_token(keys, unsigned)


def test_token_signed_with_another_hmac_algorithm_is_refused(keys: TokenKeys) -> None:
    other_alg = jwt.encode(user_claims(), keys.user_secret, algorithm="HS512")
    with pytest.raises(Unauthorized):
        verify_user_token(keys, other_alg)


@pytest.mark.parametrize("garbage", ["", "garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9..", "Bearer x"])
def test_garbage_is_not_a_user_token(keys: TokenKeys, garbage: str) -> None:
    with pytest.raises(Unauthorized):
        verify_user_token(keys, garbage)


def test_service_token_is_not_accepted_as_a_user_token(keys: TokenKeys) -> None:
    with pytest.raises(Unauthorized):
        verify_user_token(keys, issue_service_token(keys, "gateway"))


def test_service_audience_signed_with_the_user_secret_is_not_a_user_token(
    keys: TokenKeys,
) -> None:
    wrong_audience = jwt.encode(
        user_claims(aud=SERVICE_AUDIENCE), keys.user_secret, algorithm=ALGORITHM
    )
    with pytest.raises(Unauthorized):
        verify_user_token(keys, wrong_audience)


def test_user_token_is_not_accepted_as_a_service_credential(keys: TokenKeys) -> None:
    with pytest.raises(Unauthorized):
        verify_service_token(keys, issue_user_token(keys, ALICE))


def test_user_audience_signed_with_the_internal_secret_is_not_a_service_credential(
    keys: TokenKeys,
) -> None:
    token = jwt.encode(user_claims(), keys.internal_secret, algorithm=ALGORITHM)
    with pytest.raises(Unauthorized):
        verify_service_token(keys, token)


@pytest.mark.parametrize("missing", ["exp", "iat", "sub", "aud", "iss"])
def test_user_token_missing_a_required_claim_is_refused(keys: TokenKeys, missing: str) -> None:
    claims = user_claims()
    del claims[missing]
    with pytest.raises(Unauthorized):
        verify_user_token(keys, jwt.encode(claims, keys.user_secret, algorithm=ALGORITHM))


def test_user_token_without_a_handle_is_refused(keys: TokenKeys) -> None:
    token = jwt.encode(user_claims(handle=None), keys.user_secret, algorithm=ALGORITHM)
    with pytest.raises(Unauthorized, match="lacks a user"):
        verify_user_token(keys, token)


def test_user_token_with_a_non_numeric_subject_is_refused(keys: TokenKeys) -> None:
    token = jwt.encode(user_claims(sub="alice"), keys.user_secret, algorithm=ALGORITHM)
    with pytest.raises(Unauthorized):
        verify_user_token(keys, token)


def test_user_token_from_another_issuer_is_refused(keys: TokenKeys) -> None:
    token = jwt.encode(user_claims(iss="someone-else"), keys.user_secret, algorithm=ALGORITHM)
    with pytest.raises(Unauthorized):
        verify_user_token(keys, token)


def test_service_token_names_the_calling_service(keys: TokenKeys) -> None:
    assert verify_service_token(keys, issue_service_token(keys, "timeline-2")) == "timeline-2"


def test_expired_service_token_is_refused(keys: TokenKeys) -> None:
    with pytest.raises(Unauthorized, match="expired"):
        verify_service_token(keys, issue_service_token(keys, "gateway", ttl_s=-1))


def test_service_token_of_another_deployment_is_refused(keys: TokenKeys) -> None:
    other = TokenKeys(user_secret=keys.user_secret, internal_secret="z" * 64)
    with pytest.raises(Unauthorized):
        verify_service_token(keys, issue_service_token(other, "gateway"))


def test_service_credential_reuses_its_token_until_half_its_life(
    keys: TokenKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1_000_000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    credential = ServiceCredential(keys, "gateway")
    first = credential.header()[SERVICE_HEADER]
    clock[0] += SERVICE_TOKEN_TTL_S / 2 - 1
    assert credential.header()[SERVICE_HEADER] == first
    clock[0] += 2
    renewed = credential.header()[SERVICE_HEADER]
    assert renewed != first
    claims = jwt.decode(
        renewed,
        keys.internal_secret,
        [ALGORITHM],
        audience=SERVICE_AUDIENCE,
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["iat"] == int(clock[0])
    assert claims["sub"] == "gateway"


def signed_raw(secret: str, payload: str) -> str:
    """A token over a payload written as raw JSON, so values no encoder would produce (1e400,
    NaN) can be tried as well."""
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
    body = base64.urlsafe_b64encode(payload.encode()).rstrip(b"=")
    mac = hmac.new(secret.encode(), header + b"." + body, hashlib.sha256).digest()
    return b".".join([header, body, base64.urlsafe_b64encode(mac).rstrip(b"=")]).decode()


NOW = int(time.time())
LATER = NOW + 600
MALFORMED_TIMES = {
    "float exp": f'"iat": {NOW}, "exp": {LATER}.5',
    "float exp in exponent form": f'"iat": {NOW}, "exp": 1e30',
    "float iat": f'"iat": {NOW}.25, "exp": {LATER}',
    "float nbf": f'"iat": {NOW}, "exp": {LATER}, "nbf": {NOW}.5',
    "string exp": f'"iat": {NOW}, "exp": "{LATER}"',
    "string iat": f'"iat": "{NOW}", "exp": {LATER}',
    "boolean exp": f'"iat": {NOW}, "exp": true',
    "null exp": f'"iat": {NOW}, "exp": null',
    "list exp": f'"iat": {NOW}, "exp": [{LATER}]',
    "object iat": f'"iat": {{}}, "exp": {LATER}',
    "infinite exp": f'"iat": {NOW}, "exp": 1e400',
    "infinite iat": f'"iat": -1e400, "exp": {LATER}',
    "NaN nbf": f'"iat": {NOW}, "exp": {LATER}, "nbf": NaN',
}


@pytest.mark.parametrize("times", MALFORMED_TIMES.values(), ids=MALFORMED_TIMES.keys())
def test_user_token_with_malformed_times_is_refused_as_unauthorized(
    keys: TokenKeys, times: str
) -> None:
    payload = f'{{"sub": "42", "handle": "alice", "aud": "chirp", "iss": "failwhale", {times}}}'
    with pytest.raises(Unauthorized) as caught:
        verify_user_token(keys, signed_raw(keys.user_secret, payload))
    assert caught.value.status == 401


@pytest.mark.parametrize("times", MALFORMED_TIMES.values(), ids=MALFORMED_TIMES.keys())
def test_service_token_with_malformed_times_is_refused_as_unauthorized(
    keys: TokenKeys, times: str
) -> None:
    payload = f'{{"sub": "gateway", "aud": "chirp-internal", "iss": "failwhale", {times}}}'
    with pytest.raises(Unauthorized):
        verify_service_token(keys, signed_raw(keys.internal_secret, payload))


def test_a_token_with_whole_second_times_in_raw_json_verifies(keys: TokenKeys) -> None:
    # The raw-JSON signer above makes tokens the services accept: the refusals are the times'.
    payload = (
        f'{{"sub": "42", "handle": "alice", "aud": "chirp", "iss": "failwhale", '
        f'"iat": {NOW}, "exp": {LATER}, "nbf": {NOW}}}'
    )
    assert verify_user_token(keys, signed_raw(keys.user_secret, payload)) == ALICE
