"""Local fakes of chat platforms' APIs, for tests."""
