//! Accounts and transfers under the safety conditions of SPEC §7.2.
//!
//! A [`Ledger`] holds the accounts of one organization in a [`VersionedSmt`]. It applies
//! double-signed transfers ([`SignedTx`]) to the working state, rejects unsafe ones with a typed
//! [`LedgerError`], and seals the working state into a new version at each pulse. The supply is
//! fixed at genesis (it sits in the organization account) and never changes: rewards are
//! ordinary transfers from the organization account (SPEC §4.3, §10.1).
//!
//! This module applies a transfer whole (debit and credit in one step), as a single leaf group
//! does when payer and payee share it (SPEC §7.3 step 4, "a same-group transfer matches at
//! once"). The cross-group halves arrive with the consensus layer.

use thiserror::Error;

use crate::crypto::{Domain, Hash32, PublicKey, Signature, SignatureError, Signer, Verifier, hash_parts};
use crate::id::{ID_BYTES, Id};
use crate::smt::{Account, Version, VersionedSmt};

/// A transfer body (SPEC §7.1). Its id is the hash of its encoding; both parties sign the id.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Tx {
    /// Payer.
    pub from: Id,
    /// Payee.
    pub to: Id,
    /// Amount moved; must be positive.
    pub amount: u64,
    /// The payer's nonce after this transfer: its account nonce + 1.
    pub from_nonce: u64,
    /// Pulse at which the payer created the transfer.
    pub created_pulse: u64,
}

/// Encoded length of a [`Tx`] body.
pub const TX_BODY_BYTES: usize = 2 * ID_BYTES + 3 * 8;

impl Tx {
    /// The canonical encoding: from, to, then amount, nonce and pulse little-endian.
    pub fn encode(&self) -> [u8; TX_BODY_BYTES] {
        let mut out = [0u8; TX_BODY_BYTES];
        out[..ID_BYTES].copy_from_slice(&self.from.0);
        out[ID_BYTES..2 * ID_BYTES].copy_from_slice(&self.to.0);
        let numbers = [self.amount, self.from_nonce, self.created_pulse];
        for (chunk, number) in out[2 * ID_BYTES..].chunks_exact_mut(8).zip(numbers) {
            chunk.copy_from_slice(&number.to_le_bytes());
        }
        out
    }

    /// The transfer [`Tx::encode`] wrote (the wire reads it back with this: one encoding of
    /// the body, for its id, its signatures and the wire).
    pub(crate) fn decode(bytes: &[u8; TX_BODY_BYTES]) -> Tx {
        let id = |at: usize| Id(bytes[at..at + ID_BYTES].try_into().expect("20 bytes"));
        let number = |i: usize| {
            let at = 2 * ID_BYTES + 8 * i;
            u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
        };
        Tx {
            from: id(0),
            to: id(ID_BYTES),
            amount: number(0),
            from_nonce: number(1),
            created_pulse: number(2),
        }
    }

    /// The transfer's id: `H(0x11 ‖ body)` (SPEC §7.1).
    pub fn id(&self) -> Hash32 {
        hash_parts(Domain::TxBody, &[&self.encode()])
    }

    /// Both parties sign the id.
    pub fn sign(&self, payer: &dyn Signer, payee: &dyn Signer) -> SignedTx {
        let id = self.id();
        SignedTx {
            tx: *self,
            payer_key: payer.public_key(),
            payee_key: payee.public_key(),
            payer_sig: payer.sign(&id.0),
            payee_sig: payee.sign(&id.0),
        }
    }
}

/// A transfer signed by payer and payee ("truthful intention", SPEC §7.2, I3).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct SignedTx {
    /// The body.
    pub tx: Tx,
    /// The payer's public key; its Id must be `tx.from`.
    pub payer_key: PublicKey,
    /// The payee's public key; its Id must be `tx.to`.
    pub payee_key: PublicKey,
    /// The payer's signature of the id.
    pub payer_sig: Signature,
    /// The payee's signature of the id.
    pub payee_sig: Signature,
}

/// Which side of a transfer an error is about.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Party {
    /// The sender.
    Payer,
    /// The receiver.
    Payee,
}

