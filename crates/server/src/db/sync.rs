//! The sync store: push (take a tablet's numbered mutations exactly once) and pull (the merged
//! records changed after a cursor, in commit order). The rules are the domain's
//! ([`liaison_domain::sync`], [`liaison_domain::followup`]); this module only runs them inside
//! database transactions.
//!
//! Tables (`0002_sync.sql` and `0008_followup.sql`, one per backend): `sync_clients` (each
//! client's `last_seq` and `last_stamp`), `mutations` (every mutation taken, applied or rejected,
//! with the reason), `opinions` (the merged [`OpinionReplica`] as JSON, follow-up steps
//! included, and the `change_seq` of its last change), `attendance` (the merged [`Attendance`]
//! of one deputy on one day at one station, with its `change_seq`), `referrals` (which units an
//! opinion was ever referred to) and `sync_counter` (the one-row change counter, shared by
//! opinions and attendance).
//!
//! **Two ways in.** [`Db::push`] takes a tablet's batch as numbered on the tablet;
//! [`Db::record_online`] takes one mutation the server makes for a signed-in account (a step
//! taken in the back office), numbered inside the same transaction with the account's own
//! server-side client (seq `last_seq + 1`, stamp from the server's clock). Both then run the same
//! code: authorisation, validation, merge, change numbering, writes. So a step taken online is
//! checked, numbered and pulled exactly like one pushed from a tablet, and two online steps of
//! one account at once simply queue one after the other (below; no gap, no skipped seq). The online way
//! also answers the record's state as the transaction left it ([`Online::state`]), so that the
//! route has nothing left to read once the step is committed.
//!
//! **Audited.** Every follow-up step a push applies (pushed or taken online) gets its `step`
//! audit record (`db/audit.rs`) written in the push's own transaction: a step is stored with its
//! record or not at all.
//!
//! **What the server adds to the domain's checks** of a new follow-up step, under the lock: its
//! time against the server's clock and the item's creation ([`check_step_time`]: `not_allowed`
//! `clock_wrong`), and for a referral that the unit exists and the deadline is the working days
//! on the server's calendar ([`check_referral_deadline`]). An attendance mark stamped later than
//! the server's now plus [`limits::CLOCK_AHEAD_MS`] is `invalid` (a tablet clock set wrong would
//! otherwise win the merge's latest sign-out for good).
//!
//! **Locking.** Pushes run in transactions that take a lock every other push needs before they
//! read anything (`Begin::SyncWriter`): on SQLite `BEGIN IMMEDIATE`, the database's write lock;
//! on PostgreSQL `SELECT value FROM sync_counter WHERE id = 1 FOR UPDATE`, the counter row. So
//! pushes run one at a time, on one server or several sharing the database, and:
//! - two pushes of the same client (two tabs, a retry racing the original) cannot both apply a
//!   mutation: the second reads the `last_seq` the first left (committed, or staged earlier in
//!   the same group, below) and skips what it applied.
//!   (Locking only later, at the first counter bump, would let both read the same `last_seq`.)
//! - a record is never merged from a stale read, and a follow-up step is checked against the
//!   lifecycle as it stands: the stored state is read under the lock (or taken from the group's
//!   staged writes), and PostgreSQL's READ COMMITTED gives each statement the latest committed
//!   state.
//!
//! A finer lock (the client's `sync_clients` row) would let pushes of different clients
//! interleave, but then two pushes editing one opinion could each merge into the state they read
//! before the other committed, losing a change; the one lock keeps both backends equally simple,
//! and group commit (below) pays its cost once per group rather than once per push.
//!
//! **Group commit.** The pushes that arrive while a transaction is running share the next one
//! (per server instance; `GroupCommit`). A fair (FIFO) mutex holds the open group: the first
//! push to find none begins the transaction (taking the lock above, reading the counter once)
//! and becomes the group's first; each push, holding the mutex in turn, reads what it needs (the
//! group's staged writes first, then the database), plans, authorises, validates and merges in
//! memory exactly as alone, and stages its writes into the group's (each record once, in its
//! latest state). When the first push is done, a task of the group's own queues on the mutex
//! behind the pushes waiting by then; when it gets it, the pushes before it have all joined, and
//! it writes the group's changes in multi-row statements, writes the counter back, commits, and
//! answers every push of the group. The next group begins after that commit. A group takes at
//! most `GROUP_MAX_PUSHES` pushes and `GROUP_MAX_MUTATIONS` mutations; a push finding it full
//! ends it itself (keeping its place in the queue) and begins the next.
//! - One push's failure fails no other: a failing read of a push marks its group, which takes
//!   no one else and is rolled back; a failing write fails the group's commit. Either way the
//!   group's pushes (the one whose read failed included) run again, each in a group of its own,
//!   where only the push that fails fails. (Per-push savepoints would cost two round trips a push and could not isolate
//!   writes that are shared; running again is safe because a push is taken exactly once.)
//! - A push whose request goes away cannot leave its group half-done: it stages its writes in
//!   one step with no await, and the commit runs in a task of its own.
//! - A refused push (a gap) stages nothing and is answered at once.
//!
//! **Change order.** Each push numbers the state changes it makes from the counter its group
//! carries (the next value, stored as the record's `change_seq` and the mutation row's); the
//! group writes the counter back before it commits. The lock above is
//! held until commit, and PostgreSQL makes a commit visible before it releases the transaction's
//! locks, so a number is handed out only after every smaller one is committed and visible: the
//! numbers follow commit order, and a pull cursor never skips a change committed late (which
//! `updated_at` or a `SEQUENCE`, numbering in start order, would). The tests check this with
//! concurrent pushers and a paging puller on both backends, and with pushes queued into one group.
//!
//! **Statements per push.** Everything a push needs is read up front (the client's row unless
//! the group has it and the stored states of the opinions it names that the group has not
//! staged, in one statement; attendance records, and for a referral the calendar and the units,
//! when it has them; the categories and the counter once per group), and everything the group
//! changes is written at its end, one statement per table (opinions, facts, rollups,
//! attendance, referrals, clients, mutations, counter; `backend::insert_rows`: on PostgreSQL one
//! array per column, on SQLite 200-row `VALUES` lists): one statement per push and about ten per
//! group, instead of ten per push. Every other push waits for the lock meanwhile, so round
//! trips under it are what limits ingest (BENCHMARKS.md). The groups run on a connection of their own
//! (`Db::writer_pool`), so the next group never waits for a connection behind the requests'
//! own statements, and the commit answers each push with the counter it committed, so that the
//! route announces changes without reading it again.

use super::backend::{Column, Conn, Pool, ROWS_PER_STATEMENT, Tx, in_list, insert_rows};
use super::facts::{FactsChange, write_facts};
use super::followup::{calendar, unit_ids};
use super::{Db, categories};
use liaison_domain::followup::lifecycle::limits;
use liaison_domain::followup::{
    Action, Attendance, FollowUp, WorkCalendar, check_referral_deadline, check_step_time,
};
use liaison_domain::sync::validate::Rejection;
use liaison_domain::sync::{
    Change, Clock, Cursor, DEFAULT_MAX_AHEAD_MS, Disposition, Hlc, MAX_PULL_LIMIT, Mutation,
    MutationKind, OpinionReplica, PullResponse, PushError, PushResponse, RejectCode, Rejected, Seq,
    clamp, plan_push, validate_mutation,
};
use liaison_domain::{Category, ClientId, Field, FieldError, StationId, ValidationErrors};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{oneshot, watch};

