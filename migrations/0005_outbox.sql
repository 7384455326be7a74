-- 0005: messages that leave (an outbox over notifications), visits that close, safety tasks.
--
-- * notifications becomes the outbox: status pending → sent | failed, the gateway's message id,
--   attempts and the next attempt's time (back-off), the last error, a same-day flag (quiet hours
--   do not hold back a change to today), the kind of message, a key that makes a chore's message
--   idempotent, and when the recipient read it in their inbox. Existing rows: sent if sent_at is
--   set, else pending.
-- * A message queued without a phone takes the phone of its resident or caregiver (booking may
--   not read caregivers: the database fills it in); with no phone at all it goes to the app only.
-- * visits: when the no-show alert was raised (once per visit).
-- * safety_tasks: the hotline's care-call list of things to follow up — a not-home or refused
--   visit of an elder living alone, a booking no plan could take — open until closed with an outcome.

ALTER TABLE notifications ADD COLUMN status text NOT NULL DEFAULT 'pending'
    CONSTRAINT notifications_status CHECK (status IN ('pending', 'sent', 'failed'));
ALTER TABLE notifications ADD COLUMN gateway_message_id text;
ALTER TABLE notifications ADD COLUMN next_attempt_at timestamptz;
ALTER TABLE notifications ADD COLUMN last_error text;
ALTER TABLE notifications ADD COLUMN same_day boolean NOT NULL DEFAULT false;
ALTER TABLE notifications ADD COLUMN kind text NOT NULL DEFAULT 'plan_change';
ALTER TABLE notifications ADD COLUMN dedup_key text;
ALTER TABLE notifications ADD COLUMN read_at timestamptz;
UPDATE notifications SET status = CASE WHEN sent_at IS NULL THEN 'pending' ELSE 'sent' END,
                         next_attempt_at = CASE WHEN sent_at IS NULL THEN created_at END;
CREATE INDEX notifications_due_idx ON notifications (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notifications_phone_sent_idx ON notifications (phone, sent_at) WHERE status = 'sent';
CREATE INDEX notifications_user_idx ON notifications (user_id, created_at);
CREATE INDEX notifications_resident_idx ON notifications (resident_id, created_at);
CREATE INDEX notifications_caregiver_idx ON notifications (caregiver_id, created_at);
CREATE UNIQUE INDEX notifications_dedup_unique ON notifications (dedup_key) WHERE dedup_key IS NOT NULL;

CREATE OR REPLACE FUNCTION notification_phone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.phone IS NULL AND NEW.channel = 'sms' THEN
        IF NEW.caregiver_id IS NOT NULL THEN
            NEW.phone := (SELECT nullif(phone, '') FROM caregivers WHERE id = NEW.caregiver_id);
        ELSIF NEW.resident_id IS NOT NULL THEN
            NEW.phone := (SELECT nullif(phone, '') FROM residents WHERE id = NEW.resident_id);
        END IF;
        IF NEW.phone IS NULL THEN
            NEW.channel := 'app';
        END IF;
    END IF;
    RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER notifications_phone
    BEFORE INSERT ON notifications FOR EACH ROW
    EXECUTE FUNCTION notification_phone();

ALTER TABLE visits ADD COLUMN noshow_alerted_at timestamptz;
-- the minute chore looks only at visits nobody has checked into yet
CREATE INDEX visits_awaiting_check_in_idx ON visits (planned_start)
    WHERE released_at IS NULL AND check_in_at IS NULL;

CREATE TABLE IF NOT EXISTS safety_tasks (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resident_id  bigint NOT NULL REFERENCES residents (id),
    booking_id   bigint REFERENCES bookings (id),
    kind         text NOT NULL CHECK (kind IN ('not_home', 'refused', 'unplanned')),
    opened_at    timestamptz NOT NULL,
    closed_at    timestamptz,
    closed_by    bigint REFERENCES users (id),
    outcome      text CHECK (outcome IN ('elder_safe', 'family_reached', 'visited', 'escalated', 'rebooked',
                                         'other')),
    notes        text NOT NULL DEFAULT '',
    CONSTRAINT safety_tasks_closed_with_outcome CHECK ((closed_at IS NULL) = (outcome IS NULL)),
    CONSTRAINT safety_tasks_once UNIQUE (booking_id, kind)
);
CREATE INDEX IF NOT EXISTS safety_tasks_open_idx ON safety_tasks (opened_at) WHERE closed_at IS NULL;