/// Why the ledger refused an operation. Every variant leaves the ledger unchanged.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// The amount is zero (amounts are unsigned, so zero is the only non-positive one).
    #[error("amount must be positive")]
    NonPositiveAmount,
    /// Payer and payee are the same account.
    #[error("payer and payee are the same account {0}")]
    SelfTransfer(Id),
    /// A party's public key is not the key of the Id in the transfer.
    #[error("the {party:?}'s public key does not belong to {id}")]
    KeyMismatch {
        /// Which party.
        party: Party,
        /// The Id the transfer names.
        id: Id,
    },
    /// A party's signature does not verify.
    #[error("the {party:?}'s signature is invalid: {reason}")]
    BadSignature {
        /// Which party.
        party: Party,
        /// What the verifier said.
        reason: SignatureError,
    },
    /// The account does not exist.
    #[error("unknown account {id} ({party:?})")]
    UnknownAccount {
        /// The missing account.
        id: Id,
        /// Which party it is.
        party: Party,
    },
    /// `from_nonce` is not the payer's nonce + 1 (a replay, or a gap).
    #[error("bad nonce: expected {expected}, got {got}")]
    BadNonce {
        /// The nonce the payer's next transfer must carry.
        expected: u64,
        /// The nonce the transfer carries.
        got: u64,
    },
    /// `balance − frozen − pending_in < amount` (SPEC §7.2).
    #[error("insufficient spendable balance: {spendable} < {amount}")]
    InsufficientSpendable {
        /// What the account may spend.
        spendable: u64,
        /// What was asked.
        amount: u64,
    },
    /// The payee's balance, or a sum its group's tree keeps (SPEC §4.3), would exceed
    /// `u64::MAX`.
    #[error("the payee's balance or its group's summed balances would overflow")]
    BalanceOverflow,
    /// The account already exists.
    #[error("account {0} already exists")]
    AccountExists(Id),
    /// Unfreezing more than is frozen.
    #[error("cannot unfreeze {amount}: only {frozen} is frozen")]
    InsufficientFrozen {
        /// What is frozen.
        frozen: u64,
        /// What was asked.
        amount: u64,
    },
    /// The amount exceeds the whole frozen deposit of the bookkeeper that would process it:
    /// no version can take it (SPEC §6.5, I11). Smaller transfers beyond one version's
    /// capacity wait for the next instead.
    #[error("{amount} exceeds the bookkeeper's whole deposit {deposit}")]
    BeyondCapacity {
        /// The bookkeeper's frozen deposit.
        deposit: u64,
        /// The transfer's amount.
        amount: u64,
    },
    /// The transfer's halves were not matched within `transfer_timeout_pulses`: the chief
    /// aborted it and the debit was reversed (SPEC §7.3 step 5).
    #[error("not matched in time: the transfer was aborted and reversed")]
    TimedOut,
    /// Settling a half of a transfer that is not pending here: the account's pending sum is
    /// smaller than the amount (a settlement order for a half this ledger never applied).
    #[error("no pending {half:?} half of {amount} here: pending sum is {pending}")]
    NotPending {
        /// Which half.
        half: Half,
        /// The account's pending sum (`pending_out` for a debit, `pending_in` for a credit).
        pending: u64,
        /// The amount to settle.
        amount: u64,
    },
}

/// One half of a cross-group transfer (SPEC §7.3): the payer's group applies the debit, the
/// payee's group the credit.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Half {
    /// `balance −= a`, `pending_out += a`, at the payer's group.
    Debit,
    /// `balance += a`, `pending_in += a`, at the payee's group.
    Credit,
}

/// How the lowest common ancestor settles a half (SPEC §7.3 steps 4–5).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Settlement {
    /// Both halves matched: the pending entry clears (`pending_out −= a` / `pending_in −= a`).
    Clear,
    /// The transfer is aborted: the half is undone (`balance += a, pending_out −= a` /
    /// `balance −= a, pending_in −= a`).
    Reverse,
}

