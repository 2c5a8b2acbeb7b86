"""Entity resolution: each rule positive and negative, on tiny hand-made mentions."""
from __future__ import annotations

import numpy as np
import pytest

from extract.resolve import resolve
from kg.config import ResolveConfig
from kg.embedding import HashingEmbedder
from kg.errors import ConfigError, InputError
from kg.model import Mention, MergeRecord, SynonymLink, entity_id

NO_EMBED = ResolveConfig(use_embeddings=False)


def m(doc: str, start: int, text: str, label: str, kind: str = "ner", refers_to: str = "") -> Mention:
    end = start + len(text)
    return Mention(f"{doc}:m{start}-{end}", doc, f"{doc}:p0", start, end, text, label, kind, refers_to)


def by_name(res):
    return {e.name: e for e in res.entities}


def entity_of(res, mention: Mention):
    return next(e for e in res.entities if e.id == res.assignments[mention.id])


def reasons(res):
    names = {e.id: e.name for e in res.entities}
    return sorted((r.mention_text, names[r.entity_id], r.reason, r.score) for r in res.merges)


# ---- rule 1: exact and normalised keys, majority type ------------------------------------------------


def test_exact_names_across_documents_are_one_entity_and_every_mention_is_assigned():
    ms = [m("d1", 0, "Paris", "GPE"), m("d2", 5, "Paris", "GPE"), m("d2", 20, "Lyon", "GPE")]
    res = resolve(ms, NO_EMBED)
    assert [(e.name, e.type, e.aliases) for e in res.entities] == sorted(
        [("Paris", "PLACE", ()), ("Lyon", "PLACE", ())], key=lambda t: entity_id(t[0], t[1])
    )
    assert sorted(res.assignments) == sorted(x.id for x in ms)
    assert res.assignments[ms[0].id] == res.assignments[ms[1].id] == entity_id("Paris", "PLACE")
    assert reasons(res) == [("Lyon", "Lyon", "exact", 1.0), ("Paris", "Paris", "exact", 1.0)]


def test_a_name_with_several_labels_takes_the_majority_type():
    ms = [m("d1", 0, "Chelsea", "ORG"), m("d2", 0, "Chelsea", "ORG"), m("d3", 0, "Chelsea", "GPE")]
    res = resolve(ms, NO_EMBED)
    assert [(e.id, e.name, e.type) for e in res.entities] == [(entity_id("Chelsea", "ORG"), "Chelsea", "ORG")]


def test_a_tie_between_labels_is_broken_by_the_fixed_type_priority():
    ms = [m("d1", 0, "Chelsea", "ORG"), m("d2", 0, "Chelsea", "GPE")]
    assert [e.type for e in resolve(ms, NO_EMBED).entities] == ["PLACE"]
    assert [e.type for e in resolve(list(reversed(ms)), NO_EMBED).entities] == ["PLACE"]


def test_normalised_variants_merge_with_reason_normalised():
    ms = [
        m("d1", 0, "U.S.", "GPE"), m("d2", 0, "US", "GPE"), m("d3", 0, "U.S.", "GPE"),
        m("d1", 10, "Google", "ORG"), m("d2", 10, "Google's", "ORG"), m("d3", 10, "Google", "ORG"),
        m("d4", 0, "Fédération Internationale", "ORG"), m("d5", 0, "Federation internationale", "ORG"),
    ]
    res = resolve(ms, NO_EMBED)
    assert sorted((e.name, e.aliases) for e in res.entities) == [
        ("Federation internationale", ("Fédération Internationale",)),
        ("Google", ("Google's",)),
        ("U.S.", ("US",)),
    ]
    assert reasons(res) == [
        ("Federation internationale", "Federation internationale", "exact", 1.0),
        ("Fédération Internationale", "Federation internationale", "normalised", 1.0),
        ("Google", "Google", "exact", 1.0),
        ("Google's", "Google", "normalised", 1.0),
        ("U.S.", "U.S.", "exact", 1.0),
        ("US", "U.S.", "normalised", 1.0),
    ]


