"""The docker backend: a compose project's containers (driver), its faults, its network faults
from helper containers."""
