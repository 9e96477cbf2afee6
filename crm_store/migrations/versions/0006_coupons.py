"""coupons: every coupon code issued, with its customer, purpose and ticket; the
codes already given on tickets are recorded as complaint coupons

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 23:30:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('coupons',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.Enum('birthday', 'winback', 'complaint', name='couponpurpose', native_enum=False, length=16), nullable=False),
    sa.Column('value', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('idempotency_key', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_coupons_customer_id_customers')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_coupons_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coupons')),
    sa.UniqueConstraint('code', name=op.f('uq_coupons_code')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_coupons_idempotency_key'))
    )
    with op.batch_alter_table('coupons', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_coupons_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_coupons_ticket_id'), ['ticket_id'], unique=False)
    # Codes given before coupons were stored stay issued: a complaint's, on its ticket.
    op.execute(
        "INSERT INTO coupons (code, customer_id, purpose, value, description, ticket_id,"
        " created_at)"
        " SELECT coupon_code, customer_id, 'complaint', compensation_value, compensation_kind,"
        " id, COALESCE(resolved_at, created_at) FROM tickets WHERE coupon_code IS NOT NULL"
    )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('coupons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coupons_ticket_id'))
        batch_op.drop_index(batch_op.f('ix_coupons_customer_id'))
    op.drop_table('coupons')