/// A transfer the ledger applied in the current cycle.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Applied {
    /// The transfer's id.
    pub id: Hash32,
    /// The transfer with both signatures, as applied (what I3 checks).
    pub signed: SignedTx,
}

impl Applied {
    /// The transfer.
    pub fn tx(&self) -> &Tx {
        &self.signed.tx
    }
}

/// Deliberately broken behaviours, for tests that show the invariant checks can fail.
#[cfg(feature = "fault-injection")]
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct LedgerFaults {
    /// Accept any nonce (replays become possible: I5 must catch them).
    pub skip_nonce_check: bool,
    /// Accept overdrafts, flooring the payer at zero (money is created: I1 must catch it).
    pub skip_balance_check: bool,
    /// Apply transfers without checking their signatures (breaks I3).
    pub skip_signature_check: bool,
    /// A debit half records `pending_out` but leaves the payer's balance alone: the payer's
    /// group skips the escrow, so money appears in flight (I1 at the root must catch it).
    pub skip_escrow: bool,
}

/// The accounts of one organization and the transfers applied to them.
#[derive(Clone, Debug)]
pub struct Ledger {
    tree: VersionedSmt,
    organization: Id,
    genesis_supply: u64,
    journal: Vec<Applied>,
    /// Credit halves applied since the last seal: with the sealed `Σbalance + Σpending_out`,
    /// a bound on every sum the next seal's summaries hold (SPEC §4.3: they must fit a u64).
    credited_since_seal: u64,
    #[cfg(feature = "fault-injection")]
    faults: LedgerFaults,
}

impl Ledger {
    /// A ledger whose organization account `organization` holds the whole `genesis_supply`
    /// (SPEC §3.3). The genesis is sealed as version 1 and the empty version 0 is dropped, so
    /// every held version satisfies I1.
    pub fn genesis(organization: Id, genesis_supply: u64) -> Ledger {
        Ledger::genesis_with_distribution(organization, genesis_supply, &[])
            .expect("an empty distribution is always valid")
    }

    /// A genesis in which the first distribution (SPEC §3.3) is already made: each
    /// `(member, amount)` opens an account holding `amount`, and the organization account keeps
    /// the rest of `genesis_supply`. Refused if the distribution exceeds the supply or names
    /// an account twice (or the organization itself).
    pub fn genesis_with_distribution(
        organization: Id,
        genesis_supply: u64,
        distribution: &[(Id, u64)],
    ) -> Result<Ledger, LedgerError> {
        let mut tree = VersionedSmt::new();
        let mut remaining = genesis_supply;
        for (member, amount) in distribution {
            if *member == organization || tree.get_working(member).is_some() {
                return Err(LedgerError::AccountExists(*member));
            }
            remaining = remaining
                .checked_sub(*amount)
                .ok_or(LedgerError::InsufficientSpendable { spendable: remaining, amount: *amount })?;
            tree.insert(*member, Account::with_balance(*amount));
        }
        tree.insert(organization, Account::with_balance(remaining));
        Ok(Ledger::sealed_genesis(tree, organization, genesis_supply))
    }

    /// A group's share of a genesis (D-023): exactly `accounts`, sealed as version 1. The
    /// ledger belongs to `organization`, whose supply is `genesis_supply`; the accounts are the
    /// group's part of it, so I1 holds for the sum over all groups, not for this ledger alone.
    pub fn genesis_share(
        organization: Id,
        genesis_supply: u64,
        accounts: &[(Id, u64)],
    ) -> Result<Ledger, LedgerError> {
        let mut tree = VersionedSmt::new();
        for (id, amount) in accounts {
            if tree.get_working(id).is_some() {
                return Err(LedgerError::AccountExists(*id));
            }
            tree.insert(*id, Account::with_balance(*amount));
        }
        // An empty share stays at the empty version 0.
        Ok(Ledger::sealed_genesis(tree, organization, genesis_supply))
    }

