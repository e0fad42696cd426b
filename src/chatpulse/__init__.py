"""ChatPulse: real-time live-chat metrics speaking the Comm100 Real Time API."""

__version__ = "0.1.0"
