-- Retention of callback events (alerts.event_retention_days): the old rows
-- are found by creation time, without reading the recent ones.
CREATE INDEX callback_event_created ON callback_event (created_at);
