-- Vault: the bare-metal inventory (racks and their nodes' BMCs, loaded from the operator's
-- inventory file), the racks tenants reserve, and the BMC accounts minted for them.

-- Physical racks. `reference_values` are the boot-chain measurements the rack is built with
-- (PCR index -> allowed sha256 digests); attestation compares replayed event logs with them.
CREATE TABLE vault_inventory_racks (
    name              text PRIMARY KEY,
    metro             text NOT NULL,
    rack_type         text NOT NULL,
    country           text NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    endpoint          text NOT NULL,
    reference_values  jsonb NOT NULL DEFAULT '{}',
    -- Racks dropped from the inventory file stay (a tenant may hold one) but are not offered.
    enabled           boolean NOT NULL DEFAULT true,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- A node's BMC admin password is encrypted with the configured key (Fernet), never stored plain.
CREATE TABLE vault_inventory_nodes (
    id                  text PRIMARY KEY,
    rack                text NOT NULL REFERENCES vault_inventory_racks (name),
    name                text NOT NULL,
    role                text NOT NULL CHECK (role IN ('controlplane', 'worker')),
    address             text NOT NULL,
    redfish_url         text NOT NULL,
    system_id           text NOT NULL,
    bmc_username        text NOT NULL,
    bmc_password_sealed bytea NOT NULL,
    agent_url           text,
    -- The attestation key, pinned by the inventory or enrolled on first contact with the agent.
    ak_public_pem       text,
    ak_enrolled_at      timestamptz,
    UNIQUE (rack, name)
);

-- A tenant's reservation of one whole rack. `inventory_rack` is set at creation (the POST
-- reserves capacity under a lock) and the partial unique index makes a rack single-tenant.
CREATE TABLE vault_racks (
    id              text PRIMARY KEY,
    org_id          text NOT NULL REFERENCES orgs (id),
    inventory_rack  text NOT NULL REFERENCES vault_inventory_racks (name),
    metro           text NOT NULL,
    rack_type       text NOT NULL,
    sovereignty     text,
    status          text NOT NULL CHECK (status IN ('requested', 'allocating', 'provisioning',
                        'ready', 'releasing', 'released', 'failed')),
    -- What `failed` was doing, so that a retry resumes there (provisioning or releasing).
    failed_in       text,
    nodes           jsonb NOT NULL DEFAULT '[]',
    secrets_sealed  bytea,
    last_error      jsonb,
    conditions      jsonb NOT NULL DEFAULT '[]',
    attempts        integer NOT NULL DEFAULT 0,
    version         integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    ready_at        timestamptz,
    released_at     timestamptz
);
CREATE UNIQUE INDEX vault_racks_one_tenant ON vault_racks (inventory_rack)
    WHERE status <> 'released';
CREATE INDEX vault_racks_org_created ON vault_racks (org_id, created_at DESC, id DESC);
CREATE INDEX vault_racks_open ON vault_racks (status) WHERE status <> 'released';

-- BMC accounts minted for a tenant, one username on every node of the rack. The password is
-- never stored. Expiry and release delete the accounts by username, which also finds an account
-- whose creation was interrupted before it could be recorded.
CREATE TABLE vault_bmc_accounts (
    id          text PRIMARY KEY,
    org_id      text NOT NULL REFERENCES orgs (id),
    rack_id     text NOT NULL REFERENCES vault_racks (id),
    username    text NOT NULL,
    role        text NOT NULL,
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz
);
CREATE INDEX vault_bmc_accounts_live ON vault_bmc_accounts (expires_at) WHERE deleted_at IS NULL;
