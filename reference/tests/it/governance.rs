//! Governance on the wire (D-041), through `Node`: a chief takes signed requests from its
//! clients' envelopes, answers each author, closes proposals at pulses; every refusal is a typed
//! answer that changes nothing, and replays and retries never act twice.

use std::collections::BTreeMap;
use std::sync::Arc;

use reference::Id;
use reference::crypto::{Signer, SimScheme};
use reference::node::governance::{
    Bound, Endorsement, GovAccepted, GovAction, GovConfig, GovRefusal, GovRequest, GovResult,
};
use reference::node::{Envelope, Genesis, Message, Node, NodeConfig, NodeEvent, Output, Roster, Timer, To};
use reference::org::{OrgError, OrgParams, ProposalKind, WeightRule};

const PULSE_MS: u64 = 1000;

struct World {
    scheme: SimScheme,
    chief: Node,
    clients: Vec<Node>,
    org_key: reference::crypto::SimSigner,
    now_ms: u64,
    closed: Vec<NodeEvent>,
}

fn params(weight_rule: WeightRule) -> OrgParams {
    OrgParams {
        vote_window_pulses: 3,
        quorum_permille: 500,
        threshold_permille: 500,
        weight_rule,
        supervisor_absence_pulses: 10,
    }
}

fn world(clients: u64, governance: GovConfig) -> World {
    let scheme = SimScheme::new(9);
    let chief_signer = scheme.signer(0);
    let roster = Roster::single(chief_signer.id());
    let signers: Vec<_> = (1..=clients).map(|i| scheme.signer(i)).collect();
    let distribution: Vec<(Id, u64)> = signers.iter().map(|s| (s.id(), 1_000)).collect();
    let treasury = scheme.signer(999);
    let genesis = Genesis::split(&roster, treasury.id(), 1_000_000, &distribution, 4).unwrap();
    let config = NodeConfig {
        pulse_ms: PULSE_MS,
        retry_ms: 3 * PULSE_MS,
        max_attempts: 3,
        transfer_timeout_pulses: 4,
        roster: Arc::new(roster),
        bookkeeper_deposit: None,
        failover_timeout_pulses: 2,
        election_cycle_pulses: None,
        election_pool_factor: 2,
        bookkeeper_deposit_min: 0,
        governance,
    };
    let verifier = Arc::new(scheme.clone());
    let ledger = genesis.ledgers.into_iter().next().unwrap().1;
    let chief =
        Node::chief(Arc::new(chief_signer), ledger, genesis.arbiter, verifier.clone(), config.clone());
    let clients =
        signers.into_iter().map(|s| Node::client(Arc::new(s), verifier.clone(), config.clone())).collect();
    World { org_key: scheme.signer(5_000), scheme, chief, clients, now_ms: 0, closed: Vec::new() }
}

impl World {
    fn id(&self, client: usize) -> Id {
        self.clients[client].id()
    }

    fn org(&self) -> Id {
        self.org_key.id()
    }

    /// Client `client` sends `request` (sealed with its own key) to the chief; the answer.
    fn send(&mut self, client: usize, request: GovRequest) -> GovResult {
        let envelope = self.clients[client].seal(
            self.now_ms,
            To::Node(self.chief.id()),
            Message::Gov(Box::new(request)),
        );
        self.deliver(&envelope)
    }

    fn deliver(&mut self, envelope: &Envelope) -> GovResult {
        let mut out = Vec::new();
        self.chief.handle_message(self.now_ms, envelope, &mut out);
        let answers: Vec<GovResult> = out
            .iter()
            .filter_map(|o| match o {
                Output::Send { msg: Message::GovOutcome { result, .. }, .. } => Some(*result),
                _ => None,
            })
            .collect();
        assert_eq!(answers.len(), 1, "one answer per request: {out:?}");
        answers[0]
    }

    fn ask(&mut self, client: usize, nonce: u64, action: GovAction) -> GovResult {
        let org = self.org();
        self.send(client, GovRequest { org, nonce, action })
    }

    fn pulse(&mut self) {
        self.now_ms += PULSE_MS;
        let mut out = Vec::new();
        self.chief.handle_timer(self.now_ms, Timer::Pulse, &mut out);
        self.closed.extend(out.into_iter().filter_map(|o| match o {
            Output::Event(event @ NodeEvent::ProposalClosed { .. }) => Some(event),
            _ => None,
        }));
    }

