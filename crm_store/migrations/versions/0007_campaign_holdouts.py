"""campaign holdouts: a share of each campaign's audience held out and measured against

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 23:40:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0007'
down_revision: Union[str, Sequence[str], None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('campaign_holdouts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('held_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_holdouts_campaign_id_campaigns')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_campaign_holdouts_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_holdouts')),
    sa.UniqueConstraint('campaign_id', 'customer_id', name=op.f('uq_campaign_holdouts_campaign_id_customer_id'))
    )
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('holdout_percent', sa.SmallInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('holdout_seed', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('conversion_days', sa.SmallInteger(), server_default='14', nullable=False))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_column('conversion_days')
        batch_op.drop_column('holdout_seed')
        batch_op.drop_column('holdout_percent')
    op.drop_table('campaign_holdouts')
