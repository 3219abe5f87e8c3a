"""acctkit's account rules: models, validation, codes, tokens, mail. Knows nothing of HTTP."""
