"""The demo shop, loaded into the test's database, for the demo tests."""

import pytest
from sqlalchemy.orm import Session

from crm_store.demo import DemoSummary, load_demo_data
from tests.crm_store.demo_helpers import NOW


@pytest.fixture
def summary(session: Session) -> DemoSummary:
    loaded = load_demo_data(session, now=NOW)
    session.commit()
    return loaded
