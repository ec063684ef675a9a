"""HTTP routes: each a few lines (schema in, one call, schema out)."""
