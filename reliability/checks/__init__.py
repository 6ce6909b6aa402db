"""The checks, one module each; `CATALOGUE` lists them in number order."""

from reliability.check import Check

CATALOGUE: list[Check] = []
