"""The scheduler's outreach: a planner per kind, each ``plan(session, *, now, settings)
-> int`` (how many messages it queued), run in turn by the scheduler's tick.

`birthday`, `survey` and `winback` are the built-in outreach; `campaign` runs the
marketers' campaigns. Which identity a message goes to, the campaigns' data, audiences,
templates and approval are the store's; the planners decide only what is due now.
"""

from scheduler.outreach import birthday, campaign, survey, winback
from scheduler.outreach.base import Planner

# In the order the tick runs them, each in its own transaction.
PLANNERS: dict[str, Planner] = {
    "birthdays": birthday.plan,
    "surveys": survey.plan,
    "winback": winback.plan,
    "campaigns": campaign.plan,
}

__all__ = ["PLANNERS", "Planner", "birthday", "campaign", "survey", "winback"]
