"""Helpers the tests share: tiny models, media, hostile inputs, clusters."""
