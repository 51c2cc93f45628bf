//! The run's schedule of work and faults: the first timers and arrivals, declared crashes,
//! partitions, churn, and the samples and heal checks taken along the way.

use crate::arrivals::Arrivals;
use crate::faults;
use crate::metrics::{Count, FaultKind};
use crate::queue::EventQueue;
use crate::rng::{self, Purpose};
use crate::scenario::NodeIndex;
use crate::trace::Ev;
use reference::Prefix;
use reference::node::Command;

use super::*;

impl Simulation {
    // ----- scheduling the run -------------------------------------------------------------

    pub(super) fn schedule_start(&mut self) -> Result<(), SimError> {
        for index in 0..self.nodes.len() {
            let mut out = std::mem::take(&mut self.scratch);
            self.nodes[index].start(faults::local_ms(0, self.status[index].drift_ppm), &mut out);
            self.apply_outputs(index as NodeIndex, &mut out)?;
            self.scratch = out;
        }
        let workload = &self.scenario.workload;
        self.arrivals = Arrivals::new(workload.transfers_per_s, workload.start_ms, &mut self.workload_rng);
        if let Some(first_ms) = self.arrivals.as_ref().map(Arrivals::next_ms)
            && first_ms < self.scenario.workload_stop_ms()
        {
            self.queue.push(first_ms, Event::Arrival);
        }
        self.schedule_declared_faults();
        self.schedule_governance();
        self.queue.push(self.scenario.parameters.pulse_ms.saturating_sub(1), Event::Sample);
        Ok(())
    }

    pub(super) fn schedule_declared_faults(&mut self) {
        let faults = self.scenario.faults.clone();
        for (index, partition) in faults.partitions.iter().enumerate() {
            self.queue.push(partition.at_ms, Event::PartitionStart { index: index as u32 });
            if let Some(heal_ms) = partition.heal_at_ms {
                self.queue.push(heal_ms, Event::PartitionHeal { index: index as u32 });
            }
        }
        for crash in &faults.crashes {
            for node in crash.nodes.resolve(self.scenario.nodes.clients).expect("validated") {
                self.queue.push(crash.at_ms, Event::Crash { node });
                if let Some(restart_ms) = crash.restart_at_ms {
                    self.queue.push(restart_ms, Event::Restart { node, durable: crash.durable });
                }
            }
        }
        for (index, crash) in faults.primary_crashes.iter().enumerate() {
            let fault = index as u32;
            for group in self.crashing_groups(index as u64, crash.groups) {
                self.queue.push(crash.at_ms, Event::PrimaryCrash { fault, group });
                if let Some(restart_ms) = crash.restart_at_ms {
                    self.queue
                        .push(restart_ms, Event::PrimaryRestart { fault, group, durable: crash.durable });
                }
            }
        }
        if let Some(churn) = &faults.churn {
            self.churn = Arrivals::new(churn.crashes_per_min / 60.0, 0, &mut self.churn_rng);
            if let Some(first_ms) = self.churn.as_ref().map(Arrivals::next_ms) {
                self.queue.push(first_ms, Event::ChurnTick);
            }
        }
    }

    /// `fraction` of the leaf groups (0-based, prefix order), drawn with the fault stream of
    /// the `index`-th declared primary crash; at least one if `fraction > 0`.
    pub(super) fn crashing_groups(&self, index: u64, fraction: f64) -> Vec<u32> {
        crashing_groups(self.seed, self.layout.leaves, index, fraction)
    }

    /// Crash the member acting as leaf group `group`'s primary, as the acting chief knows it.
    pub(super) fn crash_primary(&mut self, fault: u32, group: u32) -> Result<(), SimError> {
        let chief = self.history.acting(&Prefix::ROOT).unwrap_or(BOOKKEEPER) as usize;
        let first = self.layout.first_primary + group as usize;
        let acting = self.nodes[first].group().and_then(|prefix| self.nodes[chief].view_of(&prefix));
        let node = acting.and_then(|(_, id)| self.index_of.get(&id).copied()).unwrap_or(first as NodeIndex);
        self.crashed_primaries.insert((fault, group), node);
        self.crash(node)?;
        Ok(())
    }

    pub(super) fn arrival(&mut self) -> Result<(), SimError> {
        let (payer, payee, amount) = self.draw_transfer();
        let tag = self.open_request(Ev::Request, payer, payee, amount)?;
        let next_ms = self.arrivals.as_mut().map(|a| a.advance(&mut self.workload_rng));
        if let Some(next_ms) = next_ms
            && next_ms < self.scenario.workload_stop_ms()
        {
            self.queue.push(next_ms, Event::Arrival);
        }
        if !self.status[payer as usize].up {
            self.finish_request(tag, Count::Lost, None);
            return Ok(());
        }
        let command = Command::Transfer { to: self.ids[payee as usize], amount, tag };
        self.with_node(payer, |node, now, out| node.handle_command(now, command, out))
    }

    /// A new request of `amount` from `payer`'s node to `payee`: its tag, counted as issued and
    /// traced as `ev`.
    fn open_request(
        &mut self,
        ev: Ev,
        payer: NodeIndex,
        payee: NodeIndex,
        amount: u64,
    ) -> Result<u64, SimError> {
        let tag = self.issued_at_ms.len() as u64;
        self.issued_at_ms.push(self.now_ms);
        self.started_at_ms.push(self.now_ms);
        self.metrics.outstanding += 1;
        self.metrics.at(self.now_ms, self.scenario.parameters.pulse_ms).counts[Count::Issued] += 1;
        self.trace.record(self.now_ms, ev, &[tag, u64::from(payer), u64::from(payee), amount])?;
        Ok(tag)
    }

