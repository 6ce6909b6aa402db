"""The stack the engine and the tools build on: the local layout and processes, the stack's
secrets, the seeded social graph, and the engines' deploy code (swarm)."""