/// Why a push was refused as a whole, or failed.
#[derive(Debug, thiserror::Error)]
pub enum PushFailure {
    /// The batch breaks the protocol (a gap, a malformed or too large batch, an unknown mutation
    /// kind version). Nothing was stored; the tablet keeps its outbox.
    #[error(transparent)]
    Refused(#[from] PushError),

    /// The database failed; the transaction was rolled back, nothing was stored.
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

/// Who may make a mutation: asked by the store for each new one, with the stored state of the
/// opinion it is about (`None`: not on the server, or an attendance mark), before it is
/// validated. A refusal is recorded and returned like any rejection (seq consumed, never
/// applied); refusing first means a forbidden mutation learns nothing about the record.
///
/// The routes implement it from the signed-in session (`crate::access::SessionAuthority`: the
/// station scope, who a follow-up step is by, whose attendance a deputy may mark). Any
/// `Fn(&StationId) -> bool` is an authority too, deciding by the record's station alone
/// ([`record_station`]); the store's own tests use that.
pub trait PushAuthority: Send + Sync {
    fn authorise(
        &self,
        mutation: &MutationKind,
        current: Option<&OpinionReplica>,
    ) -> Result<(), Rejection>;
}

impl<F> PushAuthority for F
where
    F: Fn(&StationId) -> bool + Send + Sync + ?Sized,
{
    fn authorise(
        &self,
        mutation: &MutationKind,
        current: Option<&OpinionReplica>,
    ) -> Result<(), Rejection> {
        match record_station(mutation, current) {
            Some(station) if !self(station) => Err(Rejection::new(RejectCode::Forbidden)),
            _ => Ok(()),
        }
    }
}

/// The station whose record a mutation changes: a new opinion's, the stored opinion's for an
/// edit, a delete or a follow-up step (`None` when the server has no creation of it; validation
/// then rejects it as `not_found`), the mark's for attendance.
pub fn record_station<'a>(
    mutation: &'a MutationKind,
    current: Option<&'a OpinionReplica>,
) -> Option<&'a StationId> {
    match mutation {
        MutationKind::CreateOpinion { opinion } => Some(&opinion.station_id),
        MutationKind::SetOpinionFields { .. }
        | MutationKind::DeleteOpinion { .. }
        | MutationKind::RecordFollowUp { .. } => current
            .and_then(OpinionReplica::created)
            .map(|o| &o.station_id),
        MutationKind::MarkAttendance { mark } => Some(&mark.key.station_id),
    }
}

/// What [`Db::record_online`] answers: the push answer for the one mutation (acknowledged, or
/// rejected with the reason), and the state of its opinion as the push transaction left it
/// (`None` when the server has no such opinion).
#[derive(Debug)]
pub struct Online {
    pub answer: PushResponse,
    pub state: Option<OpinionReplica>,
}

/// What a push takes: a tablet's numbered batch, or one mutation the server numbers itself.
#[derive(Clone, Copy)]
enum Incoming<'m> {
    Numbered(&'m [Mutation]),
    Next(&'m MutationKind),
}

impl Db {
    /// Takes one push of `client_id`'s mutations, in its group's transaction (see the module
    /// docs on locking and group commit): plans it with [`plan_push`] against the client's `last_seq`; skips mutations
    /// already taken (acknowledged again, and a rejected one rejected again with its stored
    /// reason); for each new one clamps its stamp ([`clamp`] with the client's `last_stamp` and
    /// `server_now_ms`), asks `authority`, checks it ([`validate_mutation`] against the stored
    /// record and the configured categories; a new step's time against `server_now_ms` and the
    /// item's creation with [`check_step_time`]; a referral also against the server's
    /// calendar with [`check_referral_deadline`], and its unit must exist; a mark's time not
    /// ahead of `server_now_ms`), applies it (merge into the stored
    /// [`OpinionReplica`], a step appended to it, a mark merged into the stored [`Attendance`])
    /// and bumps the change counter if the state changed, and records it in `mutations` as
    /// applied or rejected. A rejected mutation consumes its seq like an applied one.
    ///
    /// The caller derives `authority` from the signed-in user (see `crate::sync`).
    pub async fn push<A: PushAuthority + ?Sized>(
        &self,
        client_id: ClientId,
        mutations: &[Mutation],
        server_now_ms: u64,
        authority: &A,
    ) -> Result<PushResponse, PushFailure> {
        let (answer, _) = self
            .push_with_cursor(client_id, mutations, server_now_ms, authority)
            .await?;
        Ok(answer)
    }

    /// [`Db::push`], and the change counter as the push's group committed it: at least the
    /// cursor of every change the push made (what [`Db::latest_cursor`] would read right after),
    /// without another statement.
    pub async fn push_with_cursor<A: PushAuthority + ?Sized>(
        &self,
        client_id: ClientId,
        mutations: &[Mutation],
        server_now_ms: u64,
        authority: &A,
    ) -> Result<(PushResponse, Cursor), PushFailure> {
        let (answer, _, cursor) = self
            .take(
                client_id,
                Incoming::Numbered(mutations),
                server_now_ms,
                authority,
            )
            .await?;
        Ok((answer, cursor))
    }

    /// Takes one mutation made by the server for an account (a follow-up step taken online), as
    /// the next of `client_id`'s stream: numbered `last_seq + 1` and stamped by the client's clock
    /// resumed at its `last_stamp` and ticked at `server_now_ms`, both inside the push
    /// transaction, so concurrent calls for one client queue on the push lock and each gets its
    /// own seq. Then exactly as [`Db::push`]: the answer acknowledges the seq, with the rejection
    /// if it was refused. Beside it, the opinion's state as committed (after the mutation if it
    /// was applied): the caller shows it without reading the database again, so that a failure
    /// after the commit cannot be mistaken for the step not being taken.
    ///
    /// `client_id` must be a server-side client ([`Db::server_client`]), never a tablet's: a
    /// tablet would see its own seqs taken.
    pub async fn record_online<A: PushAuthority + ?Sized>(
        &self,
        client_id: ClientId,
        mutation: MutationKind,
        server_now_ms: u64,
        authority: &A,
    ) -> Result<Online, PushFailure> {
        let key = mutation.opinion_id().map(|id| id.to_string());
        let (answer, mut states, _) = self
            .take(
                client_id,
                Incoming::Next(&mutation),
                server_now_ms,
                authority,
            )
            .await?;
        let state = key.and_then(|key| states.remove(&key)).flatten();
        Ok(Online { answer, state })
    }

    /// The push itself, in the current group's transaction (see "Group commit" in the module
    /// docs), answered once the group is committed. Returns the answer, the state of every
    /// opinion the new mutations touched, as committed, and the counter the group committed.
    async fn take<A: PushAuthority + ?Sized>(
        &self,
        client_id: ClientId,
        incoming: Incoming<'_>,
        server_now_ms: u64,
        authority: &A,
    ) -> Result<
        (
            PushResponse,
            HashMap<String, Option<OpinionReplica>>,
            Cursor,
        ),
        PushFailure,
    > {
        let size = match incoming {
            Incoming::Numbered(mutations) => mutations.len(),
            Incoming::Next(_) => 1,
        };
        // After a group failed, its pushes run again each in a group of its own, so that only
        // the push that fails fails.
        let mut alone = false;
        loop {
            let mut entered = self.writer.enter(&self.writer_pool, alone, size).await?;
            let group = entered.group();
            let taken = {
                let Group {
                    tx,
                    pending,
                    counter,
                    categories,
                    ..
                } = group;
                let mut shared = Shared {
                    pending,
                    counter: *counter,
                    categories,
                };
                let taken = take_in(
                    &mut tx.conn(),
                    &mut shared,
                    client_id,
                    incoming,
                    server_now_ms,
                    authority,
                )
                .await;
                let counter_after = shared.counter;
                taken.map(|(answer, states, staged)| (answer, states, staged, counter_after))
            };
            let (answer, states) = match taken {
                Ok((answer, states, staged, counter_after)) => {
                    // No await from here until the push has left the group: it is in it whole.
                    group.pending.merge(staged);
                    group.counter = counter_after;
                    group.pushes += 1;
                    group.mutations += size;
                    (answer, states)
                }
                Err(PushFailure::Refused(refusal)) => {
                    // Nothing was staged, and what it read succeeded: the transaction is whole.
                    return Err(PushFailure::Refused(refusal));
                }
                Err(PushFailure::Database(err)) => {
                    // A failed statement leaves a PostgreSQL transaction unusable: the group
                    // takes no one else and is rolled back, and its pushes run again alone,
                    // this one too (the failure may have been left by a push that went away).
                    group.poisoned = true;
                    if alone {
                        return Err(PushFailure::Database(err));
                    }
                    drop(entered);
                    alone = true;
                    continue;
                }
            };
            let mut outcome = group.done.subscribe();
            // Lets the next push in (and, for the group's first push, its commit queue up).
            drop(entered);
            let ended = outcome
                .wait_for(|o| !matches!(o, Outcome::Open))
                .await
                .map(|o| o.clone());
            match ended {
                Ok(Outcome::Committed { counter }) => {
                    return Ok((answer, states, Cursor(seq_from_db(counter)?.0)));
                }
                Ok(Outcome::Failed(reason)) => return Err(group_failed(&reason)),
                // Nothing of the group was stored (or, if its commit went through after all, the
                // push is taken again exactly once: its seqs are skipped).
                Ok(Outcome::Retry | Outcome::Open) | Err(_) => alone = true,
            }
        }
    }
}

/// What one push reads from and carries over to the next in its group.
struct Shared<'g> {
    /// The writes of the group's pushes so far, not yet in the database: what a push reads is
    /// looked up here first.
    pending: &'g Pending,
    /// The change counter after the group's pushes so far.
    counter: i64,
    /// The configured categories, read once per group.
    categories: &'g mut Option<Vec<Category>>,
}

