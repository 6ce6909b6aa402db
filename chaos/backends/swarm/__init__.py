"""The swarm engine: the tasks and services of a Docker swarm stack (driver, faults on tasks,
faults of the orchestrator, undo records, sweep)."""
