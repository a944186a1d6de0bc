//! Recorded opinions. Keys are UUIDv7 ids, so within a station the `[station_id, id]` index is
//! already in creation order and "newest first" is a reverse cursor: no sort, no full load.

use super::follow_ups;
use super::outbox;
use super::photos::{self, PhotoOwner};
use super::{DraftKey, Result, StorageError, Store, stores};
use indexed_db_futures::KeyRange;
use indexed_db_futures::cursor::CursorDirection;
use indexed_db_futures::prelude::*;
use liaison_domain::followup::StatusKind;
use liaison_domain::opinion::OpinionFilter;
use liaison_domain::sync::MutationKind;
use liaison_domain::{
    Category, DeputyId, Opinion, OpinionEdit, OpinionId, StationId, ValidationErrors,
};
use thiserror::Error;

/// One page of the records list.
#[derive(Clone, Debug, PartialEq)]
pub struct OpinionPage {
    pub items: Vec<Opinion>,
    /// The follow-up status of each item, in the same order.
    pub statuses: Vec<StatusKind>,
    /// Pass this as `after` to get the next (older) page; `None` when there is no more.
    pub next_after: Option<OpinionId>,
}

/// Why an edit was not saved. Nothing was written in any case.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum EditError {
    /// The record is not (or no longer) on this tablet.
    #[error("the record is not on this tablet")]
    NotFound,
    /// A field breaks the form's rules: the errors by field, as the capture form shows them.
    #[error("the edit is not valid")]
    Invalid(ValidationErrors),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<indexed_db_futures::error::Error> for EditError {
    fn from(e: indexed_db_futures::error::Error) -> Self {
        EditError::Storage(e.into())
    }
}

impl From<serde_wasm_bindgen::Error> for EditError {
    fn from(e: serde_wasm_bindgen::Error) -> Self {
        EditError::Storage(e.into())
    }
}

/// Upper end of every string in index keys, so `[station, MAX]` bounds a whole station.
const MAX: &str = "\u{ffff}";

/// The `[station_id, deputy_id, id]` index (v7): one deputy's records at a station.
pub(crate) const BY_STATION_DEPUTY: &str = "by_station_deputy";

