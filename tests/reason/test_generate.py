"""Generators: the extractive answerer on hand-made graphs, the OpenAI-compatible client against a real
loopback server, and the local-LM loader on a tiny GGUF written here (plus one e2e run of SmolLM2)."""
from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kg.errors import BackendError, ConfigError
from kg.graph import KnowledgeGraph
from kg.model import (
    Document, Entity, Evidence, Hop, LinkedEntity, Mention, Passage, Retrieval, ScoredEntity, entity_id, mention_id,
)
from kg.registry import create
from reason.context import build_context
from reason.generators.base import Generation, Generator
from reason.generators.extractive import ExtractiveGenerator
from reason.generators.local_lm import TransformersGenerator
from reason.generators.openai_compat import OpenAIGenerator
from reason.generators.nested import describe
from reason.text import states

HERE = Path(__file__).resolve().parent


def build(docs, question, linked=(), candidates=(), chain=()):
    """A one-passage-per-document graph and a retrieval of all its passages in the given order.
    ``docs``: (title, text, {surface: label}); every occurrence of a surface becomes a mention."""
    g = KnowledgeGraph()
    evidence = []
    for rank, (title, text, labels) in enumerate(docs):
        d = Document.from_text(text, source=f"{title}.txt", title=title)
        p = Passage(f"{d.id}:p0", d.id, 0, 0, len(text), text)
        g.documents[d.id], g.passages[p.id] = d, p
        for surface, label in labels.items():
            eid = entity_id(surface, label)
            g.entities[eid] = Entity(eid, surface, label)
            at = text.find(surface)
            while at >= 0:
                m = Mention(mention_id(d.id, at, at + len(surface)), d.id, p.id, at, at + len(surface), surface,
                            label, "ner")
                g.mentions[m.id], g.assignments[m.id] = m, eid
                at = text.find(surface, at + 1)
        evidence.append(Evidence(p.id, d.id, title, text, 1.0 / (rank + 1), "hybrid", rank))
    ents = {e.name: e for e in g.entities.values()}
    link = tuple(LinkedEntity(n, ents[n].id, n, ents[n].type, 1.0, "exact") for n in linked)
    cands = tuple(ScoredEntity(ents[n].id, n, ents[n].type, 1.0 / (i + 1)) for i, n in enumerate(candidates))
    return g, Retrieval(question, "hybrid", tuple(evidence), tuple(chain), link, cands)


def extract(docs, question, **kw) -> Generation:
    g, r = build(docs, question, **kw)
    return ExtractiveGenerator().generate(build_context(r, g))


TITANIC = ("Titanic", "Titanic is a 1997 American film directed by James Cameron. It was a box office hit.",
           {"Titanic": "WORK_OF_ART", "American": "NORP", "James Cameron": "PERSON"})
CAMERON = ("James Cameron", "James Cameron was born on August 16, 1954 in Kapuskasing, Canada. "
           "He moved to New Zealand. He won eleven Oscars.",
           {"James Cameron": "PERSON", "Kapuskasing": "GPE", "Canada": "GPE", "New Zealand": "GPE"})
ALPHA = ("Alpha", "Alpha is a 1960 drama film directed by John Smith.", {"Alpha": "WORK_OF_ART", "John Smith": "PERSON"})
BETA = ("Beta", "Beta is a 1958 comedy film directed by Mary Jones.", {"Beta": "WORK_OF_ART", "Mary Jones": "PERSON"})
SMITH = ("John Smith", "John Smith (2 May 1930 – 1 June 1990) was an English film director.",
         {"John Smith": "PERSON", "English": "NORP"})
JONES = ("Mary Jones", "Mary Jones (July 23, 1935 – 2001) was an American film director.",
         {"Mary Jones": "PERSON", "American": "NORP"})


# ---- extractive: factoid ---------------------------------------------------------------------------

def test_bridge_question_answers_from_second_hop_and_cites_both_hops():
    gen = extract([TITANIC, CAMERON], "Where was the director of Titanic born?", linked=["Titanic"])
    assert (gen.text, gen.found) == ("Kapuskasing", True)
    assert [c.quote for c in gen.citations] == [
        "James Cameron was born on August 16, 1954 in Kapuskasing, Canada.",
        "Titanic is a 1997 American film directed by James Cameron.",
    ]
    assert gen.usage == {"llm_calls": 0, "prompt_tokens": 0, "completion_tokens": 0}


