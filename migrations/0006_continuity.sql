-- 0006: the same caregiver. A repeating booking may name its regular caregiver; the planner
-- (dispatch) prefers that caregiver for the series' bookings. Booking keeps the id as its own
-- column and never reads the providers' tables; the reference is the database's guard only.

ALTER TABLE booking_series ADD COLUMN regular_caregiver_id bigint REFERENCES caregivers (id);
