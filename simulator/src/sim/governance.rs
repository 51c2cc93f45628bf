//! The organization in a run (D-041): the users' ticks, their nodes' answers and closed
//! proposals to the driver, I10 at every root committee member after each of its events, and
//! agreement of the members' organizations at every pulse they seal.

use std::collections::BTreeMap;

use reference::Id;
use reference::crypto::Hash32;
use reference::invariants::{Invariant, Violation};
use reference::node::{Node, NodeEvent};

use super::*;

/// How many sealed pulses of governance digests the agreement check remembers: far more than a
/// root backup lags behind the chief it replays.
const AGREEMENT_PULSES: u64 = 1_024;

/// What each sealed pulse's organizations digest to, as the first root member to seal it saw.
#[derive(Debug, Default)]
pub(super) struct GovAgreement {
    sealed: BTreeMap<u64, Hash32>,
    /// Each root member's organizations revision when they were last checked.
    checked: BTreeMap<NodeIndex, u64>,
    /// Each balance vote's bound, `(organization, proposal, voter)` → the voter's balance in
    /// its group's ledger under the proposal's pinned root (D-049), read once when the vote is
    /// first seen (the group keeps that root for 64 pulses only).
    balances: crate::governance::BalanceBounds,
}

impl GovAgreement {
    fn observe(&mut self, pulse: u64, digest: Hash32) -> Result<(), Violation> {
        match self.sealed.get(&pulse) {
            Some(seen) if *seen != digest => Err(Violation {
                invariant: Invariant::Agreement,
                detail: format!(
                    "the organizations at pulse {pulse} differ between root members: {} and {}",
                    seen.to_hex(),
                    digest.to_hex()
                ),
            }),
            Some(_) => Ok(()),
            None => {
                self.sealed.insert(pulse, digest);
                if let Some(oldest) = pulse.checked_sub(AGREEMENT_PULSES) {
                    self.sealed = self.sealed.split_off(&oldest);
                }
                Ok(())
            }
        }
    }
}

impl Simulation {
    /// The users decide what to ask this pulse; their (running) nodes sign and send it.
    pub(super) fn gov_tick(&mut self) -> Result<(), SimError> {
        let Some(mut driver) = self.governance.take() else { return Ok(()) };
        let nodes = &self.nodes;
        let signer = |index: NodeIndex| nodes[index as usize].signer().clone();
        let commands = driver.tick(self.now_ms, &self.ids, &signer);
        self.governance = Some(driver);
        for (node, command) in commands {
            if self.status[node as usize].up {
                self.with_node(node, |n, now, out| n.handle_command(now, command, out))?;
            }
        }
        self.queue.push(self.now_ms + self.scenario.parameters.pulse_ms, Event::GovTick);
        Ok(())
    }

    /// A governance event of node `node`.
    pub(super) fn on_gov_event(&mut self, event: NodeEvent) -> Result<(), SimError> {
        let now_ms = self.now_ms;
        let index_of = &self.index_of;
        let Some(driver) = self.governance.as_deref_mut() else { return Ok(()) };
        match event {
            NodeEvent::GovAnswered { tag, result, pulse, .. } => {
                driver.answered(now_ms, (tag, pulse), result, &self.ids)
            }
            NodeEvent::GovGaveUp { tag } => driver.gave_up(tag),
            // The users learn outcomes as their nodes do, from the chief's co-signed
            // announcement (D-050), not from the root members' own events.
            NodeEvent::ProposalLearnt { notice, .. } => {
                driver
                    .closed(notice.number, &notice.kind, notice.passed, &|id: &Id| index_of.get(id).copied());
                return self.pay_rewards();
            }
            _ => {}
        }
        Ok(())
    }

    /// Transfer `tag` committed at its payer: the users learn of a paid reward.
    pub(super) fn gov_transfer_committed(&mut self, tag: u64) {
        let index_of = &self.index_of;
        let Some(driver) = self.governance.as_deref_mut() else { return };
        driver.transfer_committed(tag, &|id: &Id| index_of.get(id).copied());
    }

    /// I10 over every organization a root member holds, and the agreement of the organizations
    /// at the pulse it last sealed.
    pub(super) fn check_governance(&mut self, index: NodeIndex) -> Result<(), Violation> {
        let Some(driver) = self.governance.as_deref() else { return Ok(()) };
        let node = &self.nodes[index as usize];
        let Some(orgs) = node.organizations() else { return Ok(()) };
        // Only a changed organization can break I10 or disagree.
        let revision = node.governance_revision().unwrap_or(0);
        if self.gov_agreement.checked.insert(index, revision) == Some(revision) {
            return Ok(());
        }
        read_balances(&self.nodes, orgs, &mut self.gov_agreement.balances);
        let balances = &self.gov_agreement.balances;
        self.checker.checks += crate::governance::weights_hold(orgs, driver.trust(), balances)?;
        match sealed(node) {
            Some((pulse, digest)) => self.gov_agreement.observe(pulse, digest),
            None => Ok(()),
        }
    }

    /// Schedule the users' first tick.
    pub(super) fn schedule_governance(&mut self) {
        if let Some(driver) = &self.governance {
            self.queue.push(driver.first_tick_ms(), Event::GovTick);
        }
    }
}

/// The ledger balance under its proposal's pinned root of every balance vote not bounded yet,
/// from any bookkeeper of the voter's group that still holds that root.
fn read_balances(
    nodes: &[Node],
    orgs: &BTreeMap<Id, reference::org::Organization>,
    balances: &mut crate::governance::BalanceBounds,
) {
    for (org, organization) in orgs {
        if organization.params().weight_rule != reference::org::WeightRule::Balance {
            continue;
        }
        // A closed proposal's votes were read while it was open.
        for (number, proposal) in organization.proposals().iter().filter(|(_, p)| p.outcome.is_none()) {
            for (voter, vote) in &proposal.votes {
                let key = (*org, *number, *voter);
                if vote.rule != reference::org::WeightRule::Balance || balances.contains_key(&key) {
                    continue;
                }
                if let Some(balance) =
                    nodes.iter().find_map(|n| n.balance_under(proposal.opened_pulse, voter))
                {
                    balances.insert(key, balance);
                }
            }
        }
    }
}

fn sealed(node: &Node) -> Option<(u64, Hash32)> {
    node.governance_sealed()
}
