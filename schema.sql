-- Service Circle: the whole current schema, to read. Databases are built and upgraded by the
-- numbered files in migrations/ (`circle init-db`, core/migrations.py): a schema change is a new
-- migration plus the same change here, in one commit; tests/test_migrations.py checks they agree.
-- Invariants that must never break live here, as named constraints; core/db.py maps each name
-- to a clear API error. Money is integer fen; instants are timestamptz; local days are `date`
-- and local clock times are `time` (Asia/Shanghai).

CREATE TABLE IF NOT EXISTS schema_version (
    version     integer PRIMARY KEY,
    applied_at  timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------- providers: circles
CREATE TABLE IF NOT EXISTS circles (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL,
    address     text NOT NULL DEFAULT '',
    lat         double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon         double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    radius_m    integer NOT NULL CHECK (radius_m > 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);
-- the number elders call for same-day service and help; shown on their pages
ALTER TABLE circles ADD COLUMN IF NOT EXISTS hotline_phone text NOT NULL DEFAULT '';

-- ---------------------------------------------------------------- booking: menu
CREATE TABLE IF NOT EXISTS menu_categories (
    code        text PRIMARY KEY,
    name_zh     text NOT NULL,
    name_en     text NOT NULL,
    position    integer NOT NULL
);

CREATE TABLE IF NOT EXISTS menu_items (
    code             text PRIMARY KEY,
    category_code    text NOT NULL REFERENCES menu_categories (code),
    name_zh          text NOT NULL,
    name_en          text NOT NULL,
    unit_zh          text NOT NULL DEFAULT '次',
    price_fen        integer NOT NULL CHECK (price_fen >= 0),
    minutes          integer NOT NULL CHECK (minutes >= 0),
    qualification    text NOT NULL,
    crew             smallint NOT NULL CHECK (crew IN (1, 2)),
    subsidy_max_fen  integer NOT NULL CHECK (subsidy_max_fen >= 0),
    needs_visit      boolean NOT NULL,
    notes            text NOT NULL DEFAULT '',
    position         integer NOT NULL,
    active           boolean NOT NULL DEFAULT true
);

-- ---------------------------------------------------------------- booking: residents
CREATE TABLE IF NOT EXISTS residents (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    circle_id          bigint NOT NULL REFERENCES circles (id),
    name               text NOT NULL CHECK (length(name) BETWEEN 1 AND 40),
    gender             char(1) NOT NULL CHECK (gender IN ('F', 'M')),
    birth_date         date NOT NULL,
    phone              text NOT NULL,
    address            text NOT NULL,
    lat                double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon                double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    lives_alone        boolean NOT NULL DEFAULT false,
    subsidy_eligible   boolean NOT NULL DEFAULT false,
    eligibility        text[] NOT NULL DEFAULT '{}',
    caregiver_gender   char(1) CHECK (caregiver_gender IN ('F', 'M')),
    care_notes_enc     bytea,
    id_card_hmac       bytea,
    id_card_last4      text,
    id_card_enc        bytea,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS residents_phone_idx ON residents (phone);
CREATE INDEX IF NOT EXISTS residents_name_prefix_idx ON residents (name text_pattern_ops);
CREATE INDEX IF NOT EXISTS residents_circle_idx ON residents (circle_id);
CREATE UNIQUE INDEX IF NOT EXISTS residents_id_card_unique ON residents (id_card_hmac)
    WHERE id_card_hmac IS NOT NULL;
-- whether the home position was ever confirmed on a map (0004); unconfirmed ones are flagged to the dispatcher
ALTER TABLE residents ADD COLUMN IF NOT EXISTS position_source text NOT NULL DEFAULT 'unconfirmed'
    CHECK (position_source IN ('unconfirmed', 'geocoded', 'confirmed'));

-- ---------------------------------------------------------------- providers: organisations
CREATE TABLE IF NOT EXISTS providers (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    phone       text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS provider_circles (
    provider_id  bigint NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
    circle_id    bigint NOT NULL REFERENCES circles (id),
    PRIMARY KEY (provider_id, circle_id)
);

CREATE TABLE IF NOT EXISTS provider_items (
    provider_id  bigint NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
    item_code    text NOT NULL REFERENCES menu_items (code),
    PRIMARY KEY (provider_id, item_code)
);

CREATE TABLE IF NOT EXISTS caregivers (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider_id         bigint NOT NULL REFERENCES providers (id),
    circle_id           bigint NOT NULL REFERENCES circles (id),
    name                text NOT NULL,
    gender              char(1) NOT NULL CHECK (gender IN ('F', 'M')),
    phone               text NOT NULL,
    qualifications      text[] NOT NULL DEFAULT '{G}',
    home_lat            double precision NOT NULL CHECK (home_lat BETWEEN -90 AND 90),
    home_lon            double precision NOT NULL CHECK (home_lon BETWEEN -180 AND 180),
    transport           text NOT NULL CHECK (transport IN ('walk', 'ebike')),
    -- weekly pattern: ISO weekdays worked (1 = Monday) with one shift
    work_days           smallint[] NOT NULL DEFAULT '{1,2,3,4,5,6,7}',
    shift_start         time NOT NULL,
    shift_end           time NOT NULL,
    break_minutes       integer NOT NULL DEFAULT 45 CHECK (break_minutes BETWEEN 0 AND 120),
    break_earliest      time NOT NULL DEFAULT '11:30',
    break_latest_end    time NOT NULL DEFAULT '13:30',
    max_work_minutes    integer NOT NULL DEFAULT 480 CHECK (max_work_minutes BETWEEN 30 AND 720),
    calendar_token      text UNIQUE,
    active              boolean NOT NULL DEFAULT true,
    created_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT caregivers_shift_order CHECK (shift_start < shift_end)
);
CREATE INDEX IF NOT EXISTS caregivers_circle_idx ON caregivers (circle_id);
CREATE INDEX IF NOT EXISTS caregivers_provider_idx ON caregivers (provider_id);

-- day overrides and leave: one row per caregiver and date
CREATE TABLE IF NOT EXISTS caregiver_days (
    caregiver_id  bigint NOT NULL REFERENCES caregivers (id) ON DELETE CASCADE,
    day           date NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('leave', 'override')),
    shift_start   time,
    shift_end     time,
    note          text NOT NULL DEFAULT '',
    PRIMARY KEY (caregiver_id, day),
    CONSTRAINT caregiver_days_override_shift CHECK (
        kind = 'leave' OR (shift_start IS NOT NULL AND shift_end IS NOT NULL AND shift_start < shift_end))
);

-- ---------------------------------------------------------------- app: users and tokens
CREATE TABLE IF NOT EXISTS users (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username       text NOT NULL UNIQUE CHECK (length(username) BETWEEN 2 AND 64),
    password_hash  text NOT NULL,
    role           text NOT NULL CHECK (role IN
                   ('resident', 'family', 'operator', 'dispatcher', 'provider_admin', 'caregiver', 'admin')),
    display_name   text NOT NULL DEFAULT '',
    resident_id    bigint REFERENCES residents (id),
    provider_id    bigint REFERENCES providers (id),
    caregiver_id   bigint REFERENCES caregivers (id),
    circle_id      bigint REFERENCES circles (id),
    active         boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_role_links CHECK (
        (role <> 'resident' OR resident_id IS NOT NULL) AND
        (role <> 'provider_admin' OR provider_id IS NOT NULL) AND
        (role <> 'caregiver' OR caregiver_id IS NOT NULL))
);
CREATE UNIQUE INDEX IF NOT EXISTS users_username_lower_unique ON users (lower(username));

-- an admin's password reset gives a one-time code, exchanged once for the user's new password (0004)
ALTER TABLE users ADD COLUMN IF NOT EXISTS reset_code_hash text;
ALTER TABLE users ADD COLUMN IF NOT EXISTS reset_code_expires_at timestamptz;

CREATE TABLE IF NOT EXISTS family_links (
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    resident_id  bigint NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    relation     text NOT NULL DEFAULT '',
    PRIMARY KEY (user_id, resident_id)
);

CREATE TABLE IF NOT EXISTS auth_tokens (
    token_hash  bytea PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    last_used_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS auth_tokens_user_idx ON auth_tokens (user_id);

-- Every change made through the editing endpoints: who, when, before, after, why (0004).
-- record is "<table>:<key>" (menu_items:B01, residents:12, caregivers:3, users:7).
CREATE TABLE IF NOT EXISTS audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor_id    bigint REFERENCES users (id),
    record      text NOT NULL CHECK (record ~ '^[a-z_]+:[A-Za-z0-9_]+$'),
    action      text NOT NULL,
    before      jsonb NOT NULL DEFAULT '{}',
    after       jsonb NOT NULL DEFAULT '{}',
    reason      text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS audit_log_record_idx ON audit_log (record, created_at);
CREATE INDEX IF NOT EXISTS audit_log_actor_idx ON audit_log (actor_id, created_at);

-- ---------------------------------------------------------------- booking: subsidy wallet
-- One row per resident and service month (the first day of the month).
CREATE TABLE IF NOT EXISTS subsidy_wallets (
    resident_id  bigint NOT NULL REFERENCES residents (id),
    month        date NOT NULL CHECK (extract(day FROM month) = 1),
    granted_fen  integer NOT NULL CHECK (granted_fen >= 0),
    held_fen     integer NOT NULL DEFAULT 0,
    spent_fen    integer NOT NULL DEFAULT 0,
    PRIMARY KEY (resident_id, month),
    CONSTRAINT wallet_not_overspent CHECK (
        held_fen >= 0 AND spent_fen >= 0 AND held_fen + spent_fen <= granted_fen)
);

-- ---------------------------------------------------------------- booking: series and bookings
CREATE TABLE IF NOT EXISTS booking_series (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resident_id   bigint NOT NULL REFERENCES residents (id),
    item_code     text NOT NULL REFERENCES menu_items (code),
    weekdays      smallint[] NOT NULL CHECK (array_length(weekdays, 1) BETWEEN 1 AND 7),
    window_start  time NOT NULL,
    window_end    time NOT NULL,
    start_date    date NOT NULL,
    end_date      date NOT NULL,
    channel       text NOT NULL CHECK (channel IN ('app', 'hotline', 'walk_in', 'family')),
    booked_by     bigint REFERENCES users (id),
    notes         text NOT NULL DEFAULT '',
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'cancelled')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- 0006: the caregiver the planner prefers for the series' bookings (dispatch reads it)
    regular_caregiver_id bigint REFERENCES caregivers (id),
    CONSTRAINT booking_series_window_order CHECK (window_start <= window_end),
    CONSTRAINT booking_series_date_order CHECK (start_date <= end_date)
);

CREATE TABLE IF NOT EXISTS bookings (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resident_id    bigint NOT NULL REFERENCES residents (id),
    circle_id      bigint NOT NULL REFERENCES circles (id),
    item_code      text NOT NULL REFERENCES menu_items (code),
    series_id      bigint REFERENCES booking_series (id),
    service_date   date NOT NULL,
    window_start   time NOT NULL,
    window_end     time NOT NULL,
    channel        text NOT NULL CHECK (channel IN ('app', 'hotline', 'walk_in', 'family')),
    booked_by      bigint REFERENCES users (id),
    notes          text NOT NULL DEFAULT '',
    price_fen      integer NOT NULL CHECK (price_fen >= 0),
    subsidy_fen    integer NOT NULL CHECK (subsidy_fen >= 0),
    self_pay_fen   integer NOT NULL CHECK (self_pay_fen >= 0),
    priority       smallint NOT NULL DEFAULT 1 CHECK (priority BETWEEN 0 AND 3),
    status         text NOT NULL DEFAULT 'pending' CHECK (status IN
                   ('pending', 'scheduled', 'in_progress', 'completed', 'cancelled', 'missed',
                    'not_home', 'refused')),
    caregiver_id   bigint REFERENCES caregivers (id),
    planned_start  timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    cancel_reason  text,
    -- who comes, kept by the triggers below from the providers' tables (booking reads only its own)
    caregiver_name     text,
    team_caregiver_ids bigint[] NOT NULL DEFAULT '{}',
    team_provider_ids  bigint[] NOT NULL DEFAULT '{}',
    CONSTRAINT bookings_price_split CHECK (price_fen = subsidy_fen + self_pay_fen),
    CONSTRAINT bookings_window_order CHECK (window_start <= window_end)
);
CREATE INDEX IF NOT EXISTS bookings_resident_date_idx ON bookings (resident_id, service_date);
CREATE INDEX IF NOT EXISTS bookings_circle_date_idx ON bookings (circle_id, service_date, status);
CREATE UNIQUE INDEX IF NOT EXISTS bookings_series_day_unique ON bookings (series_id, service_date)
    WHERE series_id IS NOT NULL;

-- Append-only ledger: every wallet movement. kind: grant (+granted), hold (+held),
-- release (-held), capture (-held, +spent). amount_fen is always positive.
CREATE TABLE IF NOT EXISTS wallet_entries (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resident_id  bigint NOT NULL,
    month        date NOT NULL,
    booking_id   bigint REFERENCES bookings (id),
    kind         text NOT NULL CHECK (kind IN ('grant', 'hold', 'release', 'capture')),
    amount_fen   integer NOT NULL CHECK (amount_fen > 0),
    created_at   timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (resident_id, month) REFERENCES subsidy_wallets (resident_id, month)
);
CREATE INDEX IF NOT EXISTS wallet_entries_wallet_idx ON wallet_entries (resident_id, month);

CREATE OR REPLACE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END $$;
CREATE OR REPLACE TRIGGER wallet_entries_append_only
    BEFORE UPDATE OR DELETE ON wallet_entries FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE OR REPLACE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse_change();

-- One booking per idempotency key and caller; the response is kept to answer retries.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    user_id          bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key              text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    request_hash     bytea NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    -- the booking the first request made; set in the transaction that claimed the key
    booking_id       bigint REFERENCES bookings (id),
    PRIMARY KEY (user_id, key)
);

CREATE TABLE IF NOT EXISTS evaluations (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    booking_id   bigint NOT NULL REFERENCES bookings (id),
    rating       smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment      text NOT NULL DEFAULT '',
    source       text NOT NULL CHECK (source IN ('app', 'return_call')),
    created_by   bigint REFERENCES users (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- a low rating is withheld from settlement until a street admin reviews and clears it
    cleared_by   bigint REFERENCES users (id),
    cleared_at   timestamptz,
    CONSTRAINT evaluations_one_per_source UNIQUE (booking_id, source)
);

-- Hotline calls: inbound calls, daily care calls (日电话) and return-visit calls (回访).
CREATE TABLE IF NOT EXISTS call_logs (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resident_id  bigint NOT NULL REFERENCES residents (id),
    operator_id  bigint REFERENCES users (id),
    kind         text NOT NULL CHECK (kind IN ('inbound', 'care_call', 'return_call')),
    outcome      text NOT NULL DEFAULT 'ok' CHECK (outcome IN ('ok', 'no_answer', 'needs_help', 'other')),
    booking_id   bigint REFERENCES bookings (id),
    notes        text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS call_logs_resident_idx ON call_logs (resident_id, created_at);

-- Reads of sensitive fields (ID number, care notes), for the street office's audit.
CREATE TABLE IF NOT EXISTS sensitive_reads (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint REFERENCES users (id),
    resident_id  bigint NOT NULL REFERENCES residents (id),
    field        text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------- dispatch: plans
CREATE TABLE IF NOT EXISTS plans (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    circle_id       bigint NOT NULL REFERENCES circles (id),
    service_date    date NOT NULL,
    version         integer NOT NULL DEFAULT 1,
    parent_id       bigint REFERENCES plans (id),
    status          text NOT NULL DEFAULT 'queued' CHECK (status IN
                    ('queued', 'solving', 'draft', 'published', 'superseded', 'failed')),
    progress        real NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    time_limit_s    integer NOT NULL DEFAULT 10 CHECK (time_limit_s BETWEEN 1 AND 600),
    freeze_at       timestamptz,
    stats           jsonb NOT NULL DEFAULT '{}',
    routes          jsonb NOT NULL DEFAULT '[]',
    unassigned      jsonb NOT NULL DEFAULT '[]',
    failure_reason  text,
    created_by      bigint REFERENCES users (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    published_at    timestamptz,
    CONSTRAINT plans_version_unique UNIQUE (circle_id, service_date, version)
);
CREATE UNIQUE INDEX IF NOT EXISTS plans_one_published ON plans (circle_id, service_date)
    WHERE status = 'published';

-- What a plan was asked for and who is solving it (added by dispatch; idempotent).
-- kind: plan (POST /plans), reoptimize (after edits), replan (same day, with a freeze).
-- options: the request (freeze_minutes, sick_caregiver_ids, solution_limit, seed).
-- attempts / heartbeat_at: the runner claims a plan by bumping attempts (a fencing token) and
-- keeps heartbeat_at fresh while solving; a stale heartbeat means the runner died.
-- cancel_requested: set by POST /plans/{id}/cancel; the runner stops the solver.
ALTER TABLE plans ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'plan'
    CHECK (kind IN ('plan', 'reoptimize', 'replan'));
ALTER TABLE plans ADD COLUMN IF NOT EXISTS options jsonb NOT NULL DEFAULT '{}';
ALTER TABLE plans ADD COLUMN IF NOT EXISTS attempts integer NOT NULL DEFAULT 0;
ALTER TABLE plans ADD COLUMN IF NOT EXISTS heartbeat_at timestamptz;
ALTER TABLE plans ADD COLUMN IF NOT EXISTS cancel_requested text
    CHECK (cancel_requested IN ('discard', 'keep_best'));
ALTER TABLE plans ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX IF NOT EXISTS plans_unfinished_idx ON plans (id) WHERE status IN ('queued', 'solving');

-- Dispatcher edits on a draft, replayed by reoptimize: pin to a caregiver and/or a time,
-- unassign, or forbid a caregiver for a booking.
CREATE TABLE IF NOT EXISTS plan_edits (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plan_id        bigint NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    booking_id     bigint NOT NULL REFERENCES bookings (id),
    action         text NOT NULL CHECK (action IN ('pin', 'move', 'unassign', 'forbid')),
    caregiver_id   bigint REFERENCES caregivers (id),
    pinned_start   timestamptz,
    created_by     bigint REFERENCES users (id),
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS plan_edits_plan_idx ON plan_edits (plan_id, id);

-- ---------------------------------------------------------------- providers: visits
-- A booking's execution by one caregiver; a crew-2 item has two visits (crew_member 1 and 2).
-- released_at is set when the visit no longer binds the caregiver (plan superseded, booking
-- cancelled or missed). The exclusion constraint makes a caregiver in two places at once
-- impossible; int8range over the id stands in for btree_gist's equality operator.
CREATE TABLE IF NOT EXISTS visits (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    booking_id           bigint NOT NULL REFERENCES bookings (id),
    caregiver_id         bigint NOT NULL REFERENCES caregivers (id),
    plan_id              bigint REFERENCES plans (id),
    crew_member          smallint NOT NULL DEFAULT 1 CHECK (crew_member IN (1, 2)),
    position             integer NOT NULL DEFAULT 0,
    planned_start        timestamptz NOT NULL,
    planned_end          timestamptz NOT NULL,
    travel_minutes       integer NOT NULL DEFAULT 0 CHECK (travel_minutes >= 0),
    check_in_at          timestamptz,
    check_in_lat         double precision,
    check_in_lon         double precision,
    check_in_distance_m  integer,
    check_out_at         timestamptz,
    check_out_lat        double precision,
    check_out_lon        double precision,
    check_out_distance_m integer,
    outcome              text CHECK (outcome IN ('done', 'not_home', 'refused')),
    flags                text[] NOT NULL DEFAULT '{}',
    released_at          timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT visits_time_order CHECK (planned_start < planned_end),
    CONSTRAINT visits_no_double_booking EXCLUDE USING gist (
        int8range(caregiver_id, caregiver_id, '[]') WITH &&,
        tstzrange(planned_start, planned_end) WITH &&) WHERE (released_at IS NULL)
);
CREATE UNIQUE INDEX IF NOT EXISTS visits_one_active_per_member ON visits (booking_id, crew_member)
    WHERE released_at IS NULL;
CREATE INDEX IF NOT EXISTS visits_caregiver_day_idx ON visits (caregiver_id, planned_start);
-- the caregiver's notes at check-out (added by providers; idempotent)
ALTER TABLE visits ADD COLUMN IF NOT EXISTS notes text NOT NULL DEFAULT '';
-- a provider's correction that makes a visit done waits for the street office's review (0003)
ALTER TABLE visits ADD COLUMN IF NOT EXISTS review_status text
    CONSTRAINT visits_review_status CHECK (review_status IN ('pending', 'approved', 'rejected'));
ALTER TABLE visits ADD COLUMN IF NOT EXISTS corrected_by bigint REFERENCES users (id);
ALTER TABLE visits ADD COLUMN IF NOT EXISTS noshow_alerted_at timestamptz;  -- 0005: the no-show alert, once
CREATE INDEX IF NOT EXISTS visits_awaiting_check_in_idx ON visits (planned_start)
    WHERE released_at IS NULL AND check_in_at IS NULL;
CREATE INDEX IF NOT EXISTS visits_booking_idx ON visits (booking_id);

CREATE TABLE IF NOT EXISTS visit_audit (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    visit_id    bigint NOT NULL REFERENCES visits (id),
    changed_by  bigint REFERENCES users (id),
    reason      text NOT NULL CHECK (length(reason) > 0),
    before      jsonb NOT NULL,
    after       jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- A cancelled or missed booking frees its caregivers' time at once.
CREATE OR REPLACE FUNCTION release_visits_of_closed_booking() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE visits SET released_at = now() WHERE booking_id = NEW.id AND released_at IS NULL;
    RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER bookings_release_visits
    AFTER UPDATE OF status ON bookings FOR EACH ROW
    WHEN (NEW.status IN ('cancelled', 'missed') AND OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION release_visits_of_closed_booking();

-- Who comes to a booking, kept on the booking (bookings.caregiver_name, team_*_ids).
CREATE OR REPLACE FUNCTION booking_caregiver_name() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.caregiver_name := (SELECT name FROM caregivers WHERE id = NEW.caregiver_id);
    RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER bookings_caregiver_name
    BEFORE INSERT OR UPDATE OF caregiver_id ON bookings FOR EACH ROW
    EXECUTE FUNCTION booking_caregiver_name();

CREATE OR REPLACE FUNCTION caregiver_renamed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE bookings SET caregiver_name = NEW.name WHERE caregiver_id = NEW.id;
    RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER caregivers_name_to_bookings
    AFTER UPDATE OF name ON caregivers FOR EACH ROW
    WHEN (OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION caregiver_renamed();

CREATE OR REPLACE FUNCTION booking_team(booking bigint) RETURNS void LANGUAGE sql AS $$
    UPDATE bookings b SET
        team_caregiver_ids = coalesce((SELECT array_agg(DISTINCT v.caregiver_id ORDER BY v.caregiver_id)
                                       FROM visits v WHERE v.booking_id = b.id AND v.released_at IS NULL), '{}'),
        team_provider_ids = coalesce((SELECT array_agg(DISTINCT c.provider_id ORDER BY c.provider_id)
                                      FROM visits v JOIN caregivers c ON c.id = v.caregiver_id
                                      WHERE v.booking_id = b.id AND v.released_at IS NULL), '{}')
    WHERE b.id = booking
$$;
CREATE OR REPLACE FUNCTION visits_to_booking_team() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM booking_team(NEW.booking_id);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM booking_team(OLD.booking_id);
    ELSE
        PERFORM booking_team(NEW.booking_id);
        IF OLD.booking_id <> NEW.booking_id THEN PERFORM booking_team(OLD.booking_id); END IF;
    END IF;
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER visits_booking_team
    AFTER INSERT OR DELETE OR UPDATE OF booking_id, caregiver_id, released_at ON visits FOR EACH ROW
    EXECUTE FUNCTION visits_to_booking_team();

-- Messages that must reach the elder, the family or the caregiver when a plan changes.
CREATE TABLE IF NOT EXISTS notifications (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resident_id   bigint REFERENCES residents (id),
    user_id       bigint REFERENCES users (id),
    caregiver_id  bigint REFERENCES caregivers (id),
    booking_id    bigint REFERENCES bookings (id),
    channel       text NOT NULL DEFAULT 'sms' CHECK (channel IN ('sms', 'app')),
    phone         text,
    message       text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz,
    attempts      integer NOT NULL DEFAULT 0,
    -- the outbox (0005): pending → sent | failed, retried with back-off; read in the inbox
    status             text NOT NULL DEFAULT 'pending'
                       CONSTRAINT notifications_status CHECK (status IN ('pending', 'sent', 'failed')),
    gateway_message_id text,
    next_attempt_at    timestamptz,
    last_error         text,
    same_day           boolean NOT NULL DEFAULT false,
    kind               text NOT NULL DEFAULT 'plan_change',
    dedup_key          text,
    read_at            timestamptz
);

-- The outbox's indexes; a message without a phone takes its resident's or caregiver's (0005).
CREATE INDEX IF NOT EXISTS notifications_due_idx ON notifications (next_attempt_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS notifications_phone_sent_idx ON notifications (phone, sent_at) WHERE status = 'sent';
CREATE INDEX IF NOT EXISTS notifications_user_idx ON notifications (user_id, created_at);
CREATE INDEX IF NOT EXISTS notifications_resident_idx ON notifications (resident_id, created_at);
CREATE INDEX IF NOT EXISTS notifications_caregiver_idx ON notifications (caregiver_id, created_at);
CREATE UNIQUE INDEX IF NOT EXISTS notifications_dedup_unique ON notifications (dedup_key) WHERE dedup_key IS NOT NULL;

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

-- The hotline's follow-ups: not-home or refused visits of elders living alone, unplannable bookings (0005).
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

INSERT INTO schema_version (version) VALUES (1) ON CONFLICT DO NOTHING;