def test_dates_written_differently_share_one_key_but_month_and_year_stay_apart():
    ms = [m("d1", 0, "13 March 1963", "DATE"), m("d2", 0, "March 13, 1963", "DATE"),
          m("d3", 0, "the 13th of March 1963", "DATE"), m("d4", 0, "March 1963", "DATE"), m("d5", 0, "1963", "DATE")]
    res = resolve(ms, NO_EMBED)
    assert sorted((e.name, e.aliases) for e in res.entities) == [
        ("1963", ()), ("March 1963", ()),
        ("the 13th of March 1963", ("13 March 1963", "March 13, 1963")),
    ]


def test_different_families_never_merge():
    ms = [m("d1", 0, "May", "DATE"), m("d2", 0, "May", "PERSON"), m("d3", 0, "1963", "DATE"),
          m("d4", 0, "1963", "CARDINAL")]
    res = resolve(ms, NO_EMBED)
    assert sorted((e.name, e.type) for e in res.entities) == [
        ("1963", "DATE"), ("1963", "QUANTITY"), ("May", "DATE"), ("May", "PERSON")
    ]


# ---- rule 2: noun phrases joining named entities ------------------------------------------------------


def test_a_noun_phrase_spelled_like_a_named_entity_joins_it():
    ms = [m("d1", 0, "The Beatles", "ORG"), m("d2", 0, "the Beatles", "CONCEPT", "noun"),
          m("d3", 0, "The Beatles", "ORG")]
    res = resolve(ms, NO_EMBED)
    assert [(e.name, e.type, e.aliases) for e in res.entities] == [("The Beatles", "ORG", ("the Beatles",))]
    assert reasons(res) == [("The Beatles", "The Beatles", "exact", 1.0),
                            ("the Beatles", "The Beatles", "normalised", 1.0)]


def test_a_lower_case_common_noun_does_not_join_a_capitalised_name():
    ms = [m("d1", 0, "House", "ORG"), m("d2", 0, "house", "CONCEPT", "noun")]
    res = resolve(ms, NO_EMBED)
    assert sorted((e.name, e.type) for e in res.entities) == [("House", "ORG"), ("house", "CONCEPT")]


def test_noun_phrases_fold_plurals_and_articles_and_are_named_in_lower_case():
    ms = [m("d1", 0, "The company", "CONCEPT", "noun"), m("d2", 0, "companies", "CONCEPT", "noun"),
          m("d3", 4, "company", "CONCEPT", "noun"), m("d3", 20, "factory", "CONCEPT", "noun"),
          m("d4", 0, "factor", "CONCEPT", "noun")]
    res = resolve(ms, NO_EMBED)
    assert sorted((e.name, e.aliases) for e in res.entities) == [
        ("company", ("The company", "companies")), ("factor", ()), ("factory", ())
    ]


# ---- rule 3: person names ---------------------------------------------------------------------------------


def test_a_surname_joins_the_one_full_name_of_its_own_document_only():
    full, same_doc, other_doc = (m("d1", 0, "Wilfried Willi Schneider", "PERSON"),
                                 m("d1", 50, "Schneider", "PERSON"), m("d2", 0, "Schneider", "PERSON"))
    res = resolve([full, same_doc, other_doc], NO_EMBED)
    assert entity_of(res, same_doc) == entity_of(res, full)
    assert entity_of(res, other_doc).name == "Schneider"
    assert entity_of(res, other_doc) != entity_of(res, full)
    assert reasons(res) == [
        ("Schneider", "Schneider", "exact", 1.0),
        ("Schneider", "Wilfried Willi Schneider", "person-name", 0.9),
        ("Wilfried Willi Schneider", "Wilfried Willi Schneider", "exact", 1.0),
    ]


def test_a_surname_shared_by_two_full_names_of_a_document_stays_apart():
    ms = [m("d1", 0, "Paul Schneider", "PERSON"), m("d1", 30, "Anna Schneider", "PERSON"),
          m("d1", 60, "Schneider", "PERSON")]
    res = resolve(ms, NO_EMBED)
    assert sorted(e.name for e in res.entities) == ["Anna Schneider", "Paul Schneider", "Schneider"]