    fn found(&mut self, rule: WeightRule) {
        let action = GovAction::create(&self.org_key, self.id(0), params(rule));
        assert_eq!(self.ask(0, 1, action), Ok(GovAccepted::Done));
    }

    /// Clients `1..=n` apply (request 1) and the supervisor (client 0) approves each (requests
    /// 1001..): a test's later requests from the supervisor number above 2000.
    fn admit(&mut self, n: usize) {
        for c in 1..=n {
            assert_eq!(self.ask(c, 1, GovAction::Apply { endorsement: None }), Ok(GovAccepted::Done));
            let applicant = self.id(c);
            assert_eq!(
                self.ask(0, 1_000 + c as u64, GovAction::Decide { applicant, admit: true }),
                Ok(GovAccepted::Done)
            );
        }
    }

    fn digest(&self) -> reference::crypto::Hash32 {
        self.chief.governance_digest().expect("the chief holds organizations")
    }
}

#[test]
fn an_organization_is_founded_joined_and_decides_by_vote_at_a_pulse() {
    let mut w = world(5, GovConfig::default());
    w.found(WeightRule::OneMemberOneVote);
    w.admit(3);
    let org = w.chief.organizations().unwrap()[&w.org()].clone();
    assert_eq!(org.members().len(), 4);
    assert_eq!(org.supervisor(), w.id(0));
    let victim = w.id(3);
    let opened = w.ask(1, 2, GovAction::Propose { kind: ProposalKind::Expel { member: victim } });
    assert_eq!(opened, Ok(GovAccepted::Opened { number: 0 }));
    for voter in [0, 1, 2] {
        let nonce = 2_000 + voter as u64;
        assert_eq!(w.ask(voter, nonce, GovAction::Vote { number: 0, yes: true }), Ok(GovAccepted::Done));
    }
    // The window is three pulses: the proposal closes at the third.
    w.pulse();
    w.pulse();
    assert!(w.closed.is_empty());
    w.pulse();
    let [NodeEvent::ProposalClosed { closed, .. }] = w.closed.as_slice() else { panic!("{:?}", w.closed) };
    assert!(closed.outcome.passed, "{closed:?}");
    assert_eq!((closed.outcome.yes, closed.outcome.no, closed.outcome.total_weight), (3, 0, 4));
    let org = &w.chief.organizations().unwrap()[&w.org()];
    assert!(!org.members().contains_key(&victim), "expelled");
    reference::invariants::governance_weighed(org, |_, _, _| 1).unwrap();
}

#[test]
fn every_refusal_is_a_typed_answer_that_changes_nothing() {
    let mut w = world(5, GovConfig { max_members: 3, ..GovConfig::default() });
    // Unknown organization, a founding the organization's key did not sign.
    assert_eq!(w.ask(1, 0, GovAction::Leave), Err(GovRefusal::UnknownOrg(w.org())));
    let forged = GovAction::create(&w.scheme.signer(6_000), w.id(0), params(WeightRule::OneMemberOneVote));
    assert_eq!(w.ask(0, 1, forged), Err(GovRefusal::BadFounding));
    assert!(w.chief.organizations().unwrap().is_empty());
    let founding = GovAction::create(&w.org_key, w.id(0), params(WeightRule::OneMemberOneVote));
    assert_eq!(w.ask(0, 3, founding.clone()), Ok(GovAccepted::Done));
    assert_eq!(w.ask(0, 4, founding), Err(GovRefusal::OrgExists(w.org())));
    let before = w.digest();
    // An endorsement signed for another applicant; a guest voting; a member applying again.
    let for_another = Endorsement::sign(&w.scheme.signer(1), w.org(), w.id(2));
    let bad = GovAction::Apply { endorsement: Some(for_another) };
    assert_eq!(w.ask(3, 1, bad), Err(GovRefusal::BadEndorsement));
    assert_eq!(
        w.ask(3, 2, GovAction::Vote { number: 0, yes: true }),
        Err(GovRefusal::Org(OrgError::NotMember(w.id(3))))
    );
    assert_eq!(
        w.ask(0, 5, GovAction::Apply { endorsement: None }),
        Err(GovRefusal::Org(OrgError::AlreadyMember(w.id(0))))
    );
    // Refusals change nothing at all: not the organization, not the authors' windows.
    let org = &w.chief.organizations().unwrap()[&w.org()];
    assert_eq!(org.members().len(), 1);
    assert_eq!(org.applications(), 0);
    assert_eq!(w.digest(), before, "a refusal is not remembered");
    // The bound on members.
    w.admit(2);
    assert_eq!(w.ask(4, 1, GovAction::Apply { endorsement: None }), Ok(GovAccepted::Done));
    let applicant = w.id(4);
    let full = w.ask(0, 2_000, GovAction::Decide { applicant, admit: true });
    assert_eq!(full, Err(GovRefusal::Full { what: Bound::Members, limit: 3 }));
}

