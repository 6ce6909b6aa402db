"""The agent's errors beyond the services' shared tree (services.common.errors, whose handlers
the agent installs): a 422 that names each field it refuses, as the console shows the message
beside the field.

    ChirpError (services.common.errors)
    └── Unprocessable 422
        └── FieldErrors   422 with "errors": [{"field", "message"}]
"""

from typing import Any

from fastapi import FastAPI, Request
from pydantic import ValidationError
from starlette.responses import Response

from services.common.errors import Unprocessable, install_error_handlers, problem_response


class FieldErrors(Unprocessable):
    def __init__(self, errors: list[dict[str, str]], detail: str = "") -> None:
        said = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        super().__init__(detail or said or "invalid fields")
        self.errors = errors


def field_errors(error: ValidationError, tags: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """pydantic's errors, one per field: the location without the union's tags (`kill.rate` is
    `rate`); an unknown or missing tag is the `fault` field's."""
    out = []
    for problem in error.errors():
        location = [str(p) for p in problem["loc"] if not (isinstance(p, str) and p in tags)]
        field = ".".join(location)
        message = str(problem["msg"])
        if problem["type"] in ("union_tag_invalid", "union_tag_not_found"):
            field = "fault"
        elif problem["type"] == "extra_forbidden":
            message = "unknown field"
        out.append({"field": field or "(body)", "message": message})
    return out


def install_problems(app: FastAPI) -> None:
    """Every error leaves as problem+json (the services' handlers), field errors with their list."""
    install_error_handlers(app)

    async def on_field_errors(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, FieldErrors)
        extra: dict[str, Any] = {"errors": exc.errors}
        return problem_response(exc.status, exc.title, exc.detail, exc.slug, extra=extra)

    app.add_exception_handler(FieldErrors, on_field_errors)