def test_end_of_reasoning_chain_is_preferred():
    chain = (Hop("Titanic", "directed by", "James Cameron"), Hop("James Cameron", "born in", "Canada"))
    gen = extract([TITANIC, CAMERON], "Where was the director of Titanic born?", linked=["Titanic"], chain=chain)
    assert gen.text == "Canada"


def test_graph_candidate_rank_breaks_ties():
    gen = extract([TITANIC, CAMERON], "Where was the director of Titanic born?", linked=["Titanic"],
                  candidates=["Canada", "Kapuskasing"])
    assert gen.text == "Canada"


@pytest.mark.parametrize(
    "question, expected",
    [
        ("Who directed Titanic?", "James Cameron"),
        ("When was James Cameron born?", "August 16, 1954"),
        ("How many Oscars did James Cameron win?", "eleven"),
        ("What nationality is the film Titanic?", "American"),
    ],
)
def test_answer_type_follows_the_question(question, expected):
    linked = ["James Cameron"] if "James Cameron" in question else ["Titanic"]
    assert extract([TITANIC, CAMERON], question, linked=linked).text == expected


def test_question_entities_are_never_the_answer():
    gen = extract([CAMERON], "Who was born in Kapuskasing?", linked=["Kapuskasing"])
    assert gen.text == "James Cameron"
    gen = extract([TITANIC], "Who is James Cameron?", linked=["James Cameron"])
    assert (gen.text, gen.found, gen.citations) == ("Not found in the documents.", False, ())


def test_no_candidate_of_the_expected_type_is_not_found():
    gen = extract([ALPHA], "Where was Alpha filmed?", linked=["Alpha"])
    assert (gen.text, gen.found) == ("Not found in the documents.", False)


# Documentation asks what a thing is called ("which command ...") in words no NER type covers.
PRUNE = ("npm-prune", "This command removes extraneous packages. If the `NODE_ENV` environment variable is set "
         "to production, this command will remove the packages in devDependencies. See the Synopsis.",
         {"Synopsis": "WORK_OF_ART", "devDependencies": "ORG", "NODE_ENV environment variable": "CONCEPT"})
DOCTOR = ("npm-doctor", "This command runs a set of checks on your JavaScript environment. Run it from Node.js.",
          {"JavaScript": "PRODUCT", "Node.js": "ORG"})
PROCESS = ("process", "The `'warning'` event is emitted whenever Node.js emits a process warning. The "
           "EventEmitter class defines it.", {"Node.js": "ORG", "EventEmitter": "EVENT"})
TREATY = ("Union", "The union began with the signing of the Maastricht Treaty in 1992 by twelve states.",
          {"Maastricht Treaty": "LAW", "1992": "DATE"})


@pytest.mark.parametrize("question, expected", [
    ("Which command removes extraneous packages?", "npm-prune"),  # "this command" in the source npm-prune
    ("Which command checks your JavaScript environment?", "npm-doctor"),
    ("What environment variable makes npm prune remove devDependencies?", "NODE_ENV"),  # a code span and its kind
    ("Which event is emitted whenever Node.js emits a process warning?", "warning"),  # over an EVENT name
    ("The union began with the signing of what treaty?", "Maastricht Treaty"),  # the head is part of the name
])
def test_a_thing_asked_for_by_its_kind_is_what_the_evidence_calls_so(question, expected):
    assert extract([PRUNE, DOCTOR, PROCESS, TREATY], question).text == expected


API = ("OS", "## `os.hostname()`\n\nReturns the host name of the operating system.\n\n## `os.type()`\n\n"
       "Returns the kernel type, such as Linux or Darwin.\n\nThis method is documented in Unix.",
       {"Linux": "ORG", "Darwin": "PERSON", "Unix": "ORG"})


@pytest.mark.parametrize("question, expected", [
    ("Which method returns the host name of the operating system?", "os.hostname()"),  # subject-less, under it
    ("Which method returns the kernel type?", "os.type()"),
    ("Which method is documented in Unix?", "os.type()"),  # "this method" is the section's, not the page's
])
def test_an_api_page_answers_with_the_heading_its_sentence_is_written_under(question, expected):
    g, r = build([API], question)
    doc = next(iter(g.documents.values()))
    heads = tuple((m.start(), m.group(1)) for m in re.finditer(r"## `(.+?)`", doc.text))  # as a build stores them
    g.documents[doc.id] = dataclasses.replace(doc, sections=heads)
    assert ExtractiveGenerator().generate(build_context(r, g)).text == expected