#[test]
fn an_endorsed_application_names_its_endorser_and_the_supervisor_decides() {
    let mut w = world(4, GovConfig::default());
    w.found(WeightRule::OneMemberOneVote);
    w.admit(1);
    let endorsement = Endorsement::sign(&w.scheme.signer(2), w.org(), w.id(2));
    assert_eq!(w.ask(2, 1, GovAction::Apply { endorsement: Some(endorsement) }), Ok(GovAccepted::Done));
    // Only the supervisor decides.
    let applicant = w.id(2);
    let by_member = w.ask(1, 5, GovAction::Decide { applicant, admit: true });
    assert!(matches!(by_member, Err(GovRefusal::Org(OrgError::LacksRight { .. }))), "{by_member:?}");
    assert_eq!(w.ask(0, 2_009, GovAction::Decide { applicant, admit: false }), Ok(GovAccepted::Done));
    let org = &w.chief.organizations().unwrap()[&w.org()];
    assert!(!org.members().contains_key(&applicant));
    assert!(!org.has_applied(&applicant));
}

#[test]
fn a_replayed_request_is_refused_and_a_retry_answered_again_without_acting_twice() {
    let mut w = world(4, GovConfig::default());
    w.found(WeightRule::OneMemberOneVote);
    w.admit(2);
    let propose = GovAction::Propose {
        kind: ProposalKind::ParamChange { params: params(WeightRule::OneMemberOneVote) },
    };
    let org = w.org();
    let request = GovRequest { org, nonce: 50, action: propose };
    let envelope =
        w.clients[1].seal(w.now_ms, To::Node(w.chief.id()), Message::Gov(Box::new(request.clone())));
    assert_eq!(w.deliver(&envelope), Ok(GovAccepted::Opened { number: 0 }));
    // The same envelope again (a network duplicate), and a new envelope around the same request
    // (a retry after a lost answer): both answered as the first time, one proposal only.
    assert_eq!(w.deliver(&envelope), Ok(GovAccepted::Opened { number: 0 }));
    assert_eq!(w.send(1, request), Ok(GovAccepted::Opened { number: 0 }));
    assert_eq!(w.chief.organizations().unwrap()[&org].proposals().len(), 1);
    // An older number not seen yet is taken (requests in flight together arrive in any order)…
    assert_eq!(w.ask(1, 49, GovAction::Vote { number: 0, yes: true }), Ok(GovAccepted::Done));
    // …until the author's latest GOV_WINDOW taken requests are all newer: then it is stale.
    for nonce in 100..100 + reference::node::GOV_WINDOW as u64 {
        let kind = ProposalKind::ParamChange { params: params(WeightRule::OneMemberOneVote) };
        assert!(matches!(w.ask(1, nonce, GovAction::Propose { kind }), Ok(GovAccepted::Opened { .. })));
    }
    let stale = w.ask(1, 48, GovAction::Leave);
    assert_eq!(stale, Err(GovRefusal::Stale { nonce: 48, floor: 50 }));
    // A refused request is not remembered: the same one again is judged again.
    let early = w.ask(2, 70, GovAction::Vote { number: 999, yes: true });
    assert_eq!(early, Err(GovRefusal::Org(OrgError::UnknownProposal(999))));
    assert!(w.chief.organizations().unwrap()[&org].members().contains_key(&w.id(1)), "nothing changed");
    // One member, one vote: a second vote with a new number is refused.
    assert_eq!(w.ask(2, 60, GovAction::Vote { number: 0, yes: true }), Ok(GovAccepted::Done));
    let again = w.ask(2, 61, GovAction::Vote { number: 0, yes: false });
    assert_eq!(again, Err(GovRefusal::Org(OrgError::AlreadyVoted(w.id(2)))));
}

