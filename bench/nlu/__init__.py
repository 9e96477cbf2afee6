"""Benchmark of the assistant: how well it understands, and how fast it answers.

    .venv/bin/python -m bench.nlu [--model PATH] [--skip-training] [--conversations 20]

1. Trains a fresh model from bot/data with config.yml and domain.yml into a temporary
   folder (with its own, empty Rasa cache, so nothing is reused) and times it. With
   ``--skip-training --model PATH`` it uses a copy of that model instead.
2. Runs ``rasa test nlu`` on bench/nlu_heldout.yml, examples the model never trains on
   (checked here: none appears verbatim in bot/data/nlu), and on bench/nlu_dev.yml when it
   exists (customer-style messages). Simplified Chinese is turned into Traditional first,
   as the gateway does (see bench/nlu_sets.py). It computes intent accuracy, macro-F1 and
   every intent's precision, recall and F1 for zh-TW, English and Simplified separately,
   and the recall of the complaint intents.
3. Starts the real action server and Rasa server on a fresh, migrated SQLite store, and
   drives whole conversations one at a time through `RasaClient.send` (greeting, order
   status, a delivery complaint through all eight steps, thanks, goodbye), in Chinese and
   English by turns, timing every message's round trip. Where the time goes comes from
   the timestamps of the tracker's events. Then reads the Rasa server's resident memory.
4. Times Rasa's own check of one action-server reply (``jsonschema.validate`` against
   its response schema), which Rasa runs after every custom action; the installed
   jsonschema version decides most of it (see requirements-rasa.txt).

It prints figures and a summary with the targets; it never asserts. Everything it makes
lives in a temporary folder, removed at the end with the servers stopped, also on Ctrl-C.
"""
