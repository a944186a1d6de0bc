//! Photos, stored as blobs (IndexedDB keeps binary data natively; no base64 blow-up). A photo
//! taken while typing belongs to the draft; saving the opinion moves it to the opinion in the
//! same transaction, and discarding the draft deletes it.
//!
//! Records are plain JS objects (`{id, owner, blob, mime, width, height, bytes, upload?,
//! sealed_by?}`), not serde values, because a `Blob` has no serde form.
//!
//! **Sealed.** A photo may show the citizen, so its bytes are stored sealed with the data key of
//! the account that took or fetched it (`sealed_by`), bound to the photo's id; the blob stored is
//! the ciphertext. It opens only while that account's key is in memory: shown to that account,
//! uploaded by a push that has the key. A photo stored before version 7 has no `sealed_by` and
//! is read as it is.
//!
//! **Upload queue.** A photo of a saved opinion carries `upload: "pending"` until the server has
//! it; the `by_upload` index (schema v5) lists just those. The sync round sends them one by one
//! after pushing the opinions and clears the mark on the server's 200 or 201
//! ([`Store::mark_photo_uploaded`]); a photo the server can never take (too large) is marked
//! `"refused"` instead, kept on the tablet and no longer sent. Photos of other tablets' records
//! are fetched from the server when shown and kept ([`Store::put_fetched_photo`]), without a mark.

use super::{DraftKey, Result, StorageError, Store, stores};
use indexed_db_futures::object_store::ObjectStore;
use indexed_db_futures::prelude::*;
use js_sys::{Object, Reflect};
use liaison_domain::{OpinionId, PhotoId, PhotoRef};
use wasm_bindgen::{JsCast, JsValue};

/// The `by_upload` index of the photos store, and the property it indexes.
pub(crate) const BY_UPLOAD: &str = "by_upload";
pub(crate) const UPLOAD: &str = "upload";
/// `upload` of a photo waiting to be sent.
pub(crate) const UPLOAD_PENDING: &str = "pending";
/// `upload` of a photo the server refused for good (kept here, not sent again).
const UPLOAD_REFUSED: &str = "refused";
/// The account whose data key sealed the photo's bytes.
const SEALED_BY: &str = "sealed_by";

/// What a photo's bytes are sealed for.
fn photo_context(id: &str) -> String {
    format!("photo/{id}")
}

/// A blob's bytes.
async fn blob_bytes(blob: &web_sys::Blob) -> Result<Vec<u8>> {
    let buffer = wasm_bindgen_futures::JsFuture::from(blob.array_buffer())
        .await
        .map_err(super::migrations::js_err)?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

/// A blob of `bytes` with the type `mime`.
fn blob_of(bytes: &[u8], mime: &str) -> Result<web_sys::Blob> {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options)
        .map_err(super::migrations::js_err)
}

/// A photo waiting to be uploaded.
#[derive(Clone, Debug)]
pub struct PendingPhoto {
    pub id: PhotoId,
    pub opinion_id: OpinionId,
    pub blob: web_sys::Blob,
    pub mime: String,
}

/// Who a photo belongs to, stored as `draft:<key>` or `opinion:<id>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PhotoOwner {
    Draft(DraftKey),
    Opinion(OpinionId),
}

impl PhotoOwner {
    fn key(&self) -> String {
        match self {
            PhotoOwner::Draft(key) => format!("draft:{}", key.as_str()),
            PhotoOwner::Opinion(id) => format!("opinion:{id}"),
        }
    }
}

/// A downscaled photo ready to be stored.
pub struct NewPhoto {
    pub id: PhotoId,
    pub blob: web_sys::Blob,
    pub width: u32,
    pub height: u32,
}

fn set(obj: &Object, key: &str, value: &JsValue) -> Result<()> {
    Reflect::set(obj, &JsValue::from_str(key), value).map_err(super::migrations::js_err)?;
    Ok(())
}

fn get(obj: &JsValue, key: &str) -> Result<JsValue> {
    Reflect::get(obj, &JsValue::from_str(key)).map_err(super::migrations::js_err)
}

impl Store {
    /// Stores a photo for a draft and returns the reference the draft keeps.
    pub async fn put_draft_photo(&self, draft: &DraftKey, photo: NewPhoto) -> Result<PhotoRef> {
        let reference = PhotoRef {
            id: photo.id,
            mime: photo.blob.type_(),
            width: photo.width,
            height: photo.height,
            bytes: photo.blob.size() as u32,
        };
        self.put_photo_record(&reference, &PhotoOwner::Draft(draft.clone()), &photo.blob)
            .await?;
        Ok(reference)
    }