#[test]
fn trust_weights_come_from_the_configured_table_and_never_exceed_it() {
    let mut trust = BTreeMap::new();
    let w0 = world(3, GovConfig::default());
    trust.insert(w0.id(0), 7);
    trust.insert(w0.id(1), 2);
    let mut w = world(3, GovConfig { trust: Arc::new(trust.clone()), ..GovConfig::default() });
    w.found(WeightRule::Trust);
    w.admit(2);
    let kind = ProposalKind::SupervisorElect { candidate: w.id(1) };
    let early = w.ask(1, 2, GovAction::Propose { kind });
    assert!(matches!(early, Err(GovRefusal::Org(OrgError::SupervisorNotAbsent { .. }))), "{early:?}");
    let opened = w.ask(1, 3, GovAction::Propose { kind: ProposalKind::Expel { member: w.id(2) } });
    assert_eq!(opened, Ok(GovAccepted::Opened { number: 0 }));
    assert_eq!(w.ask(0, 2_010, GovAction::Vote { number: 0, yes: false }), Ok(GovAccepted::Done));
    assert_eq!(w.ask(1, 11, GovAction::Vote { number: 0, yes: true }), Ok(GovAccepted::Done));
    assert_eq!(w.ask(2, 12, GovAction::Vote { number: 0, yes: true }), Ok(GovAccepted::Done));
    for _ in 0..3 {
        w.pulse();
    }
    let [NodeEvent::ProposalClosed { closed, .. }] = w.closed.as_slice() else { panic!("{:?}", w.closed) };
    // 7 against 2 + 0: client 2 has no trust score and weighs nothing.
    assert_eq!((closed.outcome.yes, closed.outcome.no, closed.outcome.passed), (2, 7, false));
    let org = &w.chief.organizations().unwrap()[&w.org()];
    let bound = |_, id: &Id, _| trust.get(id).copied().unwrap_or(0);
    reference::invariants::governance_weighed(org, bound).unwrap();
    // A bound of one per voter is what the 7 breaks.
    assert!(reference::invariants::governance_weighed(org, |_, _, _| 1).is_err());
}

#[test]
fn a_leaf_bookkeeper_or_a_client_refuses_governance_requests() {
    let mut w = world(2, GovConfig::default());
    let request = GovRequest { org: w.org(), nonce: 1, action: GovAction::Leave };
    let to = To::Node(w.id(1));
    let envelope = w.clients[0].seal(0, to, Message::Gov(Box::new(request)));
    let mut out = Vec::new();
    w.clients[1].handle_message(0, &envelope, &mut out);
    assert!(matches!(out.as_slice(), [Output::Event(NodeEvent::BadMessage { .. })]), "{out:?}");
}

