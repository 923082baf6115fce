"""The store's one implementation: SQL operations on a sync Connection, and how they are run."""
