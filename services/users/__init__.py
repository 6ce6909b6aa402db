"""users: accounts, password hashes, the follow graph; issues the user tokens."""
