//! Hashing and signatures (SPEC §1.2, §4.3).
//!
//! * Every hash in the protocol is 32-byte BLAKE3 over a one-byte [`Domain`] tag followed by
//!   the encoded fields, so that a leaf can never be mistaken for a branch, a transaction body
//!   for a key, and so on (SPEC §4.3).
//! * Signing is behind the [`Signer`] / [`Verifier`] traits. [`Ed25519Signer`] /
//!   [`Ed25519Verifier`] are the real scheme; [`SimScheme`] is a cheap deterministic scheme for
//!   simulations of thousands of nodes with the same unforgeability contract (SPEC §1.2): a
//!   signature for a public key can only be produced through the [`SimSigner`] that the scheme
//!   issued for it, because the scheme's MAC key is private to the scheme.

use std::fmt;

use thiserror::Error;

use crate::id::{Id, hex};

/// Domain-separation tags: the first byte of every hashed message (SPEC §4.3).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Domain {
    /// A ledger leaf: `0x00 ‖ id ‖ account`.
    Leaf = 0x00,
    /// A ledger branch: `0x01 ‖ bit_index ‖ left ‖ right ‖ summary`.
    Branch = 0x01,
    /// The empty tree: `0x02`.
    Empty = 0x02,
    /// A group's entry in the root synopsis (D-023).
    GroupEntry = 0x03,
    /// A branch of the root synopsis over groups: `0x04 ‖ left ‖ right ‖ summary`.
    GroupBranch = 0x04,
    /// An [`Id`] derived from a public key.
    IdFromKey = 0x10,
    /// The body of a transfer (its id, SPEC §7.1).
    TxBody = 0x11,
    /// The simulation signature scheme's public keys.
    SimPublicKey = 0x12,
    /// The body of a relationship invitation (its id, SPEC §2.1, D-029).
    Invite = 0x13,
    /// An invitation's acceptance (SPEC §2.1, D-029).
    Acceptance = 0x14,
    /// A signed envelope around a message between nodes (D-039).
    Envelope = 0x15,
    /// A host link's binding of a Noise session to a node key: `0x16 ‖ handshake hash`
    /// (D-040). Not a protocol message; a node key never signs one of these for anything else.
    LinkBinding = 0x16,
    /// A member's endorsement of an application: `0x17 ‖ organization ‖ applicant` (D-041).
    Endorsement = 0x17,
    /// An organization key's signature of its founding: `0x18 ‖ founder` (D-041).
    Founding = 0x18,
    /// Synthetic values (test and benchmark Ids); never part of a protocol message.
    Synthetic = 0x7F,
}

/// A 32-byte BLAKE3 digest.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash32(pub [u8; 32]);

impl Hash32 {
    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
}

impl fmt::Debug for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash32({})", &self.to_hex()[..12])
    }
}

impl fmt::Display for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// `H(domain ‖ parts[0] ‖ parts[1] ‖ …)`.
pub fn hash_parts(domain: Domain, parts: &[&[u8]]) -> Hash32 {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&[domain as u8]);
    for part in parts {
        hasher.update(part);
    }
    Hash32(*hasher.finalize().as_bytes())
}

/// `H(bytes)` for a message that already starts with its domain tag. The hot paths of the
/// Merkle tree encode into a stack buffer and call this, which avoids the incremental hasher.
#[inline]
pub(crate) fn hash_encoded(bytes: &[u8]) -> Hash32 {
    Hash32(*blake3::hash(bytes).as_bytes())
}

/// A 32-byte public key (ed25519, or the simulation scheme's).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// The [`Id`] of this key's holder.
    pub fn id(&self) -> Id {
        Id::from_public_key(self)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", &hex(&self.0)[..12])
    }
}

/// A 64-byte signature.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Signature(pub [u8; 64]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", &hex(&self.0)[..12])
    }
}

/// Why a signature did not verify.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The bytes are not a valid public key of the scheme.
    #[error("malformed public key")]
    MalformedKey,
    /// The signature does not match the key and message.
    #[error("signature does not match key and message")]
    Mismatch,
}

/// Something that can sign as one principal.
pub trait Signer {
    /// The key that verifies this signer's signatures.
    fn public_key(&self) -> PublicKey;
    /// Sign `message`.
    fn sign(&self, message: &[u8]) -> Signature;
    /// The [`Id`] of this signer.
    fn id(&self) -> Id {
        self.public_key().id()
    }
}

/// Checks signatures of one scheme.
pub trait Verifier {
    /// `Ok` iff `signature` is `public_key`'s signature of `message`.
    fn verify(
        &self,
        public_key: &PublicKey,
        message: &[u8],
        signature: &Signature,
    ) -> Result<(), SignatureError>;
}

/// An ed25519 signer (SPEC §1.2). Keys come from 32 seed bytes supplied by the caller: the
/// reference crate never draws randomness itself.
pub struct Ed25519Signer {
    key: ed25519_dalek::SigningKey,
}

impl Ed25519Signer {
    /// The signer whose secret key is `seed`.
    pub fn from_seed(seed: [u8; 32]) -> Ed25519Signer {
        Ed25519Signer { key: ed25519_dalek::SigningKey::from_bytes(&seed) }
    }
}

impl fmt::Debug for Ed25519Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print secret material.
        write!(f, "Ed25519Signer({:?})", self.public_key())
    }
}

impl Signer for Ed25519Signer {
    fn public_key(&self) -> PublicKey {
        PublicKey(self.key.verifying_key().to_bytes())
    }

