"""outbox rows point at the transcript message they deliver; provider ids are indexed

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 17:40:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbox_message_id'), ['message_id'], unique=False)
        batch_op.create_index(
            batch_op.f('ix_outbox_provider_message_id'), ['provider_message_id'], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f('fk_outbox_message_id_messages'), 'messages', ['message_id'], ['id']
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_outbox_message_id_messages'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_outbox_provider_message_id'))
        batch_op.drop_index(batch_op.f('ix_outbox_message_id'))
        batch_op.drop_column('message_id')
