-- 0003: corrections are evidence, not payment; access ends when it should.
--
-- * visits: a provider's correction that makes a visit done waits for the street office's review
--   (review_status 'pending' → 'approved' | 'rejected'); who corrected it is kept, so nobody
--   reviews their own correction.
-- * users: usernames are unique without regard to case (names that differed only by case are
--   kept, the later ones renamed `name-<id>` so that every account can still sign in).
-- * auth_tokens: when a token was last used, for the idle timeout.

ALTER TABLE visits ADD COLUMN review_status text
    CONSTRAINT visits_review_status CHECK (review_status IN ('pending', 'approved', 'rejected'));
ALTER TABLE visits ADD COLUMN corrected_by bigint REFERENCES users (id);

UPDATE users u SET username = u.username || '-' || u.id
WHERE EXISTS (SELECT 1 FROM users o WHERE lower(o.username) = lower(u.username) AND o.id < u.id);
CREATE UNIQUE INDEX users_username_lower_unique ON users (lower(username));

ALTER TABLE auth_tokens ADD COLUMN last_used_at timestamptz NOT NULL DEFAULT now();