    /// Stores a photo record (without an upload mark) in its own transaction.
    async fn put_photo_record(
        &self,
        reference: &PhotoRef,
        owner: &PhotoOwner,
        blob: &web_sys::Blob,
    ) -> Result<()> {
        // Sealed before the transaction opens (it would end while WebCrypto works).
        let id = reference.id.to_string();
        let plain = blob_bytes(blob).await?;
        let (by, sealed) = self.keys.seal(&photo_context(&id), &plain).await?;
        let record = Object::new();
        set(&record, "id", &JsValue::from_str(&id))?;
        set(&record, "owner", &JsValue::from_str(&owner.key()))?;
        set(
            &record,
            "blob",
            &blob_of(&sealed, "application/octet-stream")?.into(),
        )?;
        set(&record, SEALED_BY, &JsValue::from_str(&by))?;
        set(&record, "mime", &JsValue::from_str(&reference.mime))?;
        set(&record, "width", &JsValue::from(reference.width))?;
        set(&record, "height", &JsValue::from(reference.height))?;
        set(&record, "bytes", &JsValue::from(plain.len() as u32))?;
        let tx = self.write_tx(&[stores::PHOTOS])?;
        tx.object_store(stores::PHOTOS)?
            .put(JsValue::from(record))
            .primitive()?
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The photo's bytes, for showing it (`URL.createObjectURL`); `None` when there is no such
    /// photo or it was sealed by an account whose key is not unlocked.
    pub async fn photo_blob(&self, id: PhotoId) -> Result<Option<web_sys::Blob>> {
        let tx = self.read_tx(&[stores::PHOTOS])?;
        let store = tx.object_store(stores::PHOTOS)?;
        let record: Option<JsValue> = store.get(id.to_string()).primitive()?.await?;
        drop(store);
        drop(tx);
        match record {
            None => Ok(None),
            Some(record) => self.open_photo(&record, &id.to_string()).await,
        }
    }

    /// A stored photo record's plain bytes: opened with its account's key when sealed (`None`
    /// when that key is not unlocked), as they are when stored before version 7.
    async fn open_photo(&self, record: &JsValue, id: &str) -> Result<Option<web_sys::Blob>> {
        let blob: web_sys::Blob = get(record, "blob")?
            .dyn_into()
            .map_err(|_| StorageError::Corrupt(format!("photo {id} has no blob")))?;
        let Some(by) = get(record, SEALED_BY)?.as_string() else {
            return Ok(Some(blob));
        };
        let mime = get(record, "mime")?.as_string().unwrap_or_default();
        let sealed = blob_bytes(&blob).await?;
        match self.keys.open(&by, &photo_context(id), &sealed).await? {
            Some(plain) => Ok(Some(blob_of(&plain, &mime)?)),
            None => Ok(None),
        }
    }

    /// Up to `limit` records of photos waiting for the server, oldest id first, as stored.
    async fn queued_photo_records(&self, limit: u32) -> Result<Vec<JsValue>> {
        let tx = self.read_tx(&[stores::PHOTOS])?;
        let values = tx
            .object_store(stores::PHOTOS)?
            .index(BY_UPLOAD)?
            .get_all()
            .with_query(UPLOAD_PENDING.to_owned())
            .with_limit(limit)
            .primitive()?
            .await?
            .collect::<std::result::Result<_, _>>()?;
        Ok(values)
    }

    /// The accounts whose sealed photos wait for the server and whose keys are not unlocked.
    pub(super) async fn photo_accounts_locked(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for record in self.queued_photo_records(u32::MAX).await? {
            if let Some(by) = get(&record, SEALED_BY)?.as_string()
                && !self.keys.has_key_of(&by)
            {
                names.push(by);
            }
        }
        Ok(names)
    }

    /// Up to `limit` photos waiting for the server, oldest id first, opened: a photo whose
    /// account's key is not unlocked is left out (it waits for that key; the others go).
    pub async fn photos_to_upload(&self, limit: u32) -> Result<Vec<PendingPhoto>> {
        let values = self.queued_photo_records(limit).await?;
        let mut pending = Vec::with_capacity(values.len());
        for record in values {
            let text = |key: &str| get(&record, key).map(|v| v.as_string().unwrap_or_default());
            let id = text("id")?;
            let owner = text("owner")?;
            let corrupt = || StorageError::Corrupt(format!("queued photo {id} is malformed"));
            let Some(blob) = self.open_photo(&record, &id).await? else {
                continue;
            };
            pending.push(PendingPhoto {
                id: PhotoId::parse(&id).ok_or_else(corrupt)?,
                opinion_id: owner
                    .strip_prefix("opinion:")
                    .and_then(OpinionId::parse)
                    .ok_or_else(corrupt)?,
                blob,
                mime: text("mime")?,
            });
        }
        Ok(pending)
    }

    /// The server has the photo (or refused it for good, `refused`): takes it off the queue.
    pub async fn mark_photo_uploaded(&self, id: PhotoId, refused: bool) -> Result<()> {
        let tx = self.write_tx(&[stores::PHOTOS])?;
        let store = tx.object_store(stores::PHOTOS)?;
        let record: Option<JsValue> = store.get(id.to_string()).primitive()?.await?;
        if let Some(record) = record {
            let object: &Object = record.unchecked_ref();
            if refused {
                set(object, UPLOAD, &JsValue::from_str(UPLOAD_REFUSED))?;
            } else {
                Reflect::delete_property(object, &JsValue::from_str(UPLOAD))
                    .map_err(super::migrations::js_err)?;
            }
            store.put(record).primitive()?.await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// How many photos wait for the server.
    pub async fn photos_waiting(&self) -> Result<u32> {
        let tx = self.read_tx(&[stores::PHOTOS])?;
        let count = tx
            .object_store(stores::PHOTOS)?
            .index(BY_UPLOAD)?
            .count()
            .with_query(UPLOAD_PENDING.to_owned())
            .primitive()?
            .await?;
        Ok(count)
    }

    /// Keeps a photo of another tablet's record, fetched from the server to show it.
    pub async fn put_fetched_photo(
        &self,
        opinion: OpinionId,
        reference: &PhotoRef,
        blob: &web_sys::Blob,
    ) -> Result<()> {
        self.put_photo_record(reference, &PhotoOwner::Opinion(opinion), blob)
            .await
    }

    /// Removes a photo from a draft (the deputy took it back).
    pub async fn delete_photo(&self, id: PhotoId) -> Result<()> {
        let tx = self.write_tx(&[stores::PHOTOS])?;
        tx.object_store(stores::PHOTOS)?
            .delete(id.to_string())
            .primitive()?
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Gives a stored photo a new owner, inside the caller's transaction.
pub(super) async fn set_owner(
    store: &ObjectStore<'_>,
    id: PhotoId,
    owner: &PhotoOwner,
) -> Result<()> {
    let record: Option<JsValue> = store.get(id.to_string()).primitive()?.await?;
    let Some(record) = record else {
        return Err(StorageError::Corrupt(format!("photo {id} is missing")));
    };
    set(
        record.unchecked_ref(),
        "owner",
        &JsValue::from_str(&owner.key()),
    )?;
    if matches!(owner, PhotoOwner::Opinion(_)) {
        // Saved with its opinion: queue it for the server.
        set(
            record.unchecked_ref(),
            UPLOAD,
            &JsValue::from_str(UPLOAD_PENDING),
        )?;
    }
    store.put(record).primitive()?.await?;
    Ok(())
}

/// The opinions that have photos waiting for the server, inside the caller's transaction.
pub(super) async fn opinions_with_photos_to_upload(
    store: &ObjectStore<'_>,
) -> Result<Vec<OpinionId>> {
    let values: Vec<JsValue> = store
        .index(BY_UPLOAD)?
        .get_all()
        .with_query(UPLOAD_PENDING.to_owned())
        .primitive()?
        .await?
        .collect::<std::result::Result<_, _>>()?;
    Ok(values
        .iter()
        .filter_map(|record| get(record, "owner").ok()?.as_string())
        .filter_map(|owner| OpinionId::parse(owner.strip_prefix("opinion:")?))
        .collect())
}

/// Deletes every photo an owner has, inside the caller's transaction.
pub(super) async fn delete_owned_by(store: &ObjectStore<'_>, owner: &PhotoOwner) -> Result<()> {
    let index = store.index("by_owner")?;
    let keys: Vec<String> = index
        .get_all_keys()
        .with_query(owner.key())
        .primitive()?
        .await?
        .collect::<std::result::Result<_, _>>()?;
    for key in keys {
        store.delete(key).primitive()?.await?;
    }
    Ok(())
}
