"""Sandbox simulators of LinkedIn RSC, Greenhouse Harvest v3, Lever and the Slack Web API."""
