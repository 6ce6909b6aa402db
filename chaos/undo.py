"""What undoes a fault: the base of every engine's undo records. A journal entry holds one record;
each engine's package defines its kinds (a container to start again, a network rule to remove,
busy loops to end) beside its faults, and `chaos.backends.records` lists them as one union."""

from pydantic import BaseModel, ConfigDict


class UndoRecord(BaseModel):
    """One kind of thing to undo, named by `kind` (the union's discriminator). Records are
    plain data: what it takes to undo the fault without the runner's memory (container ids,
    pids with their start times, rule markers, hook targets)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
