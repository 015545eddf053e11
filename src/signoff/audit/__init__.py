"""The hash-chained event log: how links are made and how a chain is verified."""