def test_longer_variants_and_initials_join_the_one_fuller_name_across_documents():
    ms = [m("d1", 0, "Wilfried Willi Schneider", "PERSON"), m("d2", 0, "Willi Schneider", "PERSON"),
          m("d3", 0, "John Smith", "PERSON"), m("d4", 0, "J. Smith", "PERSON")]
    res = resolve(ms, NO_EMBED)
    assert sorted((e.name, e.aliases) for e in res.entities) == [
        ("John Smith", ("J. Smith",)), ("Wilfried Willi Schneider", ("Willi Schneider",))
    ]
    assert [r for r in reasons(res) if r[2] == "person-name"] == [
        ("J. Smith", "John Smith", "person-name", 0.9),
        ("Willi Schneider", "Wilfried Willi Schneider", "person-name", 0.9),
    ]


def test_an_initial_with_two_candidates_is_not_merged_but_linked_to_both():
    ms = [m("d1", 0, "John Smith", "PERSON"), m("d2", 0, "Jane Smith", "PERSON"), m("d3", 0, "J. Smith", "PERSON")]
    res = resolve(ms, NO_EMBED)
    ids = {e.name: e.id for e in res.entities}
    assert sorted(ids) == ["J. Smith", "Jane Smith", "John Smith"]
    assert res.synonyms == tuple(sorted(
        [SynonymLink(*sorted((ids["J. Smith"], ids[other])), 0.5, "person-name") for other in ("Jane Smith", "John Smith")],
        key=lambda s: (s.a, s.b, s.reason),
    ))


def test_spelled_out_middle_initials_keep_two_people_apart():
    ms = [m("d1", 0, "George W. Bush", "PERSON"), m("d2", 0, "George H. W. Bush", "PERSON")]
    assert sorted(e.name for e in resolve(ms, NO_EMBED).entities) == ["George H. W. Bush", "George W. Bush"]


# ---- rule 4: acronyms -----------------------------------------------------------------------------------


def test_an_acronym_only_links_to_its_long_form_across_documents():
    # a globally unique long form is often the wrong expansion, so across documents it is an edge
    long = "Fédération Internationale de Bobsleigh et de Tobogganing"
    ms = [m("d1", 0, "FIBT", "ORG"), m("d2", 0, long, "ORG"), m("d3", 0, "FIBT", "ORG")]
    res = resolve(ms, NO_EMBED)
    ids = {e.name: e.id for e in res.entities}
    assert sorted((e.name, e.aliases) for e in res.entities) == [("FIBT", ()), (long, ())]
    assert [(s.a, s.b, s.score, s.reason) for s in res.synonyms] == [
        tuple(sorted((ids["FIBT"], ids[long]))) + (1.0, "acronym")
    ]


def test_an_acronym_joins_the_long_form_written_in_its_own_document():
    long = "Fédération Internationale de Bobsleigh et de Tobogganing"
    ms = [m("d1", 0, long, "ORG"), m("d1", 80, "FIBT", "ORG")]
    res = resolve(ms, NO_EMBED)
    assert [(e.name, e.aliases) for e in res.entities] == [(long, ("FIBT",))]


def test_an_ambiguous_acronym_is_linked_not_merged_unless_its_document_defines_it():
    ms = [m("d1", 0, "UN", "ORG"), m("d2", 0, "United Nations", "ORG"), m("d3", 0, "Université de Nantes", "ORG"),
          m("d4", 0, "Université de Nantes", "ORG"), m("d4", 40, "UN", "ORG")]
    res = resolve(ms, NO_EMBED)
    ids = {e.name: e.id for e in res.entities}
    assert sorted((e.name, e.aliases) for e in res.entities) == [
        ("UN", ()), ("United Nations", ()), ("Université de Nantes", ("UN",))
    ]
    assert res.assignments[ms[4].id] == ids["Université de Nantes"]
    assert res.assignments[ms[0].id] == ids["UN"]
    assert [(s.score, s.reason) for s in res.synonyms] == [(0.5, "acronym"), (0.5, "acronym")]
    assert {frozenset((s.a, s.b)) for s in res.synonyms} == {
        frozenset((ids["UN"], ids["United Nations"])), frozenset((ids["UN"], ids["Université de Nantes"]))
    }


