"""The Textual client: every flow, a live mailbox and a log of each HTTP exchange."""
