"""Question entity linking: exact, alias, fuzzy and embedding matches, with an injected finder."""
from __future__ import annotations

import numpy as np
import pytest

from kg.graph import KnowledgeGraph, VectorTable
from kg.model import Entity, LinkedEntity, Mention
from kg.config import LinkConfig
from kg.vectors import VectorIndex
from reason.link import CapitalisedSpanFinder, MentionFinder, NameMentionFinder, NameTable, link_entities, link_key


class FixedFinder:
    """Returns the same mentions for every question."""

    def __init__(self, mentions):
        self.mentions = list(mentions)

    def find(self, text):
        return list(self.mentions)


class KeywordEmbedder:
    """Two-dimensional vectors: 'city' words on one axis, everything else on the other."""

    name = "keyword"

    def embed(self, texts):
        rows = [[1.0, 0.0] if any(w in t.casefold() for w in ("city", "capital", "paris")) else [0.0, 1.0] for t in texts]
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), 2)


def _graph() -> KnowledgeGraph:
    ents = [Entity("e1", "Ada Lovelace", "PERSON", ("Ada King",)), Entity("e2", "Paris", "GPE"),
            Entity("e3", "Paris", "PERSON"), Entity("e4", "Analytical Engine", "PRODUCT"), Entity("e5", "film", "CONCEPT")]
    ms = {f"m{i}": Mention(f"m{i}", "d", f"d:p{i}", 0, 1, "x", "X", "ner") for i in range(4)}
    # Paris the city is mentioned in three passages, Paris the person in one
    assignments = {"m0": "e2", "m1": "e2", "m2": "e2", "m3": "e3"}
    return KnowledgeGraph(entities={e.id: e for e in ents}, mentions=ms, assignments=assignments)


def test_fixed_finder_satisfies_the_protocol():
    assert isinstance(FixedFinder([]), MentionFinder)


def test_link_key_is_the_name_key_without_a_category_word():
    assert link_key("The  Analytical Engine!") == "analytical engine"
    assert link_key("the film Hype") == link_key("film Hype") == link_key("Hype") == "hype"


def test_name_table_ranks_same_name_by_attestation_and_specificity():
    table = NameTable.from_graph(_graph())
    assert table.by_name["paris"] == ("e2", "e3")
    assert table.by_alias == {"ada king": ("e1",)}
    assert round(table.specificity["e2"], 4) == round(1 / np.log2(5), 4)
    assert table.specificity["e4"] == 1.0


def test_name_finder_takes_longest_capitalised_names():
    table = NameTable.from_graph(_graph())
    assert NameMentionFinder(table).find("Did Ada Lovelace see the Analytical Engine in a film?") == [
        ("Ada Lovelace", "NAME"), ("Analytical Engine", "NAME")]


def test_link_exact_alias_and_ambiguous_names():
    g = _graph()
    links = link_entities("Did Ada King visit Paris?", g, FixedFinder([]), None)
    assert [(l.mention, l.entity_id, l.method, l.score) for l in links] == [
        ("Ada King", "e1", "alias", 1.0), ("Paris", "e3", "exact", 1.0), ("Paris", "e2", "exact", 1.0)]
    # equal scores: the more specific (rarer) entity first


def test_link_fuzzy_match_from_finder():
    links = link_entities("Who built the Analytic Engine?", _graph(), FixedFinder([("Analytic Engine", "PRODUCT")]), None)
    assert links == [LinkedEntity("Analytic Engine", "e4", "Analytical Engine", "PRODUCT", 0.9375, "fuzzy")]


def test_link_embedding_fallback_needs_threshold():
    g = _graph()
    vectors = KeywordEmbedder().embed([e.name for e in g.entities.values()])
    index = VectorIndex(VectorTable(tuple(g.entities), vectors, "keyword"))
    finder = FixedFinder([("the French capital city", "CONCEPT")])
    links = link_entities("What is in the French capital city?", g, finder, KeywordEmbedder(), entity_index=index)
    assert [(l.entity_id, l.method, l.score) for l in links] == [("e2", "embedding", 1.0)]
    city_only = VectorIndex(VectorTable(("e2",), KeywordEmbedder().embed(["Paris"]), "keyword"))
    finder = FixedFinder([("the Old Town", "CONCEPT")])  # cosine 0 to "Paris"
    strict = link_entities("x", g, finder, KeywordEmbedder(), entity_index=city_only, config=LinkConfig(embedding_threshold=0.5))
    loose = link_entities("x", g, finder, KeywordEmbedder(), entity_index=city_only, config=LinkConfig(embedding_threshold=-1))
    assert strict == [] and [(l.entity_id, l.score) for l in loose] == [("e2", 0.0)]


def test_lower_case_common_words_are_not_linked_by_the_name_finder():
    assert link_entities("Which film is it?", _graph(), None, None) == []


@pytest.mark.parametrize("question, mentions", [
    ("Who is the father of the director of film Polish Wedding?", ["Polish Wedding"]),
    ("Was Jamie Curry or Alyaksey Vasilewski born first?", ["Jamie Curry", "Alyaksey Vasilewski"]),
    ("Where did the Duke of Edinburgh's wife live in 1950?", ["Duke of Edinburgh"]),
    ("Which Ludwig van Beethoven symphony came first?", ["Ludwig van Beethoven"]),
    ("What is the capital of the country?", []),
])
def test_capitalised_span_finder(question, mentions):
    assert [m for m, _ in CapitalisedSpanFinder().find(question)] == mentions


def test_a_misspelt_capitalised_name_links_by_fuzzy_match():
    links = link_entities("Who built the Analytcal Engine?", _graph(), CapitalisedSpanFinder(), None)
    assert [(l.mention, l.entity_id, l.method) for l in links] == [("Analytcal Engine", "e4", "fuzzy")]


@pytest.mark.parametrize("threshold", [80.0, 90.0, 95.0])
def test_trigram_blocking_loses_no_fuzzy_match(threshold):
    # names built from a few syllables, so many are near one another; typo'd queries of all lengths
    from rapidfuzz import fuzz, process

    rng = np.random.default_rng(int(threshold))
    syllables = ["an", "bel", "cor", "da", "el", "fin", "gar", "ho", "is", "ja", "ke", "lo", " "]
    names = {"".join(rng.choice(syllables, rng.integers(2, 9))).strip() for _ in range(3000)}
    keys = tuple(sorted((k for k in names if k), key=lambda k: (len(k), k)))
    table = NameTable({}, {}, keys, {}, 1)
    compared = matched = 0
    for key in rng.choice(keys, 300):
        chars = list(key)
        chars[rng.integers(len(chars))] = "x"  # one substitution: a typo
        query = "".join(chars)
        window = table.keys_near(query, threshold)
        blocked = table.fuzzy_candidates(query, threshold, block_from=0)
        assert table.fuzzy_candidates(query, threshold) == window  # a window this small is scanned whole
        assert set(blocked) <= set(window)
        want = {h[0] for h in process.extract(query, window, scorer=fuzz.ratio, score_cutoff=threshold, limit=None)}
        got = {h[0] for h in process.extract(query, blocked, scorer=fuzz.ratio, score_cutoff=threshold, limit=None)}
        assert got == want, query
        compared += len(window) - len(blocked)
        matched += len(want)
    assert matched > 0  # real matches were found
    # at 80 the bound allows too many edits for these lengths: the length window is kept whole
    assert (compared > 0) == (threshold >= 90)
