"""Load that knows right from wrong: Locust personas, an operation history, correctness oracles,
the Resilience tab of the Locust web UI and an open-loop mode (docs/load.md)."""
