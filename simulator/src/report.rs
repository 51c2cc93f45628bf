//! Human reports: Markdown and HTML (with inline SVG plots) from a run's results, plus the
//! machine-readable files. Nothing here reads a clock: a report is a function of the results.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use crate::metrics::{Count, FaultKind};
use crate::plot::{self, Band, Chart, Line, MarkKind, Marker};
use crate::summary::{PulseRow, RunResult, Summary};

/// A table rendered the same way to Markdown and HTML.
#[derive(Debug)]
pub struct Table {
    /// Column headers; none for a two-column list of what and value ([`Table::pairs`]).
    pub header: Vec<String>,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// A two-column "what / value" list, without a header row.
    pub fn pairs(pairs: &[(&str, String)]) -> Table {
        Table {
            header: Vec::new(),
            rows: pairs.iter().map(|(k, v)| vec![k.to_string(), v.clone()]).collect(),
        }
    }

    /// As Markdown: a table, or a list for a table without a header.
    pub fn markdown(&self) -> String {
        if self.header.is_empty() {
            let mut out = String::new();
            for row in &self.rows {
                let _ = writeln!(out, "- {}: {}", row[0], row[1..].join(" "));
            }
            return out;
        }
        let mut out = format!("| {} |\n|{}\n", self.header.join(" | "), "---|".repeat(self.header.len()));
        for row in &self.rows {
            let _ = writeln!(out, "| {} |", row.join(" | "));
        }
        out
    }

