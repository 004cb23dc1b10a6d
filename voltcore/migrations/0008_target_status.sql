-- Leases and racks keep their target state as data on the row (Ironic's
-- target_provision_state): the transition that decides where a later one ends records it, and
-- the state table says TARGET where the end comes from the row.

-- A lease's target is where it ends once its namespace is gone: terminated or expired, set by
-- the terminate or expire that ended it. `end_reason` held the same; it stays, for readers of
-- the old column, derived from the target so that the two cannot disagree.
ALTER TABLE forge_leases
    ADD COLUMN target_status text CHECK (target_status IN ('terminated', 'expired'));
UPDATE forge_leases SET target_status = CASE
    WHEN end_reason IN ('terminated', 'expired') THEN end_reason
    -- Without a reason a terminating lease ended as terminated.
    WHEN status = 'terminating' THEN 'terminated'
END;
ALTER TABLE forge_leases DROP COLUMN end_reason;
ALTER TABLE forge_leases ADD COLUMN end_reason text GENERATED ALWAYS AS (target_status) STORED;

-- A rack's target is the step a retry resumes: what it was doing when it failed (provisioning
-- or releasing), and releasing from the moment it is released. It replaces `failed_in`.
ALTER TABLE vault_racks
    ADD COLUMN target_status text CHECK (target_status IN ('provisioning', 'releasing'));
UPDATE vault_racks SET target_status = CASE
    WHEN status IN ('releasing', 'released') OR failed_in = 'releasing' THEN 'releasing'
    WHEN status = 'failed' THEN 'provisioning'
END;
ALTER TABLE vault_racks DROP COLUMN failed_in;
