//! The scenario's transfer requests as a schedule: the very draws a simulated run makes (one
//! ChaCha8 workload stream: the first gap, then per request payer, payee, amount and the next
//! gap), for drivers that issue them elsewhere — `leither-host cluster` hands each client
//! process its own requests.

use rand_chacha::ChaCha8Rng;

use crate::arrivals::Arrivals;
use crate::rng::{self, Purpose, Zipf};
use crate::scenario::{Amount, NodeIndex, Popularity, Scenario};

/// One transfer request of the workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// When it is issued (ms from the start of the run).
    pub at_ms: u64,
    /// Its tag: its index in the schedule.
    pub tag: u64,
    /// The paying client (node index, `1..=clients`).
    pub payer: NodeIndex,
    /// The paid client.
    pub payee: NodeIndex,
    /// The amount.
    pub amount: u64,
}

/// The draws behind each request: which clients pay and are paid, and how much.
#[derive(Clone, Debug)]
pub struct Draws {
    clients: u64,
    payer_zipf: Option<Zipf>,
    payee_zipf: Option<Zipf>,
    amount: Amount,
}

impl Draws {
    /// The draws of `scenario`'s workload.
    pub fn new(scenario: &Scenario) -> Draws {
        let clients = scenario.nodes.clients as usize;
        Draws {
            clients: clients as u64,
            payer_zipf: zipf(scenario.workload.payer, clients),
            payee_zipf: zipf(scenario.workload.payee, clients),
            amount: scenario.workload.amount,
        }
    }

    /// Draw one request's payer, payee and amount from `rng`.
    pub fn draw(&self, rng: &mut ChaCha8Rng) -> (NodeIndex, NodeIndex, u64) {
        let clients = self.clients;
        let pick = |zipf: &Option<Zipf>, rng: &mut ChaCha8Rng| match zipf {
            Some(zipf) => zipf.sample(rng) as u64,
            None => rng::between(rng, 0, clients - 1),
        };
        let payer = pick(&self.payer_zipf, rng);
        let mut payee = pick(&self.payee_zipf, rng);
        if payee == payer {
            payee = (payee + 1) % clients; // one draw per choice keeps the stream aligned
        }
        let amount = match self.amount {
            Amount::Fixed { value } => value,
            Amount::Uniform { min, max } => rng::between(rng, min, max),
        };
        (payer as NodeIndex + 1, payee as NodeIndex + 1, amount)
    }
}

fn zipf(popularity: Popularity, clients: usize) -> Option<Zipf> {
    match popularity {
        Popularity::Uniform => None,
        Popularity::Zipf { exponent } => Some(Zipf::new(clients, exponent)),
    }
}

/// Every request of `scenario`'s workload with `seed`, in issue order, as a simulated run
/// issues them. At most `limit` (a bound on what a driver holds).
pub fn schedule(scenario: &Scenario, seed: u64, limit: usize) -> Vec<Request> {
    let mut rng = rng::stream(seed, Purpose::Workload, 0);
    let draws = Draws::new(scenario);
    let workload = &scenario.workload;
    let stop_ms = scenario.workload_stop_ms();
    let Some(mut arrivals) = Arrivals::new(workload.transfers_per_s, workload.start_ms, &mut rng) else {
        return Vec::new();
    };
    let mut requests = Vec::new();
    let mut at_ms = arrivals.next_ms();
    while at_ms < stop_ms && requests.len() < limit {
        let (payer, payee, amount) = draws.draw(&mut rng);
        requests.push(Request { at_ms, tag: requests.len() as u64, payer, payee, amount });
        at_ms = arrivals.advance(&mut rng);
    }
    requests
}