/// One push inside the group's transaction: reads what it needs (from the group's pending writes
/// first, then the database) and stages what it changes. The answer, the states of the opinions
/// touched, and the staged writes.
async fn take_in<A: PushAuthority + ?Sized>(
    conn: &mut Conn<'_>,
    shared: &mut Shared<'_>,
    client_id: ClientId,
    incoming: Incoming<'_>,
    server_now_ms: u64,
    authority: &A,
) -> Result<
    (
        PushResponse,
        HashMap<String, Option<OpinionReplica>>,
        Staged,
    ),
    PushFailure,
> {
    let client = client_id.to_string();

    // The client's row and the stored state of every opinion the push names, unless the group
    // has them, in one statement: every push behind this one waits for each round trip. All
    // the opinions named, not only the new mutations' (which are new is known only from the
    // client's row); the others are simply not used.
    let named: Vec<String> = match incoming {
        Incoming::Numbered(mutations) => mutations
            .iter()
            .filter_map(|m| m.kind.opinion_id())
            .map(|id| id.to_string())
            .collect(),
        Incoming::Next(kind) => kind
            .opinion_id()
            .map(|id| id.to_string())
            .into_iter()
            .collect(),
    };
    let known = shared.pending.clients.get(&client).copied();
    let unstaged = shared.pending.unstaged(&named);
    let (client_row, stored) =
        load_client_and_opinions(conn, known.is_none().then_some(client.as_str()), &unstaged)
            .await?;
    let (mut last_seq, mut last_stamp) = known.or(client_row).unwrap_or((Seq::NONE, None));

    let online = matches!(incoming, Incoming::Next(_));
    let made_here: [Mutation; 1];
    let mutations: &[Mutation] = match incoming {
        Incoming::Numbered(mutations) => mutations,
        Incoming::Next(kind) => {
            let stamp = Clock::resume(last_stamp.unwrap_or_else(|| Hlc::zero(client_id)))
                .tick(server_now_ms);
            made_here = [Mutation::new(
                client_id,
                last_seq.next(),
                stamp,
                kind.clone(),
            )];
            &made_here
        }
    };

    // A refused batch returns here, having staged nothing.
    let plan = plan_push(client_id, last_seq, mutations)?;

    let new: Vec<&Mutation> = mutations
        .iter()
        .zip(&plan.dispositions)
        .filter(|(_, d)| **d == Disposition::Apply)
        .map(|(m, _)| m)
        .collect();
    let applies = !new.is_empty();
    if applies && shared.categories.is_none() {
        *shared.categories = Some(categories(conn).await?);
    }
    let no_categories = Vec::new();
    let categories = shared.categories.as_ref().unwrap_or(&no_categories);

    // Everything the new mutations need is read up front and everything they change is staged,
    // to be written with the rest of the group in a few multi-row statements (statements one by
    // one cost a round trip each, under the lock that every other push waits for).
    let mut batch = Batch {
        now_ms: server_now_ms,
        ..Batch::default()
    };
    if applies {
        let opinion_ids: Vec<String> = new
            .iter()
            .filter_map(|m| m.kind.opinion_id())
            .map(|id| id.to_string())
            .collect();
        let (states, not_stored) = shared.pending.opinions(&opinion_ids, &stored);
        batch.states = states;
        batch.not_stored = not_stored;
        let attendance_ids: Vec<String> = new
            .iter()
            .filter(|m| matches!(m.kind, MutationKind::MarkAttendance { .. }))
            .map(|m| m.kind.record_id())
            .collect();
        let (attendance, signed_before) = shared.pending.attendance(conn, &attendance_ids).await?;
        batch.attendance = attendance;
        batch.signed_before = signed_before;
        // The calendar and the units only matter to a referral, which is rare in a push.
        let refers = new.iter().any(|m| {
            matches!(
                &m.kind,
                MutationKind::RecordFollowUp { step, .. }
                    if matches!(step.action, Action::Refer { .. })
            )
        });
        if refers {
            batch.calendar = calendar(conn).await?;
            batch.units = unit_ids(conn).await?;
        }
    }
    // The group read the counter under its lock; the pushes before this one moved it on.
    batch.counter = shared.counter;

    let mut rejected = Vec::new();
    // Every step taken is audited in the group's transaction: stored together or not at all.
    let mut step_audits = Vec::new();
    let mut rejections = HashMap::new();
    for (mutation, disposition) in mutations.iter().zip(&plan.dispositions) {
        match disposition {
            Disposition::Skip => {
                let earlier = shared
                    .pending
                    .rejections
                    .get(&(client.clone(), mutation.seq));
                let rejection = match earlier {
                    Some(rejection) => Some(rejection.clone()),
                    None => stored_rejection(conn, &client, mutation.seq).await?,
                };
                if let Some(rejection) = rejection {
                    rejected.push(rejection);
                }
            }
            Disposition::Apply => {
                let stamp = clamp(
                    mutation.hlc,
                    last_stamp,
                    server_now_ms,
                    DEFAULT_MAX_AHEAD_MS,
                )
                .stamp();
                let taken = batch.take(mutation, stamp, categories, authority);
                if let Some(audit) = step_audit(&batch.states, &client, mutation, &taken) {
                    step_audits.push(audit);
                }
                batch.rows.push(mutation_row(
                    &client,
                    mutation,
                    stamp,
                    &taken,
                    server_now_ms,
                )?);
                if let Taken::Rejected(rejection) = taken {
                    rejections.insert((client.clone(), mutation.seq), rejection.clone());
                    rejected.push(rejection);
                }
                last_seq = mutation.seq;
                last_stamp = Some(stamp);
            }
        }
    }
    let response = PushResponse {
        acknowledged_through: plan.acknowledged_through,
        rejected,
    };
    if online && !response.rejected.is_empty() {
        // A step taken online and refused leaves nothing behind: the page shows the reason and
        // nothing is stored, not even the server-side client's seq. (A tablet's refused
        // mutation is kept instead, so that its resend gets the same answer.)
        return Ok((response, batch.states, Staged::default()));
    }
    shared.counter = batch.counter;
    let at_ms = i64::try_from(server_now_ms).map_err(encode_error)?;
    let staged = Staged {
        client: applies.then_some((client, (last_seq, last_stamp))),
        changed: batch.changed,
        not_stored: batch.not_stored,
        changed_attendance: batch.changed_attendance,
        signed_before: batch.signed_before,
        referrals: batch.referrals,
        rows: batch.rows,
        step_audits: (!step_audits.is_empty()).then_some((at_ms, step_audits)),
        rejections,
    };
    Ok((response, batch.states, staged))
}