def test_people_do_not_get_acronyms():
    ms = [m("d1", 0, "JFK", "PERSON"), m("d2", 0, "John Fitzgerald Kennedy", "PERSON")]
    assert sorted(e.name for e in resolve(ms, NO_EMBED).entities) == ["JFK", "John Fitzgerald Kennedy"]


# ---- rule 5: fuzzy spelling variants ---------------------------------------------------------------------


def test_a_spelling_variant_of_compatible_type_merges_fuzzily():
    ms = [m("d1", 0, "Pyotr Ilyich Tchaikovsky", "PERSON"), m("d2", 0, "Pyotr Ilyich Tchaikovsky", "PERSON"),
          m("d3", 0, "Pyotr Ilyich Tchaikowsky", "PERSON")]
    res = resolve(ms, NO_EMBED)
    assert [(e.name, e.aliases) for e in res.entities] == [("Pyotr Ilyich Tchaikovsky", ("Pyotr Ilyich Tchaikowsky",))]
    assert ("Pyotr Ilyich Tchaikowsky", "Pyotr Ilyich Tchaikovsky", "fuzzy", 0.9583) in reasons(res)


def test_fuzzy_respects_the_threshold_and_type_compatibility():
    ms = [m("d1", 0, "Pyotr Ilyich Tchaikovsky", "PERSON"), m("d3", 0, "Pyotr Ilyich Tchaikowsky", "PERSON")]
    assert len(resolve(ms, ResolveConfig(fuzzy_threshold=97.0, use_embeddings=False)).entities) == 2
    mixed = [m("d1", 0, "Pyotr Ilyich Tchaikovsky", "PERSON"), m("d3", 0, "Pyotr Ilyich Tchaikowsky", "WORK_OF_ART")]
    assert len(resolve(mixed, NO_EMBED).entities) == 2


def test_organisations_and_places_may_merge_fuzzily_with_each_other():
    ms = [m("d1", 0, "Royal Albert Hall", "FAC"), m("d1", 30, "Royal Albert Hall", "FAC"),
          m("d2", 0, "Royal Albert Halll", "ORG")]
    res = resolve(ms, NO_EMBED)
    assert [(e.name, e.type, e.aliases) for e in res.entities] == [("Royal Albert Hall", "PLACE", ("Royal Albert Halll",))]


@pytest.mark.parametrize("a, b", [
    ("Super Bowl XX", "Super Bowl XL"),
    ("2002 Winter Olympics", "2006 Winter Olympics"),
    ("First Battle of the Marne", "Second Battle of the Marne"),
])
def test_names_differing_in_a_number_never_merge(a, b):
    res = resolve([m("d1", 0, a, "EVENT"), m("d2", 0, b, "EVENT")], ResolveConfig(fuzzy_threshold=80.0, use_embeddings=False))
    assert sorted(e.name for e in res.entities) == sorted([a, b])


def test_two_close_spellings_in_one_document_are_two_things():
    ms = [m("d1", 0, "Paul Allen Group", "ORG"), m("d1", 40, "Paula Allen Group", "ORG")]
    assert len(resolve(ms, ResolveConfig(fuzzy_threshold=90.0, use_embeddings=False)).entities) == 2
    apart = [m("d1", 0, "Paul Allen Group", "ORG"), m("d2", 0, "Paula Allen Group", "ORG")]
    assert len(resolve(apart, ResolveConfig(fuzzy_threshold=90.0, use_embeddings=False)).entities) == 1


def test_one_word_names_one_letter_apart_stay_apart():
    ms = [m("d1", 0, "Harlem", "GPE"), m("d2", 0, "Haarlem", "GPE"), m("d3", 0, "Edward", "PERSON"),
          m("d4", 0, "Edwards", "PERSON")]
    assert len(resolve(ms, ResolveConfig(fuzzy_threshold=85.0, use_embeddings=False)).entities) == 4


