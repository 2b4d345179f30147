"""`hirebridge demo`: the whole mission on the embedded default, narrated."""

from bot.demo.script import run_demo

__all__ = ["run_demo"]
