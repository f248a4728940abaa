-- revision: 4c1f6a2b3e53
-- revises: 3b9e5f1a2d42
-- branch-labels: billing
-- message: billing: invoice table
-- +up
CREATE TABLE invoice (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  order_id bigint NOT NULL REFERENCES orders (id),
  total_cents integer NOT NULL,
  issued_at timestamptz NOT NULL DEFAULT now()
);
-- +down
DROP TABLE invoice;