# ---- pronouns ---------------------------------------------------------------------------------------------


def test_pronouns_join_their_antecedent_entity_through_chains():
    title = m("d1", 0, "Ada Lovelace", "PERSON", "title")
    she = m("d1", 30, "She", "PERSON", "pronoun", title.id)
    her = m("d1", 60, "her", "PERSON", "pronoun", she.id)
    res = resolve([her, she, title], NO_EMBED)
    assert res.assignments == {title.id: entity_id("Ada Lovelace", "PERSON"), she.id: entity_id("Ada Lovelace", "PERSON"),
                               her.id: entity_id("Ada Lovelace", "PERSON")}
    assert [(e.name, e.aliases) for e in res.entities] == [("Ada Lovelace", ())]
    assert reasons(res) == [("Ada Lovelace", "Ada Lovelace", "exact", 1.0), ("She", "Ada Lovelace", "pronoun", 1.0),
                            ("her", "Ada Lovelace", "pronoun", 1.0)]


def test_a_pronoun_with_an_unknown_antecedent_is_an_input_error():
    he = m("d1", 30, "He", "PERSON", "pronoun", "d1:m0-9")
    with pytest.raises(InputError) as err:
        resolve([he, m("d1", 40, "Paris", "GPE")], NO_EMBED)
    assert str(err.value) == (
        "d1: pronoun mention 'd1:m30-32' refers to 'd1:m0-9'; expected the id of a non-pronoun mention in the input"
    )


def test_a_title_missing_from_the_text_is_resolved_like_any_mention():
    title = Mention("d1:m0-0", "d1", "d1:p0", 0, 0, "Ada Lovelace", "PERSON", "title")
    res = resolve([title, m("d2", 0, "Ada Lovelace", "PERSON")], NO_EMBED)
    assert [(e.name, e.type) for e in res.entities] == [("Ada Lovelace", "PERSON")]


# ---- canonical names, ids, determinism ------------------------------------------------------------------


def test_canonical_name_is_most_frequent_then_longest_then_alphabetical():
    ms = [m("d1", 0, "USA", "GPE"), m("d2", 0, "U.S.A.", "GPE"), m("d3", 0, "U.S.A.", "GPE"), m("d4", 0, "usa", "GPE")]
    assert [(e.name, e.aliases) for e in resolve(ms, NO_EMBED).entities] == [("U.S.A.", ("USA", "usa"))]
    tie = [m("d1", 0, "USA", "GPE"), m("d2", 0, "U.S.A.", "GPE")]
    assert [e.name for e in resolve(tie, NO_EMBED).entities] == ["U.S.A."]
    same_length = [m("d1", 0, "Usa", "GPE"), m("d2", 0, "USA", "GPE")]
    assert [e.name for e in resolve(same_length, NO_EMBED).entities] == ["USA"]


def test_a_surname_never_names_the_entity_even_when_most_frequent():
    ms = [m("d1", 0, "Ada Lovelace", "PERSON")] + [m("d1", 20 * i, "Lovelace", "PERSON") for i in range(1, 4)]
    assert [e.name for e in resolve(ms, NO_EMBED).entities] == ["Ada Lovelace"]


def _mixed_mentions() -> list[Mention]:
    title = m("d1", 0, "Wilfried Willi Schneider", "PERSON", "title")
    return [
        title, m("d1", 40, "Schneider", "PERSON"), m("d1", 60, "He", "PERSON", "pronoun", title.id),
        m("d1", 80, "FIBT", "ORG"), m("d2", 0, "Fédération Internationale de Bobsleigh et de Tobogganing", "ORG"),
        m("d2", 70, "Chelsea", "GPE"), m("d3", 0, "Chelsea", "ORG"), m("d3", 20, "the skeleton", "CONCEPT", "noun"),
        m("d4", 0, "skeletons", "CONCEPT", "noun"), m("d4", 20, "13 March 1963", "DATE"),
        m("d5", 0, "March 13, 1963", "DATE"), m("d5", 30, "Pyotr Ilyich Tchaikowsky", "PERSON"),
        m("d6", 0, "Pyotr Ilyich Tchaikovsky", "PERSON"), m("d6", 40, "Willi Schneider", "PERSON"),
    ]


