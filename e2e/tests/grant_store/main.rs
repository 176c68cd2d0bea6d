//! The grant store on a real PostgreSQL: several auth-server replicas (the real binary, as
//! processes) sharing one database, as a region with `store: Postgres` runs them. Codes,
//! refresh tokens, sessions, revocations and throttles hold across replicas, restarts and a
//! database outage; migrations are safe to race and to roll back over.

mod caps;
mod dpop;
mod logout;
mod migrations;
mod outage;
mod par;
mod private_key_jwt;
mod resource;
mod restarts;
mod support;
mod two_replicas;