    /// Pay the organization's passed rewards (D-046): each a transfer from its account by the
    /// node holding its key, a request like any other.
    pub(super) fn pay_rewards(&mut self) -> Result<(), SimError> {
        let Some(driver) = self.governance.as_deref_mut() else { return Ok(()) };
        let (payments, org, holder) = (driver.payments(), driver.org(), driver.holder());
        for (to, amount) in payments {
            let payee = self.index_of.get(&to).copied().unwrap_or(NodeIndex::MAX);
            let tag = self.open_request(Ev::Reward, holder, payee, amount)?;
            if let Some(driver) = self.governance.as_deref_mut() {
                driver.paying(tag, (to, amount));
            }
            if !self.status[holder as usize].up {
                self.finish_request(tag, Count::Lost, None);
                continue;
            }
            let command = Command::TransferFrom { from: org, to, amount, tag };
            self.with_node(holder, |node, now, out| node.handle_command(now, command, out))?;
        }
        Ok(())
    }

    pub(super) fn draw_transfer(&mut self) -> (NodeIndex, NodeIndex, u64) {
        self.draws.draw(&mut self.workload_rng)
    }

    pub(super) fn crash(&mut self, node: NodeIndex) -> Result<bool, SimError> {
        let status = &mut self.status[node as usize];
        if !status.up {
            return Ok(false);
        }
        status.up = false;
        status.incarnation += 1; // timers set before the crash never fire
        self.metrics.at(self.now_ms, self.scenario.parameters.pulse_ms).counts[Count::Crashes] += 1;
        self.metrics.mark(self.now_ms, FaultKind::Crash, u64::from(node));
        self.trace.record(self.now_ms, Ev::Crash, &[u64::from(node)])?;
        Ok(true)
    }

    pub(super) fn restart(&mut self, node: NodeIndex, durable: bool) -> Result<(), SimError> {
        if self.status[node as usize].up {
            return Ok(());
        }
        self.status[node as usize].up = true;
        self.metrics.at(self.now_ms, self.scenario.parameters.pulse_ms).counts[Count::Restarts] += 1;
        self.metrics.mark(self.now_ms, FaultKind::Restart, u64::from(node));
        self.trace.record(self.now_ms, Ev::Restart, &[u64::from(node), u64::from(durable)])?;
        self.with_node(node, |n, now, out| n.restart(now, durable, out))
    }

    pub(super) fn partition(&mut self, index: u32, start: bool) -> Result<(), SimError> {
        let kind = if start { Ev::Partition } else { Ev::Heal };
        self.trace.record(self.now_ms, kind, &[u64::from(index)])?;
        let kind = if start { FaultKind::PartitionStart } else { FaultKind::PartitionHeal };
        self.metrics.mark(self.now_ms, kind, u64::from(index));
        if start {
            self.network.partition(index as usize, self.partition_sides[index as usize].clone());
            self.metrics.partitions_started += 1;
        } else {
            self.network.heal(index as usize);
            self.metrics.partitions_healed += 1;
        }
        Ok(())
    }

    pub(super) fn churn_tick(&mut self) -> Result<(), SimError> {
        let churn = self.scenario.faults.churn.clone().expect("churn ticks are scheduled only with churn");
        let clients = u64::from(self.scenario.nodes.clients);
        let node = rng::between(&mut self.churn_rng, 1, clients) as NodeIndex;
        let down_ms = rng::between(&mut self.churn_rng, churn.down_min_ms, churn.down_max_ms);
        let next_ms = self.churn.as_mut().map(|c| c.advance(&mut self.churn_rng));
        if self.crash(node)? {
            let restart_ms = self.now_ms.saturating_add(down_ms.max(1));
            self.queue.push(restart_ms, Event::Restart { node, durable: churn.durable });
        }
        if let Some(next_ms) = next_ms {
            self.queue.push(next_ms, Event::ChurnTick);
        }
        Ok(())
    }

    pub(super) fn sample(&mut self) -> Result<(), SimError> {
        let pulse_ms = self.scenario.parameters.pulse_ms;
        if self.heal_deadline_ms.is_some_and(|deadline| self.now_ms >= deadline) {
            self.check_healed()?;
        }
        self.metrics.sample(self.now_ms, pulse_ms, self.network.partitions_in_force());
        self.queue.push(self.now_ms.saturating_add(pulse_ms), Event::Sample);
        Ok(())
    }

    /// L3: every node that is up holds the ts the chief released a delay bound or more ago
    /// (D-036). Checked at the end of each pulse once `heal_pulses_max` pulses have passed since
    /// the last fault stopped.
    pub(super) fn check_healed(&mut self) -> Result<(), SimError> {
        let held = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(i, _)| self.status[*i].up)
            .filter_map(|(i, node)| node.root().map(|root| (i, root.version)));
        self.checker.checks += 1;
        self.heal.check(self.now_ms, held).map_err(|v| self.violation(v))
    }
}

/// `fraction` of `leaves` leaf groups (0-based, prefix order) whose primaries the `index`-th
/// declared primary crash of a run with `seed` takes down, drawn with its fault stream; at
/// least one if `fraction > 0` (also what `leither-host cluster` kills).
pub fn crashing_groups(seed: u64, leaves: usize, index: u64, fraction: f64) -> Vec<u32> {
    let count = ((fraction * leaves as f64).round() as usize).max(usize::from(fraction > 0.0)).min(leaves);
    let mut rng = rng::stream(seed, Purpose::Faults, 1 + index);
    let mut order: Vec<usize> = (0..leaves).collect();
    rng::shuffle(&mut order, &mut rng);
    order.into_iter().take(count).map(|g| g as u32).collect()
}
