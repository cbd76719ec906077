"""Generated molecules: rules, operators, one round of generation, and the generate-screen-propose planner."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from rdkit import Chem

from retort.agents.generation.generator import generate
from retort.agents.generation.planner import GenerativePlanner
from retort.agents.generation.rules import MoleculeRules, parse
from retort.agents.objectives import Goal, Objective
from retort.agents.parameters import MoleculeParameter
from retort.agents.proposal import Observation
from retort.agents.space import SearchSpace
from retort.simulators.molecules import OBJECTIVES

SEEDS = ["CC(=O)Nc1ccc(O)cc1", "COc1ccc(CC(C)N)cc1", "Cc1ccc(S(N)(=O)=O)cc1", "O=C(O)c1ccccc1O", "CCN(CC)C(=O)c1ccccc1",
         "Cc1ccc(-c2ccccc2)cc1", "NS(=O)(=O)c1ccc(Cl)cc1", "Cc1cc(C)n(-c2ccccc2)n1", "FC(F)(F)c1ccccc1", "CC(C)Cc1ccc(C(C)C(=O)O)cc1"]
RULES = dict(heavy_atoms=[6, 30], weight=[80, 420], max_sa=4.0, forbidden=["[N+](=O)[O-]", "C#C"], max_ring_size=6)


@pytest.mark.parametrize("smiles, rules, words", [
    ("CCCl", dict(elements=["C", "O"]), "elements"),
    ("CCO", dict(heavy_atoms=(4, 10)), "heavy atoms"),
    ("CCCCCCCCCCCCCCCCCCCCCCCC", dict(weight=(0, 200)), "g/mol"),
    ("CC[NH3+]", dict(), "charge"),
    ("C1CCCCCCCC1", dict(max_ring_size=8), "9-membered ring"),
    ("C1=CC1", dict(), "ring sanity"),
    ("CC#CC", dict(forbidden=["C#C"]), "forbidden"),
    ("CC12CC3(C)CC(C)(C1)C(C)(C2)C3(C)C", dict(max_sa=3.0), "synthetic accessibility"),
    ("COOC", dict(alerts=["brenk"]), "structural alert 'Oxygen-nitrogen_single_bond'"),  # Brenk names O-O and O-N so
    ("O=C(C=Cc1ccccc1)c1ccccc1", dict(alerts=["pains", "brenk"]), "structural alert"),
])
def test_each_rule_catches_what_it_forbids(smiles, rules, words):
    assert words in MoleculeRules(**rules).violation(parse(smiles))
    assert MoleculeRules(max_sa=None).violation(parse("CC(=O)Nc1ccc(O)cc1")) is None


@pytest.mark.parametrize("generate, message", [
    ({"forbidden": ["[C"]}, "'[C' is not a SMARTS pattern"),
    ({"elements": ["C", "Qx"]}, "'Qx' is not an element symbol"),
    ({"heavy_atoms": [60, 80]}, "no listed molecule keeps the generation's rules"),
    ({"weight": [500, 100]}, "is not a range"),
    ({"operators": ["teleport"]}, "operators"),
    ({"alerts": ["brenk", "toxic"]}, "alerts.1"),
])
def test_bad_generation_settings_name_the_setting(generate, message):
    with pytest.raises(ValidationError, match="(?s)" + message.replace("[", r"\[").replace("(", r"\(")):
        MoleculeParameter(name="m", values=SEEDS, encoding="morgan_count", generate=generate)


def test_one_hot_and_mordred_cannot_describe_new_molecules():
    for encoding in ("onehot", "mordred"):
        with pytest.raises(ValidationError, match=f"encoding '{encoding}' cannot describe generated molecules"):
            MoleculeParameter(name="m", values=SEEDS, encoding=encoding, generate={})


@pytest.mark.parametrize("encoding", ["morgan_count", "descriptors"])
def test_a_generating_parameter_encodes_molecules_nobody_listed_as_a_round_does(encoding):
    param = MoleculeParameter(name="m", values=SEEDS, encoding=encoding, generate={})
    assert param.generate.elements == ["C", "Cl", "F", "N", "O", "S"]  # the seeds' elements, as no elements were given
    space = SearchSpace(parameters=[param])
    assert space.open == [param] and not space.is_discrete
    new = "CC(=O)Nc1ccc(OC)cc1"
    assert param.contains(new) and not param.contains("CC[Se]C") and not param.contains("not a molecule")
    pooled = space.pooled({"m": {**dict(zip(param.labels, param.smiles)), new: new}})
    assert pooled.is_discrete and pooled.n_candidates() == len(SEEDS) + 1
    points = [{"m": new}, {"m": SEEDS[3]}]
    assert space.encode(points).tolist() == pooled.encode(points).tolist()  # one fit scores every round's candidates
    assert space.bounds().tolist() == pooled.bounds().tolist()


def test_a_round_of_generation_keeps_every_rule_and_repeats_nothing_known():
    rules = MoleculeRules(elements=["C", "N", "O", "S", "Cl", "F"], **RULES)
    known = {Chem.CanonSmiles(s) for s in SEEDS}
    made = generate([(float(i), Chem.CanonSmiles(s)) for i, s in enumerate(SEEDS)], known, rules, n=300, seed=1)
    assert made.attempts == 300 and len(made.children) + sum(made.dropped.values()) == 300
    assert made.children and {c.operator for c in made.children} <= {"crossover", "mutation", "selfies"}
    smiles = [c.value for c in made.children]
    assert len(set(smiles)) == len(smiles) and not set(smiles) & known
    for c in made.children:
        mol = parse(c.value)
        assert mol is not None and Chem.MolToSmiles(mol) == c.value and rules.violation(mol) is None
        assert all(p in known for p in c.parents)
    assert made.dropped["repeats"] > 0  # counted, not proposed
    assert generate([(1.0, "CCO")], set(), rules, n=50, seed=1).children == generate([(1.0, "CCO")], set(), rules, n=50, seed=1).children


def _campaign(planner, space, score, budget, batch=5, rejected=(), after=None):
    observations, proposals, refused = [], [], list(rejected)
    while len(observations) < budget:
        model = planner.fit(space, observations)
        batch_proposals = planner.propose(space, observations, [], batch, model, refused)
        for p in batch_proposals:
            proposals.append(p)
            observations.append(Observation(params=p.params, objectives={"y": score(space.parameters[0].smiles_of(p.params["m"]))}))
        if after:
            after(observations)
    return proposals


def test_every_generated_proposal_sanitises_keeps_the_rules_and_almost_none_repeat():
    """A campaign of 45 experiments on GuacaMol's celecoxib rediscovery: every generated proposal is a sanitised,
    canonical molecule that keeps every rule, with its parents and operator; at least 95 % of all proposals unique."""
    param = MoleculeParameter(name="m", values=SEEDS, encoding="morgan_count", generate={**RULES, "per_round": 120})
    space = SearchSpace(parameters=[param])
    planner = GenerativePlanner.around(Goal(objectives=[Objective(name="y", goal="maximize")]), n_initial=10, seed=3)
    rejected = [{"m": SEEDS[0]}]
    proposals = _campaign(planner, space, OBJECTIVES["celecoxib_rediscovery"], budget=45, rejected=rejected)
    values = [p.params["m"] for p in proposals]
    generated = [p for p in proposals if p.provenance.origin is not None]
    assert len(generated) >= 25 and SEEDS[0] not in values  # a rejected molecule is never proposed again
    rules = param.generate.rules
    for p in generated:
        mol = parse(p.params["m"])
        assert mol is not None and Chem.MolToSmiles(mol) == p.params["m"], p.params
        assert rules.violation(mol) is None, (p.params, rules.violation(mol))
        origin = p.provenance.origin
        assert origin.operator in ("crossover", "mutation", "selfies") and origin.parents and origin.round >= 1
        assert all(parse(s) is not None for s in origin.parents)
        assert "y" in p.provenance.predicted, p.provenance
        assert p.provenance.predicted["y"].std > 0 and "generated by" in p.provenance.note
    assert len(set(values)) / len(values) >= 0.95, f"{len(values) - len(set(values))} repeats of {len(values)}"


def test_a_forbidden_substructure_added_mid_campaign_is_kept_by_every_later_round():
    param = MoleculeParameter(name="m", values=SEEDS, encoding="morgan_count", generate={"per_round": 120, "max_sa": None})
    space = SearchSpace(parameters=[param])
    planner = GenerativePlanner.around(Goal(objectives=[Objective(name="y", goal="maximize")]), n_initial=10, seed=0)
    pattern = Chem.MolFromSmarts("c1ccccc1")  # a benzene ring: nearly every child of these seeds has one
    marks = []

    def forbid(observations):
        if len(observations) == 15:
            planner.forbidden.append("c1ccccc1")
            marks.append(len(observations))

    proposals = _campaign(planner, space, OBJECTIVES["median_camphor_menthol"], budget=30, after=forbid)
    later = proposals[15:]  # generated or listed: nothing proposed after the rule has a benzene ring
    assert marks and later
    assert not any(parse(p.params["m"]).HasSubstructMatch(pattern) for p in later)
    assert planner.last is not None and planner.last.dropped["forbidden"] > 0


CATHODES = ["LiFePO4", "LiMnPO4", "LiCoO2", "LiNiO2", "LiMn2O4", "NaFePO4"]


def test_a_material_parameter_refuses_seeds_it_cannot_read_or_balance():
    from retort.agents.parameters import MaterialParameter

    with pytest.raises(ValidationError, match="'NaCl2' cannot be charge-balanced"):
        MaterialParameter(name="c", values=["NaCl", "NaCl2"], generate={})
    with pytest.raises(ValidationError, match="'Xy2O' is not a formula"):
        MaterialParameter(name="c", values=["NaCl", "Xy2O"])
    with pytest.raises(ValidationError, match="'Qq' is not an element symbol"):
        MaterialParameter(name="c", values=CATHODES, generate={"elements": ["Li", "Qq"]})
    with pytest.raises(ValidationError, match="duplicate material"):
        MaterialParameter(name="c", values=["LiCoO2", "Li2Co2O4"])
    assert MaterialParameter(name="c", values=["NaCl", "NaCl2"]).width == 24  # without generation any formula may be listed


def test_a_generating_material_campaign_proposes_only_charge_balanced_compositions_of_allowed_elements():
    from retort.agents.generation.substitution import charge_balanced
    from retort.agents.parameters import MaterialParameter
    from retort.surrogates.featurisers import composition_descriptors
    from pymatgen.core import Composition

    allowed = ["Li", "Na", "K", "Mg", "Fe", "Mn", "Co", "Ni", "Cu", "Zn", "P", "O", "S"]
    param = MaterialParameter(name="cathode", values=CATHODES, generate={"elements": allowed, "per_round": 2})
    space = SearchSpace(parameters=[param])
    planner = GenerativePlanner.around(Goal(objectives=[Objective(name="y", goal="maximize")]), n_initial=4, seed=0)

    def electronegativity(formula: str) -> float:  # a smooth property of the composition, as a lab would measure
        table, names = composition_descriptors([formula])
        return float(table[0][names.index("mean_X")])

    observations, proposals = [], []
    while len(observations) < 16:
        model = planner.fit(space, observations)
        for p in planner.propose(space, observations, [], 4, model):
            proposals.append(p)
            observations.append(Observation(params=p.params, objectives={"y": electronegativity(p.params["cathode"])}))
    generated = [p for p in proposals if p.provenance.origin is not None]
    assert len(generated) >= 8 and all(p.provenance.origin.operator == "substitution" for p in generated)
    for p in generated:
        formula = p.params["cathode"]
        assert charge_balanced(formula) and {str(e) for e in Composition(formula).elements} <= set(allowed), formula
        assert param.key(formula) not in {param.key(c) for c in CATHODES} and p.provenance.origin.parents[0] in {o.params["cathode"] for o in observations}
    values = [p.params["cathode"] for p in proposals]
    assert len(set(values)) == len(values)
