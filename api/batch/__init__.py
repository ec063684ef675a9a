"""``presslens batch``: corpus runs over ``model.batch`` on Ray Data or in-process (see engines.py, store.py)."""