def test_the_same_mentions_in_any_order_give_the_identical_resolution():
    ms = _mixed_mentions()
    emb = HashingEmbedder(dim=64)
    cfg = ResolveConfig(embedding_threshold=0.5)
    first = resolve(ms, cfg, emb)
    for order in (list(reversed(ms)), ms[5:] + ms[:5], ms[1::2] + ms[0::2]):
        assert resolve(order, cfg, emb) == first
    assert len(first.entities) == 7
    assert set(first.assignments) == {x.id for x in ms}


def test_entity_ids_are_unique_and_derived_from_name_and_type():
    res = resolve(_mixed_mentions(), NO_EMBED)
    assert len({e.id for e in res.entities}) == len(res.entities)
    assert all(e.id == entity_id(e.name, e.type) for e in res.entities)
    assert set(res.assignments.values()) == {e.id for e in res.entities}


def test_merge_records_explain_each_surface_form_once():
    res = resolve(_mixed_mentions(), NO_EMBED)
    keys = [(r.mention_text, r.entity_id) for r in res.merges]
    assert len(keys) == len(set(keys))
    assert all(isinstance(r, MergeRecord) for r in res.merges)
    assert ("Willi Schneider", "Wilfried Willi Schneider", "person-name", 0.9) in reasons(res)
    assert ("He", "Wilfried Willi Schneider", "pronoun", 1.0) in reasons(res)


# ---- embedding synonyms ----------------------------------------------------------------------------------


class FixedEmbedder:
    """Hand-set unit vectors per name; unknown names point along their own axis."""

    name = "fixed"

    def __init__(self, table: dict[str, tuple[float, ...]]):
        self.table = table

    def embed(self, texts):
        rows = [np.asarray(self.table.get(t, (0.0, 0.0, 0.0, 1.0)), dtype=np.float32) for t in texts]
        out = np.stack(rows)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


TABLE = {"car": (1.0, 0.0, 0.0, 0.0), "automobile": (0.96, 0.28, 0.0, 0.0), "banana": (0.0, 1.0, 0.0, 0.0),
         "2002 Winter Olympics": (0.0, 0.0, 1.0, 0.0), "2006 Winter Olympics": (0.0, 0.0, 1.0, 0.0),
         "Mercury": (0.0, 0.6, 0.8, 0.0), "Mercury City": (0.0, 0.6, 0.8, 0.0)}


class RecordingEmbedder:
    """Passes texts to ``inner`` and remembers them."""

    def __init__(self, inner):
        self.inner, self.name, self.seen = inner, inner.name, []

    def embed(self, texts):
        self.seen.extend(texts)
        return self.inner.embed(texts)


def _synonym_mentions():
    return [m("d1", 0, "car", "CONCEPT", "noun"), m("d2", 0, "automobile", "CONCEPT", "noun"),
            m("d3", 0, "banana", "CONCEPT", "noun"), m("d4", 0, "2002 Winter Olympics", "EVENT"),
            m("d5", 0, "2006 Winter Olympics", "EVENT"), m("d6", 0, "Mercury", "PERSON"),
            m("d7", 0, "Mercury City", "GPE")]


def test_close_embeddings_become_synonym_links_not_merges():
    config = ResolveConfig(embedding_threshold=0.9, embed_concepts=True)
    res = resolve(_synonym_mentions(), config, FixedEmbedder(TABLE))
    ids = {e.name: e.id for e in res.entities}
    assert len(res.entities) == 7
    assert res.synonyms == (SynonymLink(*sorted((ids["car"], ids["automobile"])), 0.96, "embedding"),)


