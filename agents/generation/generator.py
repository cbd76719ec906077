"""One round of generation: parents drawn from the measured molecules (better ones more often), operators applied,
every child sanitised, canonicalised and checked against the rules; nothing already listed, measured, pending,
rejected or made earlier in the round is kept.

Example:
    >>> from retort.agents.generation.rules import MoleculeRules
    >>> made = generate([(1.0, "CC(=O)Nc1ccc(O)cc1"), (0.5, "CCOc1ccccc1")], known=set(),
    ...                 rules=MoleculeRules(elements=["C", "N", "O"]), n=50, seed=0)
    >>> 0 < len(made.children) <= 50, made.attempts
    (True, 50)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from random import Random

from retort.agents.generation.operators import ARITY, OPERATORS, operator
from retort.agents.generation.rules import MoleculeRules, parse

SHARES = {"crossover": 0.6, "mutation": 0.2, "selfies": 0.2}  # of the attempts, by operator (Graph GA's blend, plus STONED)


@dataclass(frozen=True)
class Child:
    """A generated molecule and where it came from."""

    value: str  # canonical: a SMILES, or a reduced formula
    parents: tuple[str, ...]
    operator: str


@dataclass
class Generated:
    children: list[Child]
    attempts: int
    dropped: Counter = field(default_factory=Counter)  # reason -> count (nothing made, a rule broken, a repeat)

    def describe(self) -> str:
        reasons = ", ".join(f"{n} {why}" for why, n in self.dropped.most_common())
        return f"{len(self.children)} new molecules from {self.attempts} attempts" + (f" (dropped: {reasons})" if reasons else "")


def generate(population: list[tuple[float, str]], known: set[str], rules: MoleculeRules, n: int, seed: int,
             operators: tuple[str, ...] = OPERATORS) -> Generated:
    """`n` attempts at new molecules from `population` ((score, canonical SMILES), higher better); `known`: canonical
    SMILES never to produce again. Parents are drawn by mol_ga's quantile sampling (uniform over the log-spaced top
    quantiles, so the best are drawn most often and every one sometimes)."""
    from mol_ga.sample_population import uniform_quantile_sampling

    if not population:
        return Generated(children=[], attempts=0)
    rng = Random(seed)
    weights = [SHARES[o] for o in operators]
    made: dict[str, Child] = {}
    dropped: Counter = Counter()
    parents = uniform_quantile_sampling(population, 2 * n, rng)
    for i in range(n):
        name = rng.choices(operators, weights=weights)[0]
        chosen = [parents[(2 * i + k) % len(parents)] for k in range(ARITY[name])]
        if name == "crossover" and chosen[0] == chosen[1]:
            chosen[1] = rng.choice(population)[1]
        try:
            if name == "selfies":
                smiles = operator(name)(chosen, rng, rules.elements)
            else:
                smiles = operator(name)(chosen, rng)
        except Exception:  # noqa: BLE001 - RDKit raises assorted errors on odd intermediates: the attempt made nothing
            smiles = None
        mol = parse(smiles) if smiles else None
        if mol is None:
            dropped["made nothing valid"] += 1
            continue
        from rdkit import Chem

        smiles = Chem.MolToSmiles(mol)
        if smiles in known or smiles in made:
            dropped["repeats"] += 1
            continue
        reason = rules.violation(mol)
        if reason is not None:
            dropped[_kind(reason)] += 1
            continue
        made[smiles] = Child(value=smiles, parents=tuple(dict.fromkeys(chosen)), operator=name)
    return Generated(children=list(made.values()), attempts=n, dropped=dropped)


def _kind(reason: str) -> str:
    """A rule's reason without the molecule's own numbers, for counting ("has 60 heavy atoms ..." -> "heavy atoms")."""
    for word in ("elements", "heavy atoms", "g/mol", "charge", "ring sanity", "-membered ring", "forbidden", "structural alert", "synthetic"):
        if word in reason:
            return {"g/mol": "weight", "-membered ring": "ring size", "synthetic": "synthetic accessibility"}.get(word, word)
    return reason