#[test]
fn a_client_keeps_its_requests_in_flight_retries_each_with_its_number_and_reports_answers() {
    let mut w = world(2, GovConfig::default());
    let org = w.org();
    let mut out = Vec::new();
    for tag in 0..=reference::node::GOV_IN_FLIGHT as u64 {
        w.clients[0].handle_command(
            0,
            reference::node::Command::Gov { org, action: GovAction::Heartbeat, tag },
            &mut out,
        );
    }
    let sent: Vec<GovRequest> = out
        .iter()
        .filter_map(|o| match o {
            Output::Send { msg: Message::Gov(request), .. } => Some((**request).clone()),
            _ => None,
        })
        .collect();
    assert_eq!(sent.len(), reference::node::GOV_IN_FLIGHT, "the last waits");
    assert!(sent.windows(2).all(|p| p[0].nonce < p[1].nonce), "numbers increase");
    // The retry timer of the first sends the very same request again.
    let mut retry = Vec::new();
    w.clients[0].handle_timer(3_000, Timer::GovRetry { nonce: sent[0].nonce }, &mut retry);
    let again: Vec<&GovRequest> = retry
        .iter()
        .filter_map(|o| match o {
            Output::Send { msg: Message::Gov(request), .. } => Some(&**request),
            _ => None,
        })
        .collect();
    assert_eq!(again, vec![&sent[0]]);
    // The chief's answer to it is an event with its tag, and lets the last go out.
    let answer =
        Message::GovOutcome { org, nonce: sent[0].nonce, pulse: 1, result: Err(GovRefusal::UnknownOrg(org)) };
    let to = To::Node(w.id(0));
    let envelope = w.chief.seal(3_000, to, answer);
    let mut answered = Vec::new();
    w.clients[0].handle_message(3_000, &envelope, &mut answered);
    assert!(
        answered.iter().any(|o| matches!(o, Output::Event(NodeEvent::GovAnswered { tag: 0, .. }))),
        "{answered:?}"
    );
    assert!(answered.iter().any(|o| matches!(o, Output::Send { msg: Message::Gov(_), .. })), "{answered:?}");
    // The same answer again (a duplicate) is dropped.
    let mut duplicate = Vec::new();
    w.clients[0].handle_message(3_000, &envelope, &mut duplicate);
    assert!(
        duplicate.iter().all(|o| !matches!(o, Output::Event(NodeEvent::GovAnswered { .. }))),
        "{duplicate:?}"
    );
    // An answer from a node that is not of the root committee is a bad message.
    let forged = Message::GovOutcome { org, nonce: sent[1].nonce, pulse: 1, result: Ok(GovAccepted::Done) };
    let to = To::Node(w.id(0));
    let envelope = w.clients[1].seal(3_000, to, forged);
    let mut bad = Vec::new();
    w.clients[0].handle_message(3_000, &envelope, &mut bad);
    assert!(matches!(bad.as_slice(), [Output::Event(NodeEvent::BadMessage { .. })]), "{bad:?}");
}

#[test]
fn a_founder_choosing_extreme_parameters_cannot_break_the_chief() {
    let mut w = world(3, GovConfig::default());
    let extreme = OrgParams {
        vote_window_pulses: u64::MAX,
        quorum_permille: 0,
        threshold_permille: 0,
        weight_rule: WeightRule::OneMemberOneVote,
        supervisor_absence_pulses: u64::MAX,
    };
    let action = GovAction::create(&w.org_key, w.id(0), extreme);
    assert_eq!(w.ask(0, 1, action), Ok(GovAccepted::Done));
    // Opened after pulse 0, so that its window's end would overflow.
    w.pulse();
    let kind = ProposalKind::ParamChange { params: extreme };
    assert_eq!(w.ask(0, 2, GovAction::Propose { kind }), Ok(GovAccepted::Opened { number: 0 }));
    assert_eq!(w.ask(0, 3, GovAction::Vote { number: 0, yes: true }), Ok(GovAccepted::Done));
    let kind = ProposalKind::SupervisorElect { candidate: w.id(0) };
    let refused = w.ask(0, 4, GovAction::Propose { kind });
    assert!(matches!(refused, Err(GovRefusal::Org(OrgError::SupervisorNotAbsent { .. }))), "{refused:?}");
    for _ in 0..3 {
        w.pulse();
    }
    assert!(w.closed.is_empty(), "a window without end never closes");
}

/// A nonce numbered at `ms` (as a client numbers it), the `k`-th in that millisecond.
fn at_ms(ms: u64, k: u64) -> u64 {
    (ms << reference::node::SEQ_CLOCK_SHIFT) + k
}

#[test]
fn a_request_numbered_beyond_the_horizon_is_refused_and_changes_nothing() {
    let mut w = world(3, GovConfig { request_horizon_pulses: 5, ..GovConfig::default() });
    w.found(WeightRule::OneMemberOneVote);
    let before = w.digest();
    // Dated 6 pulses ahead of the chief's time (0 ms): beyond a horizon of 5.
    let ahead = at_ms(6 * PULSE_MS, 0);
    let refused = w.ask(1, ahead, GovAction::Apply { endorsement: None });
    assert_eq!(refused, Err(GovRefusal::OutOfTime { request_ms: 6 * PULSE_MS, chief_ms: 0 }));
    assert_eq!(w.digest(), before, "a refusal changes nothing");
    // Within the horizon either side it is judged as usual.
    assert_eq!(
        w.ask(1, at_ms(5 * PULSE_MS, 0), GovAction::Apply { endorsement: None }),
        Ok(GovAccepted::Done)
    );
    for _ in 0..12 {
        w.pulse();
    }
    // Now at 12 pulses: a request numbered at pulse 6 is too old.
    let old = w.ask(2, at_ms(6 * PULSE_MS, 0), GovAction::Apply { endorsement: None });
    assert_eq!(old, Err(GovRefusal::OutOfTime { request_ms: 6 * PULSE_MS, chief_ms: 12 * PULSE_MS }));
    assert_eq!(
        w.ask(2, at_ms(7 * PULSE_MS, 0), GovAction::Apply { endorsement: None }),
        Ok(GovAccepted::Done)
    );
}

