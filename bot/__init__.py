"""HireBridge: the Slack bot, its use-cases, pure domain logic, scheduler, CLI and web server."""
