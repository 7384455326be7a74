-- 0004: a street office runs the service alone (issue 15).
--
-- * audit_log: every change made through the editing endpoints (menu, residents, providers,
--   circles, caregivers, users), who made it, when, the fields before and after, and the reason
--   given (a duplicate registration's reason too). Append-only like the wallet ledger.
-- * bookings and series: the channel `family` (a family member's booking), set from the caller.
-- * users.reset_code_hash / reset_code_expires_at: an admin's password reset gives a one-time code
--   that can only be exchanged (once, within a day) for a new password of the user's own.
-- * residents.position_source: whether the home position was ever confirmed on a map
--   (`unconfirmed` until an operator confirms it or a geocoder found it); existing elders stay
--   unconfirmed, which is the truth: nobody confirmed them.

CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor_id    bigint REFERENCES users (id),
    record      text NOT NULL CHECK (record ~ '^[a-z_]+:[A-Za-z0-9_]+$'),
    action      text NOT NULL,
    before      jsonb NOT NULL DEFAULT '{}',
    after       jsonb NOT NULL DEFAULT '{}',
    reason      text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_record_idx ON audit_log (record, created_at);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, created_at);
CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse_change();

ALTER TABLE bookings DROP CONSTRAINT bookings_channel_check,
    ADD CONSTRAINT bookings_channel_check CHECK (channel IN ('app', 'hotline', 'walk_in', 'family'));
ALTER TABLE booking_series DROP CONSTRAINT booking_series_channel_check,
    ADD CONSTRAINT booking_series_channel_check CHECK (channel IN ('app', 'hotline', 'walk_in', 'family'));

ALTER TABLE users ADD COLUMN reset_code_hash text, ADD COLUMN reset_code_expires_at timestamptz;

ALTER TABLE residents ADD COLUMN position_source text NOT NULL DEFAULT 'unconfirmed'
    CHECK (position_source IN ('unconfirmed', 'geocoded', 'confirmed'));
