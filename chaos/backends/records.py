"""Every engine's undo records as one union, as the journal reads them: the discriminated union
over `kind`, like the scenario's faults over `fault`. An engine adds a kind with one model in its
own package (its `records` module) and one line here."""

from typing import Annotated

from pydantic import Field, TypeAdapter

from chaos.backends.docker.records import BusyLoopsIn, ContainerRunning, NetworkRules
from chaos.backends.hook import ClearHookPlans
from chaos.backends.local.records import BusyLoopsEnded, GroupResumed, ServiceRunning
from chaos.backends.swarm.records import NodeActive, ReplicasBack, SlotHealthy, UpdateDone

AnyRecord = Annotated[
    ClearHookPlans
    | ContainerRunning
    | NetworkRules
    | BusyLoopsIn
    | ServiceRunning
    | GroupResumed
    | BusyLoopsEnded
    | SlotHealthy
    | ReplicasBack
    | UpdateDone
    | NodeActive,
    Field(discriminator="kind"),
]

RECORDS: TypeAdapter[AnyRecord] = TypeAdapter(AnyRecord)