/// What one push changes, staged in memory until its group is written (`Default`: nothing).
#[derive(Default)]
struct Staged {
    /// The client's `last_seq` and `last_stamp` after the push, if it took anything.
    client: Option<(String, (Seq, Option<Hlc>))>,
    changed: BTreeMap<String, Changed>,
    /// The opinions the server did not hold before the group.
    not_stored: HashSet<String>,
    changed_attendance: BTreeMap<String, ChangedAttendance>,
    /// The attendance records that had a sign-in before the group.
    signed_before: HashSet<String>,
    referrals: BTreeSet<(String, String)>,
    rows: Vec<MutationRow>,
    /// The audit records of the steps applied, with the push's time.
    step_audits: Option<(i64, Vec<super::audit::StepAudit>)>,
    /// The mutations rejected, by client and seq: a resend in the same group is answered with
    /// them.
    rejections: HashMap<(String, Seq), Rejected>,
}

/// The staged writes of a group's pushes so far, merged: each record once, in its latest state
/// with the number of its latest change.
#[derive(Default)]
struct Pending {
    clients: HashMap<String, (Seq, Option<Hlc>)>,
    changed: BTreeMap<String, Changed>,
    /// Opinions the server did not hold before the group: they have no facts to replace.
    not_stored: HashSet<String>,
    changed_attendance: BTreeMap<String, ChangedAttendance>,
    /// Attendance records that had a sign-in before the group: their shift is counted already.
    signed_before: HashSet<String>,
    referrals: BTreeSet<(String, String)>,
    rows: Vec<MutationRow>,
    step_audits: Vec<(i64, Vec<super::audit::StepAudit>)>,
    rejections: HashMap<(String, Seq), Rejected>,
}

impl Pending {
    fn merge(&mut self, staged: Staged) {
        if let Some((client, last)) = staged.client {
            self.clients.insert(client, last);
        }
        for (id, mut changed) in staged.changed {
            if let Some(before) = self.changed.remove(&id) {
                changed.station_id = changed.station_id.or(before.station_id);
            }
            self.changed.insert(id, changed);
        }
        self.not_stored.extend(staged.not_stored);
        self.changed_attendance.extend(staged.changed_attendance);
        self.signed_before.extend(staged.signed_before);
        self.referrals.extend(staged.referrals);
        self.rows.extend(staged.rows);
        self.step_audits.extend(staged.step_audits);
        self.rejections.extend(staged.rejections);
    }

    /// The opinions of `ids` the group has not staged: those to read from the database (once
    /// each).
    fn unstaged(&self, ids: &[String]) -> Vec<String> {
        ids.iter()
            .filter(|id| !self.changed.contains_key(*id))
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    /// The states of opinions `ids` as the group left them: staged, else `stored` (read for at
    /// least every id [`Pending::unstaged`] gave; `None`: the server has none). Also which of
    /// them the server did not hold before this push.
    fn opinions(
        &self,
        ids: &[String],
        stored: &HashMap<String, Option<OpinionReplica>>,
    ) -> (HashMap<String, Option<OpinionReplica>>, HashSet<String>) {
        let mut states: HashMap<String, Option<OpinionReplica>> = ids
            .iter()
            .filter(|id| !self.changed.contains_key(*id))
            .map(|id| (id.clone(), stored.get(id).cloned().flatten()))
            .collect();
        // Not stored before the group, and not made by it either.
        let not_stored = states
            .iter()
            .filter(|(id, state)| state.is_none() && !self.not_stored.contains(*id))
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            if let Some(changed) = self.changed.get(id) {
                states.insert(id.clone(), Some(changed.state.clone()));
            }
        }
        (states, not_stored)
    }

    /// The same for attendance records, and which of them had a sign-in before the group.
    async fn attendance(
        &self,
        conn: &mut Conn<'_>,
        ids: &[String],
    ) -> Result<(HashMap<String, Option<Attendance>>, HashSet<String>), sqlx::Error> {
        let unstaged: Vec<String> = ids
            .iter()
            .filter(|id| !self.changed_attendance.contains_key(*id))
            .cloned()
            .collect();
        let mut states: HashMap<String, Option<Attendance>> =
            load_states(conn, "attendance", &unstaged).await?;
        let signed_before = states
            .iter()
            .filter(|(_, state)| state.as_ref().is_some_and(|s| s.signed_in_at_ms.is_some()))
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            if let Some(changed) = self.changed_attendance.get(id) {
                states.insert(id.clone(), Some(changed.state.clone()));
            }
        }
        Ok((states, signed_before))
    }

    /// Writes it all, in multi-row statements.
    async fn write(&self, conn: &mut Conn<'_>) -> Result<(), sqlx::Error> {
        write_opinions(conn, &self.changed).await?;
        // The figures' facts change with the opinion, in the same transaction.
        write_facts(
            conn,
            self.changed.iter().map(|(id, c)| FactsChange {
                id: id.as_str(),
                state: &c.state,
                had_facts: !self.not_stored.contains(id),
            }),
        )
        .await?;
        write_attendance(conn, &self.changed_attendance).await?;
        // Who was on duty: a record signed in for the first time is one more shift of its
        // deputy at its station that month (a sign-in is never taken back).
        write_duty_months(
            conn,
            self.changed_attendance
                .iter()
                .filter(|(id, c)| {
                    c.state.signed_in_at_ms.is_some() && !self.signed_before.contains(*id)
                })
                .map(|(_, c)| &c.state.key),
        )
        .await?;
        write_referrals(conn, &self.referrals).await?;
        // The `mutations` rows reference their client's row.
        write_clients(conn, &self.clients).await?;
        write_mutations(conn, &self.rows).await?;
        for (at_ms, steps) in &self.step_audits {
            super::audit::write_steps(conn, *at_ms, steps).await?;
        }
        Ok(())
    }
}