def test_concepts_get_no_embedding_links_unless_asked():
    emb = RecordingEmbedder(FixedEmbedder(TABLE))
    res = resolve(_synonym_mentions(), ResolveConfig(embedding_threshold=0.9), emb)
    assert (len(res.entities), res.synonyms) == (7, ())
    # only names are embedded (people excluded): the concept noun phrases cost nothing
    assert emb.seen == ["2002 Winter Olympics", "2006 Winter Olympics", "Mercury City"]


def test_people_and_names_without_latin_letters_get_no_embedding_links():
    same = (1.0, 0.0, 0.0, 0.0)
    emb = FixedEmbedder({"Thomas Lennon": same, "John Lennon": same, "戈壁": same, "總理": same})
    ms = [m("d1", 0, "Thomas Lennon", "PERSON"), m("d2", 0, "John Lennon", "PERSON"),
          m("d3", 0, "戈壁", "CONCEPT", "noun"), m("d4", 0, "總理", "CONCEPT", "noun")]
    res = resolve(ms, ResolveConfig(embedding_threshold=0.9), emb)
    assert (len(res.entities), res.synonyms) == (4, ())


def test_embedding_links_need_the_flag_and_the_threshold():
    ms, emb = _synonym_mentions(), FixedEmbedder(TABLE)
    assert resolve(ms, ResolveConfig(use_embeddings=False), emb).synonyms == ()
    assert resolve(ms, ResolveConfig(embedding_threshold=0.97), emb).synonyms == ()
    assert resolve(ms, ResolveConfig(), None).synonyms == ()


def test_hashing_embedder_links_names_sharing_words():
    ms = [m("d1", 0, "film director", "CONCEPT", "noun"), m("d2", 0, "director film", "CONCEPT", "noun")]
    config = ResolveConfig(embedding_threshold=0.6, fuzzy_threshold=100.0, embed_concepts=True)
    res = resolve(ms, config, HashingEmbedder(dim=256))
    assert len(res.entities) == 2
    assert [(s.reason, s.score) for s in res.synonyms] == [("embedding", 0.7746)]  # crc32 buckets, fixed


# ---- configuration and scale ------------------------------------------------------------------------------


def test_bad_thresholds_are_config_errors_naming_the_value():
    with pytest.raises(ConfigError, match=r"^resolve.fuzzy_threshold: expected a score from 0 to 100, got 150.0$"):
        resolve([], ResolveConfig(fuzzy_threshold=150.0))
    with pytest.raises(ConfigError, match=r"^resolve.embedding_threshold: expected a cosine from -1 to 1, got 2.0$"):
        resolve([], ResolveConfig(embedding_threshold=2.0))


def test_no_mentions_give_an_empty_resolution():
    res = resolve([], NO_EMBED, HashingEmbedder())
    assert (res.entities, res.assignments, res.merges, res.synonyms) == ((), {}, (), ())


def test_thousands_of_similar_names_resolve_through_blocking():
    # 3,000 numbered stations share one blocking key (sorted-neighbourhood windows) and the number guard
    # keeps them apart; each is mentioned in two documents
    ms = [m(f"d{i % 97}", 100 * i + k, f"Station {i}", "FAC") for i in range(3000) for k in range(2)]
    res = resolve(ms, NO_EMBED)
    assert len(res.entities) == 3000
    assert len(res.assignments) == 6000


@pytest.fixture(scope="session")
def minilm():
    from kg.embedding import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.mark.e2e
def test_packaged_minilm_links_paraphrased_noun_phrases(minilm):
    ms = [m("d1", 0, "film director", "CONCEPT", "noun"), m("d2", 0, "movie director", "CONCEPT", "noun"),
          m("d3", 0, "Paris", "GPE"), m("d4", 0, "London", "GPE")]
    res = resolve(ms, ResolveConfig(embedding_threshold=0.9, embed_concepts=True), minilm)
    ids = {e.name: e.id for e in res.entities}
    assert [(s.a, s.b, s.reason) for s in res.synonyms] == [
        (*sorted((ids["film director"], ids["movie director"])), "embedding")
    ]
    assert 0.95 < res.synonyms[0].score <= 1.0
