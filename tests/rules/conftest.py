"""Rules, stages and dry runs over the real API. Webhook tests here use the webhook suite's
settings (private URLs allowed, a quick dispatcher) and its loopback receiver."""

from __future__ import annotations

from tests.webhooks.conftest import quick_dispatcher, receiver, settings

__all__ = ["quick_dispatcher", "receiver", "settings"]