/// Inserts or updates the clients' `last_seq` and `last_stamp`.
async fn write_clients(
    conn: &mut Conn<'_>,
    clients: &HashMap<String, (Seq, Option<Hlc>)>,
) -> Result<(), sqlx::Error> {
    let clients: Vec<_> = clients.iter().collect();
    insert_rows(
        conn,
        "INSERT INTO sync_clients (client_id, last_seq, last_stamp)",
        vec![
            Column::text(clients.iter().map(|(client, _)| client.as_str())),
            Column::int(
                clients
                    .iter()
                    .map(|(_, (last_seq, _))| seq_to_db(*last_seq))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Column::optional_text(
                clients
                    .iter()
                    .map(|(_, (_, stamp))| stamp.map(String::from)),
            ),
        ],
        "ON CONFLICT (client_id) DO UPDATE SET \
             last_seq = excluded.last_seq, last_stamp = excluded.last_stamp",
    )
    .await
}

impl Db {
    /// The records of `stations` changed after `cursor` (opinions and attendance, interleaved in
    /// change order), oldest change first, at most `limit` of them (clamped to
    /// 1..=[`MAX_PULL_LIMIT`]). Each record appears once, with its current merged state and the
    /// cursor of its latest change; `next_cursor` is the last change's cursor (or `cursor` when
    /// there is none) and `more` tells whether another page follows.
    ///
    /// Only records whose station is in `stations` are returned; an empty list returns nothing.
    /// The caller must pass exactly the stations the signed-in user may read: this method does no
    /// authorisation. An opinion of which only edits have arrived (no creation yet) has no station
    /// and is returned once its creation arrives. `reset_required` is always false, since nothing
    /// is purged yet.
    pub async fn pull(
        &self,
        cursor: Cursor,
        limit: u32,
        stations: &[StationId],
    ) -> Result<PullResponse, sqlx::Error> {
        let limit = limit.clamp(1, MAX_PULL_LIMIT);
        if stations.is_empty() {
            return Ok(PullResponse {
                changes: Vec::new(),
                next_cursor: cursor,
                more: false,
                reset_required: false,
            });
        }
        // One more than asked, to know whether another page follows.
        let fetch = i64::from(limit) + 1;
        let mut conn = self.acquire().await?;
        let backend = conn.conn().backend();
        // Each table is read in change order up to the page size by its own index
        // (`station_id, change_seq`), then the two are merged. `$1` the cursor, `$2` the page
        // size, `$3...` the stations (used by both halves).
        let stations_at = in_list(backend, "station_id", 3, stations.len());
        let sql = format!(
            "SELECT kind, state, change_seq FROM ( \
                 SELECT 'opinion' AS kind, state, change_seq FROM opinions \
                 WHERE change_seq > $1 AND {stations_at} ORDER BY change_seq LIMIT $2 \
             ) AS o \
             UNION ALL \
             SELECT kind, state, change_seq FROM ( \
                 SELECT 'attendance' AS kind, state, change_seq FROM attendance \
                 WHERE change_seq > $1 AND {stations_at} ORDER BY change_seq LIMIT $2 \
             ) AS a \
             ORDER BY change_seq LIMIT $2"
        );
        let station_ids: Vec<&str> = stations.iter().map(|s| s.0.as_str()).collect();
        let rows = conn
            .query(&sql)
            .bind(cursor_to_db(cursor))
            .bind(fetch)
            .bind_list(&station_ids)
            .fetch_all()
            .await?;
        let more = rows.len() > limit as usize;
        let mut changes = Vec::with_capacity(rows.len().min(limit as usize));
        for row in rows.into_iter().take(limit as usize) {
            let cursor = Cursor(seq_from_db(row.try_get("change_seq")?)?.0);
            let state: String = row.try_get("state")?;
            changes.push(match row.try_get::<String>("kind")?.as_str() {
                "attendance" => Change::Attendance {
                    cursor,
                    state: parse_json(&state)?,
                },
                _ => Change::Opinion {
                    cursor,
                    state: parse_json(&state)?,
                },
            });
        }
        Ok(PullResponse {
            next_cursor: changes.last().map_or(cursor, Change::cursor),
            changes,
            more,
            reset_required: false,
        })
    }
}

impl Db {
    /// The cursor of the latest committed change (`Cursor::START` before the first): what the
    /// change-event stream announces (`crate::events`). Read after a push commits, it is at
    /// least the cursor of every change that push made.
    pub async fn latest_cursor(&self) -> Result<Cursor, sqlx::Error> {
        let mut conn = self.acquire().await?;
        let value: i64 = conn
            .query("SELECT value FROM sync_counter WHERE id = 1")
            .fetch_optional()
            .await?
            .map(|row| row.try_get("value"))
            .transpose()?
            .unwrap_or(0);
        Ok(Cursor(seq_from_db(value)?.0))
    }
}

/// Pushes in one group's transaction at most, and mutations: a push finding the group this
/// full commits it and begins the next one, so that a transaction (and the wait of its first
/// push) stays bounded.
const GROUP_MAX_PUSHES: usize = 64;
const GROUP_MAX_MUTATIONS: usize = 2_000;

/// How a group ended, as its pushes learn it.
#[derive(Clone, Debug)]
enum Outcome {
    Open,
    /// With the change counter it committed.
    Committed {
        counter: i64,
    },
    /// Not committed, and not for a reason of the database's alone: run the push again, alone.
    Retry,
    /// A group of one push that failed.
    Failed(String),
}

/// Group commit, per server instance (see the module docs): the group whose transaction is
/// open, behind a fair (FIFO) mutex that each push holds while it runs in the group.
#[derive(Default)]
pub(crate) struct GroupCommit {
    open: Arc<tokio::sync::Mutex<Option<Group>>>,
    next_id: AtomicU64,
    committed: AtomicU64,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit")
            .field("committed", &self.committed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// One group: its transaction (begun by [`Pool::begin_sync_writer`], so it holds the lock every
/// push needs), and what its pushes share.
struct Group {
    id: u64,
    tx: Tx,
    pushes: usize,
    mutations: usize,
    /// The change counter when the group began, and after its last push.
    counter_at_start: i64,
    counter: i64,
    categories: Option<Vec<Category>>,
    pending: Pending,
    /// A push's statement failed: the transaction is rolled back and its pushes run again.
    poisoned: bool,
    /// A push running again after its group failed: no other joins it.
    alone: bool,
    /// Tells the group's pushes how it ended.
    done: Arc<watch::Sender<Outcome>>,
    /// When it began (for the debug log of its commit).
    begun: std::time::Instant,
}

impl Group {
    /// Writes the pushes' changes and the counter, and commits.
    async fn finish(mut self) -> Result<(), sqlx::Error> {
        let mut conn = self.tx.conn();
        self.pending.write(&mut conn).await?;
        if self.counter != self.counter_at_start {
            conn.query("UPDATE sync_counter SET value = $1 WHERE id = 1")
                .bind(self.counter)
                .execute()
                .await?;
        }
        self.tx.commit().await
    }

    fn takes_more(&self, size: usize) -> bool {
        !self.alone
            && !self.poisoned
            && self.pushes < GROUP_MAX_PUSHES
            && (self.mutations == 0 || self.mutations + size <= GROUP_MAX_MUTATIONS)
    }
}

type OpenGuard = tokio::sync::OwnedMutexGuard<Option<Group>>;

/// A push's turn in the open group: the mutex held, the group there. For the group's first push
/// also the signal that lets the group's commit queue up behind the pushes waiting by then
/// (sent when this is dropped, also if the push is).
pub(crate) struct Entered {
    open: OpenGuard,
    _first: Option<oneshot::Sender<()>>,
}

impl Entered {
    fn group(&mut self) -> &mut Group {
        self.open.as_mut().expect("a push enters an open group")
    }
}

impl GroupCommit {
    /// Waits for the push's turn and returns it in the open group, beginning one if there is
    /// none. An open group that takes no more (full, failed, or one push's own) is ended first,
    /// keeping the push's place in the queue. `alone`: in a group of its own.
    async fn enter(
        self: &Arc<Self>,
        pool: &Pool,
        alone: bool,
        size: usize,
    ) -> Result<Entered, sqlx::Error> {
        let mut open = Arc::clone(&self.open).lock_owned().await;
        if let Some(group) = open.as_ref() {
            if !alone && group.takes_more(size) {
                return Ok(Entered { open, _first: None });
            }
            // In a task of its own, so that this push going away cannot leave the group's
            // pushes unanswered; the mutex comes back when it is done.
            let this = Arc::clone(self);
            open = tokio::spawn(async move {
                if let Some(group) = open.take() {
                    this.end(group).await;
                }
                open
            })
            .await
            .map_err(|err| sqlx::Error::Io(std::io::Error::other(err.to_string())))?;
        }

        let (tx, counter) = pool.begin_sync_writer().await?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        *open = Some(Group {
            id,
            tx,
            pushes: 0,
            mutations: 0,
            counter_at_start: counter,
            counter,
            categories: None,
            pending: Pending::default(),
            poisoned: false,
            alone,
            done: Arc::new(watch::channel(Outcome::Open).0),
            begun: std::time::Instant::now(),
        });
        let (first, first_done) = oneshot::channel();
        // Its own task, so that no request going away can leave the group uncommitted.
        tokio::spawn(Arc::clone(self).commit(id, first_done));
        Ok(Entered {
            open,
            _first: Some(first),
        })
    }

    /// Commits group `id` once its first push is done, after the pushes that queued meanwhile
    /// (the mutex is fair) have joined it. The mutex is held through the commit, so the next
    /// group begins after it.
    async fn commit(self: Arc<Self>, id: u64, first_done: oneshot::Receiver<()>) {
        let _ = first_done.await;
        // Queues up only after the requests that are ready to run: those reaching the queue
        // meanwhile join this group rather than wait for its commit and pay one of their own.
        // When many tablets push at once they arrive spread over the time their sessions take
        // to read, and the first groups took one to three pushes each, a commit each (10–20 ms
        // on PostgreSQL); when few push, nothing is ready and this costs nothing.
        tokio::task::yield_now().await;
        let mut open = self.open.lock().await;
        if open.as_ref().is_none_or(|group| group.id != id) {
            // Ended already by a push that found it full.
            return;
        }
        let group = open.take().expect("the group is open");
        self.end(group).await;
    }

    /// Commits a group (rolls it back if it failed) and tells its pushes.
    async fn end(&self, group: Group) {
        let done = Arc::clone(&group.done);
        let alone = group.alone;
        let (pushes, mutations, begun) = (group.pushes, group.mutations, group.begun);
        let counter = group.counter;
        let ending = std::time::Instant::now();
        let outcome = if group.poisoned {
            // Dropping the transaction rolls it back.
            Outcome::Retry
        } else {
            match group.finish().await {
                Ok(()) => {
                    self.committed.fetch_add(1, Ordering::Relaxed);
                    Outcome::Committed { counter }
                }
                Err(err) if alone => Outcome::Failed(err.to_string()),
                Err(err) => {
                    tracing::warn!(error = %err, "a push group failed; its pushes run again alone");
                    Outcome::Retry
                }
            }
        };
        tracing::debug!(
            pushes,
            mutations,
            open_ms = (ending - begun).as_secs_f64() * 1000.0,
            commit_ms = ending.elapsed().as_secs_f64() * 1000.0,
            outcome = ?outcome,
            "push group ended"
        );
        done.send_replace(outcome);
    }
}

/// A push that ran in a group whose commit failed: nothing it did was stored.
fn group_failed(reason: &str) -> PushFailure {
    PushFailure::Database(sqlx::Error::Io(std::io::Error::other(format!(
        "the push's transaction was not committed: {reason}"
    ))))
}

impl Db {
    /// How many push groups (transactions of one or more pushes) this instance has committed.
    /// For tests and benchmarks.
    #[doc(hidden)]
    pub fn push_groups_committed(&self) -> u64 {
        self.writer.committed.load(Ordering::Relaxed)
    }
}

/// What became of one new mutation.
enum Taken {
    /// Applied; `change_seq` is the change it made (the counter value it bumped to), `None`
    /// when it changed nothing (an older write, a repeat, an edit after a delete's arrival).
    Applied {
        change_seq: Option<i64>,
    },
    Rejected(Rejected),
}

/// An opinion a push changed.
struct Changed {
    state: OpinionReplica,
    /// Kept from the creation: a tombstone no longer holds the opinion, but the row keeps its
    /// station (pulls are filtered by it), also when the creation and the delete come in one push.
    station_id: Option<String>,
    change_seq: i64,
}

/// An attendance record a push changed.
struct ChangedAttendance {
    state: Attendance,
    change_seq: i64,
}

/// What one push reads and changes, held in memory until it is written at the end.
#[derive(Default)]
struct Batch {
    /// The server's clock for this push: new steps and marks are checked against it.
    now_ms: u64,
    /// The stored state of every opinion the new mutations touch (`None`: not on the server),
    /// updated as the mutations are applied.
    states: HashMap<String, Option<OpinionReplica>>,
    /// The opinions the server did not hold before this push: they have no facts to replace.
    not_stored: HashSet<String>,
    /// The same for the attendance records the new marks touch, by their key's text.
    attendance: HashMap<String, Option<Attendance>>,
    /// Those of them with a sign-in before the group.
    signed_before: HashSet<String>,
    /// The server's working-day calendar and its units, read when the push holds a referral.
    calendar: WorkCalendar,
    units: HashSet<String>,
    /// The change counter: read at the start, one up per state change.
    counter: i64,
    /// The opinions changed: their state, station and the number of their latest change.
    changed: BTreeMap<String, Changed>,
    /// The attendance records changed.
    changed_attendance: BTreeMap<String, ChangedAttendance>,
    /// `(unit, opinion)` of each referral applied.
    referrals: BTreeSet<(String, String)>,
    /// The `mutations` rows to insert.
    rows: Vec<MutationRow>,
}

impl Batch {
    /// Authorises, checks and applies one new mutation under the stamp the server gave it.
    fn take<A: PushAuthority + ?Sized>(
        &mut self,
        mutation: &Mutation,
        stamp: Hlc,
        categories: &[Category],
        authority: &A,
    ) -> Taken {
        let result = match &mutation.kind {
            MutationKind::MarkAttendance { .. } => self.mark(mutation, categories, authority),
            _ => self.opinion_change(mutation, stamp, categories, authority),
        };
        match result {
            Ok(change_seq) => Taken::Applied { change_seq },
            Err(rejection) => Taken::Rejected(rejection.into_rejected(mutation.seq)),
        }
    }

    /// A mutation of an opinion (its creation, an edit, a delete, a follow-up step). Returns the
    /// change it made, if any.
    fn opinion_change<A: PushAuthority + ?Sized>(
        &mut self,
        mutation: &Mutation,
        stamp: Hlc,
        categories: &[Category],
        authority: &A,
    ) -> Result<Option<i64>, Rejection> {
        let Some(opinion_id) = mutation.kind.opinion_id() else {
            return Err(Rejection::new(RejectCode::Malformed));
        };
        let key = opinion_id.to_string();
        let current = self.states.get(&key).cloned().flatten();

        // Authorisation comes first, so that a forbidden mutation tells nothing about the
        // other station's opinion (whether it exists, was deleted, or what it holds).
        authority.authorise(&mutation.kind, current.as_ref())?;
        validate_mutation(current.as_ref(), &mutation.kind, categories)?;
        if let MutationKind::RecordFollowUp { step, .. } = &mutation.kind {
            let repeated = current
                .as_ref()
                .is_some_and(|r| r.steps().any(|s| s.id == step.id));
            // A step taken before is not checked again: the answer to a resend must not change
            // because the clock or the calendar moved on since.
            if !repeated {
                // The clock first: a wrong clock also puts a referral's deadline wrong. (The
                // item exists: validation refused a step on a missing one.)
                let created = current
                    .as_ref()
                    .and_then(OpinionReplica::created)
                    .map_or(0, |o| o.created_at_ms);
                check_step_time(step, self.now_ms, created).map_err(Rejection::not_allowed)?;
                self.check_referral(step)?;
            }
        }

        let station_before = current
            .as_ref()
            .and_then(OpinionReplica::created)
            .map(|o| o.station_id.0.clone());
        let mut state = current.unwrap_or_else(|| OpinionReplica::new(opinion_id));
        let stamped = Mutation {
            hlc: stamp,
            ..mutation.clone()
        };
        if !state.apply(&stamped) {
            return Ok(None);
        }
        self.counter += 1;
        if let MutationKind::RecordFollowUp { step, .. } = &mutation.kind
            && let Action::Refer { unit_id, .. } = &step.action
        {
            self.referrals.insert((unit_id.0.clone(), key.clone()));
        }
        let station_id = state
            .created()
            .map(|o| o.station_id.0.clone())
            .or(station_before)
            .or_else(|| self.changed.get(&key).and_then(|c| c.station_id.clone()));
        self.states.insert(key.clone(), Some(state.clone()));
        self.changed.insert(
            key,
            Changed {
                state,
                station_id,
                change_seq: self.counter,
            },
        );
        Ok(Some(self.counter))
    }

    /// What the server adds to the lifecycle's check of a referral: the unit exists, and the
    /// deadline is the step's working days on the server's calendar (a tablet may have counted
    /// on an outdated holiday list).
    fn check_referral(&self, step: &FollowUp) -> Result<(), Rejection> {
        if let Action::Refer { unit_id, .. } = &step.action {
            if !self.units.contains(&unit_id.0) {
                return Err(Rejection {
                    code: RejectCode::Invalid,
                    errors: ValidationErrors(vec![(Field::Unit, FieldError::UnknownChoice)]),
                    transition: None,
                });
            }
            check_referral_deadline(&self.calendar, step).map_err(Rejection::not_allowed)?;
        }
        Ok(())
    }

    /// An attendance mark: merged into the one record of its deputy, station and day.
    fn mark<A: PushAuthority + ?Sized>(
        &mut self,
        mutation: &Mutation,
        categories: &[Category],
        authority: &A,
    ) -> Result<Option<i64>, Rejection> {
        let MutationKind::MarkAttendance { mark } = &mutation.kind else {
            return Err(Rejection::new(RejectCode::Malformed));
        };
        authority.authorise(&mutation.kind, None)?;
        validate_mutation(None, &mutation.kind, categories)?;
        // The merge keeps the latest sign-out for good, so a mark from a tablet whose clock runs
        // ahead would stand until a later one that never comes. (A mark late by days is normal:
        // a tablet offline since.)
        if mark.at_ms > self.now_ms.saturating_add(limits::CLOCK_AHEAD_MS) {
            return Err(Rejection::new(RejectCode::Invalid));
        }
        let key = mark.key.id();
        let mut state = self
            .attendance
            .get(&key)
            .cloned()
            .flatten()
            .unwrap_or_else(|| Attendance::new(mark.key.clone()));
        if !state.apply(mark) {
            return Ok(None);
        }
        self.counter += 1;
        self.attendance.insert(key.clone(), Some(state.clone()));
        self.changed_attendance.insert(
            key,
            ChangedAttendance {
                state,
                change_seq: self.counter,
            },
        );
        Ok(Some(self.counter))
    }
}

/// The stored states in `table` (`opinions` or `attendance`: `id` and JSON `state` columns) of
/// `ids` (duplicates allowed), `None` for those the server does not have.
async fn load_states<T: serde::de::DeserializeOwned>(
    conn: &mut Conn<'_>,
    table: &'static str,
    ids: &[String],
) -> Result<HashMap<String, Option<T>>, sqlx::Error> {
    let mut states: HashMap<String, Option<T>> = ids.iter().map(|id| (id.clone(), None)).collect();
    let distinct: Vec<&str> = ids
        .iter()
        .map(String::as_str)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let backend = conn.backend();
    for chunk in distinct.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "SELECT id, state FROM {table} WHERE {}",
            in_list(backend, "id", 1, chunk.len())
        );
        for row in conn.query(&sql).bind_list(chunk).fetch_all().await? {
            let id: String = row.try_get("id")?;
            let state: T = parse_json(&row.try_get::<String>("state")?)?;
            states.insert(id, Some(state));
        }
    }
    Ok(states)
}

/// The `last_seq` and `last_stamp` of `client` (if given and known), and the stored states of
/// opinions `ids` (distinct; absent: not stored), the client's row and the first ids in one
/// statement.
async fn load_client_and_opinions(
    conn: &mut Conn<'_>,
    client: Option<&str>,
    ids: &[String],
) -> Result<
    (
        Option<(Seq, Option<Hlc>)>,
        HashMap<String, Option<OpinionReplica>>,
    ),
    sqlx::Error,
> {
    let (first, rest) = ids.split_at(ids.len().min(ROWS_PER_STATEMENT));
    let mut states = HashMap::new();
    let mut client_row = None;
    if client.is_some() || !first.is_empty() {
        let mut parts = Vec::new();
        if client.is_some() {
            parts.push(
                "SELECT CAST(NULL AS TEXT) AS id, CAST(NULL AS TEXT) AS state, last_seq, \
                        last_stamp \
                 FROM sync_clients WHERE client_id = $1"
                    .to_owned(),
            );
        }
        if !first.is_empty() {
            let at = if client.is_some() { 2 } else { 1 };
            parts.push(format!(
                "SELECT id, state, CAST(NULL AS BIGINT) AS last_seq, \
                        CAST(NULL AS TEXT) AS last_stamp \
                 FROM opinions WHERE {}",
                in_list(conn.backend(), "id", at, first.len())
            ));
        }
        let sql = parts.join(" UNION ALL ");
        let first: Vec<&str> = first.iter().map(String::as_str).collect();
        let mut query = conn.query(&sql);
        if let Some(client) = client {
            query = query.bind(client);
        }
        if !first.is_empty() {
            query = query.bind_list(&first);
        }
        for row in query.fetch_all().await? {
            match row.try_get::<Option<String>>("id")? {
                Some(id) => {
                    let state = parse_json(&row.try_get::<String>("state")?)?;
                    states.insert(id, Some(state));
                }
                None => {
                    client_row = Some((
                        seq_from_db(row.try_get("last_seq")?)?,
                        row.try_get::<Option<String>>("last_stamp")?
                            .map(|s| parse_hlc(&s))
                            .transpose()?,
                    ));
                }
            }
        }
    }
    if !rest.is_empty() {
        states.extend(load_states(conn, "opinions", rest).await?);
    }
    Ok((client_row, states))
}

/// Writes the changed opinions with the number of their latest change.
async fn write_opinions(
    conn: &mut Conn<'_>,
    changed: &BTreeMap<String, Changed>,
) -> Result<(), sqlx::Error> {
    insert_rows(
        conn,
        "INSERT INTO opinions (id, station_id, state, change_seq)",
        vec![
            Column::text(changed.keys().map(String::as_str)),
            Column::optional_text(changed.values().map(|c| c.station_id.as_deref())),
            json_column(changed.values().map(|c| &c.state))?,
            Column::int(changed.values().map(|c| c.change_seq)),
        ],
        "ON CONFLICT (id) DO UPDATE SET \
             station_id = COALESCE(excluded.station_id, opinions.station_id), \
             state = excluded.state, \
             change_seq = excluded.change_seq",
    )
    .await
}

/// A column of `values` as JSON texts (the records' `state`).
fn json_column<'a, T: serde::Serialize + 'a>(
    values: impl Iterator<Item = &'a T>,
) -> Result<Column, sqlx::Error> {
    Ok(Column::text(
        values.map(to_json).collect::<Result<Vec<_>, _>>()?,
    ))
}

/// Writes the changed attendance records with the number of their latest change.
async fn write_attendance(
    conn: &mut Conn<'_>,
    changed: &BTreeMap<String, ChangedAttendance>,
) -> Result<(), sqlx::Error> {
    let keys = || changed.values().map(|c| &c.state.key);
    insert_rows(
        conn,
        "INSERT INTO attendance (id, station_id, deputy_id, day, state, change_seq, signed_in)",
        vec![
            Column::text(changed.keys().map(String::as_str)),
            Column::text(keys().map(|k| k.station_id.0.as_str())),
            Column::text(keys().map(|k| k.deputy_id.0.as_str())),
            Column::text(keys().map(|k| k.day.to_string())),
            json_column(changed.values().map(|c| &c.state))?,
            Column::int(changed.values().map(|c| c.change_seq)),
            Column::bool(changed.values().map(|c| c.state.signed_in_at_ms.is_some())),
        ],
        "ON CONFLICT (id) DO UPDATE SET \
             state = excluded.state, \
             change_seq = excluded.change_seq, \
             signed_in = excluded.signed_in",
    )
    .await
}

/// Adds a shift to the `duty_months` row of each attendance key's station, month and deputy
/// (see `0013_duty_months.sql`).
async fn write_duty_months<'a>(
    conn: &mut Conn<'_>,
    keys: impl Iterator<Item = &'a liaison_domain::followup::AttendanceKey>,
) -> Result<(), sqlx::Error> {
    let mut shifts: BTreeMap<(&str, String, &str), i64> = BTreeMap::new();
    for key in keys {
        *shifts
            .entry((
                key.station_id.0.as_str(),
                super::facts::month_of(key.day),
                key.deputy_id.0.as_str(),
            ))
            .or_default() += 1;
    }
    insert_rows(
        conn,
        "INSERT INTO duty_months (station_id, month, deputy_id, shifts)",
        vec![
            Column::text(shifts.keys().map(|(station, _, _)| *station)),
            Column::text(shifts.keys().map(|(_, month, _)| month.as_str())),
            Column::text(shifts.keys().map(|(_, _, deputy)| *deputy)),
            Column::int(shifts.values().copied()),
        ],
        "ON CONFLICT (station_id, month, deputy_id) DO UPDATE SET \
             shifts = duty_months.shifts + excluded.shifts",
    )
    .await
}

