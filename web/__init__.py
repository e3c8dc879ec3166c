"""Templates and static files of the chat page."""
