"""trends: hashtag counts over the last hour, from the post stream. Ancillary: the core app
never waits on it."""
