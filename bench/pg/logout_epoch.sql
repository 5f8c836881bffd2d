-- logout.sql as fsec's schema 8 makes it: deleting a live session moves
-- the revocation epoch (a trigger: one UPDATE of the one revocation row
-- in the DELETE's transaction), so every logout on every node takes the
-- same row lock until its commit is flushed.
\set id random(1, :users)
\set r random(1, 1000000000000)
INSERT INTO sessions (id, user_id, created_at, expires_at)
  VALUES ('lo-' || :client_id || '-' || :r, :id, 1800000000,
          extract(epoch FROM now())::bigint + 3600);
BEGIN;
DELETE FROM sessions WHERE id = 'lo-' || :client_id || '-' || :r;
UPDATE revocation SET epoch = epoch + 1;
END;
