//! A node file is validated like a scenario: each mistake is refused with the file, the key
//! and what is wrong, before the node does anything.

use std::process::Command;

use host::config::{Faults, Limits};

use super::*;

/// Start the node of `text` and return its exit code and stderr.
fn refused(name: &str, edit: impl FnOnce(&mut toml::Table)) -> (Option<i32>, String) {
    let dir = scratch(name);
    let file = solo_file(&dir, 0, Limits::default(), Faults::default(), unix_ms());
    let mut table: toml::Table =
        toml::from_str(&toml::to_string(&file).expect("serialises")).expect("parses");
    edit(&mut table);
    let path = dir.join("node.toml");
    std::fs::write(&path, toml::to_string(&table).expect("serialises")).expect("write");
    let out = Command::new(bin()).args(["node", "--config"]).arg(&path).output().expect("runs");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn section<'a>(table: &'a mut toml::Table, name: &str) -> &'a mut toml::Table {
    table
        .entry(name)
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
        .expect("a table")
}

#[test]
fn an_unknown_key_is_named_with_its_line() {
    let (code, stderr) = refused("unknown-key", |t| {
        section(t, "node").insert("colour".into(), "blue".into());
    });
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("node.colour") && stderr.contains("node.toml:"), "{stderr}");
}

#[test]
fn a_secret_key_of_another_node_is_refused() {
    let other =
        solo_file(&scratch("other-key-src"), 1, Limits::default(), Faults::default(), 0).node.secret_key;
    let (code, stderr) = refused("other-key", |t| {
        section(t, "node").insert("secret_key".into(), other.into());
    });
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("node.secret_key") && stderr.contains("not node 0's key"), "{stderr}");
}

#[test]
fn a_malformed_secret_key_is_refused() {
    let (code, stderr) = refused("bad-key", |t| {
        section(t, "node").insert("secret_key".into(), "12ab".into());
    });
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("node.secret_key") && stderr.contains("64 hex digits"), "{stderr}");
}

#[test]
fn a_zero_bound_is_refused() {
    let (code, stderr) = refused("zero-bound", |t| {
        section(t, "limits").insert("inbound_queue_frames".into(), 0.into());
    });
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("limits.inbound_queue_frames") && stderr.contains("positive"), "{stderr}");
}

#[test]
fn a_frame_limit_above_the_wires_is_refused() {
    let (code, stderr) = refused("frame-limit", |t| {
        section(t, "limits").insert("max_frame_bytes".into(), (64i64 << 20).into());
    });
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("limits.max_frame_bytes"), "{stderr}");
}

#[test]
fn a_peer_listed_twice_is_refused() {
    let (code, stderr) = refused("peer-twice", |t| {
        let peer = |i: i64| {
            let mut p = toml::Table::new();
            p.insert("index".into(), i.into());
            p.insert("addr".into(), "127.0.0.1:1".into());
            toml::Value::Table(p)
        };
        t.insert("peers".into(), toml::Value::Array(vec![peer(1), peer(1)]));
    });
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("peers[1].index") && stderr.contains("listed twice"), "{stderr}");
}

#[test]
fn a_control_socket_off_loopback_is_refused() {
    let (code, stderr) = refused("control-off-loopback", |t| {
        section(t, "node").insert("control".into(), "0.0.0.0:7000".into());
    });
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("node.control") && stderr.contains("not a loopback address"), "{stderr}");
}