#[test]
fn idle_windows_are_forgotten_and_their_requests_cannot_be_replayed() {
    let mut w = world(3, GovConfig { request_horizon_pulses: 5, ..GovConfig::default() });
    w.found(WeightRule::OneMemberOneVote);
    let apply =
        GovRequest { org: w.org(), nonce: at_ms(0, 7), action: GovAction::Apply { endorsement: None } };
    let envelope = w.clients[1].seal(w.now_ms, To::Node(w.chief.id()), Message::Gov(Box::new(apply.clone())));
    assert_eq!(w.deliver(&envelope), Ok(GovAccepted::Done));
    let applicant = w.id(1);
    let decide = GovAction::Decide { applicant, admit: false };
    assert_eq!(w.ask(0, at_ms(0, 9), decide), Ok(GovAccepted::Done));
    assert_eq!(w.chief.governance_windows(), Some(2), "the founder's and the applicant's");
    for _ in 0..5 {
        w.pulse();
    }
    assert_eq!(w.chief.governance_windows(), Some(2), "kept up to the horizon");
    w.pulse();
    assert_eq!(w.chief.governance_windows(), Some(0), "both idle for longer than the horizon");
    // The rejected application sent again, in a new envelope: its window is gone, but it is
    // out of time, so it is not taken a second time.
    let again = w.clients[1].seal(w.now_ms, To::Node(w.chief.id()), Message::Gov(Box::new(apply)));
    let before = w.digest();
    assert_eq!(w.deliver(&again), Err(GovRefusal::OutOfTime { request_ms: 0, chief_ms: 6 * PULSE_MS }));
    assert_eq!(w.digest(), before);
    assert!(!w.chief.organizations().unwrap()[&w.org()].has_applied(&applicant));
}

// ----- balance weights (D-049) ----------------------------------------------------------------

use reference::node::Command;

impl World {
    /// Deliver `out` (produced by `from`: a client's index, or `None` for the chief) and every
    /// message it leads to, sealed by its sender, until none is left; the events on the way.
    fn route(&mut self, from: Option<usize>, out: Vec<Output>) -> Vec<NodeEvent> {
        let mut queue: std::collections::VecDeque<(Option<usize>, Output)> =
            out.into_iter().map(|o| (from, o)).collect();
        let mut events = Vec::new();
        while let Some((sender, output)) = queue.pop_front() {
            let (to, msg) = match output {
                Output::Send { to, msg } => (Some(to), msg),
                Output::Broadcast { msg } => (None, msg),
                Output::Event(event) => {
                    events.push(event);
                    continue;
                }
                _ => continue,
            };
            let now = self.now_ms;
            let addressee = to.map_or(To::Everyone, To::Node);
            let envelope = match sender {
                Some(c) => self.clients[c].seal(now, addressee, msg),
                None => self.chief.seal(now, addressee, msg),
            };
            let receivers: Vec<Option<usize>> = match to {
                None => (0..self.clients.len()).map(Some).collect(),
                Some(id) if id == self.chief.id() => vec![None],
                Some(id) => {
                    (0..self.clients.len()).filter(|c| self.clients[*c].id() == id).map(Some).collect()
                }
            };
            for receiver in receivers {
                let mut out = Vec::new();
                match receiver {
                    Some(c) => self.clients[c].handle_message(now, &envelope, &mut out),
                    None => self.chief.handle_message(now, &envelope, &mut out),
                }
                queue.extend(out.into_iter().map(|o| (receiver, o)));
            }
        }
        events
    }

    fn command(&mut self, client: usize, command: Command) -> Vec<NodeEvent> {
        let mut out = Vec::new();
        self.clients[client].handle_command(self.now_ms, command, &mut out);
        self.route(Some(client), out)
    }

