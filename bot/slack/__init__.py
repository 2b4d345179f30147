"""Slack surface: Bolt app, listeners, Block Kit builders."""
