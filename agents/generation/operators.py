"""Operators that make new molecules from measured ones: Graph-GA crossover and mutation (Jensen 2019, as packaged by
`mol_ga`) and SELFIES token mutation (STONED, Nigam et al. 2021: every SELFIES string decodes to a valid molecule).

Each takes parent SMILES and a `random.Random` and returns a canonical SMILES, or None when the operation made nothing
(the caller counts it). They know nothing of a campaign's rules: `generator.generate` checks every child.
"""

from __future__ import annotations

from functools import lru_cache
from random import Random
from typing import Callable, Optional

OPERATORS = ("crossover", "mutation", "selfies")
ARITY = {"crossover": 2, "mutation": 1, "selfies": 1}


def crossover(parents: list[str], rng: Random) -> Optional[str]:
    """Graph-GA crossover of two parents (ring or chain cut, recombined), with mol_ga's small chance of a mutation."""
    from mol_ga.graph_ga.gen_candidates import reproduce

    return reproduce(parents[0], parents[1], 0.01, rng)


def mutation(parents: list[str], rng: Random) -> Optional[str]:
    """A Graph-GA mutation: insert, delete or change an atom, change a bond order, open or close a ring, append an atom."""
    from mol_ga.graph_ga.gen_candidates import mutate

    return mutate(parents[0], rng)


def selfies(parents: list[str], rng: Random, elements: Optional[list[str]] = None) -> Optional[str]:
    """One SELFIES token replaced, inserted or deleted (STONED), with tokens of the allowed `elements`."""
    import selfies as sf

    try:
        tokens = list(sf.split_selfies(sf.encoder(parents[0])))
    except (sf.EncoderError, ValueError):
        return None
    alphabet = _alphabet(tuple(elements) if elements else None)
    move = rng.choice(("replace", "insert", "delete") if len(tokens) > 1 else ("replace", "insert"))
    i = rng.randrange(len(tokens) + (move == "insert"))
    if move == "replace":
        tokens[i] = rng.choice(alphabet)
    elif move == "insert":
        tokens.insert(i, rng.choice(alphabet))
    else:
        del tokens[i]
    try:
        smiles = sf.decoder("".join(tokens))
    except sf.DecoderError:
        return None
    from retort.agents.generation.rules import parse
    from rdkit import Chem

    mol = parse(smiles) if smiles else None
    return Chem.MolToSmiles(mol) if mol is not None else None


@lru_cache(maxsize=64)
def _alphabet(elements: Optional[tuple[str, ...]]) -> list[str]:
    """SELFIES' robust tokens, kept to those whose atoms are all among `elements` (all of them without)."""
    import re

    import selfies as sf

    tokens = sorted(sf.get_semantic_robust_alphabet())
    if elements is None:
        return tokens
    allowed = set(elements)
    kept = []
    for token in tokens:
        symbols = re.findall(r"[A-Z][a-z]?", token.strip("[]").replace("Ring", "").replace("Branch", ""))
        if all(s in allowed or s == "H" for s in symbols):
            kept.append(token)
    return kept or tokens


def operator(name: str) -> Callable:
    return {"crossover": crossover, "mutation": mutation, "selfies": selfies}[name]
