"""Failwhale: the command line, the local process stack and the seed data of the Chirp testbed."""
