"""Compensation: repair what crashed workers left behind (design brief, capability 4).

``Compensator.run(job)`` is the one entry point; the agent, the sweep and ``redeemflow
compensate --inline`` all call it. See ``docs/compensation.md``.
"""

from core.compensation.jobs import new_job, parse_duration, sweep_job
from core.compensation.service import Compensator

__all__ = ["Compensator", "new_job", "parse_duration", "sweep_job"]