@pytest.mark.parametrize("question", [
    "What does this command do with packages?",  # a description, not a name
    "What are the aliases of the command that removes packages?",  # nothing is called an alias
    "Which license covers the packages?",  # no license named
])
def test_a_question_of_no_known_answer_type_is_not_answered_with_any_name(question):
    gen = extract([PRUNE, DOCTOR, PROCESS], question)  # any name would do before: "devDependencies" for all three
    assert (gen.text, gen.found) == ("Not found in the documents.", False)
    assert gen.note.startswith("the extractive reader answers with a name, date or number of the kind asked")


def test_a_question_of_a_known_kind_with_no_answer_gives_no_reason_beyond_not_found():
    assert extract([ALPHA], "Where was Alpha filmed?", linked=["Alpha"]).note == ""
    assert extract([PRUNE], "Which command removes extraneous packages?").note == ""  # answered


def test_empty_context_is_not_found():
    g, r = build([], "Who directed Titanic?")
    assert ExtractiveGenerator().generate(build_context(r, g)) == Generation("Not found in the documents.", False)


# ---- extractive: nested questions ------------------------------------------------------------------

@pytest.mark.parametrize(
    "question, expected",
    [
        ("What is the seat of the county where Van Hook Township is located?",
         ("the county where Van Hook Township is located", "county", ("seat",))),
        ("What team was Anna Benson's husband on?", ("Anna Benson's husband", "husband", ("team",))),
        ("When did James Stanley (Bishop)'s father die?", ("James Stanley (Bishop)'s father", "father", ("die",))),
        ("What year did the author of The First Blast of the Trumpet die?",
         ("the author of The First Blast of the Trumpet", "author", ("year", "die"))),
        ("Where was the director of film Oh Billy, Behave born?",
         ("the director of film Oh Billy, Behave", "director", ("born",))),
    ],
)
def test_describe_finds_the_innermost_description_and_the_words_outside_it(question, expected):
    d = describe(question)
    assert (d.text, d.noun, d.outer_words) == expected


@pytest.mark.parametrize(
    "question", ["Who is the director of Titanic?", "Who is Anna Benson's husband?", "Who directed Titanic?"]
)
def test_describe_is_none_when_the_question_asks_for_the_described_entity(question):
    assert describe(question) is None


VAN_HOOK = ("Van Hook Township", "Van Hook Township is a township in Mountrail County, North Dakota.",
            {"Van Hook Township": "GPE", "Mountrail County": "GPE", "North Dakota": "GPE"})
MOUNTRAIL = ("Mountrail County", "Mountrail County is a county in North Dakota. Its county seat is Stanley.",
             {"Mountrail County": "GPE", "North Dakota": "GPE", "Stanley": "GPE"})


def test_nested_question_answers_about_the_bridge_not_with_it():
    chain = (Hop("Van Hook Township", "township_in", "Mountrail County"),)
    gen = extract([VAN_HOOK, MOUNTRAIL], "What is the seat of the county where Van Hook Township is located?",
                  linked=["Van Hook Township"], candidates=["Mountrail County", "North Dakota"], chain=chain)
    assert (gen.text, gen.found) == ("Stanley", True)
    assert [c.quote for c in gen.citations] == [
        "Its county seat is Stanley.", "Van Hook Township is a township in Mountrail County, North Dakota."
    ]


def test_nested_question_prefers_the_bridge_with_its_own_source_and_related_words():
    north_star = ("The North Star", "The North Star was a newspaper published by Frederick Douglass in Rochester.",
                  {"The North Star": "WORK_OF_ART", "Frederick Douglass": "PERSON", "Rochester": "GPE"})
    douglass = ("Frederick Douglass", "Frederick Douglass was a writer. Gerrit Smith was a friend of Douglass.",
                {"Frederick Douglass": "PERSON", "Gerrit Smith": "PERSON"})
    helen = ("Helen Pitts", "Helen Pitts was the second wife of Frederick Douglass.",
             {"Helen Pitts": "PERSON", "Frederick Douglass": "PERSON"})
    gen = extract([north_star, douglass, helen], "Who married the publisher of The North Star?",
                  linked=["The North Star"])
    assert gen.text == "Helen Pitts"


