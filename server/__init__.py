"""The aiohttp service: HTTP in, core service calls, JSON out. Thin by design."""
