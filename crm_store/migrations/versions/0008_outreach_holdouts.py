"""outreach holdouts: the birthday greetings and win-back messages held out and never sent

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 00:15:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0008'
down_revision: Union[str, Sequence[str], None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('outreach_holdouts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('held_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_outreach_holdouts_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outreach_holdouts')),
    sa.UniqueConstraint('key', name=op.f('uq_outreach_holdouts_key'))
    )
    with op.batch_alter_table('outreach_holdouts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outreach_holdouts_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index('ix_outreach_holdouts_kind_held_at', ['kind', 'held_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('outreach_holdouts', schema=None) as batch_op:
        batch_op.drop_index('ix_outreach_holdouts_kind_held_at')
        batch_op.drop_index(batch_op.f('ix_outreach_holdouts_customer_id'))
    op.drop_table('outreach_holdouts')
