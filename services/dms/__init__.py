"""dms: direct-message conversations, each with its own gap-free sequence numbers."""
