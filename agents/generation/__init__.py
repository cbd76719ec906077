"""Generated candidates: molecules nobody listed, made from measured ones by mutation and crossover under a campaign's
rules (`rules`, `operators`, `generator`), and compositions made by ionic substitution (`substitution`); screened by the
model and proposed with their parents (`planner`)."""
