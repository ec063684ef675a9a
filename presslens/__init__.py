"""presslens: condense news articles into key claims and tell straight reporting from commentary."""