/// Records which unit each referred opinion went to (kept if it was referred there before).
async fn write_referrals(
    conn: &mut Conn<'_>,
    referrals: &BTreeSet<(String, String)>,
) -> Result<(), sqlx::Error> {
    insert_rows(
        conn,
        "INSERT INTO referrals (unit_id, opinion_id)",
        vec![
            Column::text(referrals.iter().map(|(unit, _)| unit.as_str())),
            Column::text(referrals.iter().map(|(_, opinion)| opinion.as_str())),
        ],
        "ON CONFLICT (unit_id, opinion_id) DO NOTHING",
    )
    .await
}

/// One `mutations` row.
struct MutationRow {
    client: String,
    seq: i64,
    kind: &'static str,
    /// The record's id ([`MutationKind::record_id`]): an opinion's, or an attendance key.
    record_id: String,
    hlc: String,
    original_hlc: Option<String>,
    body: String,
    outcome: &'static str,
    reject_code: Option<&'static str>,
    reject_message: Option<String>,
    reject_errors: Option<String>,
    reject_transition: Option<String>,
    received_at: i64,
    change_seq: Option<i64>,
}

/// The `mutations` row of a mutation just taken.
fn mutation_row(
    client: &str,
    mutation: &Mutation,
    stamp: Hlc,
    taken: &Taken,
    server_now_ms: u64,
) -> Result<MutationRow, sqlx::Error> {
    let (rejected, change_seq) = match taken {
        Taken::Applied { change_seq } => (None, *change_seq),
        Taken::Rejected(rejection) => (Some(rejection), None),
    };
    Ok(MutationRow {
        client: client.to_owned(),
        seq: seq_to_db(mutation.seq)?,
        kind: mutation.kind.name(),
        record_id: mutation.kind.record_id(),
        hlc: String::from(stamp),
        original_hlc: (stamp != mutation.hlc).then(|| String::from(mutation.hlc)),
        body: to_json(mutation)?,
        outcome: if rejected.is_some() {
            "rejected"
        } else {
            "applied"
        },
        reject_code: rejected.map(|r| r.code.code()),
        reject_message: rejected.map(|r| r.message.clone()),
        reject_errors: rejected
            .filter(|r| !r.errors.is_empty())
            .map(|r| to_json(&r.errors))
            .transpose()?,
        reject_transition: rejected
            .and_then(|r| r.transition.as_ref())
            .map(to_json)
            .transpose()?,
        received_at: i64::try_from(server_now_ms).map_err(encode_error)?,
        change_seq,
    })
}