    fn sign(&self, message: &[u8]) -> Signature {
        use ed25519_dalek::Signer as _;
        Signature(self.key.sign(message).to_bytes())
    }
}

/// Verifies ed25519 signatures (strict verification: no malleable encodings).
#[derive(Clone, Copy, Debug, Default)]
pub struct Ed25519Verifier;

impl Verifier for Ed25519Verifier {
    fn verify(
        &self,
        public_key: &PublicKey,
        message: &[u8],
        signature: &Signature,
    ) -> Result<(), SignatureError> {
        let key = ed25519_dalek::VerifyingKey::from_bytes(&public_key.0)
            .map_err(|_| SignatureError::MalformedKey)?;
        let signature = ed25519_dalek::Signature::from_bytes(&signature.0);
        key.verify_strict(message, &signature).map_err(|_| SignatureError::Mismatch)
    }
}

/// A fast deterministic signature scheme for simulations (SPEC §1.2).
///
/// A signature is the keyed BLAKE3 MAC, under the scheme's private key, of the signer's public
/// key and the message, extended to 64 bytes. The scheme issues [`SimSigner`]s, each able to
/// sign only as its own public key; code holding a signer (an adversary included) cannot sign
/// as anyone else because the MAC key never leaves the scheme. Verification costs one hash
/// instead of an elliptic-curve check, which is what lets a simulation run thousands of nodes.
#[derive(Clone)]
pub struct SimScheme {
    mac_key: [u8; 32],
}

impl SimScheme {
    /// A scheme whose MAC key is derived from `seed` (a simulation passes its scenario seed).
    pub fn new(seed: u64) -> SimScheme {
        let mac_key = hash_parts(Domain::Synthetic, &[b"sim-scheme-mac-key", &seed.to_le_bytes()]);
        SimScheme { mac_key: mac_key.0 }
    }

    /// The signer for principal number `index` (deterministic in `index`).
    pub fn signer(&self, index: u64) -> SimSigner {
        let public = hash_parts(Domain::SimPublicKey, &[&self.mac_key, &index.to_le_bytes()]);
        SimSigner { scheme: self.clone(), public_key: PublicKey(public.0) }
    }

    fn mac(&self, public_key: &PublicKey, message: &[u8]) -> Signature {
        let mut hasher = blake3::Hasher::new_keyed(&self.mac_key);
        hasher.update(&public_key.0);
        hasher.update(message);
        let mut out = [0u8; 64];
        hasher.finalize_xof().fill(&mut out);
        Signature(out)
    }
}

impl fmt::Debug for SimScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The MAC key is the scheme's secret.
        f.write_str("SimScheme")
    }
}

impl Verifier for SimScheme {
    fn verify(
        &self,
        public_key: &PublicKey,
        message: &[u8],
        signature: &Signature,
    ) -> Result<(), SignatureError> {
        if self.mac(public_key, message) == *signature { Ok(()) } else { Err(SignatureError::Mismatch) }
    }
}

/// A signer issued by a [`SimScheme`].
#[derive(Clone)]
pub struct SimSigner {
    scheme: SimScheme,
    public_key: PublicKey,
}

impl fmt::Debug for SimSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SimSigner({:?})", self.public_key)
    }
}

impl Signer for SimSigner {
    fn public_key(&self) -> PublicKey {
        self.public_key
    }

    fn sign(&self, message: &[u8]) -> Signature {
        self.scheme.mac(&self.public_key, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(signer: &dyn Signer, verifier: &dyn Verifier) {
        let signature = signer.sign(b"pay 5");
        let key = signer.public_key();
        assert_eq!(verifier.verify(&key, b"pay 5", &signature), Ok(()));
        assert_eq!(verifier.verify(&key, b"pay 6", &signature), Err(SignatureError::Mismatch));
        let mut flipped = signature;
        flipped.0[3] ^= 1;
        assert!(verifier.verify(&key, b"pay 5", &flipped).is_err());
    }

    #[test]
    fn ed25519_signs_and_rejects_tampering() {
        roundtrip(&Ed25519Signer::from_seed([7; 32]), &Ed25519Verifier);
    }

    #[test]
    fn sim_scheme_signs_and_rejects_tampering() {
        let scheme = SimScheme::new(42);
        roundtrip(&scheme.signer(1), &scheme);
    }

    #[test]
    fn sim_signature_of_one_key_does_not_verify_for_another() {
        let scheme = SimScheme::new(42);
        let (alice, bob) = (scheme.signer(1), scheme.signer(2));
        let signature = alice.sign(b"m");
        assert!(scheme.verify(&bob.public_key(), b"m", &signature).is_err());
    }

    #[test]
    fn sim_schemes_with_different_seeds_do_not_accept_each_other() {
        let (a, b) = (SimScheme::new(1), SimScheme::new(2));
        let signer = a.signer(1);
        assert!(b.verify(&signer.public_key(), b"m", &signer.sign(b"m")).is_err());
    }

    #[test]
    fn domains_separate_equal_payloads() {
        assert_ne!(hash_parts(Domain::Leaf, &[b"x"]), hash_parts(Domain::Branch, &[b"x"]));
    }

    #[test]
    fn malformed_ed25519_key_is_an_error_not_a_panic() {
        // y = 2 is not the encoding of a curve point.
        let mut bytes = [0u8; 32];
        bytes[0] = 2;
        let result = Ed25519Verifier.verify(&PublicKey(bytes), b"m", &Signature([0; 64]));
        assert!(result.is_err());
    }
}