def test_possessive_bridge_then_attribute_of_the_expected_type():
    anna = ("Anna Benson", "Anna Benson is the wife of Kris Benson, a baseball pitcher from Kentucky.",
            {"Anna Benson": "PERSON", "Kris Benson": "PERSON", "Kentucky": "GPE"})
    kris = ("Kris Benson", "Kris Benson pitched for the Pittsburgh Pirates in Pennsylvania.",
            {"Kris Benson": "PERSON", "Pittsburgh Pirates": "ORG", "Pennsylvania": "GPE"})
    gen = extract([anna, kris], "What team was Anna Benson's husband on?", linked=["Anna Benson"])
    assert gen.text == "Pittsburgh Pirates"


def test_nested_question_with_nothing_about_the_bridge_answers_the_whole_question():
    alpha = ("Alpha", "Alpha is a 1960 drama film directed by John Smith. Its director was born in 1930.",
             {"Alpha": "WORK_OF_ART", "John Smith": "PERSON"})
    gen = extract([alpha], "When was the director of Alpha born?", linked=["Alpha"])
    assert (gen.text, gen.found) == ("1930", True)


def test_nested_question_abstains_when_no_sentence_states_what_it_asks():
    # 1960 is the film's year: no sentence says when anyone was born, so there is no answer
    gen = extract([ALPHA], "When was the director of Alpha born?", linked=["Alpha"])
    assert (gen.text, gen.found) == ("Not found in the documents.", False)


def test_nested_question_abstains_when_no_entity_fits_its_description():
    # Alpha's director is not in the evidence; Beta's director's birth year answers another question
    beta = ("Beta", "Beta is a 1958 comedy film. Its director Mary Jones was born in 1935. Alpha was shown after it.",
            {"Beta": "WORK_OF_ART", "Mary Jones": "PERSON", "Alpha": "WORK_OF_ART"})
    gen = extract([beta], "When was the director of Alpha born?", linked=["Alpha"])
    assert (gen.text, gen.found) == ("Not found in the documents.", False)


@pytest.mark.parametrize(
    "question, expected",
    [
        ("When did the director of Alpha die?", "1 June 1990"),
        ("What is the date of birth of the director of Alpha?", "2 May 1930"),
        ("When is the birthday of the director of Alpha?", "2 May 1930"),
    ],
)
def test_lifespan_parenthesis_states_birth_and_death(question, expected):
    # "(2 May 1930 – 1 June 1990)" says when John Smith was born and died, without the words
    gen = extract([ALPHA, SMITH], question, linked=["Alpha"])
    assert (gen.text, gen.found) == (expected, True)
    assert [c.quote for c in gen.citations] == [SMITH[1], ALPHA[1]]


def test_lifespan_parenthesis_does_not_state_a_place():
    # where he died is not in "(2 May 1930 – 1 June 1990) was an English film director"
    smith = ("John Smith", "John Smith (2 May 1930 – 1 June 1990) was a film director of London.",
             {"John Smith": "PERSON", "London": "GPE"})
    gen = extract([ALPHA, smith], "Where did the director of Alpha die?", linked=["Alpha"])
    assert (gen.text, gen.found) == ("Not found in the documents.", False)


def test_answer_from_evidence_that_never_names_the_question_subject_is_not_found():
    # The sentence states "county" and "seat", but about another township: not this question's subject
    other = ("Roundhead Township", "Roundhead Township is a township of Hardin County, Ohio. Its seat is Ada.",
             {"Roundhead Township": "GPE", "Hardin County": "GPE", "Ohio": "GPE", "Ada": "GPE"})
    gen = extract([other], "What is the seat of the county where Van Hook Township is located?")
    assert (gen.text, gen.found) == ("Not found in the documents.", False)
    gen = extract([other], "What is the seat of the county where Roundhead Township is located?")
    assert (gen.text, gen.found) == ("Ada", True)


def test_answer_sentence_must_state_the_relation_asked_for():
    gen = extract([CAMERON], "Who is the sibling of James Cameron?", linked=["James Cameron"])
    assert (gen.text, gen.found) == ("Not found in the documents.", False)


