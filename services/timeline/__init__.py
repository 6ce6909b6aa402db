"""timeline: home timelines, built by fan-out on write from the post stream (two replicas)."""