    /// A pulse whose broadcast and settlements reach everyone.
    fn pulse_routed(&mut self) -> Vec<NodeEvent> {
        self.now_ms += PULSE_MS;
        let mut out = Vec::new();
        self.chief.handle_timer(self.now_ms, Timer::Pulse, &mut out);
        let events = self.route(None, out);
        self.closed.extend(events.iter().filter(|e| matches!(e, NodeEvent::ProposalClosed { .. })).cloned());
        events
    }

    fn vote_by_balance(&mut self, client: usize, opened_pulse: u64, yes: bool, tag: u64) -> GovResult {
        let org = self.org();
        let command = Command::VoteByBalance { org, number: 0, opened_pulse, yes, tag };
        answered(&self.command(client, command), tag)
    }
}

/// The answer `events` carry for command `tag`.
fn answered(events: &[NodeEvent], tag: u64) -> GovResult {
    let answers: Vec<GovResult> = events
        .iter()
        .filter_map(|e| match e {
            NodeEvent::GovAnswered { tag: t, result, .. } if *t == tag => Some(*result),
            _ => None,
        })
        .collect();
    assert_eq!(answers.len(), 1, "one answer for {tag}: {events:?}");
    answers[0]
}

#[test]
fn a_balance_vote_weighs_the_balance_its_proof_shows_under_the_opening_root() {
    let mut w = world(5, GovConfig::default());
    let params = OrgParams { vote_window_pulses: 10, ..params(WeightRule::Balance) };
    assert_eq!(w.ask(0, 1, GovAction::create(&w.org_key, w.id(0), params)), Ok(GovAccepted::Done));
    w.admit(3);
    w.pulse_routed();
    let opened_pulse = w.chief.pulse();
    let opened = w.ask(1, 2, GovAction::Propose { kind: ProposalKind::Expel { member: w.id(3) } });
    assert_eq!(opened, Ok(GovAccepted::Opened { number: 0 }));
    // A plain vote does not fit the rule.
    let plain = w.ask(2, 2, GovAction::Vote { number: 0, yes: true });
    assert_eq!(plain, Err(GovRefusal::VoteForm(WeightRule::Balance)));
    // Client 1 pays 900 of its 1,000 to client 2 after the opening; it commits.
    let to = w.id(2);
    w.command(1, Command::Transfer { to, amount: 900, tag: 1 });
    let mut committed = false;
    for _ in 0..3 {
        if !committed {
            committed = w.pulse_routed().iter().any(|e| matches!(e, NodeEvent::Committed { tag: 1, .. }));
        }
    }
    assert!(committed, "the payment commits");
    // Both vote, each with the 1,000 it held at the opening: the 900 moved counts once.
    assert_eq!(w.vote_by_balance(1, opened_pulse, true, 10), Ok(GovAccepted::Done));
    assert_eq!(w.vote_by_balance(2, opened_pulse, false, 11), Ok(GovAccepted::Done));
    // A proof under a later root (client 2's 1,900) is refused, and so is a second vote.
    let later = w.chief.pulse();
    assert_eq!(w.vote_by_balance(3, later, true, 12), Err(GovRefusal::BadProof));
    assert_eq!(
        w.vote_by_balance(2, opened_pulse, true, 13),
        Err(GovRefusal::Org(OrgError::AlreadyVoted(w.id(2))))
    );
    // Someone else's account shown as one's own is refused.
    let mut out = Vec::new();
    let ask = Message::ProveAccount { account: w.id(1), pulse: opened_pulse };
    let envelope = w.clients[3].seal(w.now_ms, To::Node(w.chief.id()), ask);
    w.chief.handle_message(w.now_ms, &envelope, &mut out);
    let [Output::Send { msg: Message::AccountAt { answer, .. }, .. }] = out.as_slice() else {
        panic!("{out:?}")
    };
    let reference::node::ProofAnswer::Proven { proof, .. } = answer else { panic!("{answer:?}") };
    let stolen = GovAction::VoteByBalance { number: 0, yes: true, proof: proof.clone() };
    assert_eq!(w.ask(3, 20, stolen), Err(GovRefusal::BadProof));
    // The organization's account (empty here: the supply sits in the treasury) is shown.
    let org = w.org();
    let show = Command::ProveOrgAccount { org, number: 0, opened_pulse, tag: 14 };
    assert_eq!(answered(&w.command(0, show), 14), Ok(GovAccepted::Done));
    let votes = w.chief.organizations().unwrap()[&w.org()].proposals()[&0].votes.clone();
    let weights: Vec<u64> = votes.values().map(|v| v.weight).collect();
    assert_eq!(weights, vec![1_000, 1_000], "{votes:?}");
    while w.closed.is_empty() {
        w.pulse_routed();
    }
    let [NodeEvent::ProposalClosed { closed, .. }] = w.closed.as_slice() else { panic!("{:?}", w.closed) };
    // The quorum is measured against all the money under the pinned root.
    assert_eq!(
        (closed.outcome.yes, closed.outcome.no, closed.outcome.total_weight),
        (1_000, 1_000, 1_000_000)
    );
    assert!(!closed.outcome.passed);
    let organization = &w.chief.organizations().unwrap()[&w.org()];
    reference::invariants::governance_weighed(organization, |_, _, _| 1_000).unwrap();
    assert!(reference::invariants::governance_weighed(organization, |_, _, _| 999).is_err());
}

