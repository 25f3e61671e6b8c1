"""Agents, conversations and messages arrive with the live-chat issue (#3)."""
