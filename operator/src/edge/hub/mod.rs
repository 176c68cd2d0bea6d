//! The operator's edge towards the hub's Secrets: a tenant's key ring (the source of truth,
//! created once), its clients' secrets (only their digests ever leave) and its user directory.

mod inputs;
mod key_ring;

pub use inputs::{HubInputs, InputError, USERS_DEFAULT_KEY, hub_inputs, inputs_version};
pub use key_ring::{
    KEY_RING_FILE, KeyRingError, StoredKeyRing, algorithm, ensure_key_ring, key_ring_secret_name,
    save_key_ring,
};
