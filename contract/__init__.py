"""What our processes agree on with each other, and nothing else: imports nothing of ours.

`contract.rasa` is the Rasa contract, shared by the gateway (`channels`) and the custom
actions (`bot.actions`), so that what one side writes the other reads the same way.
"""
