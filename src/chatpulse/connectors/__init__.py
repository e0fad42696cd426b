"""Connectors: a chat platform's webhooks (and API) turned into ChatPulse events, with no code."""
