-- Billing beyond tokens: Forge GPU-seconds and Vault rack-seconds are metered from the
-- persisted transition times (forge_leases.active_at .. ended_at, capped at expires_at;
-- vault_racks.ready_at .. released_at), at query time by admin/usage.py. A lease already
-- locks in its price at creation; a rack now does too, so a price change never reprices
-- hours already sold. NULL: a rack reserved before prices existed, or of a type without one
-- (metered, not charged).
ALTER TABLE vault_racks
    ADD COLUMN price_per_rack_hour double precision CHECK (price_per_rack_hour >= 0);

-- Usage queries find an org's leases and racks that overlap a time range.
CREATE INDEX forge_leases_org_active ON forge_leases (org_id, active_at)
    WHERE active_at IS NOT NULL;
CREATE INDEX vault_racks_org_ready ON vault_racks (org_id, ready_at)
    WHERE ready_at IS NOT NULL;