    /// Seal `tree`'s staged genesis accounts and drop the versions before it.
    fn sealed_genesis(mut tree: VersionedSmt, organization: Id, genesis_supply: u64) -> Ledger {
        let version = tree.seal();
        tree.prune_before(version);
        Ledger {
            tree,
            organization,
            genesis_supply,
            journal: Vec::new(),
            credited_since_seal: 0,
            #[cfg(feature = "fault-injection")]
            faults: LedgerFaults::default(),
        }
    }

    /// Keep only the last `versions` sealed versions (SPEC §15 `versions_retained`).
    pub fn with_versions_retained(mut self, versions: u64) -> Ledger {
        self.tree = self.tree.with_versions_retained(versions);
        self
    }

    /// Turn on deliberately broken behaviours (tests only).
    #[cfg(feature = "fault-injection")]
    pub fn inject_faults(&mut self, faults: LedgerFaults) {
        self.faults = faults;
    }

    // ----- getters ----------------------------------------------------------------------

    /// The organization account.
    pub fn organization(&self) -> Id {
        self.organization
    }

    /// The supply fixed at genesis.
    pub fn genesis_supply(&self) -> u64 {
        self.genesis_supply
    }

    /// The account as the working state holds it (applied but not yet sealed changes included).
    pub fn account(&self, id: &Id) -> Option<Account> {
        self.tree.get_working(id)
    }

    /// The tree of sealed versions.
    pub fn tree(&self) -> &VersionedSmt {
        &self.tree
    }

    /// Transfers applied since the last seal, in order.
    pub fn journal(&self) -> &[Applied] {
        &self.journal
    }

    // ----- mutators ---------------------------------------------------------------------

    /// Open an empty account for `id`.
    pub fn open_account(&mut self, id: Id) -> Result<(), LedgerError> {
        if self.account(&id).is_some() {
            return Err(LedgerError::AccountExists(id));
        }
        self.tree.insert(id, Account::default());
        Ok(())
    }

    /// Validate `signed` against SPEC §7.2 and, if it is safe, apply it to the working state.
    /// On error nothing changes.
    pub fn apply(&mut self, signed: &SignedTx, verifier: &dyn Verifier) -> Result<Applied, LedgerError> {
        let tx = &signed.tx;
        check_shape(tx)?;
        self.check_signatures(signed, verifier)?;
        let payer = self.existing(&tx.from, Party::Payer)?;
        let payee = self.existing(&tx.to, Party::Payee)?;
        self.check_nonce(&payer, tx)?;
        let payer_balance = self.debit_balance(&payer, tx.amount)?;
        let payee_balance = payee.balance.checked_add(tx.amount).ok_or(LedgerError::BalanceOverflow)?;
        self.tree.insert(tx.from, Account { balance: payer_balance, nonce: tx.from_nonce, ..payer });
        self.tree.insert(tx.to, Account { balance: payee_balance, ..payee });
        let applied = Applied { id: tx.id(), signed: *signed };
        self.journal.push(applied);
        Ok(applied)
    }

    /// Apply the debit half of a cross-group transfer (SPEC §7.3 step 2): every check of
    /// [`Ledger::apply`] that concerns the payer (shape, both signatures, nonce, spendable
    /// balance), then `balance −= a`, `pending_out += a`, `nonce = from_nonce`. The payee's
    /// account lives in another group's ledger and is not looked up. On error nothing changes.
    pub fn apply_debit(
        &mut self,
        signed: &SignedTx,
        verifier: &dyn Verifier,
    ) -> Result<Applied, LedgerError> {
        let tx = &signed.tx;
        check_shape(tx)?;
        self.check_signatures(signed, verifier)?;
        let payer = self.existing(&tx.from, Party::Payer)?;
        self.check_nonce(&payer, tx)?;
        let balance = self.escrowed_balance(&payer, tx.amount)?;
        let pending_out = payer.pending_out.checked_add(tx.amount).ok_or(LedgerError::BalanceOverflow)?;
        self.tree.insert(tx.from, Account { balance, pending_out, nonce: tx.from_nonce, ..payer });
        let applied = Applied { id: tx.id(), signed: *signed };
        self.journal.push(applied);
        Ok(applied)
    }

