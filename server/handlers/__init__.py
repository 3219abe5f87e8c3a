"""Route handlers, one module per flow. Each reads input, calls core once, renders the result."""
