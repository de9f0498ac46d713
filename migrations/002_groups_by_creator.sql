-- 002: groups counted per creator (the per-account group quota, maxGroupsPerUser).
CREATE INDEX groups_by_creator ON groups(created_by);