    /// Apply the credit half of a cross-group transfer (SPEC §7.3 step 3): shape and both
    /// signatures (I3 holds at the payee's group too), then `balance += a`, `pending_in += a`.
    /// The credit is not spendable until it clears (SPEC §7.2). Credits are not journaled:
    /// the journal holds the transfers that consumed a payer nonce here (I5). On error nothing
    /// changes.
    pub fn apply_credit(&mut self, signed: &SignedTx, verifier: &dyn Verifier) -> Result<(), LedgerError> {
        let tx = &signed.tx;
        check_shape(tx)?;
        self.check_signatures(signed, verifier)?;
        let payee = self.existing(&tx.to, Party::Payee)?;
        let balance = payee.balance.checked_add(tx.amount).ok_or(LedgerError::BalanceOverflow)?;
        let pending_in = payee.pending_in.checked_add(tx.amount).ok_or(LedgerError::BalanceOverflow)?;
        let credited = self.sum_headroom(tx.amount)?;
        self.tree.insert(tx.to, Account { balance, pending_in, ..payee });
        self.credited_since_seal = credited;
        Ok(())
    }

    /// The credits since the last seal with `amount` added, if the tree's sums still fit a
    /// `u64` with it (SPEC §4.3). Only a credit half brings value into a group's ledger from
    /// outside, so `Σbalance + Σpending_out` (which bounds every other sum: frozen and
    /// pending_in lie within balance, I2) grows only here; credit halves forged by another
    /// group's primary could otherwise overflow this group's summaries.
    fn sum_headroom(&self, amount: u64) -> Result<u64, LedgerError> {
        let sealed =
            self.tree.root(self.tree.latest_version()).map(|r| r.synopsis.summary).unwrap_or_default();
        let credited = self.credited_since_seal.checked_add(amount).ok_or(LedgerError::BalanceOverflow)?;
        let bound = u128::from(sealed.balance) + u128::from(sealed.pending_out) + u128::from(credited);
        if bound > u128::from(u64::MAX) {
            return Err(LedgerError::BalanceOverflow);
        }
        Ok(credited)
    }

    /// Settle a half applied earlier (SPEC §7.3 steps 4–5): clear its pending entry, or
    /// reverse it. Refused, changing nothing, if the account's pending sum cannot cover it.
    pub fn settle(&mut self, half: Half, tx: &Tx, how: Settlement) -> Result<(), LedgerError> {
        let amount = tx.amount;
        match half {
            Half::Debit => {
                let payer = self.existing(&tx.from, Party::Payer)?;
                let pending_out = payer.pending_out.checked_sub(amount).ok_or(LedgerError::NotPending {
                    half,
                    pending: payer.pending_out,
                    amount,
                })?;
                let balance = match how {
                    Settlement::Clear => payer.balance,
                    Settlement::Reverse => {
                        payer.balance.checked_add(amount).ok_or(LedgerError::BalanceOverflow)?
                    }
                };
                self.tree.insert(tx.from, Account { balance, pending_out, ..payer });
            }
            Half::Credit => {
                let payee = self.existing(&tx.to, Party::Payee)?;
                let not_pending = LedgerError::NotPending { half, pending: payee.pending_in, amount };
                let pending_in = payee.pending_in.checked_sub(amount).ok_or(not_pending)?;
                // pending_in ≤ balance − frozen holds while the credit is unspendable, so a
                // reversal never underflows; checked anyway so a broken ledger errs, not panics.
                let balance = match how {
                    Settlement::Clear => payee.balance,
                    Settlement::Reverse => payee.balance.checked_sub(amount).ok_or(not_pending)?,
                };
                self.tree.insert(tx.to, Account { balance, pending_in, ..payee });
            }
        }
        Ok(())
    }

    /// Lock `amount` of `id`'s spendable balance (a deposit or pledge, SPEC §4.1).
    pub fn freeze(&mut self, id: Id, amount: u64) -> Result<(), LedgerError> {
        let account = self.existing(&id, Party::Payer)?;
        if account.spendable() < amount {
            return Err(LedgerError::InsufficientSpendable { spendable: account.spendable(), amount });
        }
        self.tree.insert(id, Account { frozen: account.frozen + amount, ..account });
        Ok(())
    }

