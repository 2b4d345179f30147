"""Start the sandbox simulators on loopback, seeded with the sandbox world (for `demo` and `sandbox`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from bot.config_model import AppConfig
from integrations.sandbox import greenhouse, lever, linkedin, slack
from integrations.sandbox.base import SimulatorState
from integrations.sandbox.server import RunningServer, serve_in_thread

SIMULATORS = {
    "linkedin": linkedin,
    "greenhouse": greenhouse,
    "lever": lever,
    "slack": slack,
}


@dataclass
class Simulators:
    """The running simulators: their servers (URLs) and their states (for fault knobs and inspection)."""

    servers: dict[str, RunningServer]
    states: dict[str, SimulatorState]

    def url(self, name: str) -> str:
        return self.servers[name].url

    def stop(self) -> None:
        for server in self.servers.values():  # all at once: each takes a tick of its loop to notice
            server.request_stop()
        for server in self.servers.values():
            server.stop()


def start_simulators(host: str = "127.0.0.1") -> Simulators:
    """Serve every simulator (each seeds the sandbox world by default) on a free port of `host`."""
    servers: dict[str, RunningServer] = {}
    states: dict[str, SimulatorState] = {}
    for name, module in SIMULATORS.items():
        mod: Any = module
        app = mod.create_app()
        states[name] = app.state.sim
        servers[name] = serve_in_thread(app, name, host=host)
    return Simulators(servers, states)


def sandbox_config(config: AppConfig, sims: Simulators) -> AppConfig:
    """The same configuration with every vendor URL pointed at the local simulators."""
    tenants = []
    for tenant in config.tenants:
        update: dict[str, Any] = {}
        if tenant.greenhouse:
            gh = sims.url("greenhouse")
            update["greenhouse"] = tenant.greenhouse.model_copy(update={"api_url": gh, "auth_url": gh})
        if tenant.lever:
            update["lever"] = tenant.lever.model_copy(update={"api_url": f"{sims.url('lever')}/v1"})
        if tenant.linkedin:
            li = sims.url("linkedin")
            update["linkedin"] = tenant.linkedin.model_copy(
                update={"api_url": li, "token_url": f"{li}/oauth/v2/accessToken"})
        tenants.append(tenant.model_copy(update=update))
    return config.model_copy(update={"tenants": tenants})


def write_config(config: AppConfig, path: Path) -> None:
    """Write a configuration back out as TOML (used to hand the sandbox config to other processes)."""
    document = config.model_dump(mode="json", exclude_none=True)
    path.write_text(tomli_w.dumps(document))
