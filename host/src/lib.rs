//! `leither-host`: the production driver of `reference::Node` (DESIGN §1, the third driver).
//! Real sockets (tokio TCP), links encrypted and authenticated by Noise (snow) and bound to the
//! node keys, a real clock, an input log in redb for durability across SIGKILL, and local
//! clusters of processes that run a scenario and check it with the simulator's checker (D-040).

pub mod cluster;
pub mod config;
pub mod control;
pub mod driver;
pub mod events;
pub mod input;
pub mod link;
pub mod store;
pub mod transport;
