"""The one error root every Retort package's own root subclasses.

`retort.orchestrator` (`OrchestratorError`), `retort.agents` (`AgentError`), `retort.instruments`
(`InstrumentError`), `retort.surrogates` (`SurrogateError`) and `retort.simulators`
(`SimulatorError`) each raise their own subclasses; the CLI (and later the HTTP API) maps any
`RetortError` to one message and exit code 2. This module imports nothing, so every package may use it.
"""


class RetortError(Exception):
    """Root of every error Retort raises for a person to act on: its message says what and where."""
