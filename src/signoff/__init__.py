"""Signoff: human-in-the-loop approvals for workflows and AI agents.

`import signoff` stays light: it loads no server library (FastAPI, SQLAlchemy).
"""

__version__ = "0.1.0"
