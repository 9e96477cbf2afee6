"""LINE: the users' reply tokens until a reply uses them, and the pushes counted per month

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 02:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0010'
down_revision: Union[str, Sequence[str], None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('line_reply_tokens',
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('token', sa.String(length=200), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_line_reply_tokens'))
    )
    op.create_table('line_push_counts',
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('pushes', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('month', name=op.f('pk_line_push_counts'))
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('line_push_counts')
    op.drop_table('line_reply_tokens')
