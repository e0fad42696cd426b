"""The traffic simulator: a pure model of a live-chat operation and an HTTP driver for it."""
