"""Generate, screen, propose: a planner for campaigns whose molecule or material parameter generates (`generate:`).

Each round makes new candidates from the measured ones: molecules by mutation and crossover (`generator.generate`),
under the parameter's rules and any substructures people have since forbidden, or compositions by substitution
(`substitution.substitute`). The candidates (the listed ones not yet tried, and the new ones) form a finite snapshot
of the open space, which the Bayesian planner screens with its acquisition function as it screens any finite space;
its picks go out with their parents and operator (`Origin`). The model is the campaign's: a generating parameter's
columns are computed per structure, so one fit scores every round's candidates.

Example:
    >>> from retort.agents.objectives import Goal, Objective
    >>> from retort.agents.planners import BayesianPlanner
    >>> planner = GenerativePlanner.around(Goal(objectives=[Objective(name="y", goal="maximize")]), n_initial=4, seed=0)
    >>> planner.name
    'qLogNEI'
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence

from retort.agents.errors import PlanningError
from retort.agents.generation.generator import Generated, generate
from retort.agents.generation.substitution import substitute
from retort.agents.parameters import MaterialParameter, MoleculeParameter
from retort.agents.planners import BayesianPlanner
from retort.agents.proposal import Observation, Origin, Proposal
from retort.agents.space import SearchSpace
from retort.surrogates import FittedModel

GENERATIONS = 4  # in-silico generations per round (the round's `per_round` attempts shared among them)


class GenerativePlanner:
    """Wraps a `BayesianPlanner`: an initial design of `n_initial` listed molecules or compositions (its design), then
    rounds of generated candidates (and listed ones not yet tried) it screens with its model.

    `forbidden`: SMARTS people added since the campaign began (a rejection's), kept by every later round.
    `last`: what the last round generated and dropped (`Generated`), for a summary.
    """

    def __init__(self, inner: BayesianPlanner, n_initial: int, forbidden: Sequence[str] = ()) -> None:
        self.inner = inner  # its own design is not used (n_initial 0): this planner's design is over the listed structures
        self.n_initial = n_initial
        self.name = inner.name
        self.forbidden = list(forbidden)
        self.last: Generated | None = None

    def _forbids(self, param, structure: str) -> bool:
        """Whether a listed molecule has a substructure people forbade (it is then not proposed either)."""
        from retort.agents.generation.rules import first_match, parse

        mol = parse(structure) if self.forbidden and isinstance(param, MoleculeParameter) else None
        return mol is not None and first_match(mol, self.forbidden) is not None

    @classmethod
    def around(cls, goal, n_initial: int, seed: int, forbidden: Sequence[str] = (), **settings) -> "GenerativePlanner":
        """The planner a generating campaign uses: a `BayesianPlanner` that screens every round's candidates with
        analytic LogEI, greedy over the batch with Kriging-believer fantasies (its large-library path, taken whatever
        the number: each round's candidates are new and scored once; qLogNEI's joint posterior with every measured
        point per candidate cost 4.5 s of a 10 s round on 750 candidates with 2048 fingerprint columns, measured),
        where the goal allows (one linear utility, no outcome constraints); qLogNEI otherwise."""
        return cls(BayesianPlanner(goal, n_initial=0, seed=seed, large_library=0, **settings), n_initial, forbidden)

    def _generate(self, space: SearchSpace, param, observations: list[Observation], values: dict[str, str], model: FittedModel,
                  position: int) -> Generated:
        """A round's new candidates: molecules evolved in silico (`_evolve`), or substitutions of the best measured
        compositions (`substitution.substitute`)."""
        name = param.name
        parents: dict[str, float] = {}  # canonical structure -> its best measured utility
        for o in observations:
            key = param.key(param.structure_of(o.params[name]))
            parents[key] = max(parents.get(key, float("-inf")), self.inner.goal.utility_of(o.objectives))
        known = {param.key(s) for s in values.values()}
        if isinstance(param, MaterialParameter):
            return substitute(sorted(parents, key=parents.__getitem__, reverse=True), known, param.generate)
        return self._evolve(space, param, observations, parents, known, model, position)

    def _evolve(self, space: SearchSpace, param, observations: list[Observation], parents: dict[str, float], known: set[str],
                model: FittedModel, position: int) -> Generated:
        """`GENERATIONS` generations of mutation and crossover, evolved in silico. The first generation's parents are
        the measured molecules (by their measured utility) and the listed ones not yet measured (by the model's
        predicted utility); later generations' are the round's children so far, ranked by the model's expected
        improvement, so the candidates can move beyond one edit of what was measured (GP-BO with a genetic algorithm
        as its acquisition optimiser, Tripp et al. 2021). Where the goal has no single linear utility to score, one
        generation."""
        settings = param.generate
        rules = settings.rules.with_forbidden(self.forbidden)
        score = self._scorer(space, observations, model, param.name)
        unmeasured = [param.key(s) for s in param.structures if param.key(s) not in parents]
        if unmeasured and score is not None:
            parents = parents | dict(zip(unmeasured, score(unmeasured, mean=True)))
        generations = GENERATIONS if score is not None else 1
        population = [(u, s) for s, u in parents.items()]
        children: list = []
        attempts, dropped = 0, Counter()
        for g in range(generations):
            seed = self.inner.seed * 100_003 + position * 16 + g
            made = generate(population, known, rules, max(1, settings.per_round // generations), seed, tuple(settings.operators))
            attempts, dropped = attempts + made.attempts, dropped + made.dropped
            children += made.children
            known |= {c.value for c in made.children}
            if g + 1 < generations and children:
                population = list(zip(score([c.value for c in children]), (c.value for c in children)))
        return Generated(children=children, attempts=attempts, dropped=dropped)

    def _scorer(self, space: SearchSpace, observations: list[Observation], model: FittedModel, name: str):
        """A function SMILES -> the model's log expected improvement (or, `mean=True`, predicted utility) of each
        molecule, with the other parameters as in the best measured experiment; None where the goal is not one linear
        utility without outcome constraints."""
        import numpy as np
        import torch
        from botorch.acquisition.objective import ScalarizedPosteriorTransform

        from retort.agents.planners import _marginal_log_ei

        goal = self.inner.modelled(space, observations)
        if not goal.linear or goal.constraints or goal.trade_off == "pareto":
            return None
        best = max(observations, key=lambda o: self.inner.goal.utility_of(o.objectives))
        base = {k: v for k, v in best.params.items() if k != name}
        transform = ScalarizedPosteriorTransform(weights=torch.tensor(goal.reading_weights(), dtype=torch.double))
        with torch.no_grad():
            best_f = float(transform(model.model.posterior(space.encode([o.params for o in observations]))).mean.max())
        log_ei = _marginal_log_ei(model.model, best_f, transform)

        def score(smiles: list[str], mean: bool = False) -> list[float]:
            pooled = space.pooled({name: {s: s for s in smiles}})
            X = pooled.encode([{**base, name: s} for s in smiles])
            with torch.no_grad():
                if mean:
                    return transform(model.model.posterior(X)).mean.reshape(-1).tolist()
                return np.nan_to_num(log_ei(X.unsqueeze(-2)).numpy(), nan=-1e9).tolist()

        return score

    def fit(self, space: SearchSpace, observations: list[Observation]) -> FittedModel | None:
        return self.inner.fit(space, observations)

    def propose(self, space, observations, pending, batch_size, model=None, rejected=()) -> list[Proposal]:
        if len(space.open) != 1:
            raise PlanningError(f"a generative planner needs exactly one generating parameter; this space has {len(space.open)}")
        param = space.open[0]
        name = param.name
        tried = [o.params[name] for o in observations] + [p[name] for p in pending] + [r[name] for r in rejected]
        values = {label: s for label, s in zip(param.labels, param.structures) if label in tried or not self._forbids(param, s)}
        values |= {v: param.structure_of(v) for v in tried if v not in values}
        done = len(observations) + len(pending)
        untried = len(set(values) - set(tried))
        if model is None or (done < self.n_initial and untried >= batch_size):  # the design: over the listed molecules
            if not untried:
                raise PlanningError(f"parameter {name!r}: every listed {param.type} is measured, pending or rejected, and the model "
                                    "needs two measurements before it can screen generated ones")
            return self.inner.propose(space.pooled({name: values}), observations, pending, min(batch_size, untried), None, rejected)
        made = self._generate(space, param, observations, values, model, done + len(rejected))
        self.last = made
        children = {c.value: c for c in made.children}
        values |= {s: s for s in children}
        proposals = self.inner.propose(space.pooled({name: values}), observations, pending, batch_size, model, rejected)
        generation_round = 1 + max(0, done - self.n_initial) // max(1, batch_size)
        out = []
        for p in proposals:
            child = children.get(p.params[name])
            if child is not None:
                origin = Origin(parameter=name, parents=list(child.parents), operator=child.operator, round=generation_round)
                note = f"generated by {child.operator} of {' and '.join(child.parents)} (round {generation_round}: {made.describe()})"
                p = p.model_copy(update={"provenance": p.provenance.model_copy(update={"origin": origin, "note": note})})
            out.append(p)
        return out