# ---- extractive: comparisons and yes/no -------------------------------------------------------------

@pytest.mark.parametrize(
    "question, expected",
    [
        ("Which film came out first, Alpha or Beta?", "Beta"),
        ("Which film was released more recently, Alpha or Beta?", "Alpha"),
        ("Which film has the director born earlier, Alpha or Beta?", "Alpha"),
        ("Which film whose director is younger, Alpha or Beta?", "Beta"),
        ("Which film has the director who died first, Alpha or Beta?", "Alpha"),
        ("Who was born later, John Smith or Mary Jones?", "Mary Jones"),
        ("Was John Smith or Mary Jones born first?", "John Smith"),
        ("Which film has the director who died later, Alpha or Beta?", "Beta"),
        ("Who lived longer, John Smith or Mary Jones?", "Mary Jones"),  # 60 years against 66 or 65
        ("Who lived shorter, John Smith or Mary Jones?", "John Smith"),
        ("Who was born first out of Mary Jones and John Smith?", "John Smith"),
    ],
)
def test_choice_comparisons_pick_an_option_by_the_dates_in_evidence(question, expected):
    gen = extract([ALPHA, BETA, SMITH, JONES], question)
    assert (gen.text, gen.found) == (expected, True)


def test_bridge_comparison_cites_role_and_date_sentences():
    gen = extract([ALPHA, BETA, SMITH, JONES], "Which film has the director born earlier, Alpha or Beta?")
    assert [c.quote for c in gen.citations] == [
        "Alpha is a 1960 drama film directed by John Smith.",
        "John Smith (2 May 1930 – 1 June 1990) was an English film director.",
        "Beta is a 1958 comedy film directed by Mary Jones.",
        "Mary Jones (July 23, 1935 – 2001) was an American film director.",
    ]


def test_role_holder_mislabelled_by_ner_is_found_through_their_own_source():
    # spaCy calls some people ORG; a name with a source of its own is still the film's director
    alpha = ("Alpha", "Alpha is a 1960 drama film directed by John Smith.", {"Alpha": "WORK_OF_ART", "John Smith": "ORG"})
    gen = extract([alpha, BETA, SMITH, JONES], "Which film has the director born first, Alpha or Beta?")
    assert (gen.text, gen.found) == ("Alpha", True)


def test_choice_without_a_value_for_an_option_is_not_found():
    gen = extract([ALPHA, SMITH], "Which film came out first, Alpha or Gamma?")
    assert (gen.text, gen.found) == ("Not found in the documents.", False)


@pytest.mark.parametrize(
    "docs, question, expected",
    [
        ([SMITH, JONES], "Are John Smith and Mary Jones of the same nationality?", "no"),
        ([CAMERON, JONES], "Are James Cameron and Mary Jones both from the same country?", "no"),
        ([ALPHA, BETA, SMITH, JONES], "Do the directors of films Alpha and Beta share the same nationality?", "no"),
        ([TITANIC, ("Ann Lee", "Ann Lee is an American writer.", {"Ann Lee": "PERSON", "American": "NORP"}), JONES],
         "Are Ann Lee and Mary Jones of the same nationality?", "yes"),
    ],
)
def test_same_nationality(docs, question, expected):
    assert extract(docs, question).text == expected


def test_same_nationality_reads_title_subjects_and_maps_demonyms():
    uk = ("Tom Hill", "Tom Hill was a British actor.", {"Tom Hill": "PERSON", "British": "NORP"})
    assert extract([SMITH, uk], "Are John Smith and Tom Hill of the same nationality?").text == "yes"


@pytest.mark.parametrize(
    "question, expected",
    [("Is Titanic directed by James Cameron?", "yes"), ("Is Titanic a French cartoon?", "no")],
)
def test_yes_no(question, expected):
    gen = extract([TITANIC], question, linked=["Titanic"])
    assert (gen.text, gen.found) == (expected, True)
    assert [c.quote for c in gen.citations] == ["Titanic is a 1997 American film directed by James Cameron."]


def test_yes_no_about_a_subject_the_evidence_never_names_is_not_found():
    gen = extract([TITANIC], "Is Avatar directed by James Cameron?")
    assert (gen.text, gen.found) == ("Not found in the documents.", False)
    assert extract([TITANIC], "Is Titanic directed by James Cameron?").text == "yes"  # named, though not linked


