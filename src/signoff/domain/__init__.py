"""Pure rules of Signoff: entities, the request state machine, quorum and self-approval policy.

Nothing here does I/O; every function that needs the time takes `now`.
"""