impl Store {
    /// Stores a newly captured opinion, records its `CreateOpinion` mutation in the outbox
    /// (next seq, stamped by the device clock), moves its photos from the draft to the opinion
    /// and deletes the draft, all in one transaction: either everything is saved or nothing is.
    ///
    /// A citizen's personal data is sealed with the unlocked account's key in the outbox, and
    /// the record shown keeps it masked (see the module docs of [`super`]); with personal data
    /// and nobody unlocked, nothing is saved ([`StorageError::Locked`]).
    pub async fn save_opinion(&self, opinion: &Opinion, draft: Option<&DraftKey>) -> Result<()> {
        // Sealed before the transaction opens: it would end while WebCrypto works.
        let outgoing = outbox::Outgoing::seal(
            &self.keys,
            &opinion.id.to_string(),
            MutationKind::CreateOpinion {
                opinion: Box::new(opinion.clone()),
            },
        )
        .await?;
        let shown = opinion.clone().with_citizen_masked();
        let tx = self.write_tx(&[
            stores::OPINIONS,
            stores::PHOTOS,
            stores::DRAFTS,
            stores::OUTBOX,
            stores::SYNC_META,
        ])?;
        tx.object_store(stores::OPINIONS)?
            .put(&shown)
            .serde()?
            .await?;
        outbox::record(&tx, outgoing, self.source.now_ms()).await?;
        let photo_store = tx.object_store(stores::PHOTOS)?;
        for photo in &opinion.photos {
            photos::set_owner(&photo_store, photo.id, &PhotoOwner::Opinion(opinion.id)).await?;
        }
        if let Some(key) = draft {
            let drafts = tx.object_store(stores::DRAFTS)?;
            drafts.delete(key.as_str()).primitive()?.await?;
            if let Some(account) = self.keys.unlocked() {
                drafts
                    .delete(super::drafts::sealed_key(&account, key).as_str())
                    .primitive()?
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Corrects a recorded opinion's texts ([`OpinionEdit`]): the changed fields are checked by
    /// the capture form's rules and the server's rule for edits
    /// ([`OpinionEdit::changes`]), applied to the record shown and queued in the outbox as one
    /// `SetOpinionFields` mutation, in one transaction. Returns the record as it now stands
    /// (unchanged, with nothing queued, when the form changes nothing). Should the server
    /// refuse the edit later, the record shows the server's state again and the refusal is
    /// listed on `/sync`.
    pub async fn edit_opinion(
        &self,
        id: OpinionId,
        edit: &OpinionEdit,
        categories: &[Category],
    ) -> std::result::Result<Opinion, EditError> {
        let tx = self.write_tx(&[stores::OPINIONS, stores::OUTBOX, stores::SYNC_META])?;
        let opinions = tx.object_store(stores::OPINIONS)?;
        let shown: Option<Opinion> = opinions.get(id.to_string()).serde()?.await?;
        let shown = shown.ok_or(EditError::NotFound)?;
        // Checked before anything is written; a refusal drops (aborts) the transaction.
        let fields = edit
            .changes(&shown, categories)
            .map_err(EditError::Invalid)?;
        if fields.is_empty() {
            return Ok(shown);
        }
        let edited = shown.with_fields(&fields);
        opinions.put(&edited).serde()?.await?;
        outbox::record(
            &tx,
            outbox::Outgoing::without_citizen(MutationKind::SetOpinionFields { id, fields })?,
            self.source.now_ms(),
        )
        .await?;
        tx.commit().await?;
        Ok(edited)
    }

    /// Stores many opinions exactly as given, in one transaction. Only for benchmarks and tests
    /// (which need records as an older app stored them, citizen in clear): the app itself
    /// stores records through [`Store::save_opinion`] and pulled pages, which mask the citizen.
    /// Records **no** outbox mutations: what it writes is not pushed. The requests are all issued before the
    /// first await, so the browser can batch them.
    pub async fn put_opinions(&self, batch: &[Opinion]) -> Result<()> {
        let tx = self.write_tx(&[stores::OPINIONS])?;
        let store = tx.object_store(stores::OPINIONS)?;
        let requests = batch
            .iter()
            .map(|o| store.put(o).serde())
            .collect::<std::result::Result<Vec<_>, _>>()?;
        for request in requests {
            request.await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_opinion(&self, id: OpinionId) -> Result<Option<Opinion>> {
        let tx = self.read_tx(&[stores::OPINIONS])?;
        let store = tx.object_store(stores::OPINIONS)?;
        let found: Option<Opinion> = store.get(id.to_string()).serde()?.await?;
        Ok(found)
    }

    /// How many opinions a station has on this tablet.
    pub async fn count_opinions(&self, station: &StationId) -> Result<u32> {
        let tx = self.read_tx(&[stores::OPINIONS])?;
        let store = tx.object_store(stores::OPINIONS)?;
        let index = store.index("by_station")?;
        let range = KeyRange::Bound(
            [station.0.clone(), String::new()],
            false,
            [station.0.clone(), MAX.to_owned()],
            false,
        );
        Ok(index
            .count()
            .with_query::<[String; 2], _>(range)
            .primitive()?
            .await?)
    }

    /// How many opinions one deputy received at a station, on this tablet.
    pub async fn count_deputy_opinions(
        &self,
        station: &StationId,
        deputy: &DeputyId,
    ) -> Result<u32> {
        let tx = self.read_tx(&[stores::OPINIONS])?;
        let store = tx.object_store(stores::OPINIONS)?;
        let index = store.index(BY_STATION_DEPUTY)?;
        let range = KeyRange::Bound(
            [station.0.clone(), deputy.0.clone(), String::new()],
            false,
            [station.0.clone(), deputy.0.clone(), MAX.to_owned()],
            false,
        );
        Ok(index
            .count()
            .with_query::<[String; 3], _>(range)
            .primitive()?
            .await?)
    }

    /// A station's opinions, newest first, `limit` at a time, older than `after`, each with its
    /// follow-up status.
    ///
    /// A category or outcome filter walks its own index, so it only touches matching records.
    /// Records are read newest first a window at a time: a reverse key cursor finds where the
    /// window starts (one `advance`), one `getAll` reads it. That is a few requests per window
    /// instead of one per record, and the walk stops as soon as the page is full; the text filter
    /// is applied to each window.
    pub async fn list_opinions(
        &self,
        station: &StationId,
        filter: &OpinionFilter,
        after: Option<OpinionId>,
        limit: usize,
    ) -> Result<OpinionPage> {
        // Every index key is `prefix + [id]`; ids are time-ordered.
        let (index_name, prefix) = match (&filter.deputy_id, &filter.category, filter.outcome) {
            // A deputy's own records walk their own index; other filters apply to each window.
            (Some(deputy), _, _) => (BY_STATION_DEPUTY, vec![station.0.clone(), deputy.0.clone()]),
            (None, Some(category), _) => (
                "by_station_category",
                vec![station.0.clone(), category.clone()],
            ),
            (None, None, Some(outcome)) => (
                "by_station_outcome",
                vec![station.0.clone(), outcome.code().to_owned()],
            ),
            (None, None, None) => ("by_station", vec![station.0.clone()]),
        };
        let key = |id: &str| {
            let mut key = prefix.clone();
            key.push(id.to_owned());
            key
        };
        let tx = self.read_tx(&[stores::OPINIONS, stores::FOLLOW_UPS])?;
        let store = tx.object_store(stores::OPINIONS)?;
        let index = store.index(index_name)?;

        let mut items = Vec::with_capacity(limit);
        let mut more = false;
        // The window's upper end, and whether it is excluded (it was read already).
        let mut upper = (
            after.map_or_else(|| MAX.to_owned(), |id| id.to_string()),
            after.is_some(),
        );
        // Without a text filter the first window fills the page; with one, read more at a time.
        let post_filtered = !filter.text.trim().is_empty()
            || (filter.deputy_id.is_some()
                && (filter.category.is_some() || filter.outcome.is_some()));
        let mut window = if !post_filtered {
            limit + 1
        } else {
            TEXT_SEARCH_WINDOW
        };
        'walk: loop {
            let remaining = KeyRange::Bound(key(""), false, key(&upper.0), upper.1);
            let Some(mut cursor) = index
                .open_key_cursor()
                .with_query::<Vec<String>, _>(remaining)
                .with_direction(CursorDirection::Prev)
                .primitive()?
                .await?
            else {
                break;
            };
            // The oldest id of this window, or none when fewer than `window` records are left.
            cursor.advance_by(window.saturating_sub(1) as u32).await?;
            let lower: Option<String> = cursor.primary_key()?;
            let range = KeyRange::Bound(
                key(lower.as_deref().unwrap_or("")),
                false,
                key(&upper.0),
                upper.1,
            );
            let records: Vec<Opinion> = index
                .get_all()
                .with_query::<Vec<String>, _>(range)
                .serde()?
                .await?
                .collect::<std::result::Result<_, _>>()?;
            for opinion in records.into_iter().rev().filter(|o| filter.matches(o)) {
                if items.len() == limit {
                    more = true;
                    break 'walk;
                }
                items.push(opinion);
            }
            match lower {
                Some(lower) => upper = (lower, true),
                None => break,
            }
            window = TEXT_SEARCH_WINDOW;
        }
        let next_after = if more {
            items.last().map(|o| o.id)
        } else {
            None
        };
        let statuses =
            follow_ups::statuses_in(&tx.object_store(stores::FOLLOW_UPS)?, &items).await?;
        Ok(OpinionPage {
            items,
            statuses,
            next_after,
        })
    }
}

/// Records read per window while searching text: large enough to amortise the request, small
/// enough that a match among the newest records comes back quickly.
const TEXT_SEARCH_WINDOW: usize = 500;

impl From<serde_wasm_bindgen::Error> for StorageError {
    fn from(e: serde_wasm_bindgen::Error) -> Self {
        StorageError::Corrupt(e.to_string())
    }
}
