"""acctkit's outside contracts, declared once as msgspec Structs."""