/// The audit record of a follow-up step this push applied (a repeat changes nothing and is not
/// recorded again).
fn step_audit(
    states: &HashMap<String, Option<OpinionReplica>>,
    client: &str,
    mutation: &Mutation,
    taken: &Taken,
) -> Option<super::audit::StepAudit> {
    let (
        Taken::Applied {
            change_seq: Some(_),
        },
        MutationKind::RecordFollowUp { opinion_id, step },
    ) = (taken, &mutation.kind)
    else {
        return None;
    };
    let station = states
        .get(&opinion_id.to_string())
        .and_then(|s| s.as_ref())
        .and_then(OpinionReplica::created)
        .map(|o| o.station_id.0.clone());
    Some(super::audit::StepAudit {
        user_id: step.by.user_id.clone(),
        display_name: step.by.name.clone(),
        station_id: station,
        detail: serde_json::json!({
            "opinion_id": opinion_id,
            "step_id": step.id,
            "action": step.action.kind().code(),
            "role": step.by.role,
            "unit_id": step.by.unit_id,
            "at_ms": step.at_ms,
            "client_id": client,
            "seq": mutation.seq,
        }),
    })
}

/// Inserts the `mutations` rows of a push.
async fn write_mutations(conn: &mut Conn<'_>, rows: &[MutationRow]) -> Result<(), sqlx::Error> {
    insert_rows(
        conn,
        "INSERT INTO mutations (client_id, seq, kind, opinion_id, hlc, original_hlc, body, \
             outcome, reject_code, reject_message, reject_errors, reject_transition, \
             received_at, change_seq)",
        vec![
            Column::text(rows.iter().map(|r| r.client.as_str())),
            Column::int(rows.iter().map(|r| r.seq)),
            Column::text(rows.iter().map(|r| r.kind)),
            Column::text(rows.iter().map(|r| r.record_id.as_str())),
            Column::text(rows.iter().map(|r| r.hlc.as_str())),
            Column::optional_text(rows.iter().map(|r| r.original_hlc.as_deref())),
            Column::text(rows.iter().map(|r| r.body.as_str())),
            Column::text(rows.iter().map(|r| r.outcome)),
            Column::optional_text(rows.iter().map(|r| r.reject_code)),
            Column::optional_text(rows.iter().map(|r| r.reject_message.as_deref())),
            Column::optional_text(rows.iter().map(|r| r.reject_errors.as_deref())),
            Column::optional_text(rows.iter().map(|r| r.reject_transition.as_deref())),
            Column::int(rows.iter().map(|r| r.received_at)),
            Column::optional_int(rows.iter().map(|r| r.change_seq)),
        ],
        "",
    )
    .await
}

