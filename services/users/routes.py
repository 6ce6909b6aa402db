"""Internal routes of users; the gateway calls them with a service credential.

Log-in attempts are counted per bucket before the password is checked: one bucket for each
device that logged in to the handle before (it shows the device token it was given), one for
everyone else. Strangers guessing wrong lock only the strangers' bucket, for a bounded time; the
member's own devices keep their own count.
"""

import math
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from services.common.auth import CurrentUser, InternalCaller, User, issue_user_token
from services.common.errors import NotFound, TooManyRequests, Unauthorized, Unprocessable
from services.common.redis_store import RedisDep
from services.common.wire import Account, Credentials, LogIn, NewAccount, Session
from services.users.devices import Devices
from services.users.models import FanOutTargets, UserIds
from services.users.passwords import Passwords
from services.users.settings import UsersSettings
from services.users.store import UserStore, log_in_bucket

router = APIRouter(prefix="/internal", tags=["users"])


async def get_store(redis: RedisDep, request: Request) -> UserStore:
    settings: UsersSettings = request.app.state.settings
    return UserStore(redis, settings.heavy_followers)


async def get_passwords(request: Request) -> Passwords:
    passwords: Passwords = request.app.state.passwords
    return passwords


async def get_settings(request: Request) -> UsersSettings:
    settings: UsersSettings = request.app.state.settings
    return settings


async def get_devices(request: Request) -> Devices:
    devices: Devices = request.app.state.devices
    return devices


Store = Annotated[UserStore, Depends(get_store)]
DevicesDep = Annotated[Devices, Depends(get_devices)]
PasswordsDep = Annotated[Passwords, Depends(get_passwords)]
SettingsDep = Annotated[UsersSettings, Depends(get_settings)]


@router.post("/users", status_code=201)
async def register(
    body: Credentials,
    store: Store,
    passwords: PasswordsDep,
    devices: DevicesDep,
    request: Request,
    _: InternalCaller,
) -> NewAccount:
    password_hash = await passwords.hash(body.password)
    user_id = await store.register(body.handle, password_hash, int(time.time() * 1000))
    token = issue_user_token(request.app.state.token_keys, User(user_id, body.handle))
    return NewAccount(
        id=user_id, handle=body.handle, token=token, device=devices.issue(body.handle)
    )


@router.post("/sessions")
async def login(
    body: LogIn,
    store: Store,
    passwords: PasswordsDep,
    devices: DevicesDep,
    settings: SettingsDep,
    request: Request,
    _: InternalCaller,
) -> Session:
    device = devices.device_of(body.handle, body.device)
    bucket = log_in_bucket(body.handle, device)
    locked_s = await store.begin_log_in(
        bucket, settings.login_failures_before_lockout, settings.login_lockout_s
    )
    if locked_s > 0:
        raise TooManyRequests(
            "too many failed logins for this handle; try again later",
            retry_after_s=math.ceil(locked_s),
        )
    try:
        user_id = await store.id_of(body.handle)
        stored_hash = (await store.account(user_id)).get("pw")
    except NotFound:
        user_id, stored_hash = 0, None
    if not await passwords.verify(stored_hash, body.password):
        raise Unauthorized("wrong handle or password")
    await store.log_in_succeeded(bucket)
    return Session(
        token=issue_user_token(request.app.state.token_keys, User(user_id, body.handle)),
        device=devices.issue(body.handle, device),
    )


@router.get("/users/by-handle/{handle}")
async def by_handle(handle: str, store: Store, _: InternalCaller) -> Account:
    user_id = await store.id_of(handle)
    return Account(id=user_id, handle=handle)


@router.get("/users/{user_id}")
async def by_id(user_id: int, store: Store, _: InternalCaller) -> Account:
    record = await store.account(user_id)
    return Account(id=int(record["id"]), handle=record["handle"])


@router.put("/follows/{followee}", status_code=204)
async def follow(followee: int, user: CurrentUser, store: Store, _: InternalCaller) -> Response:
    if followee == user.id:
        raise Unprocessable("you cannot follow yourself")
    await store.follow(user.id, followee)
    return Response(status_code=204)


@router.delete("/follows/{followee}", status_code=204)
async def unfollow(followee: int, user: CurrentUser, store: Store, _: InternalCaller) -> Response:
    await store.unfollow(user.id, followee)
    return Response(status_code=204)


@router.get("/users/{user_id}/followers")
async def followers(user_id: int, store: Store, _: InternalCaller) -> UserIds:
    return UserIds(items=await store.followers(user_id))


@router.get("/users/{user_id}/following")
async def following(user_id: int, store: Store, _: InternalCaller) -> UserIds:
    return UserIds(items=await store.following(user_id))


@router.get("/users/{user_id}/fanout-targets")
async def fanout_targets(user_id: int, store: Store, _: InternalCaller) -> FanOutTargets:
    """For timeline's fan-out: "heavy" for a heavy author, without listing its followers."""
    heavy, followers = await store.fanout_targets(user_id)
    return FanOutTargets(heavy=heavy, items=followers)


@router.get("/users/{user_id}/heavy-following")
async def heavy_following(user_id: int, store: Store, _: InternalCaller) -> UserIds:
    """The heavy accounts the user follows, for timeline's merge on read."""
    return UserIds(items=await store.heavy_following(user_id))