#[test]
fn a_proof_of_a_pulse_the_group_no_longer_holds_is_given_up() {
    let mut w = world(3, GovConfig::default());
    w.found(WeightRule::Balance);
    w.admit(1);
    w.pulse_routed();
    let opened_pulse = w.chief.pulse();
    let opened = w.ask(0, 2_001, GovAction::Propose { kind: ProposalKind::Expel { member: w.id(1) } });
    assert_eq!(opened, Ok(GovAccepted::Opened { number: 0 }));
    // A pulse not yet settled is waited for (retried), one pruned is given up.
    let org = w.org();
    let early = Command::VoteByBalance { org, number: 0, opened_pulse: opened_pulse + 50, yes: true, tag: 7 };
    let events = w.command(1, early);
    assert!(!events.iter().any(|e| matches!(e, NodeEvent::GovGaveUp { .. })), "{events:?}");
    for _ in 0..reference::node::PROVEN_PULSES + 2 {
        w.now_ms += PULSE_MS;
        let mut out = Vec::new();
        w.chief.handle_timer(w.now_ms, Timer::Pulse, &mut out);
    }
    let late = Command::VoteByBalance { org, number: 0, opened_pulse, yes: true, tag: 8 };
    let events = w.command(1, late);
    assert!(events.iter().any(|e| matches!(e, NodeEvent::GovGaveUp { tag: 8 })), "{events:?}");
}

#[test]
fn every_member_learns_a_closed_proposal_from_the_chiefs_announcement_and_no_one_elses() {
    let mut w = world(4, GovConfig::default());
    w.found(WeightRule::OneMemberOneVote);
    w.admit(3);
    let kind = ProposalKind::Expel { member: w.id(3) };
    assert_eq!(w.ask(1, 2, GovAction::Propose { kind: kind.clone() }), Ok(GovAccepted::Opened { number: 0 }));
    for voter in [0, 1, 2] {
        assert_eq!(
            w.ask(voter, 3_000 + voter as u64, GovAction::Vote { number: 0, yes: true }),
            Ok(GovAccepted::Done)
        );
    }
    let mut learnt = Vec::new();
    for _ in 0..3 {
        learnt.extend(w.pulse_routed().into_iter().filter_map(|e| match e {
            NodeEvent::ProposalLearnt { notice, .. } => Some(*notice),
            _ => None,
        }));
    }
    // Each of the four clients (the expelled one too) hears it once, as it closed.
    assert_eq!(learnt.len(), 4, "{learnt:?}");
    assert!(
        learnt.iter().all(|n| n.org == w.org() && n.number == 0 && n.kind == kind && n.passed),
        "{learnt:?}"
    );
    assert_eq!((learnt[0].yes, learnt[0].no, learnt[0].total_weight), (3, 0, 4));
    // The same announcement from a member instead of the chief is refused.
    let forged = Message::Closed { pulse: 9, closed: vec![learnt[0].clone()] };
    let (now, to) = (w.now_ms, To::Node(w.id(2)));
    let envelope = w.clients[1].seal(now, to, forged);
    let mut out = Vec::new();
    w.clients[2].handle_message(w.now_ms, &envelope, &mut out);
    assert!(matches!(out.as_slice(), [Output::Event(NodeEvent::BadMessage { .. })]), "{out:?}");
}
