"""gateway: the public Chirp API on :8080; verifies tokens locally and calls the services."""