    /// As an HTML table (scrolling sideways when wider than the page); without a header, each
    /// row's first cell heads the row.
    pub fn html(&self) -> String {
        let mut out = String::from("<div class=\"table\"><table>\n");
        if !self.header.is_empty() {
            out.push_str("<tr>");
            for h in &self.header {
                let _ = write!(out, "<th>{}</th>", escape(h));
            }
            out.push_str("</tr>\n");
        }
        for row in &self.rows {
            out.push_str("<tr>");
            for (i, cell) in row.iter().enumerate() {
                if i == 0 && self.header.is_empty() {
                    let _ = write!(out, "<th scope=\"row\">{}</th>", escape(cell));
                } else if is_number(cell) {
                    let _ = write!(out, "<td>{}</td>", escape(cell));
                } else {
                    let _ = write!(out, "<td class=\"text\">{}</td>", escape(cell));
                }
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</table></div>\n");
        out
    }
}

/// Whether a cell holds a figure (right-aligned) rather than text (left-aligned).
fn is_number(cell: &str) -> bool {
    cell.chars().next().is_some_and(|c| c.is_ascii_digit() || c == '-' || c == '—')
}

/// Escape text for HTML.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A report section: a heading, a paragraph and tables.
#[derive(Debug)]
pub struct Section {
    /// Heading.
    pub title: String,
    /// Text before the tables.
    pub text: String,
    /// Tables.
    pub tables: Vec<Table>,
}

/// Render sections as a Markdown document.
pub fn markdown(title: &str, sections: &[Section], footer: &str) -> String {
    let mut out = format!("# {title}\n\n");
    for s in sections {
        let _ = write!(out, "## {}\n\n", s.title);
        if !s.text.is_empty() {
            let _ = write!(out, "{}\n\n", s.text);
        }
        for t in &s.tables {
            let _ = writeln!(out, "{}", t.markdown());
        }
    }
    out.push_str(footer);
    out
}

/// Render sections and SVG figures as one self-contained HTML page.
pub fn html(title: &str, sections: &[Section], figures: &[String]) -> String {
    html_with_appendix(title, sections, figures, None)
}

/// [`html`] with a titled preformatted appendix after the plots (e.g. the scenario text).
pub fn html_with_appendix(
    title: &str,
    sections: &[Section],
    figures: &[String],
    appendix: Option<(&str, &str)>,
) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{0}</title>\n<style>\
body{{font-family:sans-serif;max-width:980px;margin:2em auto;color:#222}}\
div.table{{overflow-x:auto;margin:0.5em 0 1.5em}}table{{border-collapse:collapse}}\
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right;white-space:nowrap}}\
td:first-child,th:first-child{{text-align:left;white-space:normal;min-width:12em}}th{{background:#f4f4f4}}\
th[scope=row]{{font-weight:normal;background:none}}td.text{{text-align:left;white-space:normal}}figure{{margin:1em 0}}</style></head><body>\n<h1>{0}</h1>\n",
        escape(title)
    );
    for s in sections {
        let _ = writeln!(out, "<h2>{}</h2>", escape(&s.title));
        if !s.text.is_empty() {
            let _ = writeln!(out, "<p>{}</p>", escape(&s.text));
        }
        for t in &s.tables {
            out.push_str(&t.html());
        }
    }
    out.push_str("<h2>Plots</h2>\n");
    for f in figures {
        let _ = writeln!(out, "<figure>{f}</figure>");
    }
    if let Some((heading, text)) = appendix {
        let _ = writeln!(out, "<h2>{}</h2>\n<pre>{}</pre>", escape(heading), escape(text));
    }
    out.push_str("</body></html>\n");
    out
}

fn count(n: u64) -> String {
    n.to_string()
}

/// `1 group`, `2 groups`: a count and its noun, singular or plural.
pub fn plural(n: u64, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// The sections of a run report.
pub fn run_sections(s: &Summary) -> Vec<Section> {
    let mut sections = vec![
        run_section(s),
        transfers_section(s),
        latency_section(s),
        messages_section(s),
        faults_section(s),
        ledger_section(s),
    ];
    if s.adversaries.double_spenders > 0 {
        sections.push(adversaries_section(s));
    }
    if s.committees.backups > 0 {
        sections.push(committees_section(s));
    }
    if s.committees.root_backups > 0 {
        sections.push(root_committee_section(s));
    }
    if let Some(elections) = &s.elections {
        sections.push(elections_section(s, elections));
    }
    if let Some(governance) = &s.governance {
        sections.push(governance_section(governance));
    }
    if s.transfers.deferred_for_capacity > 0 {
        sections.push(capacity_section(s));
    }
    if s.adversaries.byzantine_seats > 0 {
        sections.push(byzantine_section(s));
    }
    if !s.swarm.is_empty() {
        sections.insert(
            1,
            Section { title: "Swarm mode chose".into(), text: s.swarm.join("; "), tables: Vec::new() },
        );
    }
    if !s.overrides.is_empty() {
        let sets: Vec<String> = s.overrides.iter().map(|o| format!("--set {o}")).collect();
        let text = format!("This run changed the scenario file: {}.", sets.join(" "));
        sections.insert(1, Section { title: "Overrides".into(), text, tables: Vec::new() });
    }
    if let Some(stopped) = &s.stopped {
        sections.insert(0, stopped_section(stopped));
    }
    sections
}

/// What ran: scenario, seed, commit, time, nodes, checks.
fn run_section(s: &Summary) -> Section {
    Section {
        title: "Run".into(),
        text: String::new(),
        tables: vec![Table::pairs(&[
            ("scenario", s.scenario_name.clone()),
            ("seed", s.seed.to_string()),
            ("commit", s.commit.clone()),
            ("virtual time", format!("{} ms ({} pulses)", s.virtual_ms, s.pulses)),
            ("nodes", count(s.nodes)),
            ("events processed", count(s.events)),
            (checks_label(s), count(s.invariant_checks)),
            ("trace hash", s.trace_hash.clone()),
        ])],
    }
}

/// What became of the requests.
fn transfers_section(s: &Summary) -> Section {
    let t = &s.transfers;
    Section {
        title: "Transfers".into(),
        text: String::new(),
        tables: vec![Table::pairs(&[
            ("requested", count(t.issued)),
            ("committed", count(t.committed)),
            ("refused", count(t.refused)),
            ("refused by reason", reasons(&t.refused_by_reason)),
            ("abandoned by the payer", count(t.abandoned)),
            ("lost to crashes", count(t.lost)),
            ("open at the end", count(t.outstanding)),
            ("nonce resyncs", count(t.nonce_resyncs)),
            ("committed within 2 pulses (L1)", count(t.committed_within_2_pulses)),
            ("throughput (committed tx/s)", s.throughput_tx_per_s.to_string()),
        ])],
    }
}

/// Commit latency percentiles, in ms and pulses.
fn latency_section(s: &Summary) -> Section {
    // One column per unit, each with one number format: whole ms, pulses to 2 decimals.
    let (ms, pulses, start) =
        (&s.commit_latency_ms, &s.commit_latency_pulses, &s.commit_latency_from_start_ms);
    let lat = |name: &str, get: fn(&crate::metrics::Percentiles) -> f64| {
        vec![
            name.to_string(),
            format!("{:.0}", get(ms)),
            format!("{:.2}", get(pulses)),
            format!("{:.0}", get(start)),
        ]
    };
    Section {
        title: "Commit latency".into(),
        text: "From the request to the payer holding a verified proof of its account in the version that \
               holds the transfer; the last column starts when the payer starts the transfer, after its \
               earlier ones (SPEC §7.4 bounds that by 2 pulses)."
            .into(),
        tables: vec![Table {
            header: ["percentile", "ms", "pulses", "ms from the payer's start (L1)"]
                .map(String::from)
                .to_vec(),
            rows: vec![
                lat("p50", |p| p.p50),
                lat("p90", |p| p.p90),
                lat("p99", |p| p.p99),
                lat("max", |p| p.max),
                lat("mean", |p| p.mean),
            ],
        }],
    }
}

/// Messages sent, their bytes and kinds.
fn messages_section(s: &Summary) -> Section {
    let m = &s.messages;
    Section {
        title: "Messages".into(),
        text: String::new(),
        tables: vec![
            Table::pairs(&[
                ("sent", count(m.total)),
                ("bytes", count(m.bytes)),
                ("per node per pulse", m.per_node_per_pulse.to_string()),
                ("per committed transfer", m.per_committed_tx.to_string()),
                ("bytes per node per pulse", m.bytes_per_node_per_pulse.to_string()),
                ("ignored as invalid", count(m.bad)),
                ("arrived at a crashed node", count(m.delivered_to_down_node)),
            ]),
            Table {
                header: vec!["kind".into(), "sent".into()],
                rows: m.by_kind.iter().map(|(k, v)| vec![k.clone(), v.to_string()]).collect(),
            },
        ],
    }
}

/// What the network and the fault schedule did.
fn faults_section(s: &Summary) -> Section {
    let f = &s.faults;
    Section {
        title: "Faults".into(),
        text: String::new(),
        tables: vec![Table::pairs(&[
            ("messages dropped", count(f.dropped)),
            ("messages lost to partitions", count(f.partitioned)),
            ("messages duplicated", count(f.duplicated)),
            ("messages reordered", count(f.reordered)),
            ("partitions started / healed", format!("{} / {}", f.partitions_started, f.partitions_healed)),
            ("crashes / restarts", format!("{} / {}", f.crashes, f.restarts)),
            ("slow-link wait (ms, total)", count(f.slow_link_wait_ms)),
            ("timers lost to crashes", count(f.stale_timers)),
            ("largest clock drift (ppm)", f.max_clock_drift_ppm.to_string()),
        ])],
    }
}

/// Seals, roots and versions.
fn ledger_section(s: &Summary) -> Section {
    Section {
        title: "Ledger".into(),
        text: "Each group's primary seals its group's ledger at every pulse; the chief builds the \
               root over the groups' synopses (a new ts when one changed). A clear seen at one side \
               only is held in the root's clearing entry (D-023)."
            .into(),
        tables: vec![Table::pairs(&[
            ("groups (root included)", count(s.ledger.groups)),
            ("final ts", count(s.ledger.final_version)),
            ("roots built", count(s.ledger.roots)),
            ("roots with a clear in transit", count(s.ledger.roots_with_clears_in_transit)),
            ("group seals", count(s.ledger.seals)),
            ("group seals that advanced the group's version", count(s.ledger.versions)),
            ("halves unsettled at the end (I4)", count(s.ledger.unsettled_halves)),
        ])],
    }
}

/// Double spenders and what they achieved.
fn adversaries_section(s: &Summary) -> Section {
    let a = &s.adversaries;
    Section {
        title: "Adversaries".into(),
        text: "Double-spending payers sign a second transfer with the nonce of each one they propose; \
           an honest bookkeeper applies at most one per (payer, nonce), checked by I5."
            .into(),
        tables: vec![Table::pairs(&[
            ("double-spending payers", count(a.double_spenders)),
            ("conflicting transfers signed", count(a.double_spend_attempts)),
            ("conflicting transfers applied instead of the original", count(a.conflicting_transfers_applied)),
        ])],
    }
}

/// Submissions deferred or refused for capacity (SPEC §6.5).
fn capacity_section(s: &Summary) -> Section {
    let t = &s.transfers;
    Section {
        title: "Capacity (SPEC §6.5)".into(),
        text: "Each group primary processes per version at most what its frozen deposit covers; \
           a submission beyond that waits for the next version (first come, first served) \
           and one beyond the whole deposit is refused (beyond_capacity). I11 was checked on \
           every seal."
            .into(),
        tables: vec![Table::pairs(&[
            ("submissions deferred to a later version", count(t.deferred_for_capacity)),
            (
                "refused beyond the whole deposit",
                count(*t.refused_by_reason.get("beyond_capacity").unwrap_or(&0)),
            ),
        ])],
    }
}

/// Byzantine leaf primaries and what was detected.
fn byzantine_section(s: &Summary) -> Section {
    let a = &s.adversaries;
    Section {
        title: "Byzantine bookkeepers".into(),
        text: "Censoring leaf primaries drop the submissions of censored payers; forging ones report a \
           forged synopsis to the chief, so their clients' commit proofs fail to verify (detected) \
           and those clients never see a commit; equivocating ones send the chief a second, \
           different report for each pulse, which the chief detects and refuses (it keeps the \
           first to arrive)."
            .into(),
        tables: vec![Table::pairs(&[
            (
                "leaf-group seats held",
                format!("{} of {}", a.byzantine_seats, s.ledger.groups.saturating_sub(1)),
            ),
            ("submissions censored", count(a.censored_submissions)),
            ("forged group reports", count(a.forged_reports)),
            ("commit proofs that failed to verify", count(a.bad_proofs_detected)),
            ("conflicting second reports sent (equivocation)", count(a.equivocating_reports)),
            ("equivocations detected by the chief", count(a.equivocations_detected)),
        ])],
    }
}

/// The invariant checks' row: all passed, unless the last one failed.
fn checks_label(s: &Summary) -> &'static str {
    match &s.stopped {
        Some(stopped) if stopped.invariant.is_some() => "invariant checks (the last one failed)",
        _ => "invariant checks (all passed)",
    }
}

/// Why a run stopped early: first in its report, since every figure after it is partial.
fn stopped_section(stopped: &crate::summary::Stopped) -> Section {
    Section {
        title: "Stopped early".into(),
        text: format!(
            "{}. Every figure below counts what happened up to {} ms. The last events before the stop \
             are in flight-recorder.jsonl (read it with `leither trace`); replay with `{}`.",
            stopped.reason.lines().next().unwrap_or("").trim_end_matches('.'),
            stopped.at_ms,
            stopped.replay
        ),
        tables: Vec::new(),
    }
}

/// What the leaf groups' committees did (D-032).
fn committees_section(s: &Summary) -> Section {
    let c = &s.committees;
    let leaves = s.ledger.groups.saturating_sub(1);
    let seats = leaves * (1 + c.backups);
    let held = s.adversaries.byzantine_seats + c.colluding_backup_seats;
    Section {
        title: "Committees (SPEC §6.2–§6.4, D-032)".into(),
        text: format!(
            "Each leaf group is kept by a primary and {} backups. The primary forwards every sealed \
             cycle to its backups, which replay it and attest the report they rebuilt; the chief takes \
             a report only when a majority of the committee signed it, and fails a group over to its \
             most advanced backup once its reports have been missing for failover_timeout_pulses. A \
             member out of step with its primary takes the primary's state and replays on.",
            c.backups
        ),
        tables: vec![Table::pairs(&[
            ("committee seats held by the adversary", format!("{held} of {seats}")),
            ("reports taken with a majority's attestations", count(c.reports_attested)),
            ("attestations that differed from the primary's report", count(c.attest_mismatches)),
            ("forged reports taken (a colluding majority signed them)", count(c.forged_reports_taken)),
            ("forged attestations sent by colluding backups", count(c.forged_attestations)),
            ("failovers", count(c.failovers)),
            ("primary seats handed over at a term boundary", count(c.term_handovers)),
            ("primaries that stepped down on learning of a later view", count(c.stepped_down)),
            ("replicas that diverged", count(c.replica_divergences)),
            ("members resynced from their primary's state", count(c.resyncs)),
            ("seals orphaned by a failover (never taken)", count(c.orphaned_seals)),
            ("primary's work sent to a member not acting (an old view)", count(c.not_acting)),
        ])],
    }
}

/// What the organization's users and adversaries did (D-041).
fn governance_section(g: &crate::governance::GovernanceCounts) -> Section {
    let closed = Table {
        header: ["proposal kind", "passed", "failed"].map(String::from).to_vec(),
        rows: g
            .proposals_closed
            .iter()
            .map(|(kind, [passed, failed])| vec![kind.clone(), passed.to_string(), failed.to_string()])
            .collect(),
    };
    let refused = Table {
        header: ["refused because", "requests"].map(String::from).to_vec(),
        rows: g.refused.iter().map(|(why, n)| vec![why.clone(), n.to_string()]).collect(),
    };
    Section {
        title: "Governance on the network (SPEC §3, D-041)".into(),
        text: format!(
            "One organization, founded by client 1 (its supervisor). Every application, endorsement, \
             decision, proposal and vote is a request its author's node signs and sends to the acting \
             chief; the root committee applies it in the chief's cycle and co-signs it with the pulse. \
             Votes are weighed by the {} rule. I10 is checked at every root member after each of its \
             events, and the members' organizations are compared at every pulse they seal.",
            g.vote_weight
        ),
        tables: vec![Table::pairs(&governance_pairs(g)), closed, refused],
    }
}

/// The governance section's figures; the election ones only where the organization elects
/// the bookkeepers (D-044), so that other reports keep their form.
fn governance_pairs(g: &crate::governance::GovernanceCounts) -> Vec<(&'static str, String)> {
    let mut pairs = vec![
        ("requests sent / taken / given up", format!("{} / {} / {}", g.requests, g.accepted, g.given_up)),
        ("applications taken", count(g.applications)),
        ("honest applicants admitted", count(g.honest_admitted)),
        ("sybils admitted", count(g.sybils_admitted)),
        ("mean time to admission", format!("{} ms", g.mean_ms_to_admission)),
        ("members at the end (sybils)", format!("{} ({})", g.members, g.sybil_members)),
        ("proposals opened", count(g.proposals_opened)),
        ("votes taken", count(g.votes)),
        ("turnout on closed proposals", format!("{:.1}%", 100.0 * g.turnout)),
        ("sybil proposals passed (captured)", count(g.captured)),
        ("honest members expelled", count(g.honest_expelled)),
        ("second votes refused", count(g.double_votes_refused)),
        ("supervisor changes", count(g.supervisor_changes)),
    ];
    if g.ballots > 0 || g.candidates_admitted > 0 {
        pairs.push(("pool candidates admitted as members", count(g.candidates_admitted)));
        pairs.push(("bookkeeper ballots taken (by sybils)", format!("{} ({})", g.ballots, g.sybil_ballots)));
    }
    if g.rewards_passed > 0 {
        let paid = format!("{} / {} / {}", g.rewards_passed, g.rewards_paid, g.rewards_failed);
        pairs.push(("structural rewards passed / paid / failed to pay", paid));
        let to_sybils = format!("{} ({})", g.reward_value_paid, g.reward_value_to_sybils);
        pairs.push(("reward value paid from the organization's account (to sybils)", to_sybils));
    }
    pairs
}

/// Where the election's votes come from: the organization's ballots (D-044) or the genesis
/// standings (D-035).
fn votes_source(s: &Summary) -> &'static str {
    match &s.governance {
        Some(g) if g.ballots > 0 => {
            "the ballots the organization's members cast as messages during the term (only members \
             with the bookkeep right are eligible; D-044)"
        }
        _ => "the clients' balance-weighted votes",
    }
}

/// What the elections over candidate pools did (D-035).
fn elections_section(s: &Summary, e: &crate::election::ElectionCounts) -> Section {
    let c = &s.committees;
    let per_term = Table {
        header: ["term", "committees", "seats", "adversary seats", "adversary primaries"]
            .map(String::from)
            .to_vec(),
        rows: e
            .terms
            .iter()
            .map(|t| {
                let share =
                    |held: u64, of: u64| format!("{held} ({:.1}%)", 100.0 * held as f64 / of.max(1) as f64);
                vec![
                    t.term.to_string(),
                    t.committees.to_string(),
                    t.seats.to_string(),
                    share(t.adversary_seats, t.seats),
                    share(t.adversary_primaries, t.committees),
                ]
            })
            .collect(),
    };
    Section {
        title: "Elections over candidate pools (SPEC §6.3, D-035)".into(),
        text: format!(
            "Each leaf group has {} standby candidates besides its committee of {}. Every term the chief \
             elects each committee from its pool: {} pick the \
             election pool (the most-voted eligible candidates, election_pool_factor × the committee \
             size), the beacon over the latest root seats it. A newly elected member takes the group's \
             state from the acting primary while the committee before keeps the books; the new \
             committee takes over once a majority of it holds the state. The adversary held {} of the \
             standbys (seated as primary they forge, as backups they attest the forgeries).",
            e.standbys,
            1 + c.backups,
            votes_source(s),
            e.adversary_candidates
        ),
        tables: vec![
            Table::pairs(&[
                ("committees elected", count(e.committees_elected)),
                ("committees that took over", count(e.committees_seated)),
                ("pools too small to elect from", count(e.not_elected)),
                ("members new to their committee (each took the state)", count(e.members_joined)),
                ("elections that moved the primary's seat", count(e.primary_moves)),
                (
                    "pulses from election to takeover (mean / max)",
                    format!("{:.2} / {}", e.handover_pulses_mean, e.handover_pulses_max),
                ),
            ]),
            per_term,
        ],
    }
}

/// What the chief's committee did (D-033).
fn root_committee_section(s: &Summary) -> Section {
    let c = &s.committees;
    let co_signs = s.messages.by_kind.get("co_sign").copied().unwrap_or(0);
    Section {
        title: "The chief's committee (SPEC §5.2, §6.4, D-033)".into(),
        text: format!(
            "The chief has {} root backups. They replay each of its cycles with the same code and \
             co-sign it; no Settle or Pulse goes out before a majority of the committee co-signed \
             it. When the chief makes no progress for failover_timeout_pulses, the backups vote \
             for the next root view and the member it names takes over from the most advanced \
             voter's state, holding every co-signed pulse.",
            c.root_backups
        ),
        tables: vec![Table::pairs(&[
            ("co-signatures sent", count(co_signs)),
            ("view-change votes", count(c.view_change_votes)),
            ("chief failovers", count(c.chief_failovers)),
        ])],
    }
}

/// A pulse length as an x axis' unit: `pulse (1 s)`, `pulse (250 ms)`.
pub fn pulse_axis(pulse_ms: u64) -> String {
    if pulse_ms.is_multiple_of(1000) {
        format!("pulse ({} s)", pulse_ms / 1000)
    } else if pulse_ms > 1000 {
        format!("pulse ({} s)", pulse_ms as f64 / 1000.0)
    } else {
        format!("pulse ({pulse_ms} ms)")
    }
}

/// Crashes and restarts as labelled markers, partitions as bands from start to heal (or to the
/// end of the run), in pulses.
fn fault_marks(result: &RunResult) -> (Vec<Marker>, Vec<Band>) {
    let pulse = |at_ms: u64| at_ms as f64 / result.pulse_ms as f64;
    let end = result.series.len() as f64;
    let mut markers = Vec::new();
    let mut bands: Vec<Band> = Vec::new();
    let mut open: Vec<(u64, f64)> = Vec::new();
    for m in &result.fault_marks {
        match m.kind {
            FaultKind::Crash | FaultKind::Restart => {
                let kind = if m.kind == FaultKind::Crash { MarkKind::Crash } else { MarkKind::Restart };
                markers.push(Marker { x: pulse(m.at_ms), kind, label: format!("n{}", m.id) });
            }
            FaultKind::PartitionStart => open.push((m.id, pulse(m.at_ms))),
            FaultKind::PartitionHeal => {
                if let Some(i) = open.iter().position(|(id, _)| *id == m.id) {
                    let (id, from) = open.remove(i);
                    bands.push(Band { from, to: pulse(m.at_ms), label: format!("partition {id}") });
                }
            }
        }
    }
    bands.extend(open.into_iter().map(|(id, from)| Band { from, to: end, label: format!("partition {id}") }));
    (markers, bands)
}

/// The faults on the time axis, as a table (the plots label only those with room).
fn faults_table_section(result: &RunResult) -> Option<Section> {
    const ROWS: usize = 60;
    if result.fault_marks.is_empty() {
        return None;
    }
    let what = |m: &crate::metrics::FaultMark| match m.kind {
        FaultKind::Crash => format!("node {} crashed", m.id),
        FaultKind::Restart => format!("node {} restarted", m.id),
        FaultKind::PartitionStart => format!("partition {} started", m.id),
        FaultKind::PartitionHeal => format!("partition {} healed", m.id),
    };
    let rows = result
        .fault_marks
        .iter()
        .take(ROWS)
        .map(|m| vec![m.at_ms.to_string(), (m.at_ms / result.pulse_ms).to_string(), what(m)])
        .collect();
    let total = result.summary.faults.crashes
        + result.summary.faults.restarts
        + result.summary.faults.partitions_started
        + result.summary.faults.partitions_healed;
    let more = total.saturating_sub(ROWS.min(result.fault_marks.len()) as u64);
    let text = if more > 0 {
        format!("The first {ROWS} of {total}; timeseries.csv counts every one per pulse.")
    } else {
        "Every node crash and restart and every partition, as the plots mark them.".into()
    };
    Some(Section {
        title: "Faults on the time axis".into(),
        text,
        tables: vec![Table { header: ["time (ms)", "pulse", "what"].map(String::from).to_vec(), rows }],
    })
}

/// The run report's figures, on one shared time axis.
pub fn run_figures(result: &RunResult) -> Vec<String> {
    let series = &result.series;
    let xy = |f: fn(&PulseRow) -> f64| -> Vec<(f64, f64)> {
        series.iter().map(|r| (r.pulse as f64, f(r))).collect()
    };
    let with_commits: Vec<&PulseRow> = series.iter().filter(|r| r.counts[Count::Committed] > 0).collect();
    let lat = |f: fn(&PulseRow) -> f64| -> Vec<(f64, f64)> {
        with_commits.iter().map(|r| (r.pulse as f64, f(r))).collect()
    };
    let line = |label: &str, points| Line { label: label.into(), points, half_widths: Vec::new() };
    let (markers, bands) = fault_marks(result);
    let x_desc = pulse_axis(result.pulse_ms);
    let x_range = Some((0.0, series.len().max(1) as f64));
    let figure = |title: &str, y_desc: &str, lines: &[Line]| {
        plot::chart(&Chart {
            title,
            x_desc: &x_desc,
            y_desc,
            lines,
            markers: &markers,
            bands: &bands,
            x_range,
            ..Chart::default()
        })
    };
    vec![
        figure(
            "Commit latency per pulse",
            "ms",
            &[
                line("p50", lat(|r| r.latency_ms.p50)),
                line("p90", lat(|r| r.latency_ms.p90)),
                line("p99", lat(|r| r.latency_ms.p99)),
            ],
        ),
        figure(
            "Throughput",
            "transfers per pulse",
            &[
                line("requested", xy(|r| r.counts[Count::Issued] as f64)),
                line("committed", xy(|r| r.counts[Count::Committed] as f64)),
            ],
        ),
        figure(
            "Queue depth (requests open at the end of each pulse)",
            "requests",
            &[line("open", xy(|r| r.outstanding as f64))],
        ),
        figure(
            "Messages",
            "messages per pulse",
            &[
                line("sent", xy(|r| r.counts[Count::Messages] as f64)),
                line("lost", xy(|r| (r.counts[Count::Dropped] + r.counts[Count::Partitioned]) as f64)),
            ],
        ),
    ]
}

/// The per-pulse series as CSV: the pulse, every [`Count`], the latency percentiles of the
/// pulse's commits, the requests open and the partitions in force at its end.
pub fn series_csv(series: &[PulseRow]) -> String {
    let mut out = String::from("pulse");
    for count in Count::ALL {
        let _ = write!(out, ",{}", count.name());
    }
    out.push_str(",latency_p50_ms,latency_p90_ms,latency_p99_ms,latency_max_ms,outstanding,partitions\n");
    for r in series {
        let _ = write!(out, "{}", r.pulse);
        for count in Count::ALL {
            let _ = write!(out, ",{}", r.counts[count]);
        }
        let l = &r.latency_ms;
        let _ = writeln!(out, ",{},{},{},{},{},{}", l.p50, l.p90, l.p99, l.max, r.outstanding, r.partitions);
    }
    out
}

/// The run report's sections: the summary's, then the faults on the time axis.
fn report_sections(result: &RunResult) -> Vec<Section> {
    let mut sections = run_sections(&result.summary);
    sections.extend(faults_table_section(result));
    sections
}

/// The run report as Markdown.
pub fn run_markdown(result: &RunResult) -> String {
    let s = &result.summary;
    let title = format!("Leither simulation — {} (seed {})", s.scenario_name, s.seed);
    let footer = "Files: `summary.json` (every metric, the scenario, seed and commit), `timeseries.csv` \
                  (one row per pulse), `report.html` (this report with plots).\n";
    markdown(&title, &report_sections(result), footer)
}

/// The run report as HTML.
pub fn run_html(result: &RunResult) -> String {
    let s = &result.summary;
    let title = format!("Leither simulation — {} (seed {})", s.scenario_name, s.seed);
    html(&title, &report_sections(result), &run_figures(result))
}

/// Write `summary.json`, `timeseries.csv`, `report.md` and `report.html` into `dir`.
pub fn write_run(dir: &Path, result: &RunResult) -> io::Result<()> {
    let files = RunFiles {
        series_csv: series_csv(&result.series),
        markdown: run_markdown(result),
        html: run_html(result),
    };
    write_run_files(dir, &result.summary, files)
}

/// The files of a run report besides `summary.json`.
#[derive(Debug)]
pub struct RunFiles {
    /// `timeseries.csv`.
    pub series_csv: String,
    /// `report.md`.
    pub markdown: String,
    /// `report.html`.
    pub html: String,
}

/// Write a run's report directory: `summary` as `summary.json`, then `files` (shared by
/// protocol and credit runs).
pub fn write_run_files(dir: &Path, summary: &impl serde::Serialize, files: RunFiles) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(summary).map_err(io::Error::other)?;
    std::fs::write(dir.join("summary.json"), json + "\n")?;
    std::fs::write(dir.join("timeseries.csv"), files.series_csv)?;
    std::fs::write(dir.join("report.md"), files.markdown)?;
    std::fs::write(dir.join("report.html"), files.html)?;
    Ok(())
}

/// `reason: n, …`, or `none`.
fn reasons(by_reason: &std::collections::BTreeMap<String, u64>) -> String {
    if by_reason.is_empty() {
        return "none".into();
    }
    by_reason.iter().map(|(reason, n)| format!("{reason}: {n}")).collect::<Vec<_>>().join(", ")
}
