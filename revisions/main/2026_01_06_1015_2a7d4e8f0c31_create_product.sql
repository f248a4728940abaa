-- revision: 2a7d4e8f0c31
-- revises: 1f3a9c2e7b10
-- message: create product table
-- +up
CREATE TABLE product (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  sku text NOT NULL UNIQUE,
  title text NOT NULL,
  price_cents integer NOT NULL CHECK (price_cents >= 0)
);
-- +down
DROP TABLE product;
