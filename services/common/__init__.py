"""What every Chirp service shares: settings, errors, auth, metrics, health, Redis and HTTP
clients."""
