"""Prefect: the campaign flows and tasks (`campaign.py`), each instrument's concurrency slot (`limits.py`), the
local Prefect server a `retort run` owns (`server.py`) and the settings it needs (`settings.py`). Deployments
name the flows by this package (``retort.orchestrator.flows:campaign_file_flow``, ``...:instrument_flow``)."""

from retort.orchestrator.flows.campaign import (DEPLOYED, STEPS, TASKS, approve_task, campaign_file_flow, campaign_flow, instrument_flow,
                                                iteration_flow, plan_task, run_on_deployment, run_on_task)

__all__ = ["DEPLOYED", "STEPS", "TASKS", "approve_task", "campaign_file_flow", "campaign_flow", "instrument_flow", "iteration_flow",
           "plan_task", "run_on_deployment", "run_on_task"]
