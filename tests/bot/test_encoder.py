"""The sentence-encoder featurizer (bot/encoder.py), run inside Rasa's environment.

The component imports Rasa, which lives only in .venv-rasa, so the test runs a short
script there: it resolves the class by its config.yml name as Rasa's recipe does,
featurizes messages after the JiebaTokenizer, and prints what it found. Every socket
connection is refused in that process: the encoder must not download anything.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.processes import RASA, RASA_ENV, ROOT

pytestmark = pytest.mark.rasa

_SCRIPT = """
import json, socket

def refuse(*args, **kwargs):
    raise OSError("bot.encoder must not use the network")

socket.socket.connect = refuse
socket.create_connection = refuse

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.shared.utils.common import class_from_module_path

featurizer_class = class_from_module_path("bot.encoder.SentenceEncoderFeaturizer")
context = ExecutionContext(GraphSchema({}), "test")
tokenizer = JiebaTokenizer.create(JiebaTokenizer.get_default_config(), None, None, context)
featurizer = featurizer_class.create(featurizer_class.get_default_config(), None, None, context)

texts = [
    "我的包裹還沒到",
    "訂單一直沒有送達",
    "my parcel hasn't arrived yet",
    "what time do you open",
]
messages = [Message.build(text=text) for text in texts]
tokenizer.process(messages)
featurizer.process(messages)
training = TrainingData([Message.build(text=text, intent="any") for text in texts])
tokenizer.process_training_data(training)
featurizer.process_training_data(training)

found = []
for message in [*messages, *training.training_examples]:
    sequence, sentence = message.get_dense_features("text")
    found.append({
        "tokens": len(message.get("text_tokens")),
        "sequence": list(sequence.features.shape),
        "sentence": list(sentence.features.shape),
    })
vectors = np.vstack([m.get_dense_features("text")[1].features for m in messages])
batched = np.vstack([m.get_dense_features("text")[1].features for m in training.training_examples])
print(json.dumps({
    "features": found,
    "similarity": (vectors @ vectors.T).tolist(),
    "batch_differs_by": float(np.abs(vectors - batched).max()),
}))
"""


@pytest.fixture(scope="module")
def featurized() -> dict[str, object]:
    completed = subprocess.run(
        [str(RASA.parent / "python"), "-c", _SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**RASA_ENV, "PATH": "/usr/bin:/bin"},
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    result: dict[str, object] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def test_every_message_gets_a_sentence_row_and_one_row_per_token(
    featurized: dict[str, object],
) -> None:
    features = featurized["features"]
    assert isinstance(features, list) and len(features) == 8
    for found in features:
        assert found["sentence"] == [1, 512]
        assert found["sequence"] == [found["tokens"], 512]


def test_paraphrases_are_closer_than_unrelated_sentences(featurized: dict[str, object]) -> None:
    similarity = featurized["similarity"]
    assert isinstance(similarity, list)
    parcel_zh, late_zh, parcel_en, hours_en = range(4)
    assert similarity[parcel_zh][late_zh] > similarity[parcel_zh][hours_en]
    # The same complaint in the two languages is closer than an unrelated English question.
    assert similarity[parcel_zh][parcel_en] > similarity[parcel_en][hours_en]
    assert similarity[parcel_zh][parcel_en] > similarity[parcel_zh][hours_en]


def test_training_batches_give_the_same_vectors_as_single_messages(
    featurized: dict[str, object],
) -> None:
    assert featurized["batch_differs_by"] == pytest.approx(0.0, abs=1e-4)
