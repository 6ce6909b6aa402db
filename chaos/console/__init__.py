"""The chaos agent: the one process that applies faults and runs scenarios for the chaos console
of the Locust web UI (`uvicorn chaos.console.agent:create_app --factory`)."""
