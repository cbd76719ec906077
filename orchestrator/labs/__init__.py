"""Labs: what a campaign runs its experiments on. A lab turns a batch into instrument work (a plan, checked and
reserved before anything moves), runs it on its backend, measures, and recovers after a stop (`base.Lab`). The
same lab code runs a virtual bench or, with another backend, a real robot."""

from retort.orchestrator.labs.base import Lab, LabRequest, LabResult, LabRun, Recovery, SimpleLab, build_lab, build_labs, check_readings

__all__ = ["Lab", "LabRequest", "LabResult", "LabRun", "Recovery", "SimpleLab", "build_lab", "build_labs", "check_readings"]