    /// Release `amount` of `id`'s frozen balance.
    pub fn unfreeze(&mut self, id: Id, amount: u64) -> Result<(), LedgerError> {
        let account = self.existing(&id, Party::Payer)?;
        if account.frozen < amount {
            return Err(LedgerError::InsufficientFrozen { frozen: account.frozen, amount });
        }
        self.tree.insert(id, Account { frozen: account.frozen - amount, ..account });
        Ok(())
    }

    /// Drop everything applied since the last seal (a crash loses the unsealed cycle).
    pub fn discard_unsealed(&mut self) {
        self.journal.clear();
        self.credited_since_seal = 0;
        self.tree.discard_staged();
    }

    /// Seal the working state as a new version (or keep the latest if nothing changed,
    /// SPEC §5.1) and start a new cycle.
    pub fn seal(&mut self) -> Version {
        self.journal.clear();
        self.credited_since_seal = 0;
        self.tree.seal()
    }

    // ----- internals --------------------------------------------------------------------

    fn existing(&self, id: &Id, party: Party) -> Result<Account, LedgerError> {
        self.account(id).ok_or(LedgerError::UnknownAccount { id: *id, party })
    }

    fn check_signatures(&self, signed: &SignedTx, verifier: &dyn Verifier) -> Result<(), LedgerError> {
        #[cfg(feature = "fault-injection")]
        if self.faults.skip_signature_check {
            return Ok(());
        }
        check_signatures(signed, verifier)
    }

    fn check_nonce(&self, payer: &Account, tx: &Tx) -> Result<(), LedgerError> {
        #[cfg(feature = "fault-injection")]
        if self.faults.skip_nonce_check {
            return Ok(());
        }
        let expected = payer.nonce + 1;
        if tx.from_nonce != expected {
            return Err(LedgerError::BadNonce { expected, got: tx.from_nonce });
        }
        Ok(())
    }

    /// The payer's balance after escrowing `amount` for a debit half.
    fn escrowed_balance(&self, payer: &Account, amount: u64) -> Result<u64, LedgerError> {
        #[cfg(feature = "fault-injection")]
        if self.faults.skip_escrow {
            let spendable = payer.spendable();
            if spendable < amount {
                return Err(LedgerError::InsufficientSpendable { spendable, amount });
            }
            return Ok(payer.balance);
        }
        self.debit_balance(payer, amount)
    }

    /// The payer's balance after paying `amount`, if it may spend that much.
    fn debit_balance(&self, payer: &Account, amount: u64) -> Result<u64, LedgerError> {
        #[cfg(feature = "fault-injection")]
        if self.faults.skip_balance_check {
            return Ok(payer.balance.saturating_sub(amount));
        }
        let spendable = payer.spendable();
        if spendable < amount {
            return Err(LedgerError::InsufficientSpendable { spendable, amount });
        }
        // Spendable ≤ balance, so this cannot underflow.
        Ok(payer.balance - amount)
    }
}

fn check_shape(tx: &Tx) -> Result<(), LedgerError> {
    if tx.amount == 0 {
        return Err(LedgerError::NonPositiveAmount);
    }
    if tx.from == tx.to {
        return Err(LedgerError::SelfTransfer(tx.from));
    }
    Ok(())
}

/// Both keys belong to the named Ids and both signatures of the id verify (SPEC §7.2, I3).
pub(crate) fn check_signatures(signed: &SignedTx, verifier: &dyn Verifier) -> Result<(), LedgerError> {
    let id = signed.tx.id();
    let parties = [
        (Party::Payer, signed.tx.from, &signed.payer_key, &signed.payer_sig),
        (Party::Payee, signed.tx.to, &signed.payee_key, &signed.payee_sig),
    ];
    for (party, named, key, signature) in parties {
        if key.id() != named {
            return Err(LedgerError::KeyMismatch { party, id: named });
        }
        verifier
            .verify(key, &id.0, signature)
            .map_err(|reason| LedgerError::BadSignature { party, reason })?;
    }
    Ok(())
}
