//! One sync round: push the whole outbox (in batches, halving a batch the server finds too
//! large), send the queued photos, then pull every page of changes. The round stops at the first
//! answer that is not a success and says why; whatever it achieved until then is stored, and the
//! next round starts from there. Nothing in it deletes an outbox entry except a push
//! acknowledgement.
//!
//! The tablet's own work overlaps the network, but requests never overlap each other: while a
//! push is on its way the previous answer is applied and the next batch read, and while a page
//! is applied the next one is asked for. Pushes stay strictly one after the other (a batch that
//! overtook the one before would be a gap to the server). The opinions the pushes created are
//! named to the pull, which gets them straight back and need not rewrite those shown as they are
//! ([`Store::apply_pulled_page_checking`]).

use super::api::{self, APP_VERSION, Session};
use super::trace::Trace;
use crate::storage::{StorageError, Store};
use liaison_domain::OpinionId;
use liaison_domain::sync::client::{PhotoAnswer, Problem, PullAnswer, PushAnswer, RetryReason};
use liaison_domain::sync::{
    MAX_PUSH_MUTATIONS, MutationKind, PROTOCOL_VERSION, PushRequest, PushResponse,
};
use std::collections::HashSet;

/// What a successful round did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RoundReport {
    /// Outbox entries the server acknowledged as applied.
    pub pushed: u32,
    /// Outbox entries the server refused (kept and shown).
    pub rejected: u32,
    /// Records changed by pulled pages.
    pub pulled: u32,
    /// Photos the server took.
    pub photos: u32,
}

/// Why a round ended early.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoundError {
    /// A network or server trouble: try again later by yourself.
    Retry(RetryReason),
    /// Someone must act (sign in, update the app, call support).
    Stop(Problem),
    /// Local storage failed; nothing was lost, the round is retried later.
    Storage(StorageError),
}

impl From<StorageError> for RoundError {
    fn from(error: StorageError) -> Self {
        RoundError::Storage(error)
    }
}

/// Photos read from the queue at a time (each is sent on its own).
const PHOTO_BATCH: u32 = 20;

/// Runs one round for the signed-in `session`: the outbox, then the photos of the opinions it
/// carried (the server takes a photo only for an opinion it has), then the changes.
pub async fn run_round(store: &Store, session: &Session) -> Result<RoundReport, RoundError> {
    let mut report = RoundReport::default();
    let trace = Trace::for_round();
    // The opinions this round's pushes created: the pull brings them back.
    let mut created = HashSet::new();
    push_outbox(store, session, &mut report, &mut created, &trace).await?;
    trace
        .time("photos", upload_photos(store, session, &mut report))
        .await?;
    pull_changes(store, session, &mut report, &created, &trace).await?;
    Ok(report)
}

