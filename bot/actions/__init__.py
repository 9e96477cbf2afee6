"""Custom actions for the Rasa assistant, served by `python -m rasa_sdk --actions bot.actions`."""
