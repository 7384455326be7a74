-- 0002: booking reads only its own tables, and an Idempotency-Key keeps the booking it made.
--
-- * idempotency_keys: the booking id replaces the stored response (a replay reads the booking
--   back); existing keys get the id their stored response names.
-- * bookings: who comes (the lead caregiver's name, every caregiver and provider with an active
--   visit) is kept on the booking by triggers on the providers' tables, so scoping a caregiver's
--   or a provider's booking list reads bookings alone.

ALTER TABLE idempotency_keys ADD COLUMN booking_id bigint REFERENCES bookings (id);
UPDATE idempotency_keys SET booking_id = (response_body ->> 'id')::bigint WHERE response_body IS NOT NULL;
-- a key is committed only with its booking, so a key without one is a request that never finished
DELETE FROM idempotency_keys WHERE booking_id IS NULL;
ALTER TABLE idempotency_keys DROP COLUMN response_status, DROP COLUMN response_body;

ALTER TABLE bookings ADD COLUMN caregiver_name text;
ALTER TABLE bookings ADD COLUMN team_caregiver_ids bigint[] NOT NULL DEFAULT '{}';
ALTER TABLE bookings ADD COLUMN team_provider_ids bigint[] NOT NULL DEFAULT '{}';

CREATE FUNCTION booking_caregiver_name() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.caregiver_name := (SELECT name FROM caregivers WHERE id = NEW.caregiver_id);
    RETURN NEW;
END $$;
CREATE TRIGGER bookings_caregiver_name
    BEFORE INSERT OR UPDATE OF caregiver_id ON bookings FOR EACH ROW
    EXECUTE FUNCTION booking_caregiver_name();

CREATE FUNCTION caregiver_renamed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE bookings SET caregiver_name = NEW.name WHERE caregiver_id = NEW.id;
    RETURN NEW;
END $$;
CREATE TRIGGER caregivers_name_to_bookings
    AFTER UPDATE OF name ON caregivers FOR EACH ROW
    WHEN (OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION caregiver_renamed();

CREATE FUNCTION booking_team(booking bigint) RETURNS void LANGUAGE sql AS $$
    UPDATE bookings b SET
        team_caregiver_ids = coalesce((SELECT array_agg(DISTINCT v.caregiver_id ORDER BY v.caregiver_id)
                                       FROM visits v WHERE v.booking_id = b.id AND v.released_at IS NULL), '{}'),
        team_provider_ids = coalesce((SELECT array_agg(DISTINCT c.provider_id ORDER BY c.provider_id)
                                      FROM visits v JOIN caregivers c ON c.id = v.caregiver_id
                                      WHERE v.booking_id = b.id AND v.released_at IS NULL), '{}')
    WHERE b.id = booking
$$;
CREATE FUNCTION visits_to_booking_team() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER visits_booking_team
    AFTER INSERT OR DELETE OR UPDATE OF booking_id, caregiver_id, released_at ON visits FOR EACH ROW
    EXECUTE FUNCTION visits_to_booking_team();

UPDATE bookings b SET caregiver_name = c.name FROM caregivers c WHERE c.id = b.caregiver_id;
SELECT booking_team(id) FROM bookings WHERE id IN (SELECT booking_id FROM visits);
