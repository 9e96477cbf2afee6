"""conversations remember which gateway is answering them, until when; outbox rows
are found by customer identity and status

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 19:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0005'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('answered_by', sa.String(length=96), nullable=True))
        batch_op.add_column(sa.Column('answering_until', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_identity_status', ['identity_id', 'status'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_identity_status')
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_column('answering_until')
        batch_op.drop_column('answered_by')
