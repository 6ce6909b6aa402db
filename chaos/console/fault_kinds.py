"""The fault kinds a hand fault may be, and each one's form: the fields of the scenario schema's
own fault model (chaos.fault_specs), read from its JSON schema, so the console's form and the
agent's validation never disagree. A hand fault starts at once (`at_s` is 0) and lasts
`duration_s`, 1 s to an hour."""

from functools import cache
from typing import Any, get_args

from pydantic import TypeAdapter

from chaos.fault_specs import ORCHESTRATOR_KINDS, SERVICES, FaultSpec

MIN_DURATION_S, MAX_DURATION_S = 1.0, 3600.0
HIDDEN = ("fault", "at_s", "target")  # the kind and target have controls of their own
SPEC = TypeAdapter[Any](FaultSpec)
MODELS: dict[str, Any] = {
    model.model_fields["fault"].annotation.__args__[0]: model
    for model in get_args(get_args(FaultSpec)[0])
}
KIND_TAGS = tuple(MODELS)
# Kinds whose model has no docstring of its own.
DOCS = {
    "latency": "Every answer of the target delayed by delay_ms (plus up to jitter_ms).",
    "loss": "A share (percent) of the target's packets dropped.",
}


@cache
def kinds(orchestrator: bool) -> dict[str, dict[str, Any]]:
    """Each kind's doc and fields; the kinds only an orchestrator has where there is one.
    Built once (the models do not change); callers must not change what they get."""
    out = {}
    for kind, model in MODELS.items():
        if kind in ORCHESTRATOR_KINDS and not orchestrator:
            continue
        schema = model.model_json_schema()
        required = set(schema.get("required", ()))
        fields = [
            _field(name, prop, name in required)
            for name, prop in schema["properties"].items()
            if name not in HIDDEN
        ]
        out[kind] = {"doc": (model.__doc__ or DOCS.get(kind, kind)).strip(), "fields": fields}
    return out


def targets(orchestrator: bool) -> list[str]:
    """What a fault may name: the services and timeline's replicas (on an orchestrator also the
    timeline service as a whole)."""
    return [*SERVICES, "timeline"] if orchestrator else list(SERVICES)


def _field(name: str, prop: dict[str, Any], required: bool) -> dict[str, Any]:
    options = prop.get("anyOf", [prop])
    enum = [v for option in options for v in option.get("enum", ())]
    numeric = next((o for o in options if o.get("type") in ("number", "integer")), None)
    kind = "enum" if enum else "number" if numeric is not None else "string"
    bounds = numeric if kind == "number" and numeric is not None else {}
    field = {
        "name": name,
        "type": kind,
        "required": required,
        "default": prop.get("default"),
        "minimum": bounds.get("minimum", bounds.get("exclusiveMinimum")),
        "maximum": bounds.get("maximum"),
        "enum": enum or None,
    }
    if name == "duration_s":
        field.update(required=True, minimum=MIN_DURATION_S, maximum=MAX_DURATION_S)
        field["default"] = prop.get("default", 30)
    return field