/// Sends the queued photos one by one; each is taken off the queue only when the server has it.
async fn upload_photos(
    store: &Store,
    session: &Session,
    report: &mut RoundReport,
) -> Result<(), RoundError> {
    let mut skipped = HashSet::new();
    loop {
        let queue = store
            .photos_to_upload(PHOTO_BATCH + skipped.len() as u32)
            .await?;
        let batch: Vec<_> = queue
            .into_iter()
            .filter(|p| !skipped.contains(&p.id))
            .collect();
        if batch.is_empty() {
            return Ok(());
        }
        for photo in batch {
            let Some(bytes) = crate::platform::blob_bytes(&photo.blob).await else {
                // The blob cannot be read back (evicted?): leave it queued for next time.
                skipped.insert(photo.id);
                continue;
            };
            let sha256 = sha256_hex(&bytes);
            match api::upload_photo(&session.token, &photo, &sha256).await {
                PhotoAnswer::Stored => {
                    store.mark_photo_uploaded(photo.id, false).await?;
                    report.photos += 1;
                }
                PhotoAnswer::RefusedForGood { .. } => {
                    store.mark_photo_uploaded(photo.id, true).await?;
                }
                PhotoAnswer::NotYet => {
                    skipped.insert(photo.id);
                }
                PhotoAnswer::Retry(reason) => return Err(RoundError::Retry(reason)),
                PhotoAnswer::Stop(problem) => return Err(RoundError::Stop(problem)),
            }
        }
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Pushes the outbox in batches, oldest first. The tablet's own work overlaps the network:
/// while a push is on its way, the previous push's answer is applied to the outbox and the
/// next batch is read (the entries after the one being sent, which no answer touches). A push
/// is only sent once the one before it was answered, so the server sees the seqs in order.
async fn push_outbox(
    store: &Store,
    session: &Session,
    report: &mut RoundReport,
    created: &mut HashSet<OpinionId>,
    trace: &Trace,
) -> Result<(), RoundError> {
    let client_id = store.client_id().await?;
    let mut batch = MAX_PUSH_MUTATIONS as u32;
    let mut mutations = trace
        .time("push.read", store.pending_mutations(batch))
        .await?;
    // An accepted answer not yet applied to the outbox.
    let mut unapplied: Option<PushResponse> = None;
    loop {
        let Some(last) = mutations.last().map(|m| m.seq) else {
            if let Some(response) = unapplied.take() {
                report.pushed += trace
                    .time("push.apply", store.apply_push_response(&response))
                    .await?;
            }
            return Ok(());
        };
        let request = PushRequest {
            protocol: PROTOCOL_VERSION,
            app_version: APP_VERSION.to_owned(),
            client_id,
            mutations,
        };
        let previous = unapplied.take();
        let (answer, applied, next) = futures::join!(
            trace.time("push.request", send_push(&session.token, &request, trace)),
            async {
                match &previous {
                    Some(response) => {
                        trace
                            .time("push.apply", store.apply_push_response(response))
                            .await
                    }
                    None => Ok(0),
                }
            },
            trace.time("push.read", store.pending_mutations_after(last, batch)),
        );
        report.pushed += applied?;
        match answer {
            PushAnswer::Accepted(response) => {
                // A server that acknowledges less than it was sent would make this loop spin.
                if response.acknowledged_through < last {
                    return Err(RoundError::Stop(Problem::Refused {
                        code: "incomplete_acknowledgement".into(),
                        message: format!(
                            "sent through seq {}, acknowledged through {}",
                            last.0, response.acknowledged_through.0
                        ),
                    }));
                }
                report.rejected += response.rejected.len() as u32;
                created.extend(request.mutations.iter().filter_map(|m| match &m.kind {
                    MutationKind::CreateOpinion { opinion }
                        if !response.rejected.iter().any(|r| r.seq == m.seq) =>
                    {
                        Some(opinion.id)
                    }
                    _ => None,
                }));
                match next {
                    Ok(next) => {
                        unapplied = Some(response);
                        mutations = next;
                    }
                    Err(error) => {
                        // The answer is still worth keeping (else it is pushed again).
                        report.pushed += store.apply_push_response(&response).await?;
                        return Err(error.into());
                    }
                }
            }
            PushAnswer::HalveBatch if batch > 1 => {
                // The same first entries, half as many: the batch read ahead is dropped.
                batch /= 2;
                mutations = request.mutations;
                mutations.truncate(batch as usize);
            }
            PushAnswer::HalveBatch => return Err(RoundError::Stop(Problem::MutationTooLarge)),
            PushAnswer::Retry(reason) => return Err(RoundError::Retry(reason)),
            PushAnswer::Stop(problem) => return Err(RoundError::Stop(problem)),
        }
    }
}

/// Serialises and sends one push.
async fn send_push(token: &str, request: &PushRequest, trace: &Trace) -> PushAnswer {
    let body = trace
        .time("push.encode", async { serde_json::to_string(request) })
        .await;
    match body {
        Ok(body) => api::push_body(token, body).await,
        Err(_) => api::push(token, request).await,
    }
}

/// Pulls every page of changes. The next page is asked for while one is applied (its cursor is
/// in the page already); pages are still applied one after the other, each with its cursor.
async fn pull_changes(
    store: &Store,
    session: &Session,
    report: &mut RoundReport,
    created: &HashSet<OpinionId>,
    trace: &Trace,
) -> Result<(), RoundError> {
    let pull = |cursor| trace.time("pull.request", api::pull(&session.token, cursor));
    let mut reset = false;
    let mut cursor = store.pull_cursor().await?;
    let mut answer = pull(cursor).await;
    loop {
        match answer {
            PullAnswer::Accepted(page) if page.reset_required && reset => {
                // Asked again after a reset (from the start, which never needs one): a server
                // bug. Stop rather than reset forever.
                return Err(RoundError::Stop(Problem::Refused {
                    code: "reset_loop".into(),
                    message: "the server asked for a reset twice in one round".into(),
                }));
            }
            PullAnswer::Accepted(page) if page.reset_required => {
                // The outbox was pushed just before; the reset keeps whatever is still in it.
                store.reset_for_full_pull().await?;
                reset = true;
                cursor = store.pull_cursor().await?;
                answer = pull(cursor).await;
            }
            PullAnswer::Accepted(page) => {
                // `next_cursor` not moving with `more` set would make this loop spin.
                if !page.more || page.next_cursor <= cursor {
                    report.pulled += trace
                        .time(
                            "pull.apply",
                            store.apply_pulled_page_checking(&page, created),
                        )
                        .await?;
                    return Ok(());
                }
                let (applied, next) = futures::join!(
                    trace.time(
                        "pull.apply",
                        store.apply_pulled_page_checking(&page, created)
                    ),
                    pull(page.next_cursor),
                );
                report.pulled += applied?;
                cursor = page.next_cursor;
                answer = next;
            }
            PullAnswer::Retry(reason) => return Err(RoundError::Retry(reason)),
            PullAnswer::Stop(problem) => return Err(RoundError::Stop(problem)),
        }
    }
}