/// The stored rejection of a mutation taken before, if it was rejected: the same answer as the
/// first time, field errors and lifecycle refusal included.
async fn stored_rejection(
    conn: &mut Conn<'_>,
    client: &str,
    seq: Seq,
) -> Result<Option<Rejected>, sqlx::Error> {
    let row = conn
        .query(
            "SELECT reject_code, reject_message, reject_errors, reject_transition FROM mutations \
             WHERE client_id = $1 AND seq = $2 AND outcome = 'rejected'",
        )
        .bind(client)
        .bind(seq_to_db(seq)?)
        .fetch_optional()
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let code: String = row.try_get("reject_code")?;
    let errors = match row.try_get::<Option<String>>("reject_errors")? {
        Some(json) => parse_json(&json)?,
        None => ValidationErrors::default(),
    };
    let transition = row
        .try_get::<Option<String>>("reject_transition")?
        .map(|json| parse_json(&json))
        .transpose()?;
    Ok(Some(Rejected {
        seq,
        // `RejectCode::code` is the serde name, so the string parses back.
        code: serde_json::from_value(serde_json::Value::String(code)).map_err(decode_error)?,
        message: row.try_get("reject_message")?,
        errors,
        transition,
    }))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, sqlx::Error> {
    serde_json::to_string(value).map_err(encode_error)
}

pub(super) fn parse_json<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, sqlx::Error> {
    serde_json::from_str(json).map_err(decode_error)
}

fn parse_hlc(text: &str) -> Result<Hlc, sqlx::Error> {
    text.parse().map_err(decode_error)
}

fn seq_to_db(seq: Seq) -> Result<i64, sqlx::Error> {
    i64::try_from(seq.0).map_err(encode_error)
}

fn cursor_to_db(cursor: Cursor) -> i64 {
    // A cursor beyond what SQLite can count matches nothing, like any cursor past the end.
    i64::try_from(cursor.0).unwrap_or(i64::MAX)
}

fn seq_from_db(value: i64) -> Result<Seq, sqlx::Error> {
    u64::try_from(value).map(Seq).map_err(decode_error)
}

fn encode_error(error: impl std::error::Error + Send + Sync + 'static) -> sqlx::Error {
    sqlx::Error::Encode(Box::new(error))
}

fn decode_error(error: impl std::error::Error + Send + Sync + 'static) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(error))
}
