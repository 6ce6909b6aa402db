"""The chaos engine: scenarios, faults and their backends, the load, the observer, verdicts and
reports."""
