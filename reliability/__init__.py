"""The reliability and security suite: each check puts one promise of the app under fire against a
real stack and prints the figure it measured (`python -m reliability`, `make reliability`)."""
