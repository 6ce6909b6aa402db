"""Removing a network-fault helper is idempotent: when another revert (the dead-man timer, a
sweep, the runner's final rollback) is already removing it, the daemon's 409 "removal already in
progress" means it is going away, not that the revert failed; any other refusal still raises."""

import pytest
import requests
from docker.errors import APIError, NotFound

from chaos.backends.docker.helpers import Helpers


class Refusing:
    """A container whose removal the daemon refuses with `error`."""

    def __init__(self, error: Exception | None) -> None:
        self.error = error
        self.removed = 0

    def remove(self, force: bool = False) -> None:
        self.removed += 1
        if self.error is not None:
            raise self.error


def api_error(status: int, explanation: str) -> APIError:
    response = requests.Response()
    response.status_code = status
    return APIError(f"{status} Client Error", response=response, explanation=explanation)


def helpers() -> Helpers:
    return Helpers(client=object(), project="p")


def test_a_removal_already_in_progress_counts_as_removed() -> None:
    container = Refusing(api_error(409, "removal of container abc is already in progress"))
    helpers().remove(container)
    assert container.removed == 1


def test_a_helper_already_gone_counts_as_removed() -> None:
    helpers().remove(Refusing(NotFound("gone")))


@pytest.mark.parametrize(
    "error",
    [api_error(409, "container is paused"), api_error(500, "driver failed")],
    ids=["other conflict", "server error"],
)
def test_any_other_refusal_still_raises(error: APIError) -> None:
    with pytest.raises(APIError):
        helpers().remove(Refusing(error))
