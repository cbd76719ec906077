"""Generated candidates: molecules nobody listed, made from measured ones by mutation and crossover under a campaign's
rules (`rules`, `operators`, `generator`), screened by the model and proposed with their parents (`planner`)."""
