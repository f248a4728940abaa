-- revision: a1b2c3d4e5f6
-- message: analytics schema and page views
-- +up
CREATE SCHEMA IF NOT EXISTS analytics;
CREATE TABLE analytics.page_view (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  path text NOT NULL,
  viewed_at timestamptz NOT NULL DEFAULT now()
);
-- +down
DROP TABLE analytics.page_view;
DROP SCHEMA analytics;
