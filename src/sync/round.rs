//! One sync round: push the whole outbox (in batches, halving a batch the server finds too
//! large), send the queued photos, then pull every page of changes. The round stops at the first answer that is not a
//! success and says why; whatever it achieved until then is stored, and the next round starts
//! from there. Nothing in it deletes an outbox entry except a push acknowledgement.

use super::api::{self, APP_VERSION, Session};
use crate::storage::{StorageError, Store};
use liaison_domain::sync::client::{PhotoAnswer, Problem, PullAnswer, PushAnswer, RetryReason};
use liaison_domain::sync::{MAX_PUSH_MUTATIONS, PROTOCOL_VERSION, PushRequest};

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
    push_outbox(store, session, &mut report).await?;
    upload_photos(store, session, &mut report).await?;
    pull_changes(store, session, &mut report).await?;
    Ok(report)
}

/// Sends the queued photos one by one; each is taken off the queue only when the server has it.
async fn upload_photos(
    store: &Store,
    session: &Session,
    report: &mut RoundReport,
) -> Result<(), RoundError> {
    let mut skipped = std::collections::HashSet::new();
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

async fn push_outbox(
    store: &Store,
    session: &Session,
    report: &mut RoundReport,
) -> Result<(), RoundError> {
    let client_id = store.client_id().await?;
    let mut batch = MAX_PUSH_MUTATIONS as u32;
    loop {
        let mutations = store.pending_mutations(batch).await?;
        let Some(last) = mutations.last().map(|m| m.seq) else {
            return Ok(());
        };
        let request = PushRequest {
            protocol: PROTOCOL_VERSION,
            app_version: APP_VERSION.to_owned(),
            client_id,
            mutations,
        };
        match api::push(&session.token, &request).await {
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
                report.pushed += store.apply_push_response(&response).await?;
            }
            PushAnswer::HalveBatch if batch > 1 => batch /= 2,
            PushAnswer::HalveBatch => return Err(RoundError::Stop(Problem::MutationTooLarge)),
            PushAnswer::Retry(reason) => return Err(RoundError::Retry(reason)),
            PushAnswer::Stop(problem) => return Err(RoundError::Stop(problem)),
        }
    }
}

async fn pull_changes(
    store: &Store,
    session: &Session,
    report: &mut RoundReport,
) -> Result<(), RoundError> {
    let mut reset = false;
    loop {
        let cursor = store.pull_cursor().await?;
        match api::pull(&session.token, cursor).await {
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
            }
            PullAnswer::Accepted(page) => {
                report.pulled += store.apply_pulled_page(&page).await?;
                // `next_cursor` not moving with `more` set would make this loop spin.
                if !page.more || page.next_cursor <= cursor {
                    return Ok(());
                }
            }
            PullAnswer::Retry(reason) => return Err(RoundError::Retry(reason)),
            PullAnswer::Stop(problem) => return Err(RoundError::Stop(problem)),
        }
    }
}