# ---- registry and protocol ------------------------------------------------------------------------

@pytest.mark.parametrize("name, cls", [("extractive", ExtractiveGenerator), ("transformers", TransformersGenerator)])
def test_registry_builds_generators_from_generate_settings(name, cls):
    gen = create("generator", name, model="", base_url="", api_key_env="KG_OPENAI_API_KEY", max_new_tokens=16)
    assert isinstance(gen, cls) and isinstance(gen, Generator)


# ---- OpenAI-compatible server ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def server_url():
    proc = subprocess.Popen([sys.executable, str(HERE / "fake_openai_server.py")], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("PORT "), line
        yield f"http://127.0.0.1:{line.split()[1]}/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def titanic_context():
    g, r = build([TITANIC, CAMERON], "Who directed Titanic?", linked=["Titanic"])
    return build_context(r, g)


def test_openai_generator_answers_and_reports_usage(server_url):
    ctx = titanic_context()
    gen = OpenAIGenerator(model="tiny", base_url=server_url).generate(ctx)
    assert (gen.text, gen.found) == ("Titanic", True)
    assert [c.quote for c in gen.citations] == ["Titanic is a 1997 American film directed by James Cameron."]
    from reason.generators.llm import chat_messages
    words = sum(len(m["content"].split()) for m in chat_messages(ctx))
    assert gen.usage == {"llm_calls": 1, "prompt_tokens": words, "completion_tokens": 1}


def test_openai_generator_sends_settings_and_key(server_url, monkeypatch):
    ctx = titanic_context()
    gen = OpenAIGenerator(model="echo-params", base_url=server_url, max_new_tokens=7).generate(ctx)
    assert gen.text == "temperature=0 max_tokens=7"
    monkeypatch.setenv("MY_KEY", "s3cret")
    gen = OpenAIGenerator(model="echo-auth", base_url=server_url, api_key_env="MY_KEY").generate(ctx)
    assert gen.text == "Bearer s3cret"


def test_openai_generator_settings_from_environment(server_url, monkeypatch):
    monkeypatch.setenv("KG_OPENAI_BASE_URL", server_url)
    monkeypatch.setenv("KG_OPENAI_MODEL", "refuse")
    gen = OpenAIGenerator()
    assert (gen.url, gen.name) == (server_url + "/chat/completions", "openai:refuse")
    assert gen.generate(titanic_context()).found is False


@pytest.mark.parametrize(
    "model, message",
    [
        ("fail-500", "/v1/chat/completions returned HTTP 500: {\"error\": \"model exploded\"}"),
        ("not-json", "/v1/chat/completions replied with malformed JSON: b'<html>gateway</html>'"),
        ("no-choices", "/v1/chat/completions replied without choices[0].message.content: {\"object\": \"chat.completion\"}"),
    ],
)
def test_openai_generator_server_errors(server_url, model, message):
    with pytest.raises(BackendError) as err:
        OpenAIGenerator(model=model, base_url=server_url).generate(titanic_context())
    assert str(err.value) == server_url.removesuffix("/v1") + message


def test_openai_generator_connection_refused():
    import socket

    with socket.socket() as s:  # a port that was free a moment ago and has no listener
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(BackendError) as err:
        OpenAIGenerator(model="m", base_url=f"http://127.0.0.1:{port}/v1", timeout=5).generate(titanic_context())
    assert str(err.value) == (
        f"cannot reach OpenAI-compatible server at http://127.0.0.1:{port}/v1/chat/completions: connection refused"
    )


def test_openai_generator_needs_url_and_model(monkeypatch):
    monkeypatch.delenv("KG_OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("KG_OPENAI_MODEL", raising=False)
    with pytest.raises(ConfigError, match="set it or \\$KG_OPENAI_BASE_URL"):
        OpenAIGenerator(model="m")
    with pytest.raises(ConfigError, match="expected an http\\(s\\) URL, got 'localhost:1'"):
        OpenAIGenerator(model="m", base_url="localhost:1")
    with pytest.raises(ConfigError, match="set it or \\$KG_OPENAI_MODEL"):
        OpenAIGenerator(base_url="http://127.0.0.1:1/v1")


# ---- local transformers LM ---------------------------------------------------------------------------

def test_gguf_is_converted_once_to_safetensors_and_reloaded_from_cache(tiny_gguf, tmp_path):
    from reason.generators import local_lm

    gen = TransformersGenerator(model=str(tiny_gguf), max_new_tokens=5, cache_dir=str(tmp_path))
    assert gen.name == "transformers:tiny"
    folder = gen.folder()
    assert folder.parent == tmp_path / "models" and folder.name.startswith("tiny-")
    assert sorted(p.name for p in folder.glob("*.safetensors")) == ["model.safetensors"]
    assert [p.name for p in tmp_path.joinpath("models").iterdir()] == [folder.name]  # no temp folder left
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    again = TransformersGenerator(model=str(tiny_gguf), cache_dir=str(tmp_path)).folder()
    assert again == folder and (folder / "model.safetensors").stat().st_mtime_ns == stamp
    local_lm._LOADED.pop(str(folder.resolve()), None)
    model, tok = local_lm.load_model(folder)
    assert (model.config.num_hidden_layers, model.config.hidden_size, len(tok)) == (2, 16, 260)
    from transformers import AutoModelForCausalLM
    import torch

    direct = AutoModelForCausalLM.from_pretrained(str(tiny_gguf.parent), gguf_file=tiny_gguf.name)
    ids = torch.tensor([[1, 2, 3, 4, 5]])
    assert torch.equal(direct(ids).logits, model(ids).logits)  # the cache holds the same weights


def test_stale_cache_version_is_rebuilt(tiny_gguf, tmp_path):
    gen = TransformersGenerator(model=str(tiny_gguf), cache_dir=str(tmp_path))
    folder = gen.folder()
    (folder / "kgreason-cache.json").write_text('{"format": "kgreason-model-cache", "version": 0}')
    assert gen.folder() == folder
    assert '"version": 1' in (folder / "kgreason-cache.json").read_text()


def test_tiny_model_generates_with_chat_template_and_counts_tokens(tiny_gguf, tmp_path):
    gen = TransformersGenerator(model=str(tiny_gguf), max_new_tokens=4, cache_dir=str(tmp_path))
    ctx = titanic_context()
    out = gen.generate(ctx)
    from reason.generators.llm import chat_messages
    from reason.generators.local_lm import load_model

    tok = load_model(gen.folder())[1]
    prompt = tok.apply_chat_template(chat_messages(ctx), tokenize=False, add_generation_prompt=True)
    assert prompt.startswith("<|im_start|>system\nYou answer questions using only the numbered sources.")
    assert out.usage["llm_calls"] == 1
    assert out.usage["prompt_tokens"] == len(tok(prompt, add_special_tokens=False)["input_ids"])
    assert 1 <= out.usage["completion_tokens"] <= 4
    assert gen.count_tokens("hello there") == 10  # one token per byte, the merged ' t' counted once


def test_bad_model_setting_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as err:
        TransformersGenerator(model=str(tmp_path))
    assert str(err.value) == (
        f"generate.model: {str(tmp_path)!r} is not a transformers model folder (with config.json), a .gguf file, "
        "or a folder holding one .gguf file"
    )


@pytest.fixture(scope="session")
def smollm2():
    # the user's model cache ($KG_CACHE_DIR), as in real use: the 16 s GGUF conversion is paid once
    # per machine, not once per test session (the conversion itself is tested on the tiny GGUF above)
    return TransformersGenerator(max_new_tokens=16)


@pytest.mark.e2e
def test_packaged_smollm2_answers_from_the_sources(smollm2):
    out = smollm2.generate(titanic_context())
    assert out.found and "cameron" in out.text.casefold()
    assert out.usage["llm_calls"] == 1 and out.usage["prompt_tokens"] > 50
    assert [c.quote for c in out.citations] == [
        "Titanic is a 1997 American film directed by James Cameron.",
        "James Cameron was born on August 16, 1954 in Kapuskasing, Canada.",
    ]


@pytest.mark.parametrize(
    "sentence_words, word, expected",
    [({"wife", "helen"}, "marry", True), ({"son", "robert"}, "fath", True), ({"born", "paris"}, "die", False)],
)
def test_states_counts_words_of_the_same_relation(sentence_words, word, expected):
    assert states(sentence_words, word) is expected
