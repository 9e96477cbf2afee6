"""link codes: one-time codes by SMS that join a LINE chat to a known phone's customer

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 05:40:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0012'
down_revision: Union[str, Sequence[str], None] = '0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('link_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('chat_identity_id', sa.Integer(), nullable=False),
    sa.Column('phone_identity_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=6), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['chat_identity_id'], ['channel_identities.id'], name=op.f('fk_link_codes_chat_identity_id_channel_identities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['phone_identity_id'], ['channel_identities.id'], name=op.f('fk_link_codes_phone_identity_id_channel_identities'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_link_codes'))
    )
    with op.batch_alter_table('link_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_link_codes_chat_identity_id'), ['chat_identity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_link_codes_phone_identity_id'), ['phone_identity_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('link_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_link_codes_phone_identity_id'))
        batch_op.drop_index(batch_op.f('ix_link_codes_chat_identity_id'))
    op.drop_table('link_codes')
