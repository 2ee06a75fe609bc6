"""Live changes on PostgreSQL: triggers that pg_notify channel "artfactory" when a product is added, changed or
deleted and when an order is added, deleted or changes status, so other open apps refresh at once (SQLite: nothing
changes; its apps keep their own refresh).

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

CHANNEL = "artfactory"

# Payloads are small JSON objects (NOTIFY allows 8000 bytes): what changed, never the row itself.
_FUNCTIONS = [
    f"""CREATE OR REPLACE FUNCTION artfactory_notify_product() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE r products%ROWTYPE;
    BEGIN
        IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
        PERFORM pg_notify('{CHANNEL}', json_build_object('kind', 'product', 'op', lower(TG_OP), 'id', r.id,
            'project', r.project_id, 'order', r.order_id)::text);
        RETURN NULL;
    END $$""",
    f"""CREATE OR REPLACE FUNCTION artfactory_notify_order() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE r orders%ROWTYPE;
    BEGIN
        IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
        PERFORM pg_notify('{CHANNEL}', json_build_object('kind', 'order', 'op', lower(TG_OP), 'id', r.id,
            'project', r.project_id, 'status', r.status)::text);
        RETURN NULL;
    END $$""",
]
_TRIGGERS = [
    """CREATE TRIGGER products_notify AFTER INSERT OR UPDATE OR DELETE ON products
       FOR EACH ROW EXECUTE FUNCTION artfactory_notify_product()""",
    """CREATE TRIGGER orders_notify AFTER INSERT OR DELETE ON orders
       FOR EACH ROW EXECUTE FUNCTION artfactory_notify_order()""",
    # Progress and heartbeats update orders all the time; only a new status is news.
    """CREATE TRIGGER orders_status_notify AFTER UPDATE OF status ON orders
       FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION artfactory_notify_order()""",
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in _FUNCTIONS + _TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for trigger, table in (("products_notify", "products"), ("orders_notify", "orders"),
                           ("orders_status_notify", "orders")):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
    op.execute("DROP FUNCTION IF EXISTS artfactory_notify_product()")
    op.execute("DROP FUNCTION IF EXISTS artfactory_notify_order()")
